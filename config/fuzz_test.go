package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad: no input makes Load panic; every error is an *Error; a
// configuration that loads prints and loads back to the same values.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"~",
		"[]",
		"server: {port: 1}",
		"a: &a [*a]",
		"x: &x {y: *x}",
		"tls: &t {enabled: false}\nhttp: *t\n",
		"log: {<<: {level: debug}}",
		"relay: {routes: [{host: a}, ~, 3]}",
		"server:\n  cors_origin: [a, [b]]\n",
		"tls:\n  routes:\n    - host: a.example\n      service: api\n    - *nope\n",
		"edge: {tokens: 'a,b,,c'}",
		"relay: {max_body_bytes: 9223372036854775807, timeout: 2562047h}",
		"server: {port: 99999999999999999999}",
		"--- \n--- \n",
		"\xff\xfe",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Load(Sources{File: "fuzz.yaml", Data: data})
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %q is no *Error", err)
			}
			return
		}
		var out bytes.Buffer
		if err := c.WriteYAML(&out); err != nil {
			t.Fatalf("WriteYAML: %v", err)
		}
		roundTrip(t, c)
	})
}
