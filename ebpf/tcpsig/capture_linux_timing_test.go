//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package tcpsig

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BenchmarkCapture measures one capture of an accepted loopback socket:
// the fallback's two getsockopt calls (the saved SYN is freed by the first,
// so later iterations read an empty one), the eBPF Capture (getsockopt
// SO_COOKIE, then the slot), and the eBPF CaptureAddr as the loop calls it
// (the address index, no system call).
func BenchmarkCapture(b *testing.B) {
	b.Run("fallback", func(b *testing.B) {
		var fb Fallback
		ln := listen(b, "tcp4", "127.0.0.1:0", fb.PrepareListener)
		h := connect(b, ln, "tcp4", ln.Addr().String())
		b.ReportAllocs()
		for b.Loop() {
			if err := fb.Capture(h.serverFD, &Sink); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ebpf", func(b *testing.B) {
		c := openCapture(b)
		ln := listen(b, "tcp4", "127.0.0.1:0", c.PrepareListener)
		h := connect(b, ln, "tcp4", ln.Addr().String())
		b.ReportAllocs()
		for b.Loop() {
			if err := c.Capture(h.serverFD, &Sink); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ebpf-addr", func(b *testing.B) {
		c := openCapture(b)
		ln := listen(b, "tcp4", "127.0.0.1:0", c.PrepareListener)
		h := connect(b, ln, "tcp4", ln.Addr().String())
		local, remote := addrPorts(ln, h.server)
		before := lookups()
		b.ReportAllocs()
		for b.Loop() {
			if err := c.CaptureAddr(h.serverFD, local, remote, &Sink); err != nil {
				b.Fatal(err)
			}
		}
		if d := lookups().since(before); d.addr == 0 || d.cookie != 0 {
			b.Fatalf("measured the wrong path: lookups %+v", d)
		}
	})
}

// BenchmarkGetsockopt is the floor under the fallback: a getsockopt that
// does no work (SO_TYPE) on an accepted socket, raw (what the fallback
// uses) and through the scheduler-aware Syscall6; and the fallback's two
// real ones alone.
func BenchmarkGetsockopt(b *testing.B) {
	var fb Fallback
	ln := listen(b, "tcp4", "127.0.0.1:0", fb.PrepareListener)
	h := connect(b, ln, "tcp4", ln.Addr().String())
	fd := uintptr(h.serverFD)
	null := func(b *testing.B, call func(trap, a1, a2, a3, a4, a5, a6 uintptr) (uintptr, uintptr, unix.Errno)) {
		b.ReportAllocs()
		for b.Loop() {
			var v int32
			l := uint32(4)
			if _, _, e := call(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_TYPE,
				uintptr(unsafe.Pointer(&v)), uintptr(unsafe.Pointer(&l)), 0); e != 0 {
				b.Fatal(e)
			}
		}
	}
	b.Run("SO_TYPE-raw", func(b *testing.B) { null(b, unix.RawSyscall6) })
	b.Run("SO_TYPE-syscall", func(b *testing.B) { null(b, unix.Syscall6) })
	b.Run("TCP_SAVED_SYN-empty", func(b *testing.B) {
		var syn [synBufSize]byte
		b.ReportAllocs()
		for b.Loop() {
			_, _ = getsockopt(h.serverFD, unix.TCP_SAVED_SYN, unsafe.Pointer(&syn[0]), len(syn))
		}
	})
	b.Run("TCP_INFO", func(b *testing.B) {
		var ti unix.TCPInfo
		b.ReportAllocs()
		for b.Loop() {
			if _, err := getsockopt(h.serverFD, unix.TCP_INFO, unsafe.Pointer(&ti), unix.SizeofTCPInfo); err != nil {
				b.Fatal(err)
			}
		}
	})
}
