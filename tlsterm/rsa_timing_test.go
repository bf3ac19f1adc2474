package tlsterm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"
)

// Sink keeps benchmark results alive.
var Sink []byte

// BenchmarkSign measures the private-key operation of a handshake's
// CertificateVerify (TLS 1.3) or ServerKeyExchange (TLS 1.2) signature
// with Go's crypto: RSA 2048 (PSS, as TLS 1.3 and Go/OpenSSL clients in
// TLS 1.2 use, and PKCS #1 v1.5) and ECDSA P-256. Compare with
// `openssl speed rsa2048 ecdsap256` on the same core: that gap bounds
// what a crypto/tls server can reach against an OpenSSL one.
func BenchmarkSign(b *testing.B) {
	digest := sha256.Sum256([]byte("brink handshake transcript"))
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	tests := []struct {
		name string
		sign func() ([]byte, error)
	}{
		{"rsa2048-pss", func() ([]byte, error) {
			return rsa.SignPSS(rand.Reader, rk, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}},
		{"rsa2048-pkcs1v15", func() ([]byte, error) { return rsa.SignPKCS1v15(nil, rk, crypto.SHA256, digest[:]) }},
		{"ecdsa-p256", func() ([]byte, error) { return ecdsa.SignASN1(rand.Reader, ek, digest[:]) }},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sig, err := tt.sign()
				if err != nil {
					b.Fatal(err)
				}
				Sink = sig
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sign/s")
		})
	}
}
