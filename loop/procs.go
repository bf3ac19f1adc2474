package loop

import (
	"runtime"
	"sync"
)

// A gnet loop waits for events in a blocking epoll_wait system call that
// keeps its P (Go's right to run Go code). When no P is idle, the Go
// runtime's sysmon thread takes a P back from a goroutine that has sat in a
// system call for more than one of its ticks (20 µs and up) and hands it to
// a newly woken thread, which finds nothing to run and sleeps again; the
// loop, when epoll_wait returns, must then find a P anew. With as many
// loops as Ps (GOMAXPROCS 1 and one loop, the default on one CPU), this
// happens at almost every pause between requests: it showed as three
// times fasthttp.Server's context switches, sysmon waking every 20 µs and
// futex calls, and cost the loop 15-20% more CPU per request than with a
// spare P (bench/RESULTS-loop.md, 2026-11-23 "spare P"). With one P more
// than the loops, that P is idle, sysmon leaves the loops' Ps alone for
// 10 ms, and a loop coming back from epoll_wait still holds its own.
//
// procs counts the loops of the running Servers that asked for a spare P
// and raises GOMAXPROCS to one more than that count; it puts back the
// value it found once the last such Server stops, unless someone else
// changed GOMAXPROCS meanwhile.
var procs struct {
	mu     sync.Mutex
	loops  int // loops of running Servers that reserved a spare P
	before int // GOMAXPROCS before the first raise; 0 when not raised
	set    int // the value procs set last
}

// baseProcs is GOMAXPROCS as it was before procs raised it: the default
// number of loops, so that a Server made while another runs does not take
// the spare P for a loop of its own.
func baseProcs() int {
	procs.mu.Lock()
	defer procs.mu.Unlock()
	if procs.before > 0 && runtime.GOMAXPROCS(0) == procs.set {
		return procs.before
	}
	return runtime.GOMAXPROCS(0)
}

// reserveProcs adds loops to the running loops, raising GOMAXPROCS to
// leave a P spare, and returns the function that takes them away again.
func reserveProcs(loops int) (release func()) {
	procs.mu.Lock()
	defer procs.mu.Unlock()
	procs.loops += loops
	if cur := runtime.GOMAXPROCS(0); cur <= procs.loops {
		if procs.before == 0 {
			procs.before = cur
		}
		procs.set = procs.loops + 1
		runtime.GOMAXPROCS(procs.set)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			procs.mu.Lock()
			defer procs.mu.Unlock()
			procs.loops -= loops
			if procs.loops > 0 || procs.before == 0 {
				return
			}
			if runtime.GOMAXPROCS(0) == procs.set {
				runtime.GOMAXPROCS(procs.before)
			}
			procs.before, procs.set = 0, 0
		})
	}
}
