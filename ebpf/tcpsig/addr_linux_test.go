//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package tcpsig

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/brink-edge/brink/connsig"
)

// lookupCounts snapshots brink_ebpf_lookups_total, to tell which path a
// capture took.
type lookupCounts struct{ addr, cookie, storage uint64 }

func lookups() lookupCounts {
	return lookupCounts{lookupsAddr.Get(), lookupsCookie.Get(), lookupsStorage.Get()}
}

func (a lookupCounts) since(b lookupCounts) lookupCounts {
	return lookupCounts{a.addr - b.addr, a.cookie - b.cookie, a.storage - b.storage}
}

// addrPorts returns the addresses the loop hands CaptureAddr for an
// accepted connection: the listener's address (its IP may be unspecified)
// and the peer's.
func addrPorts(ln *net.TCPListener, sc *net.TCPConn) (local, remote netip.AddrPort) {
	return ln.Addr().(*net.TCPAddr).AddrPort(), sc.RemoteAddr().(*net.TCPAddr).AddrPort()
}

// captureLikeLoop captures the accepted sc as loop's OnOpen does:
// CaptureAddr with the listener's and the peer's addresses when c has it,
// else Capture.
func captureLikeLoop(c Capturer, ln *net.TCPListener, sc *net.TCPConn, fd int, s *connsig.Signal) error {
	if ac, ok := c.(connsig.AddrCapturer); ok {
		local, remote := addrPorts(ln, sc)
		return ac.CaptureAddr(fd, local, remote, s)
	}
	return c.Capture(fd, s)
}

// useThreadNetns makes c match records of the calling (locked) thread's
// network namespace, as Open does for the thread that runs it, so that
// tests in a private netns exercise the address path.
func useThreadNetns(t testing.TB, c *Capture) {
	t.Helper()
	ns, err := netnsCookie()
	if err != nil {
		t.Fatalf("SO_NETNS_COOKIE: %v", err)
	}
	c.netns = ns
}

// TestAddrHashMapped: an IPv4 peer is the same key whether its address
// comes as 4 bytes (an AF_INET socket) or IPv4-mapped (a dual-stack
// AF_INET6 socket, or a net.IP in 16-byte form), as sockops.c keys both.
func TestAddrHashMapped(t *testing.T) {
	v4 := netip.MustParseAddrPort("192.0.2.7:40000")
	mapped := netip.AddrPortFrom(netip.AddrFrom16(v4.Addr().As16()), v4.Port())
	local4 := netip.MustParseAddrPort("127.0.0.1:8080")
	local6 := netip.AddrPortFrom(netip.AddrFrom16(local4.Addr().As16()), 8080)
	a, b := makeAddrKey(1, local4, v4), makeAddrKey(1, local6, mapped)
	if a != b {
		t.Fatalf("keys differ: %+v vs %+v", a, b)
	}
	for _, l := range []string{"0.0.0.0:8080", "[::]:8080", "[::ffff:0.0.0.0]:8080"} {
		if k := makeAddrKey(1, netip.MustParseAddrPort(l), v4); !k.anyLocal || k.lport != 8080 {
			t.Errorf("local %s: anyLocal %v, lport %d; want true, 8080", l, k.anyLocal, k.lport)
		}
	}
	if k := makeAddrKey(1, local4, v4); k.anyLocal {
		t.Errorf("local %s: anyLocal, want the address checked", local4)
	}
	// The remote port and the local port both reach the entry index.
	seen := map[uint32]bool{}
	for p := range uint16(64) {
		seen[addrHash(&a.raddr, 40000+p, 8080)&(1<<14-1)] = true
		seen[addrHash(&a.raddr, 40000, 8080+p)&(1<<14-1)] = true
	}
	if len(seen) < 120 {
		t.Errorf("128 port variations hit only %d of 16384 entries", len(seen))
	}
}

// TestAddrHashAgrees: for real connections (IPv4, IPv6, and IPv4 accepted
// by a dual-stack listener, whose child the program sees as AF_INET6 with a
// mapped address while its request socket was AF_INET), the program's
// addr_index entry at Go's addrHash holds the accepted socket's cookie, and
// its slot holds the addresses and ports that the loop knows.
func TestAddrHashAgrees(t *testing.T) {
	c := openCapture(t)
	check := func(t *testing.T, network, listenAddr, dialNetwork, dialHost string) {
		ln := listen(t, network, listenAddr, c.PrepareListener)
		port := ln.Addr().(*net.TCPAddr).Port
		for range 32 { // 32 client ports
			h := connect(t, ln, dialNetwork, net.JoinHostPort(dialHost, strconv.Itoa(port)))
			cookie, err := socketCookie(h.serverFD)
			if err != nil {
				t.Fatalf("SO_COOKIE: %v", err)
			}
			local, remote := addrPorts(ln, h.server)
			k := makeAddrKey(c.netns, local, remote)
			i := uint64(addrHash(&k.raddr, k.rport, k.lport)) & (c.slots.n - 1)
			if got := binary.LittleEndian.Uint64(c.slots.index[i*8:]); got != cookie {
				t.Fatalf("%v<-%v: addr_index[%d] = %d, want the socket's cookie %d (C and Go hashes disagree)", local, remote, i, got, cookie)
			}
			slot := c.slots.mem[(cookie&(c.slots.n-1))*slotSize:]
			actual := h.server.LocalAddr().(*net.TCPAddr).AddrPort()
			if got := binary.LittleEndian.Uint16(slot[slotOffRport:]); got != remote.Port() {
				t.Errorf("slot rport %d, want %d", got, remote.Port())
			}
			if got := binary.LittleEndian.Uint16(slot[slotOffLport:]); got != actual.Port() {
				t.Errorf("slot lport %d, want %d", got, actual.Port())
			}
			if got := [16]byte(slot[slotOffRaddr:]); got != remote.Addr().As16() {
				t.Errorf("slot raddr %x, want %x", got, remote.Addr().As16())
			}
			if got := [16]byte(slot[slotOffLaddr:]); got != actual.Addr().As16() {
				t.Errorf("slot laddr %x, want %x", got, actual.Addr().As16())
			}
			if got := binary.LittleEndian.Uint64(slot[slotOffNetns:]); got != c.netns {
				t.Errorf("slot netns %d, want %d", got, c.netns)
			}
			h.client.Close()
			h.server.Close()
		}
	}
	t.Run("ipv4", func(t *testing.T) { check(t, "tcp4", "127.0.0.1:0", "tcp4", "127.0.0.1") })
	t.Run("ipv6", func(t *testing.T) { check(t, "tcp6", "[::1]:0", "tcp6", "::1") })
	t.Run("ipv4-mapped", func(t *testing.T) {
		inNetns(t, func() {
			useThreadNetns(t, c)
			check(t, "tcp", "[::]:0", "tcp4", "127.0.0.1")
		})
	})
}

// TestCaptureAddr: CaptureAddr finds the record through the address index
// (no SO_COOKIE) and fills the same signal Capture does, for IPv4, IPv6, a
// dual-stack listener's IPv4 peer (mapped), and a listener on all addresses
// (the local address unknown, matched by port).
func TestCaptureAddr(t *testing.T) {
	c := openCapture(t)
	tests := []struct {
		name, network, listenAddr, dialNetwork, dialHost string
		netns                                            bool
		ipVersion                                        uint8
	}{
		{"ipv4", "tcp4", "127.0.0.1:0", "tcp4", "127.0.0.1", false, 4},
		{"ipv6", "tcp6", "[::1]:0", "tcp6", "::1", false, 6},
		{"ipv4 any", "tcp4", "0.0.0.0:0", "tcp4", "127.0.0.1", true, 4},
		{"ipv6 any", "tcp6", "[::]:0", "tcp6", "::1", true, 6},
		{"ipv4-mapped dual stack", "tcp", "[::]:0", "tcp4", "127.0.0.1", true, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := func() {
				ln := listen(t, tt.network, tt.listenAddr, c.PrepareListener)
				h := connect(t, ln, tt.dialNetwork, net.JoinHostPort(tt.dialHost, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)))
				before := lookups()
				var s connsig.Signal
				if err := captureLikeLoop(c, ln, h.server, h.serverFD, &s); err != nil {
					t.Fatalf("CaptureAddr: %v", err)
				}
				if d := lookups().since(before); d != (lookupCounts{addr: 1}) {
					t.Errorf("lookups %+v, want one by address", d)
				}
				checkEBPFTiming(t, &s)
				checkLinuxSYN(t, &s, tt.ipVersion)
				// Read again by cookie: the same record, field for field.
				var again connsig.Signal
				if err := c.Capture(h.serverFD, &again); err != nil {
					t.Fatalf("Capture: %v", err)
				}
				if again != s {
					t.Errorf("Capture after CaptureAddr differs:\n%s\n%s", again.AppendJSON(nil), s.AppendJSON(nil))
				}
			}
			if tt.netns { // 0.0.0.0 and :: bind nothing real in a private netns
				inNetns(t, func() { useThreadNetns(t, c); run() })
			} else {
				run()
			}
		})
	}
}

// TestCaptureAddrMismatch: whatever does not match the connection sends
// CaptureAddr to the SO_COOKIE path, which still finds the right record.
func TestCaptureAddrMismatch(t *testing.T) {
	c := openCapture(t)
	ln := listen(t, "tcp4", "127.0.0.1:0", c.PrepareListener)
	tests := []struct {
		name string
		// alter changes the key or the maps; it returns the addresses to
		// pass and undoes nothing (each case has its own connection).
		alter func(h handshake, local, remote *netip.AddrPort)
	}{
		{"remote port", func(_ handshake, _, remote *netip.AddrPort) {
			*remote = netip.AddrPortFrom(remote.Addr(), remote.Port()+1)
		}},
		{"remote address", func(_ handshake, _, remote *netip.AddrPort) {
			*remote = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), remote.Port())
		}},
		{"local port", func(_ handshake, local, _ *netip.AddrPort) {
			*local = netip.AddrPortFrom(local.Addr(), local.Port()+1)
		}},
		{"local address", func(_ handshake, local, _ *netip.AddrPort) {
			*local = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.3"), local.Port())
		}},
		{"slot of another connection with the same hash", func(h handshake, local, remote *netip.AddrPort) {
			// The index entry leads to this connection's slot, but the slot
			// says another peer port: a later connection took the entry.
			cookie, _ := socketCookie(h.serverFD)
			slot := c.slots.mem[(cookie&(c.slots.n-1))*slotSize:]
			binary.LittleEndian.PutUint16(slot[slotOffRport:], remote.Port()^1)
		}},
		{"index entry of another cookie", func(_ handshake, local, remote *netip.AddrPort) {
			k := makeAddrKey(c.netns, *local, *remote)
			i := uint64(addrHash(&k.raddr, k.rport, k.lport)) & (c.slots.n - 1)
			binary.LittleEndian.PutUint64(c.slots.index[i*8:], binary.LittleEndian.Uint64(c.slots.index[i*8:])+c.slots.n)
		}},
		{"index entry empty", func(_ handshake, local, remote *netip.AddrPort) {
			k := makeAddrKey(c.netns, *local, *remote)
			i := uint64(addrHash(&k.raddr, k.rport, k.lport)) & (c.slots.n - 1)
			binary.LittleEndian.PutUint64(c.slots.index[i*8:], 0)
		}},
		{"another network namespace", func(h handshake, _, _ *netip.AddrPort) {
			cookie, _ := socketCookie(h.serverFD)
			slot := c.slots.mem[(cookie&(c.slots.n-1))*slotSize:]
			binary.LittleEndian.PutUint64(slot[slotOffNetns:], c.netns+1)
		}},
		{"no remote address", func(_ handshake, _, remote *netip.AddrPort) { *remote = netip.AddrPort{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := connect(t, ln, "tcp4", ln.Addr().String())
			local, remote := addrPorts(ln, h.server)
			tt.alter(h, &local, &remote)
			before := lookups()
			var s connsig.Signal
			if err := c.CaptureAddr(h.serverFD, local, remote, &s); err != nil {
				t.Fatalf("CaptureAddr: %v", err)
			}
			if d := lookups().since(before); d != (lookupCounts{cookie: 1}) {
				t.Errorf("lookups %+v, want one by cookie", d)
			}
			checkEBPFTiming(t, &s)
			checkLinuxSYN(t, &s, 4)
		})
	}
}

// TestSlotsReadAddr runs readAddr on a hand-made index and slot.
func TestSlotsReadAddr(t *testing.T) {
	const n = 4
	sl := &slots{mem: make([]byte, n*slotSize), index: make([]byte, n*8), n: n}
	local := netip.MustParseAddrPort("127.0.0.1:443")
	remote := netip.MustParseAddrPort("[2001:db8::1]:50000")
	key := makeAddrKey(7, local, remote)
	rec := make([]byte, recordSize)
	for i := range rec {
		rec[i] = byte(i)
	}
	const cookie = 4*1000 + 1 // slot 1
	put := func(state uint32, cookie uint64, netns uint64, rport uint16) {
		b := sl.mem[(cookie&(n-1))*slotSize:]
		binary.NativeEndian.PutUint32(b[slotOffState:], state)
		binary.NativeEndian.PutUint64(b[slotOffCookie:], cookie)
		binary.NativeEndian.PutUint64(b[slotOffNetns:], netns)
		binary.NativeEndian.PutUint16(b[slotOffLport:], 443)
		binary.NativeEndian.PutUint16(b[slotOffRport:], rport)
		la, ra := local.Addr().As16(), remote.Addr().As16()
		copy(b[slotOffLaddr:], la[:])
		copy(b[slotOffRaddr:], ra[:])
		copy(b[slotOffRec:slotSize], rec)
	}
	entry := uint64(addrHash(&key.raddr, key.rport, key.lport)) & (n - 1)
	tests := []struct {
		name   string
		index  uint64 // the entry's cookie
		state  uint32
		slot   uint64 // the slot's cookie
		netns  uint64
		rport  uint16
		key    addrKey
		want   bool
		wantSt uint32
	}{
		{"full", cookie, 5<<2 | slotFull, cookie, 7, 50000, key, true, 5<<2 | slotConsumed},
		{"consumed", cookie, 5<<2 | slotConsumed, cookie, 7, 50000, key, true, 5<<2 | slotConsumed},
		{"any local", cookie, 5<<2 | slotFull, cookie, 7, 50000,
			makeAddrKey(7, netip.MustParseAddrPort("[::]:443"), remote), true, 5<<2 | slotConsumed},
		{"empty entry", 0, 5<<2 | slotFull, cookie, 7, 50000, key, false, 5<<2 | slotFull},
		{"writing", cookie, 6<<2 | 1, cookie, 7, 50000, key, false, 6<<2 | 1},
		{"free", cookie, 0, cookie, 7, 50000, key, false, 0},
		{"slot of another cookie", cookie, 5<<2 | slotFull, cookie + n, 7, 50000, key, false, 5<<2 | slotFull},
		{"other netns", cookie, 5<<2 | slotFull, cookie, 8, 50000, key, false, 5<<2 | slotFull},
		{"other peer port", cookie, 5<<2 | slotFull, cookie, 7, 50001, key, false, 5<<2 | slotFull},
		{"other local address", cookie, 5<<2 | slotFull, cookie, 7, 50000,
			makeAddrKey(7, netip.MustParseAddrPort("127.0.0.2:443"), remote), false, 5<<2 | slotFull},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clear(sl.mem)
			clear(sl.index)
			binary.NativeEndian.PutUint64(sl.index[entry*8:], tt.index)
			put(tt.state, tt.slot, tt.netns, tt.rport)
			var dst [recordSize]byte
			k := tt.key
			if got := sl.readAddr(&k, &dst); got != tt.want {
				t.Fatalf("readAddr = %v, want %v", got, tt.want)
			}
			if tt.want && string(dst[:]) != string(rec) {
				t.Errorf("readAddr copied %x, want %x", dst[:8], rec[:8])
			}
			if st := binary.NativeEndian.Uint32(sl.mem[(tt.slot&(n-1))*slotSize:]); st != tt.wantSt {
				t.Errorf("state after readAddr %#x, want %#x", st, tt.wantSt)
			}
		})
	}
}

// TestCaptureAddrSlotTaken: when the record went to sk_storage (its cookie's
// slot held another connection's unread record), the index entry leads to
// a slot of another cookie and CaptureAddr finds the record in sk_storage.
func TestCaptureAddrSlotTaken(t *testing.T) {
	c := openCapture(t)
	takeAllSlots(t, c)
	ln := listen(t, "tcp6", "[::1]:0", c.PrepareListener)
	h := connect(t, ln, "tcp6", ln.Addr().String())
	before := lookups()
	var s connsig.Signal
	if err := captureLikeLoop(c, ln, h.server, h.serverFD, &s); err != nil {
		t.Fatalf("CaptureAddr: %v", err)
	}
	if d := lookups().since(before); d != (lookupCounts{storage: 1}) {
		t.Errorf("lookups %+v, want one in sk_storage", d)
	}
	checkEBPFTiming(t, &s)
	checkLinuxSYN(t, &s, 6)
	if !strings.Contains(string(s.AppendJSON(nil)), `"timingSource":"ebpf"`) {
		t.Errorf("not from eBPF: %s", s.AppendJSON(nil))
	}
}

// TestListenerCapturesByAddress: the fasthttp path's Listener wrapper hands
// an eBPF capturer the accepted connection's addresses (CaptureAddr, no
// system call) and the connection carries the eBPF signal.
func TestListenerCapturesByAddress(t *testing.T) {
	c := openCapture(t)
	ln := listen(t, "tcp6", "[::1]:0", nil)
	wl, err := NewListener(ln, c)
	if err != nil {
		t.Fatalf("NewListener: %v", err)
	}
	cc, err := net.Dial("tcp6", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	before := lookups()
	conn, err := wl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if d := lookups().since(before); d != (lookupCounts{addr: 1}) {
		t.Errorf("lookups %+v, want one by address", d)
	}
	s := conn.(connsig.Carrier).Signal()
	checkEBPFTiming(t, s)
	checkLinuxSYN(t, s, 6)
}
