package relay

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/connsig"
)

// The reasons counted in brink_relay_records_dropped_total.
const (
	dropQueueFull  = iota // Add found the in-memory queue full
	dropClosed            // Add after Close
	dropRejected          // the upstream answered 4xx (not 408, 429)
	dropSpoolFull         // evicted, oldest first, to keep SpoolMaxBytes
	dropMemoryFull        // evicted, oldest first, to keep MemoryMaxBytes
	dropSpoolError        // the spool file could not be written
	dropShutdown          // unsent and unspooled when Close's context ended
	numDrops
)

var dropNames = [numDrops]string{"queue_full", "closed", "rejected", "spool_full", "memory_full", "spool_error", "shutdown"}

// chunk is a slice of records with room for one batch.
type chunk struct{ recs []record }

// record is one connection's signal as Add copied it.
type record struct {
	sig    connsig.Signal
	remote netip.AddrPort
	at     int64 // unix ns
}

// Connector ships every connection's signal record to the upstream's
// ingest endpoint in compressed batches (see the package doc for the
// format and the delivery semantics). Add is safe to call from
// concurrently running goroutines; one goroutine sends.
type Connector struct {
	cfg      Config
	up       upstream
	hc       *fasthttp.HostClient
	url      string
	instance string

	// The queue: Add fills cur, a chunk of BatchRecords records; full
	// chunks wait in full for the sender, which hands them back to free.
	mu     sync.Mutex
	cur    *chunk
	full   []*chunk
	free   []*chunk
	queued int
	closed bool
	// stopping tells a running cycle to spool rather than send: Close is
	// waiting.
	stopping atomic.Bool
	taken    []*chunk // the sender's, between take and recycle

	kick chan struct{}
	stop chan context.Context
	done chan error

	store   batchStore
	seq     uint64
	fails   int       // consecutive failed sends
	retryAt time.Time // no send before this while the upstream is down
	reach   reach

	gz   *gzip.Writer
	body bytes.Buffer
	line []byte

	accepted, sent, batchesOK, batchesFailed atomic.Uint64
	dropped                                  [numDrops]atomic.Uint64
}

// ConnectorStats are a Connector's counters.
type ConnectorStats struct {
	// Accepted counts the records Add queued; Sent those the upstream
	// acknowledged (a resent duplicate counts again).
	Accepted, Sent uint64
	// Dropped counts records dropped, by reason: "queue_full", "closed",
	// "rejected", "spool_full", "memory_full", "spool_error", "shutdown".
	Dropped map[string]uint64
	// BatchesSent and BatchesFailed count batch posts by outcome.
	BatchesSent, BatchesFailed uint64
	// SpoolFiles and SpoolBytes are the batches waiting (on disk with a
	// SpoolDir, else in memory) and their compressed size.
	SpoolFiles, SpoolBytes int64
}

// NewConnector fills cfg's defaults, validates it, opens the spool (and
// lists what a previous run left there, to send first) and starts the
// sending goroutine. Close stops it.
func NewConnector(cfg Config) (*Connector, error) {
	up, err := cfg.fill()
	if err != nil {
		return nil, err
	}
	tlsCfg, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	if cfg.InstanceID == "" {
		var b [8]byte
		_, _ = crand.Read(b[:])
		cfg.InstanceID = hex.EncodeToString(b[:])
	}
	if !validKey(cfg.InstanceID) || len(cfg.InstanceID) > 64 {
		return nil, fmt.Errorf("relay: instance id %q must be at most 64 of [A-Za-z0-9._-]", cfg.InstanceID)
	}
	c := &Connector{
		cfg: cfg,
		up:  up,
		hc:  newHostClient(&cfg, up, tlsCfg),
		url: up.base + cfg.IngestPath,
		// The start time keeps keys unique across restarts of an instance
		// whose sequence starts over (an empty spool).
		instance: cfg.InstanceID + "." + strconv.FormatInt(time.Now().UnixNano(), 36),
		kick:     make(chan struct{}, 1),
		stop:     make(chan context.Context),
		done:     make(chan error, 1),
	}
	c.hc.MaxConns = 4
	c.hc.MaxResponseBodySize = 1 << 20
	if cfg.SpoolDir != "" {
		s, err := openDiskSpool(cfg.SpoolDir, cfg.SpoolMaxBytes)
		if err != nil {
			return nil, err
		}
		if files, n := s.stats(); files > 0 {
			cfg.Logger.Info("relay: spooled signal batches found; sending them first", "dir", cfg.SpoolDir, "files", files, "bytes", n)
		}
		c.store = s
	} else {
		c.store = &memSpool{max: cfg.MemoryMaxBytes}
	}
	c.seq = c.store.nextSeq()
	c.gz, _ = gzip.NewWriterLevel(&c.body, gzip.BestSpeed)
	c.updateGauges()
	go c.run()
	return c, nil
}

// Add queues a copy of a connection's signal, its peer address and the
// time it was complete. It never blocks on the network: when the queue
// holds QueueRecords records, or after Close, the record is dropped and
// counted.
func (c *Connector) Add(sig *connsig.Signal, remote netip.AddrPort, at time.Time) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		c.drop(dropClosed, 1)
		return
	}
	if c.queued >= c.cfg.QueueRecords {
		c.mu.Unlock()
		c.drop(dropQueueFull, 1)
		return
	}
	if c.cur == nil {
		c.cur = c.newChunk()
	}
	n := len(c.cur.recs)
	c.cur.recs = c.cur.recs[:n+1]
	r := &c.cur.recs[n]
	r.sig, r.remote, r.at = *sig, remote, at.UnixNano()
	c.queued++
	full := n+1 == cap(c.cur.recs)
	if full {
		c.full = append(c.full, c.cur)
		c.cur = nil
	}
	c.mu.Unlock()
	c.accepted.Add(1)
	recordsAccepted.Inc()
	if full {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
}

// Close stops accepting records, sends what is queued in memory, and
// spools what the upstream does not take before ctx ends (a SIGTERM's
// grace period). A post already in flight when Close is called is waited
// for (at most IngestTimeout): keep IngestTimeout well below the grace
// period. Without a SpoolDir, records still unsent then are lost,
// counted as dropped (reason "shutdown"), and ErrUnsent is returned.
func (c *Connector) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	c.closed = true
	c.mu.Unlock()
	c.stopping.Store(true)
	c.stop <- ctx
	err := <-c.done
	c.hc.CloseIdleConnections()
	return err
}

// Stats returns the connector's counters.
func (c *Connector) Stats() ConnectorStats {
	st := ConnectorStats{
		Accepted: c.accepted.Load(), Sent: c.sent.Load(),
		BatchesSent: c.batchesOK.Load(), BatchesFailed: c.batchesFailed.Load(),
		Dropped: make(map[string]uint64, numDrops),
	}
	for i, name := range dropNames {
		st.Dropped[name] = c.dropped[i].Load()
	}
	st.SpoolFiles, st.SpoolBytes = c.store.stats()
	return st
}

// Reachability reports the outcome of the latest batch post.
func (c *Connector) Reachability() Reachability { return c.reach.get() }

func (c *Connector) drop(reason, n int) {
	if n > 0 {
		c.dropped[reason].Add(uint64(n))
		recordsDropped[reason].Add(n)
	}
}

func (c *Connector) updateGauges() {
	files, n := c.store.stats()
	spoolFiles.Set(float64(files))
	spoolBytes.Set(float64(n))
}

// run is the sending goroutine.
func (c *Connector) run() {
	tick := time.NewTicker(c.cfg.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-c.kick:
		case <-tick.C:
		case ctx := <-c.stop:
			c.done <- c.shutdown(ctx)
			return
		}
		c.cycle(context.Background())
	}
}

// cycle sends what the store holds, oldest first, then the queued
// records; once a send fails, the rest goes to the store.
func (c *Connector) cycle(ctx context.Context) {
	c.drainStore(ctx)
	chunks := c.take()
	for _, ch := range chunks {
		b := c.encode(ch.recs)
		if c.canSend() && c.storeEmpty() && !c.stopping.Load() {
			switch c.send(ctx, b) {
			case sendOK, sendRejected:
				continue
			}
		}
		c.keep(b)
	}
	c.recycle(chunks)
	if len(chunks) > 0 && !c.storeEmpty() {
		c.drainStore(ctx) // what was kept behind older batches, if the upstream is up
	}
}

// newChunk returns a free chunk, or a new one; c.mu is held.
func (c *Connector) newChunk() *chunk {
	if n := len(c.free); n > 0 {
		ch := c.free[n-1]
		c.free[n-1] = nil
		c.free = c.free[:n-1]
		return ch
	}
	return &chunk{recs: make([]record, 0, min(c.cfg.BatchRecords, c.cfg.QueueRecords))}
}

// take moves the queued chunks, the partly filled one included, to the
// sender; recycle gives them back for reuse.
func (c *Connector) take() []*chunk {
	c.mu.Lock()
	c.taken = append(c.taken[:0], c.full...)
	clear(c.full)
	c.full = c.full[:0]
	if c.cur != nil && len(c.cur.recs) > 0 {
		c.taken = append(c.taken, c.cur)
		c.cur = nil
	}
	c.queued = 0
	c.mu.Unlock()
	return c.taken
}

func (c *Connector) recycle(chunks []*chunk) {
	if len(chunks) == 0 {
		return
	}
	// Keep enough free chunks for a full queue; let the rest go.
	keep := c.cfg.QueueRecords/cap(chunks[0].recs) + 1
	c.mu.Lock()
	for _, ch := range chunks {
		if len(c.free) < keep {
			ch.recs = ch.recs[:0]
			c.free = append(c.free, ch)
		}
	}
	c.mu.Unlock()
	clear(chunks)
}

func (c *Connector) storeEmpty() bool {
	files, _ := c.store.stats()
	return files == 0
}

func (c *Connector) canSend() bool { return !time.Now().Before(c.retryAt) }

// drainStore sends stored batches, oldest first, until one fails.
func (c *Connector) drainStore(ctx context.Context) {
	for c.canSend() && ctx.Err() == nil && !c.stopping.Load() {
		b, ok, err := c.store.oldest()
		if err != nil {
			c.drop(dropSpoolError, b.records)
			c.updateGauges()
			c.cfg.Logger.Error("relay: spooled batch cannot be read; skipped, the file is left in place", "error", err)
			continue
		}
		if !ok {
			return
		}
		switch c.send(ctx, b) {
		case sendOK, sendRejected:
			c.store.remove(b)
			c.updateGauges()
		default:
			return
		}
	}
}

// keep puts b in the store, counting what the store's bound evicts.
func (c *Connector) keep(b *batch) {
	evicted, err := c.store.push(b)
	if err != nil {
		c.drop(dropSpoolError, b.records)
		c.cfg.Logger.Error("relay: signal batch cannot be spooled; dropped", "records", b.records, "error", err)
	}
	if evicted > 0 {
		reason := dropSpoolFull
		if c.cfg.SpoolDir == "" {
			reason = dropMemoryFull
		}
		c.drop(reason, evicted)
		c.cfg.Logger.Warn("relay: signal spool full; oldest batches dropped", "records", evicted)
	}
	c.updateGauges()
}

// encode builds a batch of recs: gzip-compressed JSON lines.
func (c *Connector) encode(recs []record) *batch {
	c.body.Reset()
	c.gz.Reset(&c.body)
	for i := range recs {
		c.line = appendRecord(c.line[:0], &recs[i])
		_, _ = c.gz.Write(c.line)
	}
	_ = c.gz.Close()
	seq := c.seq
	c.seq++
	return &batch{
		seq:     seq,
		records: len(recs),
		key:     c.instance + "-" + strconv.FormatUint(seq, 10),
		body:    bytes.Clone(c.body.Bytes()),
	}
}

// appendRecord appends one record as a JSON line:
// {"at":"<RFC 3339 UTC>","remote":"<ip:port>","signal":{...}}.
func appendRecord(dst []byte, r *record) []byte {
	dst = append(dst, `{"at":"`...)
	dst = time.Unix(0, r.at).UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","remote":"`...)
	if r.remote.IsValid() {
		dst = r.remote.AppendTo(dst)
	}
	dst = append(dst, `","signal":`...)
	dst = r.sig.AppendJSON(dst)
	return append(dst, '}', '\n')
}

type sendResult uint8

const (
	sendOK       sendResult = iota
	sendRejected            // 4xx other than 408, 429: dropped
	sendRetry               // network failure, 408, 429, 5xx, others
)

// send posts b once and accounts for the outcome.
func (c *Connector) send(ctx context.Context, b *batch) sendResult {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(c.url)
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/x-ndjson")
	req.Header.Set(fasthttp.HeaderContentEncoding, "gzip")
	req.Header.Set("Idempotency-Key", b.key)
	req.Header.Set("X-Brink-Records", strconv.Itoa(b.records))
	if c.cfg.License != "" {
		req.Header.Set(c.cfg.LicenseHeader, c.cfg.License)
	}
	req.SetBodyRaw(b.body)
	deadline := time.Now().Add(c.cfg.IngestTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	err := c.hc.DoDeadline(req, resp, deadline)
	status := resp.StatusCode()
	switch {
	case err != nil:
		c.reach.failed(err)
	case status >= 200 && status < 300:
		c.reach.succeeded()
		c.fails, c.retryAt = 0, time.Time{}
		upstreamUp.Set(1)
		c.sent.Add(uint64(b.records))
		recordsSent.Add(b.records)
		c.batchesOK.Add(1)
		batchesSent.Inc()
		return sendOK
	case status >= 400 && status < 500 && status != 408 && status != 429:
		c.reach.succeeded()
		c.batchesFailed.Add(1)
		batchesFailed.Inc()
		c.drop(dropRejected, b.records)
		c.cfg.Logger.Warn("relay: the upstream rejected a signal batch; dropped",
			"status", status, "records", b.records, "idempotency_key", b.key, "answer", truncate(resp.Body(), 200))
		return sendRejected
	default:
		err = fmt.Errorf("ingest answered status %d", status)
		if status < 500 {
			c.reach.succeeded() // reachable, just busy
		} else {
			c.reach.failed(err)
		}
	}
	c.failed()
	if c.fails == 1 {
		c.cfg.Logger.Warn("relay: signal batch not delivered; keeping it and retrying with backoff", "error", err, "records", b.records)
	}
	return sendRetry
}

// failed counts a failed send and pushes the next try back.
func (c *Connector) failed() {
	c.batchesFailed.Add(1)
	batchesFailed.Inc()
	upstreamUp.Set(0)
	c.retryAt = time.Now().Add(backoff(c.fails, rand.Float64()))
	c.fails++
}

// shutdown is the final cycle: queued records are sent while ctx allows
// (keeping time to spool the rest), else stored.
func (c *Connector) shutdown(ctx context.Context) error {
	sendCtx := ctx
	if d, ok := ctx.Deadline(); ok {
		reserve := min(time.Second, time.Until(d)/4)
		var cancel context.CancelFunc
		sendCtx, cancel = context.WithDeadline(ctx, d.Add(-reserve))
		defer cancel()
	}
	c.retryAt = time.Time{} // one more try, whatever the backoff said
	c.stopping.Store(false) // the cycle it cut short is over
	chunks := c.take()
	if c.storeEmpty() {
		for len(chunks) > 0 && sendCtx.Err() == nil {
			b := c.encode(chunks[0].recs)
			chunks = chunks[1:]
			if r := c.send(sendCtx, b); r != sendOK && r != sendRejected {
				c.keep(b)
				break
			}
		}
	}
	for _, ch := range chunks {
		c.keep(c.encode(ch.recs))
	}
	if c.cfg.SpoolDir != "" {
		return nil
	}
	files, _ := c.store.stats()
	if files == 0 {
		return nil
	}
	// Without a spool, the memory store is all there is: one last try.
	c.drainStore(sendCtx)
	lost := 0
	for {
		b, ok, _ := c.store.oldest()
		if !ok {
			break
		}
		lost += b.records
		c.store.remove(b)
	}
	c.updateGauges()
	if lost > 0 {
		c.drop(dropShutdown, lost)
		c.cfg.Logger.Error("relay: signal records lost at shutdown (no SPOOL dir)", "records", lost)
		return fmt.Errorf("%w: %d records", ErrUnsent, lost)
	}
	return nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}
