package relay

import (
	"strings"
	"testing"
)

// FuzzParseSpoolName: any name parses or is refused without panicking,
// and a parsed name is written back byte for byte.
func FuzzParseSpoolName(f *testing.F) {
	f.Add("00000000000000000001-50-edge-a-1.ndjson.gz")
	f.Add("00000000000000000001-0-k.ndjson.gz")
	f.Add("1-50-k.ndjson.gz")
	f.Add("00000000000000000001-050-k.ndjson.gz")
	f.Add("00000000000000000001-50-a/b.ndjson.gz")
	f.Add(".00000000000000000001-50-k.ndjson.gz.123.tmp")
	f.Fuzz(func(t *testing.T, name string) {
		b, ok := parseSpoolName(name)
		if !ok {
			return
		}
		if back := spoolName(&b); back != name {
			t.Fatalf("parseSpoolName(%q) writes back as %q", name, back)
		}
		if strings.ContainsAny(b.key, "/\\\x00\r\n ") {
			t.Fatalf("key %q is not file- and header-safe", b.key)
		}
	})
}

// FuzzHeaderHelpers: host and token helpers never panic and stay within
// their input.
func FuzzHeaderHelpers(f *testing.F) {
	f.Add([]byte("Example.com:443"), "/octet")
	f.Add([]byte("[::1]:8443"), "/")
	f.Add([]byte("[::1"), "/a/")
	f.Add([]byte("a, b ,,c"), "")
	f.Fuzz(func(t *testing.T, host []byte, prefix string) {
		h := hostWithoutPort(host)
		if len(h) > len(host) {
			t.Fatalf("hostWithoutPort grew %q to %q", host, h)
		}
		_ = equalFold(h, prefix)
		if prefix != "" {
			_ = hasPathPrefix(host, prefix)
		}
		var toks tokenList
		toks.reset(host)
		for tok, ok := toks.next(); ok; tok, ok = toks.next() {
			if len(tok) == 0 {
				t.Fatal("empty token")
			}
		}
	})
}
