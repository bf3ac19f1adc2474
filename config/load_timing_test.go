package config

import (
	"io"
	"os"
	"testing"
)

// BenchmarkLoad measures a start-up's configuration work: the full example
// file, an environment of 40 unrelated variables and a few seed names.
func BenchmarkLoad(b *testing.B) {
	data, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		b.Fatal(err)
	}
	env := []string{"PORT=443", "LICENSE=x", "BRINK_RELAY__TIMEOUT=5s", "BRINK_REQUIRE_E2E=1"}
	for i := range 40 {
		env = append(env, "UNRELATED_"+string(rune('A'+i%26))+"=value")
	}
	src := Sources{File: "full.yaml", Data: data, Environ: env}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(src); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteYAML(b *testing.B) {
	c, err := Load(Sources{File: "testdata/full.yaml"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.WriteYAML(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
