package tlsterm

import (
	"net"
	"sync"
	"time"
)

// serveIdle is how long a service goroutine waits for its next connection
// before it ends.
const serveIdle = 10 * time.Second

// servePool runs Services (and, in netpoll mode, whole connections) on
// reused goroutines. A new goroutine starts
// with a small stack that fasthttp's ServeConn (and crypto/tls under it)
// grows by copying, several times, on every connection; a goroutine that
// served a connection keeps its grown stack for the next one, as
// fasthttp's own worker pool does. Idle goroutines end after serveIdle,
// or once Shutdown closed the quit channel (busy ones when their
// connection ends).
type servePool struct {
	mu   sync.Mutex
	idle []*serveWorker // most recently used last
	quit <-chan struct{}
}

type serveWorker struct {
	next chan serveJob // buffered (1): a dispatcher never waits
}

// serveJob is a Service to run on a terminated connection (svc and tc),
// or, in netpoll mode, an accepted connection to take through its whole
// life (a and nc).
type serveJob struct {
	s   *Server
	svc Service
	tc  *Conn

	a  *Acceptor
	nc *net.TCPConn
}

func (j *serveJob) run() {
	if j.a != nil {
		j.a.serveConn(j.nc)
		return
	}
	j.s.serve(j.svc, j.tc)
}

// run serves j on an idle goroutine, or on a new one.
func (p *servePool) run(j serveJob) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		w.next <- j
		return
	}
	p.mu.Unlock()
	go p.work(j)
}

func (p *servePool) work(j serveJob) {
	w := &serveWorker{next: make(chan serveJob, 1)}
	t := time.NewTimer(serveIdle)
	defer t.Stop()
	for {
		j.run()
		j = serveJob{}
		p.mu.Lock()
		p.idle = append(p.idle, w)
		p.mu.Unlock()
		t.Reset(serveIdle)
		select {
		case j = <-w.next:
			continue
		case <-t.C:
		case <-p.quit:
		}
		// Leave the idle list, unless a dispatcher took this worker off it
		// already: then its job is on the way.
		p.mu.Lock()
		gone := true
		for i, o := range p.idle {
			if o == w {
				p.idle = append(p.idle[:i], p.idle[i+1:]...)
				gone = false
				break
			}
		}
		p.mu.Unlock()
		if !gone {
			return
		}
		j = <-w.next
	}
}
