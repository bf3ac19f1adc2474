package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"time"
)

// handshakes loops connect, handshake, optional tiny request, close until the
// clock says stop.
func (w *worker) handshakes(cfg *config, tc *tls.Config, c *clock) {
	req := cfg.requestBytes(true)
	d := net.Dialer{Timeout: cfg.timeout}
	for {
		began := time.Now()
		if !c.more(began) {
			return
		}
		n, status, resumed, err := w.handshake(cfg, &d, tc, req)
		done := time.Now()
		if err != nil {
			w.fail(c, done, err)
			continue
		}
		w.record(c, began, done, n, status, resumed)
	}
}

// handshake is one connection: dial, full or resumed handshake, the request
// (Connection: close) and its answer, close. status is 200 without a request.
func (w *worker) handshake(cfg *config, d *net.Dialer, tc *tls.Config, req []byte) (n int64, status int, resumed bool, err error) {
	conn, err := d.Dial("tcp", cfg.addr)
	if err != nil {
		return 0, 0, false, err
	}
	_ = conn.SetDeadline(time.Now().Add(cfg.timeout))
	t := tls.Client(conn, tc)
	defer t.Close()
	if err := t.Handshake(); err != nil {
		return 0, 0, false, fmt.Errorf("handshake: %w", err)
	}
	status = 200
	if cfg.request {
		if _, err := t.Write(req); err != nil {
			return 0, 0, false, fmt.Errorf("writing the request: %w", err)
		}
		if w.br == nil {
			w.br = bufio.NewReaderSize(t, 16<<10)
		} else {
			w.br.Reset(t)
		}
		status, n, err = readResponse(w.br)
		if err != nil {
			return 0, 0, false, fmt.Errorf("reading the answer: %w", err)
		}
	}
	return n, status, t.ConnectionState().DidResume, nil
}
