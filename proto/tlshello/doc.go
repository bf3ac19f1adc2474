// Package tlshello parses the TLS ClientHello a client sends first on a
// connection and computes its JA4 and JA3 fingerprints, before any
// handshake work: tlsterm peeks the first bytes, routes by ServerName and
// ALPN, and puts the fingerprints into the connection's signal
// (FillSignal, connsig.TLSSignal).
//
// # What is parsed
//
// Parse takes all bytes received so far and walks the TLS records at their
// start (content type 22, record version 3.x, 1 to 2^14 bytes each). The
// ClientHello may span several records and arrive in any number of reads,
// its 4-byte handshake header included; Parse answers ErrNeedMore until it
// is complete, then copies the message out of its records into the Hello
// and reads: legacy_version, session_id, cipher_suites,
// compression_methods and every extension's type in wire order, and the
// contents of server_name (host_name), ALPN
// (application_layer_protocol_negotiation), signature_algorithms,
// supported_groups, ec_point_formats and supported_versions. Accessors
// return GREASE values as sent; the fingerprints drop them.
//
// Parse keeps no state between calls: each call reads b from its first
// byte, so a caller may use any Hello (a pooled one) for each attempt. An
// incomplete hello costs a walk over the record headers only (tens of
// nanoseconds); the copy and the parse happen once, when it is complete.
//
// Limits and rejections: the records may take at most MaxHelloBytes (16
// KiB, ErrTooLarge); a first byte other than 0x16 or a record version other
// than 3.0-3.4 is ErrNotTLS (plain HTTP, SSLv2-style hellos); a record of
// another type before the hello is complete, a first handshake message that
// is not a client_hello, bytes after the hello in its last record, any
// length that does not add up, a repeated extension type, or a host_name
// that is empty, longer than 255 bytes, not printable ASCII or ends in a
// dot is an error matching ErrMalformed that names the field. ALPN values
// are taken as sent (even empty ones, which JA4 has a rule for). Parse does
// not validate what crypto/tls checks later (key shares, PSK order).
//
// # JA4 (AppendJA4)
//
// JA4 = a_b_c, as FoxIO's technical_details/JA4.md defines it for TLS over
// TCP:
//
//   - a: "t"; the version code of MaxVersion (0x0304 "13", 0x0303 "12",
//     0x0302 "11", 0x0301 "10", 0x0300 "s3", 0x0002 "s2", DTLS "d1"-"d3",
//     else "00"); "d" with a server_name extension, else "i"; the counts of
//     cipher suites and of extensions (SNI and ALPN included), GREASE
//     excluded, two digits capped at 99; the first and last characters of
//     the first ALPN value, or the first and last hex digits of that value
//     when either character is not ASCII alphanumeric, "00" without ALPN or
//     for an empty value (a one-character value is both first and last).
//   - b: the first 12 hex digits of the SHA-256 of the cipher suites as
//     4-digit lower-case hex, GREASE dropped, sorted, comma-joined;
//     "000000000000" when none remain.
//   - c: the same over the sorted extension types less GREASE, SNI (0000)
//     and ALPN (0010), followed by "_" and the signature algorithms in wire
//     order (GREASE dropped) when there are any; "000000000000" when no
//     extension remains.
//
// # JA3 (AppendJA3String, AppendJA3)
//
// JA3 is the MD5 of the string
// "SSLVersion,Ciphers,Extensions,EllipticCurves,EcPointFormats":
// legacy_version, cipher suites, extension types in wire
// order, supported_groups and ec_point_formats in decimal, '-'-joined,
// GREASE dropped, empty fields left empty (Salesforce's JA3 README). JA3
// takes extensions in wire order, so browsers that shuffle them (Chrome
// since 110) have no stable JA3; JA4 sorts them.
//
// Only JA4 (the TLS client fingerprint) and JA3 are implemented. The other
// JA4+ methods (JA4S, JA4T, JA4L, JA4H, JA4X, ...) are under the FoxIO
// License 1.1, which allows non-commercial use only; brink does not emit
// them.
//
// Allocation: Parse, AppendJA4, AppendJA3, AppendJA3String and FillSignal
// allocate nothing once the Hello's storage (kept across Reset) has grown
// to the size of the hellos it sees, and the Append methods' dst has room.
// Concurrency: a Hello is used by one goroutine at a time; a loop keeps
// one per pending connection or reuses one per goroutine. Buffers: Parse
// keeps no reference to its input; accessors return slices of the Hello's
// storage, valid until the next Parse or Reset.
//
// # Licences
//
// JA4 is Copyright (c) 2023 FoxIO, all rights reserved, under the BSD
// 3-Clause licence; LICENSE-JA4 in this directory carries its notice,
// conditions and disclaimer (from github.com/FoxIO-LLC/ja4). JA3 is
// Copyright (c) 2017, Salesforce.com, Inc., under the BSD 3-Clause licence
// (github.com/salesforce/ja3). Both methods are implemented here from their
// specifications; no code was copied from either project.
package tlshello
