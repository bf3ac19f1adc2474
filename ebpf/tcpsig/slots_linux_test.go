//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package tcpsig

import (
	"encoding/binary"
	"errors"
	"testing"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/brink-edge/brink/connsig"
)

// TestSlotLayout keeps slots_linux.go's offsets in step with struct slot in
// sockops.c.
func TestSlotLayout(t *testing.T) {
	var s tcpsigSlot
	tests := []struct {
		name      string
		got, want uintptr
	}{
		{"size", unsafe.Sizeof(s), slotSize},
		{"state", unsafe.Offsetof(s.State), slotOffState},
		{"lport", unsafe.Offsetof(s.Lport), slotOffLport},
		{"rport", unsafe.Offsetof(s.Rport), slotOffRport},
		{"cookie", unsafe.Offsetof(s.Cookie), slotOffCookie},
		{"netns", unsafe.Offsetof(s.Netns), slotOffNetns},
		{"laddr", unsafe.Offsetof(s.Laddr), slotOffLaddr},
		{"raddr", unsafe.Offsetof(s.Raddr), slotOffRaddr},
		{"rec", unsafe.Offsetof(s.Rec), slotOffRec},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("struct slot %s = %d in the object, %d in slots_linux.go", tt.name, tt.got, tt.want)
		}
	}
}

// putSlot writes a slot into sl's memory as the program would.
func putSlot(sl *slots, idx uint64, state uint32, cookie uint64, rec []byte) {
	b := sl.mem[idx*slotSize:]
	binary.NativeEndian.PutUint32(b[slotOffState:], state)
	binary.NativeEndian.PutUint64(b[slotOffCookie:], cookie)
	copy(b[slotOffRec:slotSize], rec)
}

func TestSlotsRead(t *testing.T) {
	sl := &slots{mem: make([]byte, 4*slotSize), n: 4}
	rec := make([]byte, recordSize)
	for i := range rec {
		rec[i] = byte(i)
	}
	const cookie = 4*1000 + 2 // slot 2
	var dst [recordSize]byte
	tests := []struct {
		name   string
		state  uint32
		cookie uint64
		want   bool
	}{
		{"full", 5<<2 | slotFull, cookie, true},
		{"consumed", 5<<2 | slotConsumed, cookie, true},
		{"free", 0, cookie, false},
		{"writing", 6<<2 | 1, cookie, false},
		{"another socket's", 5<<2 | slotFull, cookie + 4, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			putSlot(sl, 2, tt.state, tt.cookie, rec)
			dst = [recordSize]byte{}
			if got := sl.read(cookie, &dst); got != tt.want {
				t.Fatalf("read = %v, want %v", got, tt.want)
			}
			if !tt.want {
				return
			}
			if string(dst[:]) != string(rec) {
				t.Errorf("read copied %x, want %x", dst[:8], rec[:8])
			}
			st := binary.NativeEndian.Uint32(sl.mem[2*slotSize:])
			if st != tt.state&^slotStateMask|slotConsumed {
				t.Errorf("state after read %#x, want %#x", st, tt.state&^slotStateMask|slotConsumed)
			}
		})
	}
}

// TestCaptureEBPFSlot: the record of an accepted socket is in its cookie's
// slot, not in sk_storage, and a read marks the slot consumed (and it stays
// readable).
func TestCaptureEBPFSlot(t *testing.T) {
	c := openCapture(t)
	ln := listen(t, "tcp4", "127.0.0.1:0", c.PrepareListener)
	h := connect(t, ln, "tcp4", ln.Addr().String())
	cookie, err := socketCookie(h.serverFD)
	if err != nil {
		t.Fatalf("SO_COOKIE: %v", err)
	}
	state := func() uint32 {
		return binary.NativeEndian.Uint32(c.slots.mem[(cookie&(c.slots.n-1))*slotSize:])
	}
	if st := state(); st&slotStateMask != slotFull {
		t.Fatalf("slot state %#x before Capture, want full", st)
	}
	key := uint32(h.serverFD)
	var val [recordSize]byte
	if err := c.objs.Records.Lookup(&key, &val); !errors.Is(err, ebpf.ErrKeyNotExist) {
		t.Errorf("sk_storage lookup: %v, want ErrKeyNotExist (the record is in the slot)", err)
	}
	for i := range 2 {
		var s connsig.Signal
		if err := c.Capture(h.serverFD, &s); err != nil {
			t.Fatalf("Capture %d: %v", i, err)
		}
		checkEBPFTiming(t, &s)
		checkLinuxSYN(t, &s, 4)
		if st := state(); st&slotStateMask != slotConsumed {
			t.Errorf("slot state %#x after Capture %d, want consumed", st, i)
		}
	}
}

// TestCaptureEBPFSlotTaken: when the socket's slot holds another
// connection's unread record, the program keeps the record in sk_storage
// and Capture finds it there, field for field as from a slot.
func TestCaptureEBPFSlotTaken(t *testing.T) {
	c := openCapture(t)
	takeAllSlots(t, c)
	ln := listen(t, "tcp6", "[::1]:0", c.PrepareListener)
	h := connect(t, ln, "tcp6", ln.Addr().String())
	key := uint32(h.serverFD)
	var val [recordSize]byte
	if err := c.objs.Records.Lookup(&key, &val); err != nil {
		t.Fatalf("sk_storage lookup: %v, want the record there (its slot was taken)", err)
	}
	var s connsig.Signal
	if err := c.Capture(h.serverFD, &s); err != nil {
		t.Fatalf("Capture: %v", err)
	}
	checkEBPFTiming(t, &s)
	checkLinuxSYN(t, &s, 6)
}

// takeAllSlots fills every slot with another connection's unread, recent
// record, so that the program keeps new records in sk_storage.
func takeAllSlots(t *testing.T, c *Capture) {
	t.Helper()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	rec := make([]byte, recordSize)
	binary.NativeEndian.PutUint64(rec[offACKNs:], uint64(ts.Nano())) // recent: not stale
	for i := range c.slots.n {
		putSlot(c.slots, i, 1<<2|slotFull, ^uint64(0), rec)
	}
}
