package relay

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Package-level metrics (one relay and one connector per process).
var (
	relayResults = [numResults]*metrics.Counter{}
	relayRetries = metrics.NewCounter(`brink_relay_retries_total`)

	recordsAccepted = metrics.NewCounter(`brink_relay_records_accepted_total`)
	recordsSent     = metrics.NewCounter(`brink_relay_records_sent_total`)
	recordsDropped  = [numDrops]*metrics.Counter{}
	batchesSent     = metrics.NewCounter(`brink_relay_batches_sent_total`)
	batchesFailed   = metrics.NewCounter(`brink_relay_batches_failed_total`)
	spoolBytes      = metrics.NewGauge(`brink_relay_spool_bytes`, nil)
	spoolFiles      = metrics.NewGauge(`brink_relay_spool_files`, nil)
	upstreamUp      = metrics.NewGauge(`brink_relay_upstream_up`, nil)
)

func init() {
	for i, name := range resultNames {
		relayResults[i] = metrics.NewCounter(`brink_relay_requests_total{result="` + name + `"}`)
	}
	for i, name := range dropNames {
		recordsDropped[i] = metrics.NewCounter(`brink_relay_records_dropped_total{reason="` + name + `"}`)
	}
}

// reach records the outcome of the latest upstream exchange.
type reach struct {
	lastOK   atomic.Int64 // unix ns of the latest success
	lastFail atomic.Int64 // unix ns of the latest failure
	mu       sync.Mutex
	lastErr  string
}

func (r *reach) succeeded() {
	r.lastOK.Store(time.Now().UnixNano())
}

func (r *reach) failed(err error) {
	now := time.Now().UnixNano()
	// Keep the message of at most one failure per 100 ms: err.Error() may
	// allocate, and a storm of failures says nothing new.
	if prev := r.lastFail.Load(); now-prev < int64(100*time.Millisecond) {
		r.lastFail.Store(now)
		return
	}
	r.lastFail.Store(now)
	msg := "unknown error"
	if err != nil {
		msg = err.Error()
	}
	r.mu.Lock()
	r.lastErr = msg
	r.mu.Unlock()
}

// Reachability is the upstream's state as seen by one part of the relay.
type Reachability struct {
	// Reachable is the outcome of the latest exchange; Known is false when
	// there was none yet.
	Reachable, Known bool
	// At is when the latest exchange ended.
	At time.Time
	// LastError is the latest failure's message, kept after a success;
	// FailedAt is when that failure happened.
	LastError string
	FailedAt  time.Time
}

func (r *reach) get() Reachability {
	ok, fail := r.lastOK.Load(), r.lastFail.Load()
	r.mu.Lock()
	msg := r.lastErr
	r.mu.Unlock()
	var failedAt time.Time
	if fail != 0 {
		failedAt = time.Unix(0, fail)
	}
	switch {
	case ok == 0 && fail == 0:
		return Reachability{}
	case ok >= fail:
		return Reachability{Reachable: true, Known: true, At: time.Unix(0, ok), LastError: msg, FailedAt: failedAt}
	}
	return Reachability{Known: true, At: time.Unix(0, fail), LastError: msg, FailedAt: failedAt}
}

// Reachability reports the outcome of the latest forwarded request.
func (r *Relay) Reachability() Reachability { return r.reach.get() }

// throttle logs a warning at most once a second, with the count of those
// it held back.
type throttle struct {
	log    *slog.Logger
	last   atomic.Int64
	missed atomic.Int64
}

func (t *throttle) warn(msg string, err error) {
	now := time.Now().UnixNano()
	last := t.last.Load()
	if now-last < int64(time.Second) || !t.last.CompareAndSwap(last, now) {
		t.missed.Add(1)
		return
	}
	t.log.Warn(msg, "error", err, "suppressed", t.missed.Swap(0))
}
