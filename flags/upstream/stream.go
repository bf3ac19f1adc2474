package upstream

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/brink-edge/brink/flags"
)

// maxReconnectDelay caps the doubling delay between stream reconnections.
const maxReconnectDelay = 30 * time.Second

// startStream runs the event stream of st in the background until st
// leaves the refresh set, the Edge shuts down, or the upstream shows it
// does not stream.
func (r *refresher) startStream(st *refreshState) {
	ctx, cancel := context.WithCancel(r.life)
	r.mu.Lock()
	if st.removed || st.streamCancel != nil {
		r.mu.Unlock()
		cancel()
		return
	}
	st.streamCancel = cancel
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer cancel()
		r.runStream(ctx, st)
	}()
}

// runStream keeps st's event stream connected: every unleash-connected
// and unleash-updated event is applied to the token's features and
// published. While the stream is down the token is polled; it reconnects
// with Last-Event-ID after the reconnect delay (doubling to 30 s while it
// keeps failing). An answer that says the upstream does not stream (404,
// 405, 500, not an event stream) turns the environment to polling for
// good; 401 or 403 drops the token as a polled fetch would.
func (r *refresher) runStream(ctx context.Context, st *refreshState) {
	delay := r.reconnect
	for {
		r.mu.Lock()
		tok, last := st.tok, st.lastEventID
		r.mu.Unlock()
		delivered := false
		err := r.client.Stream(ctx, tok.Raw, last, func(event, id string, data []byte) {
			if event != EventConnected && event != EventUpdated {
				return
			}
			d, err := flags.DecodeClientFeaturesDelta(data)
			if err != nil {
				r.log.Warn("undecodable stream event; ignored", "token", tok.Anonymised(), "event", event, "err", err)
				return
			}
			r.applyDelta(st, d.Events, id)
			delivered = true
		})
		if ctx.Err() != nil {
			return
		}
		switch {
		case isNoStreaming(err):
			r.mu.Lock()
			if es := r.envs[tok.Environment]; es != nil {
				es.mode = modePolling
			}
			st.streaming = false
			r.mu.Unlock()
			r.poke()
			r.log.Info("the upstream does not stream; polling", "environment", tok.Environment, "err", err)
			return
		case errors.Is(err, ErrDenied):
			r.log.Warn("upstream denied a token's event stream; it is no longer refreshed", "token", tok.Anonymised(), "err", err)
			r.remove(tok.Raw)
			return
		}
		r.mu.Lock()
		if st.streaming {
			st.streaming = false
			st.next = time.Now().Add(r.interval)
		}
		r.mu.Unlock()
		r.poke()
		if delivered {
			delay = r.reconnect
		}
		r.log.Info("event stream interrupted; polling until it reconnects", "token", tok.Anonymised(), "retry_in", delay, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(delay*2, max(maxReconnectDelay, r.reconnect))
	}
}

// applyDelta applies streamed events to st's own features and publishes
// the merged environment.
func (r *refresher) applyDelta(st *refreshState, events []flags.DeltaEvent, id string) {
	r.mu.Lock()
	if st.removed {
		r.mu.Unlock()
		return
	}
	var next flags.ClientFeatures
	if st.view != nil {
		next = *st.view
	} else {
		next = flags.ClientFeatures{Version: 2, Features: []flags.Feature{}}
	}
	r.mu.Unlock()
	next.ApplyDelta(events)
	now := time.Now()
	r.publish(st.tok, &next, now)
	if id == "" {
		if m := maxEventID(events); m > 0 {
			id = strconv.FormatUint(uint64(m), 10)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if es := r.envs[st.tok.Environment]; es != nil {
		es.mode = modeStreaming
	}
	st.view, st.streaming = &next, true
	if id != "" {
		st.lastEventID = id
		if n, ok := parseEventID(id); ok {
			st.revision = n
		}
	}
	st.lastRefreshed, st.lastCheck, st.count = now, now, len(next.Features)
	st.fetched, st.covers, st.failures = true, true, 0
	st.next = now.Add(r.interval)
	r.synced = true
}

// poke wakes the polling loop.
func (r *refresher) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}
