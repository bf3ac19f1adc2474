package loop

import (
	"runtime"
	"testing"
)

// TestSpareProc checks that running Servers keep one P more than their
// loops, that a Server made meanwhile defaults to the GOMAXPROCS found
// before the raise, and that the last one to stop puts GOMAXPROCS back.
func TestSpareProc(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	a := startTest(t, Config{Loops: before})
	if got, want := runtime.GOMAXPROCS(0), before+1; got != want {
		t.Fatalf("GOMAXPROCS with %d loops running = %d, want %d", before, got, want)
	}
	b := startTest(t, Config{Loops: -1})
	if b.cfg.Loops != before {
		t.Errorf("default Loops while another Server runs = %d, want %d (GOMAXPROCS before the raise)", b.cfg.Loops, before)
	}
	if got, want := runtime.GOMAXPROCS(0), 2*before+1; got != want {
		t.Errorf("GOMAXPROCS with %d loops running = %d, want %d", 2*before, got, want)
	}
	a.stop(t)
	if got, want := runtime.GOMAXPROCS(0), 2*before+1; got != want {
		t.Errorf("GOMAXPROCS with one Server stopped = %d, want %d (unchanged while one runs)", got, want)
	}
	b.stop(t)
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Errorf("GOMAXPROCS after the last Server stopped = %d, want %d", got, before)
	}
}

// TestKeepGOMAXPROCS checks that the option leaves GOMAXPROCS alone.
func TestKeepGOMAXPROCS(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	s := startTest(t, Config{Loops: before, KeepGOMAXPROCS: true})
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Errorf("GOMAXPROCS with KeepGOMAXPROCS = %d, want %d", got, before)
	}
	s.stop(t)
}

// TestSpareProcLeavesOthersChange checks that a GOMAXPROCS set by someone
// else while a Server runs is not overwritten when it stops.
func TestSpareProcLeavesOthersChange(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(before)
	s := startTest(t, Config{Loops: before})
	other := before + 5
	runtime.GOMAXPROCS(other)
	s.stop(t)
	if got := runtime.GOMAXPROCS(0); got != other {
		t.Errorf("GOMAXPROCS after stop = %d, want %d (set by someone else while running)", got, other)
	}
}
