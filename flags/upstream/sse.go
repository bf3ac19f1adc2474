package upstream

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"sync/atomic"
	"time"
)

// SSE events of Unleash's /api/client/streaming.
const (
	EventConnected = "unleash-connected"
	EventUpdated   = "unleash-updated"
)

// Stream opens the server-sent event stream /api/client/streaming for
// token, resuming after lastEventID when it is not empty (Last-Event-ID),
// and calls fn for every event until ctx ends, the upstream closes the
// stream (ErrStreamEnded) or nothing arrives for StreamIdleTimeout
// (ErrStreamIdle). Keep-alive comments count as activity. event is the
// event type ("message" when the upstream names none), id the last event
// id seen on the stream, data the event's data lines joined by "\n"; data
// is valid only during the call. An answer other than 200 is a
// *StatusError; a 200 that is not text/event-stream is ErrNotEventStream.
// fn runs on the calling goroutine, one event at a time.
func (c *Client) Stream(ctx context.Context, token, lastEventID string, fn func(event, id string, data []byte)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := c.newRequest(ctx, http.MethodGet, "/api/client/streaming", token, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	req.Header.Set("Unleash-Sdk-Type", "edge")
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	var idle atomic.Bool
	timer := time.AfterFunc(c.cfg.StreamIdleTimeout, func() { idle.Store(true); cancel() })
	defer timer.Stop()
	resp, err := c.http.Do(req)
	if err != nil {
		if idle.Load() {
			return ErrStreamIdle
		}
		return fmt.Errorf("upstream: streaming: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &StatusError{Op: "streaming", Code: resp.StatusCode}
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		return ErrNotEventStream
	}
	timer.Reset(c.cfg.StreamIdleTimeout)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxBody)
	p := sseParser{id: lastEventID}
	for sc.Scan() {
		timer.Reset(c.cfg.StreamIdleTimeout)
		p.line(sc.Bytes(), fn)
	}
	switch {
	case idle.Load():
		return ErrStreamIdle
	case ctx.Err() != nil:
		return ctx.Err()
	case sc.Err() != nil:
		return fmt.Errorf("upstream: streaming: %w", sc.Err())
	}
	return ErrStreamEnded
}

// sseParser implements the event-stream interpretation of the HTML
// standard for lines already split (a trailing '\r' is dropped).
type sseParser struct {
	event string
	id    string
	data  []byte
	has   bool // a data field was seen
}

func (p *sseParser) line(l []byte, fn func(event, id string, data []byte)) {
	l = bytes.TrimSuffix(l, []byte{'\r'})
	if len(l) == 0 {
		if p.has {
			ev := p.event
			if ev == "" {
				ev = "message"
			}
			fn(ev, p.id, bytes.TrimSuffix(p.data, []byte{'\n'}))
		}
		p.event, p.data, p.has = "", p.data[:0], false
		return
	}
	if l[0] == ':' {
		return
	}
	field, value, ok := bytes.Cut(l, []byte{':'})
	if ok {
		value = bytes.TrimPrefix(value, []byte{' '})
	}
	switch string(field) {
	case "event":
		p.event = string(value)
	case "data":
		p.data = append(append(p.data, value...), '\n')
		p.has = true
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			p.id = string(value)
		}
	}
}

// isNoStreaming reports whether err says the upstream does not offer
// streaming at all (as opposed to failing for now): 404, 405, 500, 501 or
// an answer that is not an event stream. Unleash Edge answers 500 on
// /api/client/streaming when it does not stream.
func isNoStreaming(err error) bool {
	if errors.Is(err, ErrNotEventStream) {
		return true
	}
	var se *StatusError
	if errors.As(err, &se) {
		switch se.Code {
		case 400, 404, 405, 500, 501:
			return true
		}
	}
	return false
}
