package api

import (
	"bufio"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/valyala/fasthttp"

	"github.com/brink-edge/brink/flags"
)

// Streaming metrics. openStreams is the sum over all Handlers of the
// process, behind the brink_streaming_clients gauge.
var (
	openStreams      atomic.Int64
	_                = metrics.NewGauge(`brink_streaming_clients`, func() float64 { return float64(openStreams.Load()) })
	streamsRejected  = metrics.NewCounter(`brink_streaming_rejected_total`)
	streamsSlow      = metrics.NewCounter(`brink_streaming_slow_disconnects_total`)
	streamsInvalid   = metrics.NewCounter(`brink_streaming_token_invalidated_total`)
	streamEvents     = metrics.NewCounter(`brink_streaming_events_sent_total`)
	streamHydrations = metrics.NewCounter(`brink_streaming_hydrations_sent_total`)
)

// SSE framing, as Unleash and Unleash Edge write it.
const (
	sseConnected = "event: unleash-connected\nid: "
	sseUpdated   = "event: unleash-updated\nid: "
	sseData      = "\ndata: "
	sseEnd       = "\n\n"
	sseKeepAlive = ": keep-alive\n\n"
)

// CloseStreams ends every open /api/client/streaming connection and
// answers new ones 503; call it when shutting down, before or while
// shutting the fasthttp.Server down (Server.Shutdown waits for the open
// connections, which streams would otherwise keep busy forever). It is
// safe to call more than once.
func (h *Handler) CloseStreams() { h.closeOnce.Do(func() { close(h.done) }) }

// Streams returns the number of open streams of h.
func (h *Handler) Streams() int { return int(h.streams.Load()) }

// serveStreaming answers GET /api/client/streaming with a server-sent
// event stream of the token's environment, as Unleash Edge's streaming
// mode does (brink offers it in every mode):
//
//   - first an unleash-connected event whose data is {"events":[...]}:
//     the events after Last-Event-ID when the log still holds them all,
//     else one hydration event with the token's features;
//   - then an unleash-updated event for every change of the environment
//     that concerns the token's projects (and namePrefix), with the events
//     since the previous one (or a hydration when the client fell behind
//     the log);
//   - "id:" is always the log's last event id, so a reconnecting client's
//     Last-Event-ID resumes where it stopped;
//   - a ": keep-alive" comment after StreamKeepAlive without events.
//
// The token is checked again on every event and keep-alive, and the
// stream ends when it became invalid (or left the cache), when the
// environment is removed, on CloseStreams, or when the client is slower
// than StreamWriteTimeout. At most MaxStreams are open; one more gets 503.
func (h *Handler) serveStreaming(ctx *fasthttp.RequestCtx, tok *flags.Token) {
	if h.snapshotFor(ctx, routeClientStreaming, tok) == nil {
		return
	}
	select {
	case <-h.done:
		ctx.Response.Header.Set("Retry-After", "5")
		h.reject(ctx, routeClientStreaming, reasonShutdown, fasthttp.StatusServiceUnavailable)
		return
	default:
	}
	if h.cfg.Store.Events(tok.Environment) == nil {
		h.rejectNotReady(ctx, routeClientStreaming)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("text/event-stream")
	ctx.Response.Header.Set("Cache-Control", "no-cache")
	ctx.Response.Header.Set("X-Accel-Buffering", "no")
	if ctx.IsHead() {
		return
	}
	if h.streams.Add(1) > int64(h.cfg.MaxStreams) {
		h.streams.Add(-1)
		streamsRejected.Inc()
		ctx.Response.Header.Del("Cache-Control")
		ctx.Response.Header.Del("X-Accel-Buffering")
		ctx.Response.Header.SetContentTypeBytes(nil)
		h.reject(ctx, routeClientStreaming, reasonStreamLimit, fasthttp.StatusServiceUnavailable)
		return
	}
	openStreams.Add(1)
	s := &stream{
		h:      h,
		raw:    tok.Raw,
		env:    tok.Environment,
		filter: flags.EventFilter{Projects: tok.Projects, NamePrefix: string(ctx.QueryArgs().Peek("namePrefix"))},
		conn:   ctx.Conn(),
	}
	s.lastID, s.hasLast = parseEventID(ctx.Request.Header.Peek("Last-Event-ID"))
	// A deadline set by the handler keeps fasthttp from applying
	// Server.WriteTimeout to the whole stream; the zero time means none.
	// Slow clients are caught by the write watchdog instead.
	_ = ctx.SetWriteDeadline(time.Time{})
	ctx.SetBodyStreamWriter(s.run)
}

// stream is one open event stream. Its fields are copies: the request's
// buffers are not used once the handler has returned.
type stream struct {
	h       *Handler
	raw     string
	env     string
	filter  flags.EventFilter
	lastID  int
	hasLast bool
	conn    net.Conn
	buf     []byte
	// watchdog closes conn when a write blocks for StreamWriteTimeout.
	watchdog *time.Timer
}

// run writes the stream; fasthttp calls it on a goroutine of its own and
// sends what it writes to the client.
func (s *stream) run(w *bufio.Writer) {
	h := s.h
	defer func() {
		if s.watchdog != nil {
			s.watchdog.Stop()
		}
		h.streams.Add(-1)
		openStreams.Add(-1)
	}()
	s.watchdog = time.AfterFunc(time.Hour, func() { _ = s.conn.Close() })
	s.watchdog.Stop()
	store := h.cfg.Store
	logs := store.EventsChanged()
	log := store.Events(s.env)
	if log == nil {
		return
	}
	v := log.View()
	s.buf = s.frame(s.buf[:0], sseConnected, v, s.lastID, s.hasLast)
	if !s.write(w, s.buf) {
		return
	}
	sent := v.LastID()
	idle := time.NewTimer(h.cfg.StreamKeepAlive)
	defer idle.Stop()
	for {
		select {
		case <-h.done:
			return
		case <-idle.C:
			if !s.tokenValid() {
				return
			}
			if !s.write(w, []byte(sseKeepAlive)) {
				return
			}
			idle.Reset(h.cfg.StreamKeepAlive)
			continue
		case <-v.Changed():
		case <-logs:
		}
		if !s.tokenValid() {
			return
		}
		logs = store.EventsChanged()
		cur := store.Events(s.env)
		if cur == nil {
			return
		}
		if cur != log {
			// The environment got a log of its own (or lost it to the
			// fallback): its ids are unrelated to what was sent.
			log, sent = cur, -1
		}
		nv := log.View()
		if nv.Closed() {
			return
		}
		if nv == v && sent >= 0 {
			continue
		}
		v = nv
		var some bool
		s.buf, some = s.update(s.buf[:0], v, sent)
		sent = v.LastID()
		if !some {
			continue
		}
		if !s.write(w, s.buf) {
			return
		}
		idle.Reset(h.cfg.StreamKeepAlive)
	}
}

// frame appends one SSE event of type head (sseConnected or sseUpdated)
// carrying the events after since, or a hydration when !has or the view
// no longer holds them all.
func (s *stream) frame(dst []byte, head string, v *flags.EventView, since int, has bool) []byte {
	start := len(dst)
	if has {
		dst = appendFrameHead(dst, head, v)
		var n int
		var ok bool
		if dst, n, ok = v.AppendSince(dst, since, &s.filter); ok {
			streamEvents.Add(n)
			return append(dst, "]}"+sseEnd...)
		}
		dst = dst[:start]
	}
	dst = appendFrameHead(dst, head, v)
	dst = v.AppendHydration(dst, &s.filter)
	streamHydrations.Inc()
	return append(dst, "]}"+sseEnd...)
}

// update appends the unleash-updated event of the changes after sent
// (sent < 0: a hydration) and reports whether there is one: when no change
// concerns the token, it appends nothing.
func (s *stream) update(dst []byte, v *flags.EventView, sent int) ([]byte, bool) {
	if sent < 0 {
		return s.frame(dst, sseUpdated, v, 0, false), true
	}
	start := len(dst)
	dst = appendFrameHead(dst, sseUpdated, v)
	dst, n, ok := v.AppendSince(dst, sent, &s.filter)
	switch {
	case !ok:
		return s.frame(dst[:start], sseUpdated, v, 0, false), true
	case n == 0:
		return dst[:start], false
	}
	streamEvents.Add(n)
	return append(dst, "]}"+sseEnd...), true
}

// appendFrameHead appends the event line, the id line (the view's last
// id) and the start of the data line, up to the opening of the events
// list.
func appendFrameHead(dst []byte, head string, v *flags.EventView) []byte {
	dst = append(dst, head...)
	dst = strconv.AppendInt(dst, int64(v.LastID()), 10)
	return append(dst, sseData+`{"events":[`...)
}

// write sends b and flushes it to the client. When the client has not
// taken it within StreamWriteTimeout, the watchdog closes the connection,
// which ends the blocked write; it reports false when the stream must end.
func (s *stream) write(w *bufio.Writer, b []byte) bool {
	s.watchdog.Reset(s.h.cfg.StreamWriteTimeout)
	_, err := w.Write(b)
	if err == nil {
		err = w.Flush()
	}
	if !s.watchdog.Stop() {
		streamsSlow.Inc()
		return false
	}
	return err == nil
}

// tokenValid reports whether the stream's token is still accepted: in the
// cache and not Invalid.
func (s *stream) tokenValid() bool {
	t, ok := s.h.cfg.Tokens.Get(s.raw)
	if ok && t.Status != flags.TokenInvalid {
		return true
	}
	streamsInvalid.Inc()
	return false
}
