package tlsterm

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestMonotonicIsClockMonotonic: the vDSO reading is CLOCK_MONOTONIC, the
// clock of the kernel's TCP times, not another clock.
func TestMonotonicIsClockMonotonic(t *testing.T) {
	for range 5 {
		var a, b unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &a); err != nil {
			t.Fatal(err)
		}
		m := monotonic()
		if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &b); err != nil {
			t.Fatal(err)
		}
		if m >= a.Nano() && m <= b.Nano() {
			return
		}
		t.Logf("monotonic() = %d, clock_gettime around it %d and %d", m, a.Nano(), b.Nano())
	}
	t.Fatal("monotonic() is not between two CLOCK_MONOTONIC readings taken around it")
}
