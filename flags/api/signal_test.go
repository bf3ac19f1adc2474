package api

import (
	"net"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/connsig"
	"github.com/brink-edge/brink/flags"
)

// signalConn is a net.Conn that carries a connection signal, as the loop's
// and the capturing listener's connections do.
type signalConn struct {
	net.Conn
	sig connsig.Signal
}

var (
	signalPeer  net.Addr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	signalLocal net.Addr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 3063}
)

func (c *signalConn) Signal() *connsig.Signal { return &c.sig }
func (c *signalConn) RemoteAddr() net.Addr    { return signalPeer }
func (c *signalConn) LocalAddr() net.Addr     { return signalLocal }

const signalFlags = `{"version":2,"features":[
 {"name":"far-away","enabled":true,"strategies":[{"name":"default","constraints":[{"contextName":"tcpRttMs","operator":"NUM_GT","value":"150"}]}]},
 {"name":"old-ttl","enabled":true,"strategies":[{"name":"default","constraints":[{"contextName":"synTtl","operator":"NUM_LT","value":"60"}]}]}]}`

func serveWithSignal(t *testing.T, h *Handler, conn net.Conn, uri, token string) *fasthttp.Response {
	t.Helper()
	var ctx fasthttp.RequestCtx
	ctx.Init2(conn, nil, false)
	ctx.Request.SetRequestURI(uri)
	if token != "" {
		ctx.Request.Header.Set("Authorization", token)
	}
	h.Handle(&ctx)
	resp := new(fasthttp.Response)
	ctx.Response.CopyTo(resp)
	return resp
}

func TestSignalEndpointAndProperties(t *testing.T) {
	store := new(flags.Store)
	store.Publish("", compile(t, signalFlags), "test")
	h, err := New(Config{Store: store, Tokens: testTokens()})
	if err != nil {
		t.Fatal(err)
	}
	far := &signalConn{}
	far.sig.Reset()
	far.sig.RTT, far.sig.TTL, far.sig.IPVersion = 200_000, 52, 4
	far.sig.TimingSource, far.sig.SYNSource = connsig.SourceFallback, connsig.SourceFallback
	near := &signalConn{}
	near.sig.Reset()
	near.sig.RTT, near.sig.TTL, near.sig.IPVersion = 10_000, 64, 4
	near.sig.TimingSource, near.sig.SYNSource = connsig.SourceEBPF, connsig.SourceEBPF

	tests := []struct {
		name string
		conn net.Conn
		uri  string
		want []string
	}{
		{"far client", far, "/api/frontend", []string{"far-away", "old-ttl"}},
		{"near client", near, "/api/frontend", nil},
		{"a forged property loses to the measured signal", far, "/api/frontend?tcpRttMs=5&properties[synTtl]=64", []string{"far-away", "old-ttl"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := serveWithSignal(t, h, tt.conn, tt.uri, tokFront)
			if resp.StatusCode() != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body())
			}
			got := toggleNames(t, resp.Body())
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("enabled = %v, want %v", got, tt.want)
			}
		})
	}

	resp := serveWithSignal(t, h, far, "/signal", "")
	if resp.StatusCode() != 200 || !strings.Contains(string(resp.Body()), `"tcpRttUs":200000`) || !strings.Contains(string(resp.Body()), `"ttl":52`) {
		t.Fatalf("/signal = %d %s", resp.StatusCode(), resp.Body())
	}
	// A connection without a signal: 404 with a reason, never a crash.
	plain, peer := net.Pipe()
	defer plain.Close()
	defer peer.Close()
	resp = serveWithSignal(t, h, plain, "/signal", "")
	if resp.StatusCode() != 404 || !strings.Contains(string(resp.Body()), "no connection signal") {
		t.Fatalf("/signal without signal = %d %s", resp.StatusCode(), resp.Body())
	}
	// Turned off, and moved.
	off, _ := New(Config{Store: store, Tokens: testTokens(), SignalPath: "-"})
	if resp := serveWithSignal(t, off, far, "/signal", ""); resp.StatusCode() != 404 || strings.Contains(string(resp.Body()), "tcpRtt") {
		t.Fatalf("/signal when off = %d %s", resp.StatusCode(), resp.Body())
	}
	moved, _ := New(Config{Store: store, Tokens: testTokens(), SignalPath: "/_brink/signal/"})
	if resp := serveWithSignal(t, moved, far, "/_brink/signal", ""); resp.StatusCode() != 200 {
		t.Fatalf("moved signal path = %d %s", resp.StatusCode(), resp.Body())
	}
}

func TestSignalPathMustBeFree(t *testing.T) {
	for _, p := range []string{"/", "/api/frontend", "internal-backstage/health"} {
		if _, err := New(Config{Store: new(flags.Store), Tokens: testTokens(), SignalPath: p}); err == nil {
			t.Errorf("SignalPath %q accepted, want an error", p)
		}
	}
}
