//go:build linux

package tcpsig

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/brink-edge/brink/connsig"
)

// The crafted-SYN test completes a TCP handshake by hand inside a private
// network namespace: a raw socket (IPPROTO_RAW, so IP_HDRINCL) sends a SYN
// built byte by byte from a client address, 10.78.0.1, that no local
// socket owns, to a listener on 10.78.0.2. That address sits on a TUN
// device (brt0, 10.78.0.2/24), so the listener's SYN-ACK to 10.78.0.1 is
// routed out of brt0, where the test reads it; no client-side kernel ever
// sees it, so none answers it with a RST (no firewall rule needed). The
// raw socket then sends the ACK, the kernel completes the handshake, and
// accept returns the connection whose signal is checked field by field.
// The SYN goes out through lo, which does not decrement the TTL: the
// listener sees exactly the header that was built.

var (
	craftClientIP = net.IPv4(10, 78, 0, 1).To4()
	craftServerIP = net.IPv4(10, 78, 0, 2).To4()
)

// The crafted SYN: values no Linux, Windows or macOS stack sends, in an
// order none uses (Linux: MSS, SACK-perm, TS, NOP, WS), terminated by an
// explicit EOL and EOL padding.
const (
	craftTTL    = 37
	craftWindow = 1234
	craftMSS    = 1337
	craftWScale = 3
	craftIPID   = 0x4242
	craftTSval  = 0x01020304
)

// craftOptions is the SYN's option block (24 bytes: 21 of options, then
// three EOL bytes of padding); craftKinds is the kind list the signal must
// report (EOL listed once, ending the list).
var (
	craftOptions = []byte{
		2, 4, craftMSS >> 8, craftMSS & 0xff, // MSS 1337
		1,                 // NOP
		3, 3, craftWScale, // window scale 3
		4, 2, // SACK permitted
		8, 10, 1, 2, 3, 4, 0, 0, 0, 0, // timestamps, TSval craftTSval, TSecr 0
		0,       // EOL
		0, 0, 0, // padding
	}
	craftKinds = []uint8{2, 1, 3, 4, 8, 0}
)

// craftSYN builds the SYN's IPv4 and TCP headers (DF off), checksums
// included.
func craftSYN(sport, dport uint16, isn uint32) []byte {
	return buildSegment(craftClientIP, craftServerIP, sport, dport, isn, 0, 0x02, craftWindow, craftTTL, craftOptions)
}

// buildSegment returns an IPv4 packet (20-byte header, ID craftIPID, no
// flags) carrying a TCP header with opts (a multiple of 4 bytes) and no
// payload.
func buildSegment(src, dst net.IP, sport, dport uint16, seq, ack uint32, flags uint8, window uint16, ttl uint8, opts []byte) []byte {
	tcpLen := 20 + len(opts)
	pkt := make([]byte, 20+tcpLen)
	ip := pkt[:20]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(len(pkt)))
	binary.BigEndian.PutUint16(ip[4:], craftIPID)
	// ip[6:8] = 0: DF and MF off, fragment offset 0.
	ip[8], ip[9] = ttl, unix.IPPROTO_TCP
	copy(ip[12:16], src.To4())
	copy(ip[16:20], dst.To4())
	binary.BigEndian.PutUint16(ip[10:], checksum(0, ip))

	tcp := pkt[20:]
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	binary.BigEndian.PutUint32(tcp[4:], seq)
	binary.BigEndian.PutUint32(tcp[8:], ack)
	tcp[12] = uint8(tcpLen/4) << 4
	tcp[13] = flags
	binary.BigEndian.PutUint16(tcp[14:], window)
	copy(tcp[20:], opts)
	// The pseudo-header: source, destination, zero, protocol, TCP length.
	var pseudo [12]byte
	copy(pseudo[0:4], src.To4())
	copy(pseudo[4:8], dst.To4())
	pseudo[9] = unix.IPPROTO_TCP
	binary.BigEndian.PutUint16(pseudo[10:], uint16(tcpLen))
	binary.BigEndian.PutUint16(tcp[16:], checksum(sum(0, pseudo[:]), tcp))
	return pkt
}

// sum adds b to the running ones'-complement sum acc (RFC 1071).
func sum(acc uint32, b []byte) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		acc += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		acc += uint32(b[len(b)-1]) << 8
	}
	return acc
}

// checksum folds acc plus b into the Internet checksum.
func checksum(acc uint32, b []byte) uint16 {
	acc = sum(acc, b)
	for acc>>16 != 0 {
		acc = acc&0xffff + acc>>16
	}
	return ^uint16(acc)
}

// checkCraftedSYN asserts every SYN field of s against the crafted SYN.
func checkCraftedSYN(t *testing.T, s *connsig.Signal) {
	t.Helper()
	if s.IPVersion != 4 {
		t.Errorf("IPVersion = %d, want 4", s.IPVersion)
	}
	if s.TTL != craftTTL {
		t.Errorf("TTL = %d, want %d", s.TTL, craftTTL)
	}
	if s.DF {
		t.Errorf("DF = true, want false")
	}
	if s.Window != craftWindow {
		t.Errorf("Window = %d, want %d", s.Window, craftWindow)
	}
	if s.WScale != craftWScale {
		t.Errorf("WScale = %d, want %d", s.WScale, craftWScale)
	}
	if s.SYNMSS != craftMSS {
		t.Errorf("SYNMSS = %d, want %d", s.SYNMSS, craftMSS)
	}
	if !s.Timestamps || !s.SACKPermitted {
		t.Errorf("Timestamps %v, SACKPermitted %v: want both true", s.Timestamps, s.SACKPermitted)
	}
	if got := s.Options[:s.NumOptions]; !bytes.Equal(got, craftKinds) {
		t.Errorf("Options = %v, want %v", got, craftKinds)
	}
	if s.SYNCookie {
		t.Errorf("SYNCookie = true, want false")
	}
	// b1, IPv4 without DF, TTL 37 guessed from 64, the kinds, MSS, scale,
	// and the window (1234 is no multiple of 1337).
	if fp, want := string(s.AppendFingerprint(nil)), "b1_4_64_2.1.3.4.8.0_1337_3_1234"; fp != want {
		t.Errorf("fingerprint %q, want %q", fp, want)
	}
}

// TestCraftedSYNParse: ParseSYN reports every field of the crafted SYN's
// exact bytes (no kernel involved, no privileges needed).
func TestCraftedSYNParse(t *testing.T) {
	pkt := craftSYN(40000, 8080, 1)
	if c := checksum(0, pkt[:20]); c != 0 {
		t.Fatalf("IP header checksum does not verify: %#04x", c)
	}
	var s connsig.Signal
	s.Reset()
	if err := connsig.ParseSYN(pkt, &s); err != nil {
		t.Fatalf("ParseSYN: %v", err)
	}
	checkCraftedSYN(t, &s)
}

// craftLab is the namespace, its TUN device and the raw socket.
type craftLab struct {
	ns  *netns
	tun *os.File
	raw int
}

func newCraftLab(t *testing.T) *craftLab {
	t.Helper()
	lab := &craftLab{ns: newNetns(t)}
	lab.tun = lab.ns.openTUN(t, "brt0", craftServerIP, 24)
	err := lab.ns.do(func() error {
		// IPPROTO_RAW implies IP_HDRINCL: the kernel sends the header as
		// built (it fills in only the total length and the IP checksum).
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
		lab.raw = fd
		return err
	})
	if err != nil {
		t.Fatalf("raw socket: %v", err)
	}
	t.Cleanup(func() { unix.Close(lab.raw) })
	return lab
}

func (lab *craftLab) send(pkt []byte) error {
	sa := &unix.SockaddrInet4{}
	copy(sa.Addr[:], pkt[16:20])
	return unix.Sendto(lab.raw, pkt, 0, sa)
}

// synACK is what the handshake needs from the listener's SYN-ACK.
type synACK struct {
	seq, ack uint32
	tsval    uint32
	hasTS    bool
}

// readSYNACK reads packets from the TUN device until the SYN-ACK from
// sport to dport arrives (other traffic, e.g. IPv6 chatter or an earlier
// subtest's RST, is skipped), within 5 s.
func (lab *craftLab) readSYNACK(sport, dport uint16) (synACK, error) {
	if err := lab.tun.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return synACK{}, err
	}
	buf := make([]byte, 65536)
	for {
		n, err := lab.tun.Read(buf)
		if err != nil {
			return synACK{}, fmt.Errorf("waiting for the SYN-ACK on the TUN device: %w", err)
		}
		p := buf[:n]
		if n < 40 || p[0]>>4 != 4 || p[9] != unix.IPPROTO_TCP {
			continue
		}
		ihl := int(p[0]&0x0f) * 4
		tcp := p[ihl:]
		if len(tcp) < 20 || binary.BigEndian.Uint16(tcp[0:]) != sport || binary.BigEndian.Uint16(tcp[2:]) != dport {
			continue
		}
		if tcp[13]&0x12 != 0x12 {
			return synACK{}, fmt.Errorf("listener answered with flags %#02x, not SYN-ACK", tcp[13])
		}
		sa := synACK{seq: binary.BigEndian.Uint32(tcp[4:]), ack: binary.BigEndian.Uint32(tcp[8:])}
		doff := int(tcp[12]>>4) * 4
		opts := tcp[20:min(doff, len(tcp))]
		for i := 0; i < len(opts); {
			switch opts[i] {
			case 0:
				i = len(opts)
				continue
			case 1:
				i++
				continue
			}
			if i+1 >= len(opts) || opts[i+1] < 2 {
				break
			}
			if opts[i] == 8 && opts[i+1] == 10 && i+10 <= len(opts) {
				sa.tsval, sa.hasTS = binary.BigEndian.Uint32(opts[i+2:]), true
			}
			i += int(opts[i+1])
		}
		return sa, nil
	}
}

// handshake sends the crafted SYN from sport to the listener on dport,
// reads the SYN-ACK and sends the ACK (echoing the listener's timestamp).
func (lab *craftLab) handshake(t *testing.T, sport, dport uint16) {
	t.Helper()
	const isn = 0x10000000
	if err := lab.send(craftSYN(sport, dport, isn)); err != nil {
		t.Fatalf("sending the crafted SYN: %v", err)
	}
	sa, err := lab.readSYNACK(dport, sport)
	if err != nil {
		t.Fatal(err)
	}
	if sa.ack != isn+1 {
		t.Fatalf("SYN-ACK acknowledges %#x, want %#x", sa.ack, isn+1)
	}
	if !sa.hasTS {
		t.Fatalf("SYN-ACK carries no timestamp although the SYN offered it")
	}
	opts := []byte{1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(opts[4:], craftTSval+1)
	binary.BigEndian.PutUint32(opts[8:], sa.tsval)
	ack := buildSegment(craftClientIP, craftServerIP, sport, dport, isn+1, sa.seq+1, 0x10, craftWindow, craftTTL, opts)
	if err := lab.send(ack); err != nil {
		t.Fatalf("sending the ACK: %v", err)
	}
}

// TestCraftedSYN completes a handshake whose SYN was hand-built (TTL 37, DF
// off, window 1234, MSS 1337, NOP, WScale 3, SACK-perm, TS, EOL) and checks
// that both capture modes report it field for field: the fallback from
// TCP_SAVED_SYN, the eBPF program from the SYN the kernel hands it in the
// SYN-ACK callback.
func TestCraftedSYN(t *testing.T) {
	lab := newCraftLab(t)
	run := func(t *testing.T, c Capturer, sport uint16) {
		prepare := c.PrepareListener
		if ec, ok := c.(*Capture); ok {
			// The SYN must come from the SYN-ACK callback, not from the
			// TCP_SAVE_SYN that PrepareListener sets on a listener the
			// program does not instrument.
			prepare = func(fd int) error {
				if !ec.instrumented(fd) {
					t.Errorf("listener fd %d opened after Open is not instrumented", fd)
				}
				return ec.PrepareListener(fd)
			}
		}
		ln := lab.ns.listenTCP(t, net.JoinHostPort(craftServerIP.String(), "0"), prepare)
		dport := uint16(ln.Addr().(*net.TCPAddr).Port)
		lab.handshake(t, sport, dport)
		sc := acceptTCP(t, ln)
		if ra := sc.RemoteAddr().String(); ra != fmt.Sprintf("%s:%d", craftClientIP, sport) {
			t.Fatalf("accepted %s, want the crafted client %s:%d", ra, craftClientIP, sport)
		}
		var s connsig.Signal
		before := lookups()
		if err := captureLikeLoop(c, ln, sc, sysFD(t, sc), &s); err != nil {
			t.Fatalf("Capture: %v", err)
		}
		if d := lookups().since(before); c.Mode() == connsig.SourceEBPF && d != (lookupCounts{addr: 1}) {
			t.Errorf("lookups %+v, want one by address (CaptureAddr, as the loop calls it)", d)
		}
		t.Logf("%s", s.AppendJSON(nil))
		if s.SYNSource != c.Mode() || s.TimingSource != c.Mode() {
			t.Fatalf("SYNSource %v, TimingSource %v: want %v", s.SYNSource, s.TimingSource, c.Mode())
		}
		checkCraftedSYN(t, &s)
		// TCP_INFO's send MSS: the SYN's 1337 less the 12 bytes of
		// timestamp option every segment carries.
		if want := uint32(craftMSS - 12); s.MSS != want {
			t.Errorf("MSS (TCP_INFO) = %d, want %d (SYN MSS %d - 12 bytes of timestamps)", s.MSS, want, craftMSS)
		}
		if c.Mode() == connsig.SourceEBPF && (s.HandshakeRTT <= 0 || s.ACKTime <= s.SYNACKTime || s.SYNACKTime < s.SYNTime) {
			t.Errorf("eBPF times SYN %d, SYN-ACK %d, ACK %d, RTT %d: want ordered and RTT > 0",
				s.SYNTime, s.SYNACKTime, s.ACKTime, s.HandshakeRTT)
		}
		if !strings.Contains(string(s.AppendJSON(nil)), `"options":[2,1,3,4,8,0]`) {
			t.Errorf("JSON does not list the options in order: %s", s.AppendJSON(nil))
		}
	}
	t.Run("fallback", func(t *testing.T) { run(t, Fallback{}, 40001) })
	t.Run("ebpf", func(t *testing.T) {
		c := openCapture(t)
		// Match records of the lab's netns (Open ran in this one).
		if err := lab.ns.do(func() (err error) { c.netns, err = netnsCookie(); return err }); err != nil {
			t.Fatal(err)
		}
		run(t, c, 40002)
	})
}
