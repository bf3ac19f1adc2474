package loop

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// Server runs the event loops of one listening address. Create it with
// New and start it with Run.
type Server struct {
	cfg  Config
	h    Handler
	addr string // resolved host:port

	engines []*engine
	loops   atomic.Pointer[[]*loopState]
	loopsMu sync.Mutex

	conns    atomic.Int64 // open connections of this Server
	draining atomic.Bool
	stopping atomic.Bool  // the engines are closing every connection
	clock    atomic.Int64 // coarse now, UnixNano, set by the ticker
	pool     sync.Pool    // *Conn

	started atomic.Bool
	ready   chan struct{}
	stopped chan struct{}
	// hold keeps the port picked for Addr ":0" bound (SO_REUSEPORT) until
	// the engines bind it; -1 when none.
	hold int
}

// New returns a Server for cfg after filling defaults. With port 0 in
// Addr it picks the port now, so Addr is known before Run.
func New(cfg Config, h Handler) (*Server, error) {
	if h == nil {
		return nil, ErrNoHandler
	}
	cfg = cfg.withDefaults()
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("parsing listen address %q: %w", cfg.Addr, err)
	}
	s := &Server{cfg: cfg, h: h, ready: make(chan struct{}), stopped: make(chan struct{}), hold: -1}
	if port == "0" {
		p, hold, err := pickPort(host, cfg.ReusePort)
		if err != nil {
			return nil, fmt.Errorf("picking a port for %q: %w", cfg.Addr, err)
		}
		port, s.hold = strconv.Itoa(p), hold
	}
	s.addr = net.JoinHostPort(host, port)
	s.clock.Store(time.Now().UnixNano())
	s.loops.Store(new([]*loopState))
	return s, nil
}

// Addr returns the address the Server listens on (host:port, the port
// resolved when Config.Addr asked for port 0).
func (s *Server) Addr() string { return s.addr }

// Ready returns a channel closed once every listener accepts connections.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Conns returns the number of open connections.
func (s *Server) Conns() int { return int(s.conns.Load()) }

// Run serves until ctx is done, then drains: it stops accepting (closing
// the listeners, so that other processes sharing the port with
// SO_REUSEPORT take the new connections), calls Config.OnShutdown, closes
// idle connections, tells handlers to end the others after their current
// answer (Conn.Draining), and waits up to ShutdownGrace for them before
// closing what is left. It returns nil after a drain, or the error that
// stopped the engines. Run may be called once.
func (s *Server) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer close(s.stopped)
	if !s.cfg.KeepGOMAXPROCS {
		defer reserveProcs(s.cfg.Loops)()
	}
	n := 1
	if s.cfg.ReusePort {
		n = s.cfg.Loops
	}
	errc := make(chan error, n)
	var booted sync.WaitGroup
	for i := range n {
		e := &engine{srv: s, lnDup: -1}
		s.engines = append(s.engines, e)
		booted.Add(1)
		e.booted = booted.Done
		go func() { errc <- e.run(i) }()
	}
	// Every engine reports once, from OnBoot or from a failed start.
	booted.Wait()
	s.releaseHold()
	for _, e := range s.engines {
		if e.bootErr != nil {
			s.stopEngines()
			return s.collect(e.bootErr, errc, n)
		}
	}
	tickStop := make(chan struct{})
	tickDone := make(chan struct{})
	go s.ticker(tickStop, tickDone)
	close(s.ready)
	s.cfg.Logger.Info("loop listening", "addr", s.addr, "loops", s.cfg.Loops, "reuseport", s.cfg.ReusePort)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		n--
	}
	if runErr == nil {
		s.drain()
	}
	close(tickStop)
	<-tickDone
	s.stopEngines()
	return s.collect(runErr, errc, n)
}

// collect waits for the remaining n engine goroutines and returns first,
// else the first error they return.
func (s *Server) collect(first error, errc chan error, n int) error {
	for range n {
		if err := <-errc; first == nil && err != nil {
			first = err
		}
	}
	if first != nil {
		return fmt.Errorf("running the event loop: %w", first)
	}
	return nil
}

// drain runs the graceful shutdown: no new connections, idle ones closed
// by the sweep, busy ones given ShutdownGrace.
func (s *Server) drain() {
	s.draining.Store(true)
	s.cfg.Logger.Info("loop draining", "addr", s.addr, "connections", s.conns.Load(), "grace", s.cfg.ShutdownGrace)
	for _, e := range s.engines {
		e.closeListener()
	}
	if s.cfg.OnShutdown != nil {
		s.cfg.OnShutdown()
	}
	deadline := time.Now().Add(s.cfg.ShutdownGrace)
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for s.conns.Load() > 0 && time.Now().Before(deadline) {
		<-t.C
	}
	if left := s.conns.Load(); left > 0 {
		s.cfg.Logger.Warn("loop drain grace ran out", "addr", s.addr, "closing", left)
	}
}

// stopEngines stops every booted engine; gnet closes their connections.
func (s *Server) stopEngines() {
	s.stopping.Store(true)
	var wg sync.WaitGroup
	for _, e := range s.engines {
		wg.Go(e.stop)
	}
	wg.Wait()
}

func (s *Server) releaseHold() {
	if s.hold >= 0 {
		closeFd(s.hold)
		s.hold = -1
	}
}

// ticker advances the coarse clock and runs the timeout sweep inside
// every loop.
func (s *Server) ticker(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(s.cfg.tickInterval())
	defer t.Stop()
	fast := false
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		if !fast && s.draining.Load() {
			fast = true
			t.Reset(5 * time.Millisecond)
		}
		s.clock.Store(time.Now().UnixNano())
		for _, ls := range *s.loops.Load() {
			_ = ls.el.Execute(context.Background(), ls)
		}
	}
}

// loopFor returns the state of the loop el, creating it on first sight.
func (s *Server) loopFor(el gnet.EventLoop) *loopState {
	for _, ls := range *s.loops.Load() {
		if ls.el == el {
			return ls
		}
	}
	s.loopsMu.Lock()
	defer s.loopsMu.Unlock()
	cur := *s.loops.Load()
	for _, ls := range cur {
		if ls.el == el {
			return ls
		}
	}
	ls := &loopState{srv: s, el: el}
	next := append(append(make([]*loopState, 0, len(cur)+1), cur...), ls)
	s.loops.Store(&next)
	return ls
}

// getConn returns a reset Conn from the pool.
func (s *Server) getConn() *Conn {
	if v := s.pool.Get(); v != nil {
		return v.(*Conn)
	}
	return &Conn{srv: s}
}

// putConn recycles c unless it was detached.
func (s *Server) putConn(c *Conn) {
	if c.awDone != nil {
		return
	}
	out := c.out[:0]
	if cap(out) > 64<<10 {
		out = nil
	}
	*c = Conn{srv: s, out: out}
	s.pool.Put(c)
}

var errBoot = errors.New("loop: engine stopped while booting")
