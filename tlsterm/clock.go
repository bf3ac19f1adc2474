package tlsterm

import (
	_ "unsafe" // go:linkname runtime.nanotime
)

// nanotime is the runtime's CLOCK_MONOTONIC reading through the vDSO. The
// runtime keeps it linkable on purpose (go.dev/issue/67401); it spares the
// handshake path the real clock_gettime system calls that
// unix.ClockGettime makes.
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// monotonic returns CLOCK_MONOTONIC in nanoseconds, the clock of the TCP
// signal's kernel times, so TLS and TCP times compare.
func monotonic() int64 { return nanotime() }
