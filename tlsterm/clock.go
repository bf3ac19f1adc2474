package tlsterm

import "golang.org/x/sys/unix"

// monotonic returns CLOCK_MONOTONIC in nanoseconds, the clock of the TCP
// signal's kernel times, so TLS and TCP times compare.
func monotonic() int64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) != nil {
		return 0
	}
	return ts.Nano()
}
