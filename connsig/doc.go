// Package connsig holds brink's per-connection signal: the SYN's arrival and
// headers, the TCP handshake timing and the kernel's RTT figures, and, with
// TLS, the ClientHello's SNI and fingerprints and the handshake's version,
// cipher suite and latency (TLSSignal). It is a plain data type shared by
// the stages: ebpf/tcpsig and its fallback fill it, proto/tlshello and
// tlsterm fill its TLS part, loop carries it with the connection, flags/api
// reads it into the flag context and the /signal answer.
//
// It also holds the SYN header parser (ParseSYN, for the bytes that
// TCP_SAVED_SYN and the eBPF program return) and the encoders: AppendJSON,
// AppendFingerprint and AppendValue.
//
// The stages meet through small interfaces: a Capturer fills a Signal from
// an accepted socket's fd; an AddrCapturer (ebpf/tcpsig's eBPF capture)
// fills it from the connection's addresses instead, with no system call,
// and the loop, which has those addresses from accept, prefers it
// (CaptureAddr with its listener's address as local, whose IP may be
// unspecified, and the peer's as remote); a ListenerPreparer sets up the
// listening socket; a Carrier hands a connection's Signal to the request
// handlers.
//
// Allocation: Reset, ParseSYN, the Append* encoders and the property lookups
// allocate nothing (Append* only grow dst when it is too small).
// Concurrency: a Signal belongs to one connection; it is filled before the
// connection's first request is handled and read-only after, so concurrent
// readers are safe then. Buffers: ParseSYN keeps no reference to pkt.
//
// # JSON (AppendJSON, version 1)
//
// Every field is always written, in this order. "mode" says which capture
// mode of ebpf/tcpsig fills it: E = eBPF (cgroup sockops program), F =
// fallback (TCP_SAVED_SYN + TCP_INFO after accept). Unknown is 0, false,
// "" or [].
//
//	field           type    mode  meaning
//	version         int     -     JSONVersion (1)
//	synTimeNs       int     E     when the kernel processed the SYN (CLOCK_MONOTONIC ns)
//	synAckTimeNs    int     E     when the kernel built the first SYN-ACK
//	ackTimeNs       int     E     when the handshake's final ACK made the socket established
//	handshakeRttUs  int     E     ackTimeNs - synAckTimeNs in µs; 0 after a SYN-ACK retransmit (Karn)
//	tcpRttUs        int     E F   smoothed RTT (tcpi_rtt / srtt_us>>3), µs
//	tcpRttVarUs     int     E F   RTT variance (tcpi_rttvar / mdev_us>>2), µs
//	tcpMinRttUs     int     E F   minimum RTT seen (tcpi_min_rtt), µs
//	mss             int     E F   the socket's send MSS (tcpi_snd_mss / mss_cache)
//	retransmits     int     E F   total retransmissions, SYN-ACK ones included
//	ipVersion       int     E F   4 or 6; 0 when the SYN was not seen
//	ttl             int     E F   the SYN's IPv4 TTL or IPv6 hop limit
//	df              bool    E F   the SYN's don't-fragment bit (IPv4)
//	window          int     E F   the SYN's window, unscaled
//	wscale          int     E F   the SYN's window scale option; null when absent
//	synMss          int     E F   the SYN's MSS option; 0 when absent
//	timestamps      bool    E F   the SYN carried the timestamp option
//	sackPermitted   bool    E F   the SYN carried SACK-permitted
//	synCookie       bool    E     the kernel answered with a syncookie
//	options         [int]   E F   the SYN's TCP option kinds in wire order (at most 16)
//	fingerprint     string  E F   AppendFingerprint; "" when the SYN was not seen
//	timingSource    string  E F   "ebpf", "fallback" or "none": where the times and RTT figures came from
//	synSource       string  E F   "ebpf", "fallback" or "none": where the SYN fields came from
//	tlsVersion      string  T     the negotiated TLS version: "1.3", "1.2", "1.1", "1.0", "ssl3" or "0xXXXX"
//	tlsHelloVersion string  H     the highest version the ClientHello offers (supported_versions, else legacy_version), same form
//	tlsCipher       string  T     the negotiated cipher suite: its IANA name for crypto/tls's suites, else "0xXXXX"
//	tlsResumed      bool    T     the session was resumed (ticket or PSK)
//	tlsHandshakeUs  int     T     brink's ServerHello flight to the client's next data (its Finished in TLS 1.3), µs
//	sni             string  H     the ClientHello's server_name host name, as sent
//	alpn            string  T     the negotiated ALPN protocol
//	ja4             string  H     the ClientHello's JA4 fingerprint (FoxIO, BSD-3; proto/tlshello)
//	ja3             string  H     the ClientHello's JA3 fingerprint, MD5 hex (Salesforce, BSD-3)
//
// The TLS fields (TLSSignal) are filled by a listener that reads the
// ClientHello: H = from the ClientHello (proto/tlshello), on terminated and
// passthrough routes; T = by tlsterm once it has completed the handshake.
// On a plain TCP connection they are "", 0 and false. sni and alpn come
// from the client: they are JSON-escaped, with every byte outside
// printable ASCII written as \u00XX.
//
// In fallback mode the first RTT figures come from TCP_INFO right after
// accept: tcpRttUs is then usually the kernel's own SYN-ACK→ACK sample
// (measured from the SYN-ACK's send stamp, in µs), which is the quantity
// handshakeRttUs measures in eBPF mode, but not always: after a SYN-ACK
// retransmit, or with syncookies, the kernel takes the sample from the
// timestamp echo (millisecond granularity) or has none, and once data has
// flowed it is a smoothed average. So the fallback leaves handshakeRttUs 0
// rather than pass tcpRttUs off as it. With syncookies the fallback sees no
// SYN at all (the kernel keeps no request socket to save it in).
//
// # Fingerprint (AppendFingerprint, format b1)
//
// brink's own, documented SYN fingerprint; it is not JA4T (FoxIO licence)
// nor p0f's signature format. Six '_'-separated fields after "b1":
//
//	b1_<ip>_<ittl>_<options>_<mss>_<wscale>_<window>
//
//	ip       "4" or "6", followed by "d" when the IPv4 DF bit is set
//	ittl     the guessed initial TTL: the smallest of 32, 64, 128, 255 ≥ the TTL seen
//	options  the option kinds in wire order joined by '.', "-" when none
//	mss      the MSS option value, "-" when absent
//	wscale   the window scale option value, "-" when absent
//	window   "m<k>" when the window is k times the MSS option, else the window
//
// Linux over loopback, for example: b1_4d_64_2.4.8.1.3_65495_7_m1; Windows
// 11 over Ethernet: b1_4d_128_2.1.3.1.1.4_1460_8_m44.
//
// # Flag-context properties (AppendValue)
//
//	name            value
//	tcpRttMs        tcpRttUs in ms, decimal ("0.021")
//	handshakeRttMs  handshakeRttUs in ms, decimal
//	tcpMinRttMs     tcpMinRttUs in ms, decimal
//	synTtl          ttl
//	synWindow       window
//	synMss          synMss
//	synWscale       wscale
//	synFingerprint  fingerprint
//	captureSource   the better of timingSource and synSource ("ebpf" > "fallback" > "none")
//	tlsJa4          ja4
//	tlsJa3          ja3
//	tlsVersion      tlsVersion ("1.3", "1.2")
//	tlsHandshakeMs  tlsHandshakeUs in ms, decimal
//	sni             sni (as sent; not escaped)
//
// A property that was not captured is absent (AppendValue reports false).
package connsig
