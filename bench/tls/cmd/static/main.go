// Command static is the fast fixed-answer HTTP server of bench/tls: the
// upstream behind the relay comparison, and the plain crypto/tls reference
// (a stand-in for brink while its TLS is not wired, and a "standard library
// ceiling" row beside it).
//
//	static -listen 127.0.0.1:19100 -body 1024                       # upstream
//	static -tls-listen 127.0.0.1:19443 -cert c.pem -key k.pem       # crypto/tls reference
//	static -listen 127.0.0.1:19101 -proxy http://127.0.0.1:19100    # forwarding stand-in
//
// Every path answers 200 with the same -body bytes of JSON; with -proxy every
// path but /health is forwarded to that base URL over pooled keep-alive
// connections (fasthttp.HostClient) with X-Forwarded-For added. It serves
// HTTP/1.1 with fasthttp on both listeners; the TLS one is crypto/tls with
// session tickets on (Go's default). It runs until SIGINT or SIGTERM.
package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "static:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("static", flag.ContinueOnError)
	listen := fs.String("listen", "", "plain HTTP address (host:port)")
	tlsListen := fs.String("tls-listen", "", "TLS address (host:port); needs -cert and -key")
	cert := fs.String("cert", "", "PEM certificate (chain) for -tls-listen")
	key := fs.String("key", "", "PEM private key for -tls-listen")
	size := fs.Int("body", 1024, "answer body size in bytes (20 to 1 MiB)")
	proxy := fs.String("proxy", "", "forward every path but /health to this base URL (http://host:port)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *listen == "" && *tlsListen == "" {
		return errors.New("set -listen, -tls-listen or both")
	}
	if *size < 20 || *size > 1<<20 {
		return fmt.Errorf("-body %d: want 20 to 1048576", *size)
	}
	h, err := handler(body(*size), *proxy)
	if err != nil {
		return err
	}
	srv := &fasthttp.Server{Handler: h, Name: "static", ReadTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second}
	errc := make(chan error, 2)
	if *listen != "" {
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			return fmt.Errorf("listening on %s: %w", *listen, err)
		}
		go func() { errc <- srv.Serve(ln) }()
	}
	if *tlsListen != "" {
		pair, err := tls.LoadX509KeyPair(*cert, *key)
		if err != nil {
			return fmt.Errorf("loading -cert %s and -key %s: %w", *cert, *key, err)
		}
		ln, err := net.Listen("tcp", *tlsListen)
		if err != nil {
			return fmt.Errorf("listening on %s: %w", *tlsListen, err)
		}
		cfg := &tls.Config{Certificates: []tls.Certificate{pair}, NextProtos: []string{"http/1.1"}}
		go func() { errc <- srv.Serve(tls.NewListener(ln, cfg)) }()
	}
	slog.Info("static serving", "listen", *listen, "tls_listen", *tlsListen, "body", *size, "proxy", *proxy)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case s := <-sig:
		slog.Info("static stopping", "signal", s.String())
		return srv.Shutdown()
	case err := <-errc:
		return err
	}
}

// body is size bytes of valid JSON.
func body(size int) []byte {
	const head, tail = `{"ok":true,"pad":"`, `"}`
	return []byte(head + strings.Repeat("x", size-len(head)-len(tail)) + tail)
}

func handler(b []byte, proxy string) (fasthttp.RequestHandler, error) {
	static := func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBody(b)
	}
	if proxy == "" {
		return static, nil
	}
	u, err := url.Parse(proxy)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("-proxy %q: want http://host:port", proxy)
	}
	hc := &fasthttp.HostClient{Addr: u.Host, MaxConns: 1024, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	return func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/health" {
			ctx.SetContentType("application/json")
			ctx.SetBodyString(`{"ok":true}`)
			return
		}
		req := fasthttp.AcquireRequest()
		defer fasthttp.ReleaseRequest(req)
		ctx.Request.CopyTo(req)
		req.Header.Set("X-Forwarded-For", ctx.RemoteIP().String())
		req.Header.Set("X-Forwarded-Proto", "http")
		if err := hc.Do(req, &ctx.Response); err != nil {
			ctx.Response.Reset()
			ctx.SetStatusCode(fasthttp.StatusBadGateway)
			ctx.SetContentType("application/json")
			ctx.SetBodyString(`{"error":"upstream unreachable"}`)
		}
	}, nil
}
