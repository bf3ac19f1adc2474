package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// result is what a run measured: operations completed inside the measured
// window, their latencies, and what went wrong.
type result struct {
	ops       int64
	errors    int64
	statusErr int64 // answers that were not 2xx or 3xx
	resumed   int64 // handshake mode: connections whose handshake resumed a session
	bytes     int64 // answer bytes read (headers and body)
	window    time.Duration
	lat       []time.Duration
}

// line is the RESULT line printed on stdout.
func (r *result) line(mode string) string {
	slices.Sort(r.lat)
	us := func(d time.Duration) int64 { return d.Microseconds() }
	secs := r.window.Seconds()
	return fmt.Sprintf("RESULT mode=%s ops=%d duration_us=%d rate=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d errors=%d resumed=%d bytes=%d status_errors=%d",
		mode, r.ops, r.window.Microseconds(), float64(r.ops)/secs,
		us(percentile(r.lat, 50)), us(percentile(r.lat, 90)), us(percentile(r.lat, 99)), us(percentile(r.lat, 100)),
		r.errors, r.resumed, r.bytes, r.statusErr)
}

// percentile of sorted durations (nearest rank); 0 for none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

// worker holds one goroutine's counts; merged at the end, never shared.
type worker struct {
	result
	firstErr error
	br       *bufio.Reader
}

// clock is the shared schedule of a run.
type clock struct {
	start   time.Time // measured window opens (after the warm-up)
	end     time.Time // and closes
	stop    atomic.Bool
	ops     atomic.Int64 // operations started, against -n
	maxOps  int64
	perWork time.Duration // paced HTTP mode: interval between one worker's requests
}

// more reports whether a worker may start another operation.
func (c *clock) more(now time.Time) bool {
	if c.stop.Load() || !now.Before(c.end) {
		return false
	}
	if c.maxOps > 0 && c.ops.Add(1) > c.maxOps {
		c.stop.Store(true)
		return false
	}
	return true
}

// record counts one operation that finished at done, when it lies in the
// measured window.
func (w *worker) record(c *clock, began, done time.Time, n int64, status int, resumed bool) {
	if began.Before(c.start) || done.After(c.end) {
		return
	}
	w.ops++
	w.bytes += n
	w.lat = append(w.lat, done.Sub(began))
	if status < 200 || status >= 400 {
		w.statusErr++
	}
	if resumed {
		w.resumed++
	}
}

func (w *worker) fail(c *clock, now time.Time, err error) {
	if now.Before(c.start) || now.After(c.end) {
		return
	}
	w.errors++
	if w.firstErr == nil {
		w.firstErr = err
	}
}

func run(cfg *config) (*result, error) {
	// One probe connection first, so that a wrong address or TLS setup is one
	// clear error instead of thousands of counted failures.
	if err := probe(cfg); err != nil {
		return nil, fmt.Errorf("probing %s: %w", cfg.addr, err)
	}
	now := time.Now()
	c := &clock{start: now.Add(cfg.warmup), maxOps: cfg.maxOps}
	c.end = c.start.Add(cfg.duration)
	if cfg.rate > 0 {
		c.perWork = time.Duration(float64(time.Second) * float64(cfg.workers) / cfg.rate)
	}
	// A hard stop in case a worker blocks past its deadlines.
	timer := time.AfterFunc(cfg.warmup+cfg.duration+2*cfg.timeout, func() { c.stop.Store(true) })
	defer timer.Stop()

	tc := cfg.tlsConfig()
	ws := make([]*worker, cfg.workers)
	var wg sync.WaitGroup
	for i := range ws {
		ws[i] = &worker{}
		wg.Go(func() {
			if cfg.mode == "handshake" {
				ws[i].handshakes(cfg, tc, c)
			} else {
				ws[i].requests(cfg, tc, c, i)
			}
		})
	}
	wg.Wait()
	res := &result{window: cfg.duration}
	shown := 0
	for _, w := range ws {
		res.ops += w.ops
		res.errors += w.errors
		res.statusErr += w.statusErr
		res.resumed += w.resumed
		res.bytes += w.bytes
		res.lat = append(res.lat, w.lat...)
		if w.firstErr != nil && shown < 3 {
			fmt.Fprintln(os.Stderr, "tlsload: error:", w.firstErr)
			shown++
		}
	}
	if c.maxOps > 0 && c.stop.Load() {
		// Stopped by -n: the window is as long as the run actually took.
		if el := time.Since(c.start); el < res.window {
			res.window = el
		}
	}
	return res, nil
}

// probe makes one connection and one request, and reports what failed.
func probe(cfg *config) error {
	conn, err := net.DialTimeout("tcp", cfg.addr, cfg.timeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(cfg.timeout))
	rw := net.Conn(conn)
	if cfg.tlsVer != 0 {
		tconn := tls.Client(conn, cfg.tlsConfig())
		if err := tconn.Handshake(); err != nil {
			return fmt.Errorf("TLS handshake: %w", err)
		}
		rw = tconn
	}
	if cfg.mode == "handshake" && !cfg.request {
		return nil
	}
	if _, err := rw.Write(cfg.requestBytes(true)); err != nil {
		return err
	}
	status, _, err := readResponse(bufio.NewReader(rw))
	if err != nil {
		return fmt.Errorf("reading the answer to GET %s: %w", cfg.path, err)
	}
	if status < 200 || status >= 400 {
		return fmt.Errorf("GET %s answered %d", cfg.path, status)
	}
	return nil
}
