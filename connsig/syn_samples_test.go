package connsig

import "encoding/hex"

// synSample is a SYN as TCP_SAVED_SYN returns it (network header onwards),
// with what ParseSYN must make of it.
type synSample struct {
	name        string
	pkt         []byte
	ipVersion   uint8
	ttl         uint8
	df          bool
	window      uint16
	wscale      int8
	mss         uint16
	ts, sack    bool
	options     []uint8
	fingerprint string
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// synSamples: the Linux ones were read with TCP_SAVED_SYN on this project's
// Linux 6.18 machine over loopback; the others are assembled from the
// option layouts those systems send (p0f's and JA4T's published examples):
// macOS mss,nop,ws,nop,nop,ts,sok,eol,eol; Windows 10/11
// mss,nop,ws,nop,nop,sok; Linux over Ethernet mss,sok,ts,nop,ws.
var synSamples = []synSample{
	{
		name:      "linux-6.18-loopback-ipv4",
		pkt:       mustHex("4500003c23a74000400619137f0000017f00000181289f23d920404300000000a002ffd7fe3000000204ffd70402080a044c6c71000000000103030a"),
		ipVersion: 4, ttl: 64, df: true, window: 65495, wscale: 10, mss: 65495, ts: true, sack: true,
		options:     []uint8{2, 4, 8, 1, 3},
		fingerprint: "b1_4d_64_2.4.8.1.3_65495_10_m1",
	},
	{
		name:      "linux-6.18-loopback-ipv6",
		pkt:       mustHex("6007a816002806400000000000000000000000000000000100000000000000000000000000000001b8d2e92123e8e8e100000000a002ffc4003000000204ffc40402080acfeac2d2000000000103030a"),
		ipVersion: 6, ttl: 64, window: 65476, wscale: 10, mss: 65476, ts: true, sack: true,
		options:     []uint8{2, 4, 8, 1, 3},
		fingerprint: "b1_6_64_2.4.8.1.3_65476_10_m1",
	},
	{
		name:      "linux-ethernet-ipv4",
		pkt:       ipv4SYN(55, true, nil, tcpSYN(64240, "020405b4"+"0402"+"080a0001e24000000000"+"01"+"030307")),
		ipVersion: 4, ttl: 55, df: true, window: 64240, wscale: 7, mss: 1460, ts: true, sack: true,
		options:     []uint8{2, 4, 8, 1, 3},
		fingerprint: "b1_4d_64_2.4.8.1.3_1460_7_m44",
	},
	{
		name:      "macos-ipv4",
		pkt:       ipv4SYN(58, true, nil, tcpSYN(65535, "020405b4"+"01"+"030306"+"01"+"01"+"080a0a0b0c0d00000000"+"0402"+"00"+"00")),
		ipVersion: 4, ttl: 58, df: true, window: 65535, wscale: 6, mss: 1460, ts: true, sack: true,
		options:     []uint8{2, 1, 3, 1, 1, 8, 4, 0},
		fingerprint: "b1_4d_64_2.1.3.1.1.8.4.0_1460_6_65535",
	},
	{
		name:      "windows-11-ipv4",
		pkt:       ipv4SYN(113, true, nil, tcpSYN(64240, "020405b4"+"01"+"030308"+"01"+"01"+"0402")),
		ipVersion: 4, ttl: 113, df: true, window: 64240, wscale: 8, mss: 1460, sack: true,
		options:     []uint8{2, 1, 3, 1, 1, 4},
		fingerprint: "b1_4d_128_2.1.3.1.1.4_1460_8_m44",
	},
	{
		name: "ipv6-hop-by-hop",
		pkt: append(mustHex("60000000"+"0030"+"00"+"40"+ // next header 0: hop-by-hop
			"20010db8000000000000000000000001"+"20010db8000000000000000000000002"+
			"06"+"00"+"010400000000"), // next TCP, 8 bytes, PadN
			tcpSYN(10000, "020405a0")...),
		ipVersion: 6, ttl: 64, window: 10000, wscale: -1, mss: 1440,
		options:     []uint8{2},
		fingerprint: "b1_6_64_2_1440_-_10000",
	},
	{
		name:      "ipv4-options-no-tcp-options",
		pkt:       ipv4SYN(128, false, mustHex("01010100"), tcpSYN(512, "")),
		ipVersion: 4, ttl: 128, window: 512, wscale: -1,
		options:     []uint8{},
		fingerprint: "b1_4_128_-_-_-_512",
	},
}

// ipv4SYN assembles an IPv4 header (IHL from ipOpts, which must be whole
// words) in front of tcp.
func ipv4SYN(ttl byte, df bool, ipOpts, tcp []byte) []byte {
	h := mustHex("4500000000000000000600000a000001c0000201")
	h[0] = 0x40 | byte(5+len(ipOpts)/4)
	if df {
		h[6] = 0x40
	}
	h[8] = ttl
	h = append(h, ipOpts...)
	return append(h, tcp...)
}

// tcpSYN assembles a SYN's TCP header with the hex-encoded options (whole
// words).
func tcpSYN(window uint16, opts string) []byte {
	o := mustHex(opts)
	h := mustHex("d431005000000001000000000002000000000000")
	h[12] = byte(5+len(o)/4) << 4
	h[14], h[15] = byte(window>>8), byte(window)
	return append(h, o...)
}
