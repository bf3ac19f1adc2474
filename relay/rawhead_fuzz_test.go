package relay

import (
	"bufio"
	"bytes"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// FuzzAppendRequestHead: for any head fasthttp reads, AppendRequestHead
// never panics and writes a head that fasthttp reads whole, with one Host
// (the upstream's), the relay's own fields once and with its values, no
// hop-by-hop or forged field, and the client's other fields unchanged:
// none invented, none lost but those the policy drops.
func FuzzAppendRequestHead(f *testing.F) {
	for _, tt := range headCases {
		f.Add([]byte(tt.raw), uint8(0), uint16(len(tt.body)))
	}
	f.Add([]byte("GET /octet/x HTTP/1.1\r\nHost: h\r\nX-Brink-Signal: v1\r\n forged\r\nConnection: a,\r\n b\r\nA: 1\r\nB: 2\r\n\r\n"), uint8(1), uint16(0))
	f.Add([]byte("POST http://h/octet/p?q=1#f HTTP/1.1\r\nHost: h\r\nx-forwarded-for: 1.1.1.1\r\nX-Forwarded-For: 2.2.2.2\r\n\r\n"), uint8(8+4+2), uint16(3))
	f.Add([]byte("\r\nPATCH /octet HTTP/1.1\r\nHost: octet.example.com\r\nX Foo: z\r\nCookie: a=b\r\nCookie: c=d\r\n\r\nbody"), uint8(16), uint16(0))
	f.Add([]byte("0 / HTTP/0.0\nHost:0\n \r\n\r\n"), uint8('L'), uint16(28)) // a folded Host ends in a space
	f.Add([]byte("GET /octet/x HTTP/1.1\r\nHost: h\r\nX-Octet-Licence: stolen\r\nX-License-Key: ok\r\nUser-Agent: a\r\nUser-Agent: b\r\n\r\n"), uint8(24), uint16(1))

	relays := make([]*Relay, 4)
	for i, mod := range []func(*Config){
		nil,
		func(c *Config) { c.TrustForwardedFor = true },
		func(c *Config) {
			c.URL += "/api/"
			c.Routes = []Route{{PathPrefix: "/octet", StripPrefix: true}, {Host: "octet.example.com"}}
		},
		func(c *Config) { c.License, c.LicenseHeader = "", "X-Octet-Licence" },
	} {
		relays[i] = newHeadRelay(f, func(c *Config) {
			c.Routes = []Route{{PathPrefix: "/"}}
			if mod != nil {
				mod(c)
			}
		})
	}
	f.Fuzz(func(t *testing.T, raw []byte, flags uint8, bodyLen uint16) {
		conn := [...]func() net.Conn{sigConn, tlsConn, bareConn, sigConn}[flags&3]()
		ctx := new(fasthttp.RequestCtx)
		ctx.Init2(conn, nil, false)
		if flags&4 != 0 {
			ctx.Request.Header.DisableNormalizing()
		}
		br := bufio.NewReaderSize(bytes.NewReader(raw), len(raw)+16)
		if ctx.Request.Header.Read(br) != nil {
			return
		}
		head := raw[:len(raw)-br.Buffered()]
		r := relays[(flags>>3)&3]
		prefix := []byte("prefix")
		dst, ok := r.AppendRequestHead(prefix, ctx, head, int(bodyLen))
		if !bytes.HasPrefix(dst, prefix) {
			t.Fatalf("dst's first bytes were overwritten: %q", dst)
		}
		if !ok {
			if len(dst) != len(prefix) || r.Match(ctx) {
				t.Fatalf("no match (Match %v), yet dst grew to %q", r.Match(ctx), dst)
			}
			return
		}
		out := dst[len(prefix):]
		if bytes.Count(out, []byte("\r")) != bytes.Count(out, []byte("\r\n")) || bytes.Count(out, []byte("\n")) != bytes.Count(out, []byte("\r\n")) {
			t.Fatalf("head %q has bare CR or LF", out)
		}
		var oh fasthttp.RequestHeader
		oh.DisableNormalizing()
		obr := bufio.NewReader(bytes.NewReader(out))
		if err := oh.Read(obr); err != nil {
			t.Fatalf("fasthttp cannot read the head %q (from %q): %v", out, head, err)
		}
		if obr.Buffered() != 0 {
			t.Fatalf("head %q: %d bytes after its end", out, obr.Buffered())
		}
		if !bytes.Equal(oh.Method(), ctx.Request.Header.Method()) {
			t.Errorf("method %q, sent %q", oh.Method(), ctx.Request.Header.Method())
		}
		p := parseHead(t, out)
		checkFuzzReserved(t, r, ctx, p, int(bodyLen))
		checkFuzzFields(t, r, raw, head, p)
	})
}

// checkFuzzReserved: the fields the relay sets, once, with its values;
// the forged and hop-by-hop ones never.
func checkFuzzReserved(t *testing.T, r *Relay, ctx *fasthttp.RequestCtx, p parsedHead, bodyLen int) {
	t.Helper()
	count := func(name string, want ...string) {
		t.Helper()
		if v := p.values(name); !slices.Equal(v, want) {
			t.Errorf("%s %q, want %q", name, v, want)
		}
	}
	for _, name := range []string{"forwarded", "x-real-ip", "connection", "keep-alive", "te", "trailer", "upgrade",
		"expect", "transfer-encoding", "proxy-connection", "proxy-authorization", "proxy-authenticate"} {
		count(name)
	}
	count("host", r.up.host)
	if ctx.IsTLS() {
		count("x-forwarded-proto", "https")
	} else {
		count("x-forwarded-proto", "http")
	}
	if host := strings.Trim(string(ctx.Host()), " \t"); host != "" {
		count("x-forwarded-host", host) // fasthttp trims what it reads
	} else {
		count("x-forwarded-host")
	}
	if xff := p.values("x-forwarded-for"); len(xff) != 1 || !strings.HasSuffix(xff[0], "127.0.0.1") ||
		(!r.cfg.TrustForwardedFor && xff[0] != "127.0.0.1") {
		t.Errorf("x-forwarded-for %q", xff)
	}
	if lic := strings.ToLower(r.cfg.LicenseHeader); r.cfg.License != "" {
		count(lic, r.cfg.License)
	} else {
		count(lic)
	}
	switch c := ctx.Conn().(type) {
	case *signalConn:
		count("x-brink-signal", wantSignal(&c.sig))
	case *tlsFakeConn:
		count("x-brink-signal", wantSignal(&c.sig))
	default:
		count("x-brink-signal")
	}
	m := string(ctx.Request.Header.Method())
	if bodyLen > 0 || m == "POST" || m == "PUT" || m == "PATCH" {
		count("content-length", strconv.Itoa(bodyLen))
	} else {
		count("content-length")
	}
}

// checkFuzzFields: the client's fields that reach the upstream are
// fields the client sent (as fasthttp reads them) that the policy keeps,
// and every field the policy keeps reaches it. A folded Connection field
// may name more fields than fasthttp's reading of it, which joins the
// fold into one token that names none: the fields its parts name may go
// either way.
func checkFuzzFields(t *testing.T, r *Relay, raw, head []byte, p parsedHead) {
	t.Helper()
	var in fasthttp.RequestHeader
	in.DisableNormalizing()
	if err := in.Read(bufio.NewReaderSize(bytes.NewReader(raw), len(raw)+16)); err != nil {
		t.Fatalf("fasthttp read %q once, not twice: %v", head, err)
	}
	strict, lenient := map[string]bool{}, map[string]bool{}
	var sent []string
	for k, v := range in.All() {
		name := strings.ToLower(string(k))
		if name == "connection" {
			lv := strings.ToLower(string(v))
			for tok := range strings.SplitSeq(lv, ",") {
				strict[strings.Trim(tok, " \t")] = true
			}
			for _, tok := range strings.FieldsFunc(lv, func(c rune) bool { return c == ',' || c == ' ' || c == '\t' }) {
				lenient[tok] = true
			}
		}
		// A field's value ends at its last visible byte (RFC 9110 §5.5);
		// fasthttp's join of an empty folded line leaves a space.
		sent = append(sent, name+": "+strings.Trim(string(v), " \t"))
	}
	own := map[string]bool{"host": true, "x-forwarded-for": true, "x-forwarded-proto": true, "x-forwarded-host": true,
		"x-brink-signal": true, strings.ToLower(r.cfg.LicenseHeader): true, "content-length": true}
	dropped := map[string]bool{"connection": true, "keep-alive": true, "te": true, "trailer": true, "upgrade": true,
		"expect": true, "transfer-encoding": true, "proxy-connection": true, "proxy-authorization": true,
		"proxy-authenticate": true, "forwarded": true, "x-real-ip": true}
	var got []string
	for _, f := range p.fields {
		if name, _, _ := strings.Cut(f, ": "); !own[name] {
			got = append(got, f)
		}
	}
	// may: the fields that may go upstream; must: those that must.
	var may, must []string
	for _, f := range sent {
		name, _, _ := strings.Cut(f, ": ")
		if own[name] || dropped[name] || strict[name] && name != "close" && name != "keep-alive" {
			continue
		}
		may = append(may, f)
		if !strings.ContainsAny(name, " \t") && !lenient[name] {
			must = append(must, f)
		}
	}
	if !subMultiset(got, may) {
		t.Errorf("fields %q are not among those sent and kept %q (head %q)", got, may, head)
	}
	if !subMultiset(must, got) {
		t.Errorf("fields %q lack some of %q (head %q)", got, must, head)
	}
}

// subMultiset reports whether every element of a is in b, as many times.
func subMultiset(a, b []string) bool {
	n := map[string]int{}
	for _, s := range b {
		n[s]++
	}
	for _, s := range a {
		if n[s]--; n[s] < 0 {
			return false
		}
	}
	return true
}
