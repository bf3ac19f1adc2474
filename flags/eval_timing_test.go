package flags

import (
	"strconv"
	"testing"
)

// Sink and SinkVariant keep benchmark results alive.
var (
	Sink        bool
	SinkVariant VariantResult
	SinkBytes   []byte
)

func BenchmarkAppendFrontend(b *testing.B) {
	for _, n := range []int{10, 200, 5000} {
		p := Compile(GenerateDataset(n, 1))
		sc := p.Scope(nil, "")
		ctx := DatasetContext()
		for _, all := range []bool{false, true} {
			name := strconv.Itoa(n) + "flags/enabled"
			if all {
				name = strconv.Itoa(n) + "flags/all"
			}
			b.Run(name, func(b *testing.B) {
				buf := p.AppendFrontend(nil, sc, ctx, all)
				b.SetBytes(int64(len(buf)))
				b.ReportAllocs()
				for b.Loop() {
					buf = p.AppendFrontend(buf[:0], sc, ctx, all)
				}
				SinkBytes = buf
			})
		}
	}
}

func BenchmarkIsEnabled(b *testing.B) {
	p := Compile(GenerateDataset(200, 1))
	ctx := DatasetContext()
	names := make([]string, 0, len(p.flags))
	for i := range p.flags {
		names = append(names, p.flags[i].name)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		Sink = p.IsEnabled(names[i%len(names)], ctx)
		i++
	}
}

func BenchmarkGetVariant(b *testing.B) {
	p := Compile(GenerateDataset(200, 1))
	ctx := DatasetContext()
	var names []string
	for i := range p.flags {
		if len(p.flags[i].variants.vars) > 0 {
			names = append(names, p.flags[i].name)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		SinkVariant = p.GetVariant(names[i%len(names)], ctx)
		i++
	}
}

func BenchmarkAppendClientFeatures(b *testing.B) {
	p := Compile(GenerateDataset(200, 1))
	sc := p.Scope(nil, "")
	q := &Query{Projects: []string{"*"}, Environment: "production"}
	buf := p.AppendClientFeatures(nil, sc, q)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = p.AppendClientFeatures(buf[:0], sc, q)
	}
	SinkBytes = buf
}

func BenchmarkCompile(b *testing.B) {
	for _, n := range []int{10, 200, 5000} {
		cf := GenerateDataset(n, 1)
		b.Run(strconv.Itoa(n)+"flags", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if Compile(cf).Len() != n {
					b.Fatal("wrong length")
				}
			}
		})
	}
}
