package tlshello

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ext is one extension for buildHello.
type ext struct {
	typ  uint16
	data []byte
}

// spec describes a synthetic ClientHello.
type spec struct {
	legacy  uint16
	ciphers []uint16
	exts    []ext
	noExts  bool // omit the extensions block entirely
}

func u16(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }

func u16list(vs ...uint16) []byte {
	var b []byte
	for _, v := range vs {
		b = append(b, u16(v)...)
	}
	return b
}

func vec8(b []byte) []byte  { return append([]byte{byte(len(b))}, b...) }
func vec16(b []byte) []byte { return append(u16(uint16(len(b))), b...) }

func sniExt(name string) ext {
	return ext{ExtServerName, vec16(append([]byte{0}, vec16([]byte(name))...))}
}

func alpnExt(protos ...string) ext {
	var l []byte
	for _, p := range protos {
		l = append(l, vec8([]byte(p))...)
	}
	return ext{ExtALPN, vec16(l)}
}

func sigAlgsExt(vs ...uint16) ext  { return ext{ExtSignatureAlgorithms, vec16(u16list(vs...))} }
func groupsExt(vs ...uint16) ext   { return ext{ExtSupportedGroups, vec16(u16list(vs...))} }
func versionsExt(vs ...uint16) ext { return ext{ExtSupportedVersions, vec8(u16list(vs...))} }
func pointsExt(ps ...byte) ext     { return ext{ExtECPointFormats, vec8(ps)} }

// message builds the handshake message (header and body).
func (s spec) message() []byte {
	legacy := s.legacy
	if legacy == 0 {
		legacy = 0x0303
	}
	body := u16(legacy)
	body = append(body, make([]byte, 32)...) // random
	body = append(body, vec8(make([]byte, 32))...)
	body = append(body, vec16(u16list(s.ciphers...))...)
	body = append(body, vec8([]byte{0})...)
	if !s.noExts {
		var e []byte
		for _, x := range s.exts {
			e = append(e, u16(x.typ)...)
			e = append(e, vec16(x.data)...)
		}
		body = append(body, vec16(e)...)
	}
	msg := []byte{typeClientHello, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}
	return append(msg, body...)
}

// records wraps msg in handshake records of at most size bytes each (one
// record when size is 0).
func records(msg []byte, size int) []byte {
	if size <= 0 {
		size = len(msg)
	}
	var out []byte
	for len(msg) > 0 {
		n := min(size, len(msg))
		out = append(out, recordTypeHandshake, 3, 1)
		out = append(out, u16(uint16(n))...)
		out = append(out, msg[:n]...)
		msg = msg[n:]
	}
	return out
}

func (s spec) bytes() []byte { return records(s.message(), 0) }

// exampleSpec is the ClientHello of JA4.md's example: its cipher suites and
// extensions in their original order, GREASE added in front of each list.
func exampleSpec() spec {
	return spec{
		ciphers: []uint16{0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8,
			0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035},
		exts: []ext{
			{0xdada, nil},
			{0x001b, []byte{2, 0, 2}},
			sniExt("example.com"),
			{0x0033, vec16(append(u16list(0x001d, 32), make([]byte, 32)...))},
			alpnExt("h2", "http/1.1"),
			{0x4469, []byte{0, 3, 2, 'h', '2'}},
			{0x0017, nil},
			{0x002d, []byte{1, 1}},
			sigAlgsExt(0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601),
			{0x0005, []byte{1, 0, 0, 0, 0}},
			{0x0023, nil},
			{0x0012, nil},
			versionsExt(0x7a7a, 0x0304, 0x0303),
			{0xff01, []byte{0}},
			pointsExt(0),
			groupsExt(0x2a2a, 0x001d, 0x0017, 0x0018),
			{0x0015, make([]byte, 10)},
			{0x3a3a, []byte{0}},
		},
	}
}

// refInput is what the readable reference fingerprints below read: filled
// from crypto/tls's ClientHelloInfo (an independent parser) or from a
// Hello's accessors.
type refInput struct {
	legacy                               uint16
	ciphers, exts, sigAlgs, groups, vers []uint16
	points                               []uint8
	alpn                                 []string
}

func isGREASE(v uint16) bool {
	// RFC 8701 §2: {0x0A,0x0A}, {0x1A,0x1A}, ..., {0xFA,0xFA}.
	for i := 0; i < 16; i++ {
		b := uint16(i<<4 | 0x0a)
		if v == b<<8|b {
			return true
		}
	}
	return false
}

// refJA4 computes JA4 straight from the text of FoxIO's JA4.md, with
// strings and fmt: a second implementation to check AppendJA4 against.
func refJA4(in refInput) string {
	has := func(typ uint16) bool { return slices.Contains(in.exts, typ) }
	var ver uint16
	if has(0x002b) {
		for _, v := range in.vers {
			if !isGREASE(v) && v > ver {
				ver = v
			}
		}
	} else {
		ver = in.legacy
	}
	verCode := map[uint16]string{0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3",
		0x0002: "s2", 0xfeff: "d1", 0xfefd: "d2", 0xfefc: "d3"}[ver]
	if verCode == "" {
		verCode = "00"
	}
	sni := "i"
	if has(0x0000) {
		sni = "d"
	}
	hexes := func(vs []uint16, drop ...uint16) []string {
		var out []string
		for _, v := range vs {
			if !isGREASE(v) && !slices.Contains(drop, v) {
				out = append(out, fmt.Sprintf("%04x", v))
			}
		}
		return out
	}
	ciphers := hexes(in.ciphers)
	exts := hexes(in.exts)
	alpn := "00"
	if len(in.alpn) > 0 && in.alpn[0] != "" {
		p := in.alpn[0]
		alnum := func(c byte) bool {
			return strings.ContainsRune("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", rune(c))
		}
		if alnum(p[0]) && alnum(p[len(p)-1]) {
			alpn = p[:1] + p[len(p)-1:]
		} else {
			h := hex.EncodeToString([]byte(p))
			alpn = h[:1] + h[len(h)-1:]
		}
	}
	a := fmt.Sprintf("t%s%s%02d%02d%s", verCode, sni, min(len(ciphers), 99), min(len(exts), 99), alpn)
	hash12 := func(s string) string {
		if s == "" {
			return "000000000000"
		}
		sum := sha256.Sum256([]byte(s))
		return hex.EncodeToString(sum[:])[:12]
	}
	sort := func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
	b := hash12(strings.Join(sort(ciphers), ","))
	cList := strings.Join(sort(hexes(in.exts, 0x0000, 0x0010)), ",")
	if sig := hexes(in.sigAlgs); cList != "" && len(sig) > 0 {
		cList += "_" + strings.Join(sig, ",")
	}
	return a + "_" + b + "_" + hash12(cList)
}

// refJA3 computes the JA3 string and hash from the salesforce/ja3 README.
func refJA3(in refInput) (string, string) {
	dec := func(vs []uint16) string {
		var out []string
		for _, v := range vs {
			if !isGREASE(v) {
				out = append(out, strconv.Itoa(int(v)))
			}
		}
		return strings.Join(out, "-")
	}
	var pts []string
	for _, p := range in.points {
		pts = append(pts, strconv.Itoa(int(p)))
	}
	s := fmt.Sprintf("%d,%s,%s,%s,%s", in.legacy, dec(in.ciphers), dec(in.exts), dec(in.groups), strings.Join(pts, "-"))
	sum := md5.Sum([]byte(s))
	return s, hex.EncodeToString(sum[:])
}

// helloInput reads h's accessors into a refInput.
func helloInput(h *Hello) refInput {
	in := refInput{legacy: h.LegacyVersion(), ciphers: h.CipherSuites(), exts: h.Extensions(),
		sigAlgs: h.SignatureAlgorithms(), groups: h.SupportedGroups(), vers: h.SupportedVersions(),
		points: h.PointFormats()}
	for i := range h.NumALPN() {
		in.alpn = append(in.alpn, string(h.ALPN(i)))
	}
	return in
}

// stdlibInput runs raw (the client's first bytes) through crypto/tls's
// server and returns what its ClientHelloInfo says, as a refInput. The
// legacy_version, which ClientHelloInfo does not expose, is read from the
// handshake message; raw must hold the hello in one record for that.
func stdlibInput(t *testing.T, raw []byte) (refInput, *tls.ClientHelloInfo) {
	t.Helper()
	info, err := stdlibHello(raw)
	if err != nil {
		t.Fatalf("crypto/tls did not parse the hello: %v", err)
	}
	in := refInput{ciphers: info.CipherSuites, exts: info.Extensions, alpn: info.SupportedProtos,
		points: info.SupportedPoints}
	for _, s := range info.SignatureSchemes {
		in.sigAlgs = append(in.sigAlgs, uint16(s))
	}
	for _, c := range info.SupportedCurves {
		in.groups = append(in.groups, uint16(c))
	}
	if slices.Contains(info.Extensions, 0x002b) {
		in.vers = info.SupportedVersions
	}
	if len(raw) >= 11 {
		in.legacy = binary.BigEndian.Uint16(raw[9:11])
	}
	return in, info
}

var errGotHello = errors.New("got the hello")

// stdlibHello feeds raw to a crypto/tls server over a pipe and returns the
// ClientHelloInfo it reports.
func stdlibHello(raw []byte) (*tls.ClientHelloInfo, error) {
	c, s := net.Pipe()
	defer c.Close()
	defer s.Close()
	deadline := time.Now().Add(5 * time.Second)
	c.SetDeadline(deadline)
	s.SetDeadline(deadline)
	go func() {
		c.Write(raw)
		// Drain whatever the server answers (an alert) so it never blocks.
		var buf [512]byte
		for {
			if _, err := c.Read(buf[:]); err != nil {
				return
			}
		}
	}()
	var got *tls.ClientHelloInfo
	srv := tls.Server(s, &tls.Config{GetConfigForClient: func(info *tls.ClientHelloInfo) (*tls.Config, error) {
		cp := *info
		got = &cp
		return nil, errGotHello
	}})
	err := srv.HandshakeContext(context.Background())
	if got != nil {
		return got, nil
	}
	return nil, err
}
