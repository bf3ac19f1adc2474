//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package tcpsig

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// The layout of struct slot in sockops.c, kept in step by TestSlotLayout.
const (
	slotOffState  = 0
	slotOffCookie = 8
	slotOffRec    = 16
	slotSize      = slotOffRec + recordSize

	slotStateMask = 3
	slotFull      = 2
	slotConsumed  = 3
)

// slots is the mmapped BPF_F_MMAPABLE array the program writes each
// accepted socket's record into, at the slot of the socket's cookie
// (cookie mod len). Reading it costs a getsockopt(SO_COOKIE) and plain
// loads instead of a bpf(2) lookup, and spares the kernel an sk_storage
// allocation per connection.
//
// The mapping is never unmapped while the Capture is reachable (a Capture
// racing Close must not fault); a cleanup unmaps it after that.
type slots struct {
	mem []byte
	n   uint64 // a power of two
}

// mapSlots mmaps m (the program's slots array).
func mapSlots(owner *Capture, m *ebpf.Map) (*slots, error) {
	if m.ValueSize() != slotSize {
		return nil, fmt.Errorf("slots map: value size %d, want %d", m.ValueSize(), slotSize)
	}
	n := uint64(m.MaxEntries())
	if n == 0 || n&(n-1) != 0 {
		return nil, fmt.Errorf("slots map: %d entries, want a power of two", n)
	}
	size := int(n) * slotSize
	size = (size + unix.Getpagesize() - 1) &^ (unix.Getpagesize() - 1)
	mem, err := unix.Mmap(m.FD(), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmapping the slots map: %w", err)
	}
	runtime.AddCleanup(owner, func(mem []byte) { _ = unix.Munmap(mem) }, mem)
	return &slots{mem: mem, n: n}, nil
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
