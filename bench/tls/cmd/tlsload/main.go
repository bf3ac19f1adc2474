// Command tlsload is the bounded load generator of bench/tls: TLS handshakes
// per second (full or resumed) and HTTP/1.1 requests over kept-alive plain or
// TLS connections, closed-loop or paced, against one address on loopback.
//
//	tlsload -mode handshake -addr 127.0.0.1:8443 -c 32 -d 5s                 # full handshakes
//	tlsload -mode handshake -addr 127.0.0.1:8443 -resume -d 5s               # resumed (session tickets)
//	tlsload -mode handshake -addr 127.0.0.1:8443 -tls 1.2 -d 5s              # TLS 1.2
//	tlsload -mode http -addr 127.0.0.1:8080 -path /x -c 8 -rate 2000 -d 5s   # paced keep-alive
//	tlsload -mode http -addr 127.0.0.1:8443 -tls 1.3 -H 'Authorization: t'   # keep-alive over TLS
//
// Handshake mode: each of -c workers loops connect, TLS handshake, one tiny
// request (GET -path with Connection: close, answer read to its end; -request
// false skips it) and close. The request is what lets a TLS 1.3 client
// receive the server's session ticket, which arrives after the handshake;
// -resume shares one tls.ClientSessionCache between the workers, and the
// result counts how many connections really resumed. The client offers
// X25519 then P-256 by default (-curves) and sends an X25519 key share only,
// so a Go server and OpenSSL pick the same key exchange (Go's default
// X25519MLKEM768 is left out: nginx 1.22 with OpenSSL 3.0 cannot use it, and
// TLS 1.2 with an ECDSA P-256 certificate needs P-256 offered); chain
// verification is skipped (the CertificateVerify
// signature is still checked, as crypto/tls always does).
//
// HTTP mode: each worker owns one kept-alive connection (plain, or TLS with
// -tls) and sends GET requests one after another; with -rate the workers send
// on a fixed schedule and a request's latency counts from when it was due
// (no coordinated omission), otherwise each sends when the last answer
// arrived. A broken connection is counted and redialled.
//
// Every run is bounded by -d (at most 60 s) and, when set, -n operations. The
// output is one parseable line on stdout (latencies in microseconds):
//
//	RESULT mode=handshake ops=N duration_us=N rate=F p50_us=N p90_us=N p99_us=N max_us=N errors=N resumed=N bytes=N status_errors=N
//
// and the first few errors on stderr. It exits 1 when no operation succeeded.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

// headers is a repeatable -H flag.
type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

// config is the parsed command line.
type config struct {
	mode     string
	addr     string
	workers  int
	duration time.Duration
	warmup   time.Duration
	maxOps   int64
	tlsVer   uint16 // 0: plain (HTTP mode only)
	resume   bool
	request  bool
	path     string
	host     string
	sni      string
	headers  headers
	curves   []tls.CurveID
	rate     float64
	timeout  time.Duration
}

const maxDuration = 60 * time.Second

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "tlsload:", err)
		os.Exit(2)
	}
	res, err := run(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tlsload:", err)
		os.Exit(1)
	}
	fmt.Println(res.line(cfg.mode))
	if res.ops == 0 {
		fmt.Fprintln(os.Stderr, "tlsload: no operation succeeded")
		os.Exit(1)
	}
}

func parseFlags(args []string) (*config, error) {
	var c config
	fs := flag.NewFlagSet("tlsload", flag.ContinueOnError)
	fs.StringVar(&c.mode, "mode", "handshake", "handshake or http")
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8443", "host:port to load (loopback)")
	fs.IntVar(&c.workers, "c", 16, "concurrent workers (HTTP mode: connections)")
	fs.DurationVar(&c.duration, "d", 5*time.Second, "measured duration (at most 60s)")
	fs.DurationVar(&c.warmup, "warmup", 0, "unrecorded load before the measured duration")
	fs.Int64Var(&c.maxOps, "n", 0, "stop after this many operations (0: only -d)")
	tlsFlag := fs.String("tls", "1.3", "TLS version: 1.2, 1.3, or none (plain; HTTP mode only)")
	fs.BoolVar(&c.resume, "resume", false, "handshake mode: resume with session tickets (shared ClientSessionCache)")
	fs.BoolVar(&c.request, "request", true, "handshake mode: send one GET -path and read the answer before closing")
	fs.StringVar(&c.path, "path", "/", "request path (and query)")
	fs.StringVar(&c.host, "host", "", "Host header (default: -addr)")
	fs.StringVar(&c.sni, "sni", "localhost", "TLS server name")
	fs.Var(&c.headers, "H", "request header 'Name: value' (repeatable)")
	curves := fs.String("curves", "x25519,p256", "key exchange groups offered in order, comma-separated: x25519, x25519mlkem768, p256 (TLS 1.2 with an ECDSA P-256 certificate needs p256 offered)")
	fs.Float64Var(&c.rate, "rate", 0, "HTTP mode: total requests per second on a fixed schedule (0: closed loop)")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Second, "deadline per connection setup and per request")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch *tlsFlag {
	case "1.2":
		c.tlsVer = tls.VersionTLS12
	case "1.3":
		c.tlsVer = tls.VersionTLS13
	case "none", "":
		c.tlsVer = 0
	default:
		return nil, fmt.Errorf("-tls %q: want 1.2, 1.3 or none", *tlsFlag)
	}
	for _, name := range strings.Split(*curves, ",") {
		switch strings.TrimSpace(strings.ToLower(name)) {
		case "x25519":
			c.curves = append(c.curves, tls.X25519)
		case "x25519mlkem768":
			c.curves = append(c.curves, tls.X25519MLKEM768)
		case "p256":
			c.curves = append(c.curves, tls.CurveP256)
		default:
			return nil, fmt.Errorf("-curves: unknown group %q", name)
		}
	}
	switch {
	case c.mode != "handshake" && c.mode != "http":
		return nil, fmt.Errorf("-mode %q: want handshake or http", c.mode)
	case c.mode == "handshake" && c.tlsVer == 0:
		return nil, fmt.Errorf("-mode handshake needs -tls 1.2 or 1.3")
	case c.mode == "http" && c.resume:
		return nil, fmt.Errorf("-resume is for -mode handshake")
	case c.workers < 1 || c.workers > 4096:
		return nil, fmt.Errorf("-c %d: want 1 to 4096", c.workers)
	case c.duration <= 0 || c.duration > maxDuration:
		return nil, fmt.Errorf("-d %s: want more than 0 and at most %s", c.duration, maxDuration)
	case c.warmup < 0 || c.warmup > maxDuration:
		return nil, fmt.Errorf("-warmup %s: want 0 to %s", c.warmup, maxDuration)
	case c.rate < 0:
		return nil, fmt.Errorf("-rate %g: want 0 or more", c.rate)
	case !strings.HasPrefix(c.path, "/"):
		return nil, fmt.Errorf("-path %q: must start with /", c.path)
	}
	for _, h := range c.headers {
		if k, _, ok := strings.Cut(h, ":"); !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("-H %q: want 'Name: value'", h)
		}
	}
	if c.host == "" {
		c.host = c.addr
	}
	return &c, nil
}

// tlsConfig is the client configuration of every connection of a run.
func (c *config) tlsConfig() *tls.Config {
	tc := &tls.Config{
		ServerName:         c.sni,
		InsecureSkipVerify: true, // the bench certificate is self-signed; the handshake signature is still verified
		MinVersion:         c.tlsVer,
		MaxVersion:         c.tlsVer,
		CurvePreferences:   c.curves,
		NextProtos:         []string{"http/1.1"},
	}
	if c.resume {
		tc.ClientSessionCache = tls.NewLRUClientSessionCache(64)
	}
	return tc
}

// requestBytes is the request every operation sends.
func (c *config) requestBytes(closeConn bool) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: tlsload\r\n", c.path, c.host)
	for _, h := range c.headers {
		k, v, _ := strings.Cut(h, ":")
		fmt.Fprintf(&b, "%s: %s\r\n", strings.TrimSpace(k), strings.TrimSpace(v))
	}
	if closeConn {
		b.WriteString("Connection: close\r\n")
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}
