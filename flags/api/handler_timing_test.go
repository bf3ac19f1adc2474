package api

import (
	"strconv"
	"testing"

	"github.com/brink-edge/brink/flags"
)

// Sink keeps benchmark results alive.
var Sink int

// benchHandler returns a handler over the test flags, or over a generated
// data set of n flags when n > 0.
func benchHandler(b *testing.B, n int) *Handler {
	b.Helper()
	cfg := Config{}
	if n > 0 {
		cfg.Store = new(flags.Store)
		cfg.Store.Publish("", flags.Compile(flags.GenerateDataset(n, 1)), "bench")
	}
	return newTestServer(b, cfg).h
}

func BenchmarkFrontendGET(b *testing.B) {
	for _, n := range []int{0, 350} {
		name := "testflags"
		if n > 0 {
			name = strconv.Itoa(n) + "flags"
		}
		for _, enc := range []string{"identity", "gzip", "zstd"} {
			b.Run(name+"/"+enc, func(b *testing.B) {
				h := benchHandler(b, n)
				headers := []string{"Authorization", tokFront}
				if enc != "identity" {
					headers = append(headers, "Accept-Encoding", enc)
				}
				run, ctx := handlerLoop(b, h, userURIs("/api/frontend", 1024), headers...)
				run()
				b.SetBytes(int64(len(ctx.Response.Body())))
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					run()
				}
				Sink += ctx.Response.StatusCode()
			})
		}
	}
}

func BenchmarkFrontendParallel(b *testing.B) {
	h := benchHandler(b, 350)
	var bs [][]byte
	for _, u := range userURIs("/api/frontend", 1024) {
		bs = append(bs, []byte(u))
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		run, ctx := handlerLoopBytes(h, bs, "Authorization", tokFront)
		for pb.Next() {
			run()
		}
		Sink += ctx.Response.StatusCode()
	})
}

func BenchmarkClientFeatures(b *testing.B) {
	for _, n := range []int{0, 350} {
		name := "testflags"
		if n > 0 {
			name = strconv.Itoa(n) + "flags"
		}
		for _, tc := range []struct {
			name    string
			headers []string
			inm     bool
		}{
			{"200", nil, false},
			{"200-gzip", []string{"Accept-Encoding", "gzip"}, false},
			{"304", nil, true},
		} {
			b.Run(name+"/"+tc.name, func(b *testing.B) {
				h := benchHandler(b, n)
				run, ctx := handlerLoop(b, h, []string{"/api/client/features"}, append([]string{"Authorization", tokClient}, tc.headers...)...)
				run()
				if tc.inm {
					ctx.Request.Header.SetBytesV("If-None-Match", ctx.Response.Header.Peek("ETag"))
				}
				run()
				b.SetBytes(int64(len(ctx.Response.Body())))
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					run()
				}
				Sink += ctx.Response.StatusCode()
			})
		}
	}
}

func BenchmarkQueryContext(b *testing.B) {
	h := benchHandler(b, 0)
	st := acquireState()
	defer releaseState(st)
	run, ctx := handlerLoop(b, h, userURIs("/api/frontend", 64), "Authorization", tokFront)
	run()
	b.ReportAllocs()
	for b.Loop() {
		st.fctx.Reset()
		ctx.Request.SetRequestURI("/api/frontend?userId=u-1&sessionId=s&properties[companyId]=bricks&plan=gold")
		if err := parseQueryContext(&st.fctx, ctx.QueryArgs()); err != nil {
			b.Fatal(err)
		}
	}
}
