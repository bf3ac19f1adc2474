package tlshello

import (
	"bytes"
	"errors"
	"testing"

	"github.com/brink-edge/brink/connsig"
)

// FuzzParse: any bytes parse or fail with one of the package's errors,
// never panic or change the input; a parsed hello is exactly Len bytes of
// records (one byte less needs more), and its fingerprints are 36 and 32
// characters and agree with the readable reference implementations over
// the accessors.
func FuzzParse(f *testing.F) {
	for _, raw := range testdataHellos(f) {
		f.Add(raw)
		f.Add(records(raw[5:], 3))
	}
	f.Add(exampleSpec().bytes())
	f.Add(records(exampleSpec().message(), 1))
	f.Add(spec{noExts: true}.bytes())
	f.Add(spec{legacy: 0x0301, ciphers: []uint16{0x1a1a, 47}, exts: []ext{sniExt("a"), groupsExt(23), pointsExt(0)}}.bytes())
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{0x16, 3, 1, 0, 4, 1, 0, 0, 0})
	var h Hello
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		err := h.Parse(b)
		if !bytes.Equal(in, b) {
			t.Fatal("Parse modified its input")
		}
		if err != nil {
			var fe *fieldError
			if err != ErrNeedMore && err != ErrNotTLS && err != ErrTooLarge && !(errors.As(err, &fe) && errors.Is(err, ErrMalformed)) {
				t.Fatalf("Parse returned a foreign error %v", err)
			}
			if h.Len() != 0 || len(h.AppendJA4(nil)) != 0 || len(h.AppendJA3(nil)) != 0 {
				t.Fatalf("failed Parse (%v) left a hello", err)
			}
			return
		}
		n := h.Len()
		if n <= 0 || n > len(b) || n > MaxHelloBytes {
			t.Fatalf("Len = %d of %d bytes", n, len(b))
		}
		ja4 := string(h.AppendJA4(nil))
		ja3 := string(h.AppendJA3(nil))
		if len(ja4) != connsig.JA4Len || len(ja3) != connsig.JA3Len {
			t.Fatalf("JA4 %q, JA3 %q: wrong length", ja4, ja3)
		}
		ref := helloInput(&h)
		if want := refJA4(ref); ja4 != want {
			t.Fatalf("JA4 = %s, reference %s", ja4, want)
		}
		if wantStr, want := refJA3(ref); ja3 != want || string(h.AppendJA3String(nil)) != wantStr {
			t.Fatalf("JA3 = %s, reference %s (%s)", ja3, want, wantStr)
		}
		if sni := h.ServerName(); sni != nil && !validHostName(sni) {
			t.Fatalf("ServerName %q is not a valid host name", sni)
		}
		var sig connsig.TLSSignal
		h.FillSignal(&sig)
		if string(sig.JA4[:]) != ja4 || string(sig.JA3[:]) != ja3 || string(sig.SNI[:sig.SNILen]) != string(h.ServerName()) {
			t.Fatalf("FillSignal disagrees: %+v", sig)
		}
		// The same records alone parse the same; one byte less needs more.
		var h2 Hello
		if err := h2.Parse(b[:n]); err != nil || h2.Len() != n || string(h2.AppendJA4(nil)) != ja4 {
			t.Fatalf("Parse of the first Len bytes: %v, Len %d", err, h2.Len())
		}
		if err := h2.Parse(b[:n-1]); err != ErrNeedMore {
			t.Fatalf("Parse of Len-1 bytes = %v, want ErrNeedMore", err)
		}
	})
}
