package tlsterm

import (
	"bufio"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/loop"
)

// byteService writes one byte and ends: the client reads it, so TLS 1.3
// session tickets (sent after the handshake) reach its cache first.
type byteService struct{}

func (byteService) ServeConn(c net.Conn) error {
	_, err := c.Write([]byte{'x'})
	return err
}

// BenchmarkHandshake measures handshakes in each accept mode with Go
// clients in the same process (their CPU counts too): full ECDSA P-256
// and RSA 2048 handshakes, and resumed ones, TLS 1.3 and 1.2.
func BenchmarkHandshake(b *testing.B) {
	for _, m := range modes {
		b.Run(string(m), func(b *testing.B) { benchHandshake(b, m) })
	}
}

func benchHandshake(b *testing.B, m mode) {
	for _, key := range []string{"ecdsa-p256", "rsa2048"} {
		dir := b.TempDir()
		c, k := leaf(b, 9, key == "rsa2048", "engine.test")
		cfg := Config{
			EngineHost: "engine.test",
			Certs:      []CertPair{writePair(b, dir, key, c, k)},
			Services:   map[string]Service{"api": byteService{}},
		}
		ts := m.start(b, cfg, loop.Config{})
		for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
			for _, resumed := range []bool{false, true} {
				name := key + "/" + versionName(v) + "/full"
				if resumed {
					name = key + "/" + versionName(v) + "/resumed"
				}
				b.Run(name, func(b *testing.B) { benchClients(b, ts.addr, v, resumed) })
			}
		}
	}
}

// benchClients runs parallel Go clients handshaking with addr.
func benchClients(b *testing.B, addr string, v uint16, resumed bool) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		conf := clientConfig("engine.test", v)
		if resumed {
			conf.ClientSessionCache = tls.NewLRUClientSessionCache(4)
		}
		buf := make([]byte, 1)
		for pb.Next() {
			c, err := tls.Dial("tcp", addr, conf)
			if err != nil {
				b.Error(err)
				return
			}
			// TLS 1.2 may return the byte with the close_notify's EOF.
			if n, err := c.Read(buf); n != 1 {
				b.Error(err)
			}
			_ = c.Close()
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
}

// BenchmarkHandshakeDirect is the baseline without the loop: a net.Listener
// and tls.Server on a goroutine per connection, same certificate, same
// service, same clients.
func BenchmarkHandshakeDirect(b *testing.B) {
	for _, key := range []string{"ecdsa-p256", "rsa2048"} {
		c, k := leaf(b, 9, key == "rsa2048", "engine.test")
		cert, err := tls.X509KeyPair(c, k)
		if err != nil {
			b.Fatal(err)
		}
		ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					_ = c.SetDeadline(time.Now().Add(10 * time.Second))
					_ = byteService{}.ServeConn(c)
				}()
			}
		}()
		for _, v := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
			for _, resumed := range []bool{false, true} {
				name := key + "/" + versionName(v) + "/full"
				if resumed {
					name = key + "/" + versionName(v) + "/resumed"
				}
				b.Run(name, func(b *testing.B) { benchClients(b, ln.Addr().String(), v, resumed) })
			}
		}
		_ = ln.Close()
	}
}

// BenchmarkKeepAliveRequests measures HTTP/1.1 requests over kept-alive
// TLS 1.3 connections through an HTTPService, in each accept mode.
func BenchmarkKeepAliveRequests(b *testing.B) {
	for _, m := range modes {
		b.Run(string(m), func(b *testing.B) { benchKeepAlive(b, m) })
	}
}

func benchKeepAlive(b *testing.B, m mode) {
	cfg := Config{EngineHost: "engine.test", Services: map[string]Service{"api": NewHTTPService(func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"toggles":[]}`)
	})}}
	ts := m.start(b, cfg, loop.Config{})
	req := []byte("GET /api/frontend HTTP/1.1\r\nHost: engine.test\r\n\r\n")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		c, err := tls.Dial("tcp", ts.addr, clientConfig("engine.test", 0, "http/1.1"))
		if err != nil {
			b.Error(err)
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		var resp fasthttp.Response
		for pb.Next() {
			if _, err := c.Write(req); err != nil {
				b.Error(err)
				return
			}
			if err := resp.Read(br); err != nil || resp.StatusCode() != 200 {
				b.Error(err, resp.StatusCode())
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
}
