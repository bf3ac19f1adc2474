package http1

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

var errPoolFull = errors.New("http1: no free upstream connection: the pool is at its bound (MaxConnsPerLoop × GOMAXPROCS)")

// connPool holds the upstream connections of a Server's ServeConn calls:
// one pool shared by all their goroutines (the blocking twin of the loop's
// per-loop loopPool). Idle keep-alive connections are taken most recently
// used first, so the least used ones age out: one idle past
// IdleConnTimeout is closed by a sweep (a timer armed while any is idle)
// or when found on top of the list. Open connections, dialling included,
// are bounded by MaxConnsPerLoop × GOMAXPROCS.
type connPool struct {
	addr     string
	idleTime time.Duration
	bufSize  int // each connection's bufio.Reader: MaxAnswerHeadBytes, so a whole head fits
	max      int
	tls      atomic.Pointer[tls.Config] // SetUpstreamTLS; nil dials plain TCP

	mu    sync.Mutex
	idle  []*upstreamConn // most recently used last
	open  int             // connections counted against max, dialling included
	sweep *time.Timer     // armed while idle is not empty
	armed bool
}

// upstreamConn is one upstream connection of a connPool, owned by the
// ServeConn goroutine that took it until it goes back (put) or is
// dropped.
type upstreamConn struct {
	nc        net.Conn
	br        *bufio.Reader
	rf        RespFrame
	idleSince time.Time
	reused    bool // it carried an answer before: a 408 on it is stale
}

func newConnPool(cfg *ProxyConfig) *connPool {
	return &connPool{
		addr:     cfg.Addr,
		idleTime: cfg.IdleConnTimeout,
		bufSize:  max(cfg.MaxAnswerHeadBytes, 4<<10),
		max:      cfg.MaxConnsPerLoop * runtime.GOMAXPROCS(0),
	}
}

// get returns an idle connection, or dials one that must be connected by
// deadline. It fails with errPoolFull when max connections are open.
func (p *connPool) get(deadline time.Time) (*upstreamConn, error) {
	now := time.Now()
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		u := p.idle[n-1]
		if now.Sub(u.idleSince) <= p.idleTime {
			p.idle[n-1] = nil
			p.idle = p.idle[:n-1]
			p.mu.Unlock()
			return u, nil
		}
		// The most recent is stale: so are all the others.
		stale := p.takeIdle()
		p.mu.Unlock()
		closeAll(stale)
		p.mu.Lock()
	}
	if p.open >= p.max {
		p.mu.Unlock()
		return nil, errPoolFull
	}
	p.open++
	p.mu.Unlock()
	u, err := p.dial(deadline)
	if err != nil {
		p.mu.Lock()
		p.open--
		p.mu.Unlock()
		return nil, err
	}
	return u, nil
}

func (p *connPool) dial(deadline time.Time) (*upstreamConn, error) {
	d := &net.Dialer{Deadline: deadline}
	var nc net.Conn
	var err error
	if cfg := p.tls.Load(); cfg != nil {
		td := &tls.Dialer{NetDialer: d, Config: cfg}
		nc, err = td.DialContext(context.Background(), "tcp", p.addr)
	} else {
		nc, err = d.Dial("tcp", p.addr)
	}
	if err != nil {
		return nil, err
	}
	return &upstreamConn{nc: nc, br: bufio.NewReaderSize(nc, p.bufSize)}, nil
}

// put makes u idle for the next request.
func (p *connPool) put(u *upstreamConn) {
	u.idleSince = time.Now()
	u.reused = true
	p.mu.Lock()
	p.idle = append(p.idle, u)
	if !p.armed {
		p.armed = true
		if p.sweep == nil {
			p.sweep = time.AfterFunc(p.idleTime, p.sweepIdle)
		} else {
			p.sweep.Reset(p.idleTime)
		}
	}
	p.mu.Unlock()
}

// drop closes u, which cannot carry another request, and frees its
// place.
func (p *connPool) drop(u *upstreamConn) {
	p.mu.Lock()
	p.open--
	p.mu.Unlock()
	_ = u.nc.Close()
}

// sweepIdle closes the connections idle past idleTime (the oldest are
// first in the list) and rearms for the oldest left.
func (p *connPool) sweepIdle() {
	now := time.Now()
	p.mu.Lock()
	k := 0
	for k < len(p.idle) && now.Sub(p.idle[k].idleSince) > p.idleTime {
		k++
	}
	stale := append([]*upstreamConn(nil), p.idle[:k]...)
	n := copy(p.idle, p.idle[k:])
	clear(p.idle[n:])
	p.idle = p.idle[:n]
	p.open -= k
	if n > 0 {
		p.sweep.Reset(p.idleTime - now.Sub(p.idle[0].idleSince) + time.Millisecond)
	} else {
		p.armed = false
	}
	p.mu.Unlock()
	closeAll(stale)
}

// closeIdle closes every idle connection.
func (p *connPool) closeIdle() {
	p.mu.Lock()
	stale := p.takeIdle()
	p.mu.Unlock()
	closeAll(stale)
}

// takeIdle empties the idle list and returns what it held, no longer
// counted open, for closeAll outside the lock. p.mu must be held.
func (p *connPool) takeIdle() []*upstreamConn {
	stale := append([]*upstreamConn(nil), p.idle...)
	clear(p.idle)
	p.idle = p.idle[:0]
	p.open -= len(stale)
	return stale
}

// counts returns the open and idle connections.
func (p *connPool) counts() (open, idle int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.open, len(p.idle)
}

func closeAll(us []*upstreamConn) {
	for _, u := range us {
		_ = u.nc.Close()
	}
}
