package relay

import (
	"context"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/connsig"
)

// Sink keeps benchmark results alive.
var Sink []byte

// startIngest is a plain-HTTP upstream that answers forwarded requests
// with a small JSON body and ingest posts with 202, allocation-free.
func startIngest(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == DefaultIngestPath {
			ctx.SetStatusCode(fasthttp.StatusAccepted)
			return
		}
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"score":0.5}`)
	}}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}

// BenchmarkRelay compares requests through brink's relay (a fasthttp front
// whose connections carry signals, Handle, the upstream) with the same
// requests sent to the upstream directly, over loopback keep-alive
// connections.
func BenchmarkRelay(b *testing.B) {
	up := startIngest(b)
	r, err := New(Config{URL: "http://" + up, License: testLicense, Routes: []Route{{PathPrefix: "/octet"}}})
	if err != nil {
		b.Fatal(err)
	}
	f := startFront(b, r, nil, false)
	for _, tt := range []struct{ name, addr string }{{"direct", up}, {"relay", f.addr}} {
		b.Run(tt.name, func(b *testing.B) {
			c := &fasthttp.HostClient{Addr: tt.addr, MaxConns: 64}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				defer fasthttp.ReleaseRequest(req)
				defer fasthttp.ReleaseResponse(resp)
				req.SetRequestURI("http://" + tt.addr + "/octet/v1/score?x=1")
				req.Header.SetMethod("POST")
				req.SetBodyString(`{"event":"pageview"}`)
				for pb.Next() {
					if err := c.Do(req, resp); err != nil || resp.StatusCode() != 200 {
						b.Fatalf("status %d: %v", resp.StatusCode(), err)
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}

// BenchmarkHandle is Handle alone, called in-process (no front server),
// against the loopback upstream.
func BenchmarkHandle(b *testing.B) {
	up := startIngest(b)
	r, err := New(Config{URL: "http://" + up, License: testLicense, Routes: []Route{{PathPrefix: "/octet"}}})
	if err != nil {
		b.Fatal(err)
	}
	var ctx fasthttpCtx
	ctx.init("edge.example", "/octet/v1/score")
	ctx.Request.Header.SetMethod("POST")
	ctx.Request.SetBodyString(`{"event":"pageview"}`)
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Reset()
		r.Handle(&ctx.RequestCtx)
	}
	if ctx.Response.StatusCode() != 200 {
		b.Fatalf("status %d", ctx.Response.StatusCode())
	}
}

// BenchmarkSignalHeader is the signal header's encoding.
func BenchmarkSignalHeader(b *testing.B) {
	var s connsig.Signal
	fillSignal(&s, 1)
	dst, scratch := AppendSignalHeader(nil, nil, &s)
	b.ReportAllocs()
	b.SetBytes(int64(len(dst)))
	for b.Loop() {
		dst, scratch = AppendSignalHeader(dst[:0], scratch, &s)
	}
	Sink = dst
}

// BenchmarkConnectorAdd is the cost of Add, from concurrently running
// goroutines, with the sender draining to a live upstream and the default
// queue bound (records beyond it are dropped, reported as dropped/op).
func BenchmarkConnectorAdd(b *testing.B) {
	up := startIngest(b)
	c, err := NewConnector(Config{URL: "http://" + up})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.Close(context.Background()) }()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var s connsig.Signal
		fillSignal(&s, 1)
		at := time.Now()
		for pb.Next() {
			c.Add(&s, remoteOf(1), at)
		}
	})
	b.ReportMetric(float64(c.Stats().Dropped["queue_full"])/float64(b.N), "dropped/op")
}

// BenchmarkConnectorAddAccepted is the cost of an Add that queues its
// record: the queue is drained (timer stopped) whenever it is full.
func BenchmarkConnectorAddAccepted(b *testing.B) {
	up := startIngest(b)
	c, err := NewConnector(Config{URL: "http://" + up, FlushInterval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.Close(context.Background()) }()
	var s connsig.Signal
	fillSignal(&s, 1)
	at := time.Now()
	b.ReportAllocs()
	queued := 0
	for b.Loop() {
		if queued == DefaultQueueRecords {
			b.StopTimer()
			select {
			case c.kick <- struct{}{}:
			default:
			}
			for st := c.Stats(); st.Sent < st.Accepted; st = c.Stats() {
				time.Sleep(time.Millisecond)
			}
			queued = 0
			b.StartTimer()
		}
		c.Add(&s, remoteOf(1), at)
		queued++
	}
	if d := c.Stats().Dropped["queue_full"]; d > 0 {
		b.Fatalf("%d dropped", d)
	}
}

// BenchmarkConnectorThroughput is records/s from Add to the upstream's
// 2xx (batches of 1000, gzip, one sender), upstream up, with varied
// records (variedSignals), so gzip sees realistic data.
func BenchmarkConnectorThroughput(b *testing.B) {
	up := startIngest(b)
	c, err := NewConnector(Config{URL: "http://" + up, QueueRecords: 1 << 22, FlushInterval: 10 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	sigs := variedSignals()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		c.Add(&sigs[i%len(sigs)], remoteOf(i), time.Now())
	}
	for c.Stats().Sent < uint64(b.N) {
		if c.Stats().Dropped["queue_full"] > 0 {
			b.Fatal("queue full")
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	_ = c.Close(context.Background())
}

// BenchmarkSpoolWrite is records/s from Add to a synced spool file, upstream
// down (its port closed), with varied records (variedSignals).
func BenchmarkSpoolWrite(b *testing.B) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	_ = ln.Close()
	c, err := NewConnector(Config{URL: "http://" + addr, QueueRecords: 1 << 22, SpoolDir: b.TempDir(),
		SpoolMaxBytes: 1 << 40, FlushInterval: 10 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	sigs := variedSignals()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		c.Add(&sigs[i%len(sigs)], remoteOf(i), time.Now())
	}
	if err := c.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	st := c.Stats()
	if st.Sent != 0 || sumDropped(st) != 0 {
		b.Fatalf("stats %+v", st)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(st.SpoolBytes)/float64(b.N), "spoolB/record")
}

func sumDropped(st ConnectorStats) (n uint64) {
	for _, v := range st.Dropped {
		n += v
	}
	return n
}

// variedSignals are 4096 signals that differ as real connections' do:
// handshake times and RTTs, TTL and window by client OS, SYN options,
// half of them TLS with a JA4/JA3, SNI and ALPN of a few clients. Records
// of one signal repeated would let gzip shrink a batch to nearly nothing.
func variedSignals() []connsig.Signal {
	rng := rand.New(rand.NewPCG(1, 2))
	sigs := make([]connsig.Signal, 4096)
	ja4s := []string{"t13d1516h2_8daaf6152771_e5627efa2ab1", "t13d1715h2_5b57614c22b0_3d5424432f57", "t13d0912h2_f91f431d341e_dc02e8431b68"}
	snis := []string{"app.example.com", "api.example.org", "shop.example.net", "www.example.com"}
	at := time.Now().UnixNano()
	for i := range sigs {
		s := &sigs[i]
		s.Reset()
		s.SYNTime = at + int64(i)*int64(time.Millisecond) + rng.Int64N(int64(time.Millisecond))
		rtt := 200 + rng.Int64N(150_000) // µs: 0.2 to 150 ms
		s.SYNACKTime = s.SYNTime + 20_000 + rng.Int64N(30_000)
		s.ACKTime = s.SYNACKTime + rtt*1000
		s.HandshakeRTT = s.ACKTime - s.SYNACKTime
		s.RTT, s.RTTVar, s.MinRTT = uint32(rtt), uint32(rng.Int64N(rtt/2+1)), uint32(rtt*9/10)
		s.MSS, s.Retransmits = 1448-uint32(rng.IntN(3))*40, uint32(rng.IntN(3)/2)
		s.IPVersion = 4 + uint8(rng.IntN(2))*2
		s.TTL = []uint8{64, 128, 255}[rng.IntN(3)] - uint8(rng.IntN(20))
		s.DF, s.Timestamps, s.SACKPermitted = s.IPVersion == 4, rng.IntN(4) != 0, true
		s.Window = uint16(rng.IntN(2)*29200 + 35000 + rng.IntN(30000))
		s.WScale = int8(rng.IntN(10)) - 1
		s.SYNMSS = uint16(s.MSS + 12)
		s.Options, s.NumOptions = [connsig.MaxOptions]uint8{2, 4, 8, 1, 3}, uint8(3+rng.IntN(3))
		s.TimingSource, s.SYNSource = connsig.SourceFallback, connsig.SourceFallback
		if i%2 == 0 {
			t := &s.TLS
			t.HelloVersion, t.Version, t.CipherSuite = 0x0304, 0x0304, 0x1301+uint16(rng.IntN(3))
			t.Resumed = rng.IntN(5) == 0
			t.HelloTime = s.ACKTime + rng.Int64N(int64(time.Millisecond))
			t.ServerFlightTime = t.HelloTime + 300_000 + rng.Int64N(200_000)
			t.HandshakeLatency = rtt*1000 + rng.Int64N(100_000)
			t.ClientDataTime = t.ServerFlightTime + t.HandshakeLatency
			t.SetServerName([]byte(snis[rng.IntN(len(snis))]))
			t.SetProtocol([]byte([]string{"h2", "http/1.1"}[rng.IntN(2)]))
			copy(t.JA4[:], ja4s[rng.IntN(len(ja4s))])
			for j := range t.JA3 {
				t.JA3[j] = "0123456789abcdef"[rng.IntN(16)]
			}
		}
	}
	return sigs
}
