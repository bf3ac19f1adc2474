//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package tcpsig

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// The layout of struct slot in sockops.c, kept in step by TestSlotLayout.
const (
	slotOffState  = 0
	slotOffLport  = 4
	slotOffRport  = 6
	slotOffCookie = 8
	slotOffNetns  = 16
	slotOffLaddr  = 24
	slotOffRaddr  = 40
	slotOffRec    = 56
	slotSize      = slotOffRec + recordSize

	slotStateMask = 3
	slotFull      = 2
	slotConsumed  = 3
)

// slots is the mmapped BPF_F_MMAPABLE array the program writes each
// accepted socket's record into, at the slot of the socket's cookie
// (cookie mod len), and the mmapped addr_index array that maps a hash of the
// socket's addresses to its cookie. Reading a slot costs plain loads instead
// of a bpf(2) lookup, and spares the kernel an sk_storage allocation per
// connection; finding it costs a getsockopt(SO_COOKIE), or nothing when the
// caller knows the socket's addresses (readAddr).
//
// The mappings are never unmapped while the Capture is reachable (a Capture
// racing Close must not fault); a cleanup unmaps them after that.
type slots struct {
	mem   []byte
	index []byte // addr_index: n little-endian uint64 cookies
	n     uint64 // a power of two
}

// mapSlots mmaps m (the program's slots array) and index (its addr_index).
func mapSlots(owner *Capture, m, index *ebpf.Map) (*slots, error) {
	mem, err := mmapArray(owner, m, "slots", slotSize)
	if err != nil {
		return nil, err
	}
	idx, err := mmapArray(owner, index, "addr_index", 8)
	if err != nil {
		return nil, err
	}
	if len(idx)/8 != len(mem)/slotSize {
		return nil, fmt.Errorf("addr_index map: %d entries, want %d as in slots", len(idx)/8, len(mem)/slotSize)
	}
	return &slots{mem: mem, index: idx, n: uint64(len(mem) / slotSize)}, nil
}

// mmapArray mmaps the BPF_F_MMAPABLE array m, whose values must be
// valueSize bytes (a multiple of 8, the kernel's element stride) and whose
// length a power of two, and returns its elements' bytes; a cleanup on
// owner unmaps them.
func mmapArray(owner *Capture, m *ebpf.Map, name string, valueSize int) ([]byte, error) {
	if int(m.ValueSize()) != valueSize {
		return nil, fmt.Errorf("%s map: value size %d, want %d", name, m.ValueSize(), valueSize)
	}
	n := int(m.MaxEntries())
	if n == 0 || n&(n-1) != 0 {
		return nil, fmt.Errorf("%s map: %d entries, want a power of two", name, n)
	}
	size := n * valueSize
	size = (size + unix.Getpagesize() - 1) &^ (unix.Getpagesize() - 1)
	mem, err := unix.Mmap(m.FD(), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmapping the %s map: %w", name, err)
	}
	runtime.AddCleanup(owner, func(mem []byte) { _ = unix.Munmap(mem) }, mem)
	return mem[: n*valueSize : n*valueSize], nil
}

// read copies the record of the socket with cookie into dst and marks its
// slot consumed. It reports false when the slot holds another socket's
// record, none, or was rewritten while it was read (dst is garbage then).
func (sl *slots) read(cookie uint64, dst *[recordSize]byte) bool {
	off := (cookie & (sl.n - 1)) * slotSize
	slot := sl.mem[off : off+slotSize : off+slotSize]
	state := (*uint32)(unsafe.Pointer(&slot[slotOffState]))
	v := atomic.LoadUint32(state)
	if k := v & slotStateMask; k != slotFull && k != slotConsumed {
		return false
	}
	if atomic.LoadUint64((*uint64)(unsafe.Pointer(&slot[slotOffCookie]))) != cookie {
		return false
	}
	copy(dst[:], slot[slotOffRec:])
	// The compare-and-swap is the seqlock's check (a writer bumps the
	// upper bits) and a full barrier after the copy.
	return atomic.CompareAndSwapUint32(state, v, v|slotConsumed)
}

// addrKey is what readAddr matches a slot against: the accepted socket's
// netns cookie, remote address and port, local port and, unless any, local
// address (addresses as IPv6, IPv4 mapped, as sockops.c keeps them).
type addrKey struct {
	netns        uint64
	raddr, laddr [16]byte
	rport, lport uint16
	anyLocal     bool // the local address is unknown (the listener's 0.0.0.0 or ::)
}

// makeAddrKey builds the key of the connection local<-remote in the netns
// with cookie netns. local may carry an unspecified address.
func makeAddrKey(netns uint64, local, remote netip.AddrPort) addrKey {
	k := addrKey{netns: netns, raddr: remote.Addr().As16(), rport: remote.Port(), lport: local.Port()}
	if la := local.Addr(); la.IsValid() && !la.Unmap().IsUnspecified() {
		k.laddr = la.As16()
	} else {
		k.anyLocal = true
	}
	return k
}

// mix and addrHash are sockops.c's mix and addr_hash: keep them in step
// (TestAddrHashAgrees runs the program's). The words are the little-endian
// loads the program makes of the network-order address.
func mix(h, w uint32) uint32 {
	h = (h ^ w) * 0x9e3779b1
	return h ^ h>>15
}

func addrHash(raddr *[16]byte, rport, lport uint16) uint32 {
	var h uint32
	h = mix(h, binary.LittleEndian.Uint32(raddr[0:]))
	h = mix(h, binary.LittleEndian.Uint32(raddr[4:]))
	h = mix(h, binary.LittleEndian.Uint32(raddr[8:]))
	h = mix(h, binary.LittleEndian.Uint32(raddr[12:]))
	h = mix(h, uint32(lport)<<16|uint32(rport))
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	return h ^ h>>16
}

// readAddr copies the record of the connection k into dst and marks its
// slot consumed, finding the slot through addr_index (no system call). It
// reports false when the index entry leads to no slot, to a slot of another
// cookie (the record went to sk_storage), or to another connection's
// addresses (a later connection with the same hash), or the slot was
// rewritten while it was read: the caller then asks the socket for its
// cookie.
func (sl *slots) readAddr(k *addrKey, dst *[recordSize]byte) bool {
	i := uint64(addrHash(&k.raddr, k.rport, k.lport)) & (sl.n - 1)
	e := sl.index[i*8 : i*8+8 : i*8+8]
	cookie := atomic.LoadUint64((*uint64)(unsafe.Pointer(&e[0])))
	if cookie == 0 {
		return false
	}
	off := (cookie & (sl.n - 1)) * slotSize
	slot := sl.mem[off : off+slotSize : off+slotSize]
	state := (*uint32)(unsafe.Pointer(&slot[slotOffState]))
	v := atomic.LoadUint32(state)
	if st := v & slotStateMask; st != slotFull && st != slotConsumed {
		return false
	}
	// The loads below may see a write in progress; the compare-and-swap
	// after them says whether they did.
	le := binary.LittleEndian
	if atomic.LoadUint64((*uint64)(unsafe.Pointer(&slot[slotOffCookie]))) != cookie ||
		le.Uint64(slot[slotOffNetns:]) != k.netns ||
		le.Uint16(slot[slotOffRport:]) != k.rport || le.Uint16(slot[slotOffLport:]) != k.lport ||
		[16]byte(slot[slotOffRaddr:slotOffRaddr+16]) != k.raddr ||
		!k.anyLocal && [16]byte(slot[slotOffLaddr:slotOffLaddr+16]) != k.laddr {
		return false
	}
	copy(dst[:], slot[slotOffRec:])
	return atomic.CompareAndSwapUint32(state, v, v|slotConsumed)
}

// netnsCookie returns the cookie of the calling thread's network namespace
// (SO_NETNS_COOKIE, Linux 5.14), the one sockops.c's
// bpf_get_netns_cookie reports for the sockets created there.
func netnsCookie() (uint64, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	var c uint64
	l := uint32(unsafe.Sizeof(c))
	_, _, e := unix.RawSyscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_NETNS_COOKIE,
		uintptr(unsafe.Pointer(&c)), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 {
		return 0, e
	}
	return c, nil
}

// socketCookie returns the kernel's cookie of socket fd (SO_COOKIE), the key
// of its slot, without the allocating x/sys wrapper. SO_COOKIE never blocks
// (no socket lock), so the raw call skips the scheduler's syscall
// bookkeeping: 0.17 µs of the 1.55 in BenchmarkCapture/ebpf.
func socketCookie(fd int) (uint64, error) {
	var c uint64
	l := uint32(unsafe.Sizeof(c))
	_, _, e := unix.RawSyscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_COOKIE,
		uintptr(unsafe.Pointer(&c)), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 {
		return 0, e
	}
	return c, nil
}
