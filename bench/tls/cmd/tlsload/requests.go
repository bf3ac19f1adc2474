package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"time"
)

// conn is one kept-alive connection of HTTP mode.
type conn struct {
	c  net.Conn
	br *bufio.Reader
}

func dial(cfg *config, tc *tls.Config) (*conn, error) {
	c, err := net.DialTimeout("tcp", cfg.addr, cfg.timeout)
	if err != nil {
		return nil, err
	}
	if cfg.tlsVer != 0 {
		t := tls.Client(c, tc)
		_ = t.SetDeadline(time.Now().Add(cfg.timeout))
		if err := t.Handshake(); err != nil {
			c.Close()
			return nil, fmt.Errorf("handshake: %w", err)
		}
		c = t
	}
	return &conn{c: c, br: bufio.NewReaderSize(c, 32<<10)}, nil
}

// requests sends GET requests over one kept-alive connection, closed-loop or
// on the worker's share of the -rate schedule, redialling after an error.
func (w *worker) requests(cfg *config, tc *tls.Config, c *clock, idx int) {
	req := cfg.requestBytes(false)
	var cn *conn
	defer func() {
		if cn != nil {
			cn.c.Close()
		}
	}()
	// Paced: worker idx sends at now0 + offset + k*perWork, offsets spread
	// over one interval so the workers do not send in bursts.
	next := time.Now()
	if c.perWork > 0 {
		next = next.Add(c.perWork * time.Duration(idx) / time.Duration(cfg.workers))
	}
	for {
		began := time.Now()
		if c.perWork > 0 {
			if wait := next.Sub(began); wait > 0 {
				if !next.Before(c.end) {
					return
				}
				time.Sleep(wait)
			}
			began = next // latency counts from when the request was due
			next = next.Add(c.perWork)
		}
		if !c.more(time.Now()) {
			return
		}
		if cn == nil {
			var err error
			if cn, err = dial(cfg, tc); err != nil {
				w.fail(c, time.Now(), err)
				cn = nil
				time.Sleep(10 * time.Millisecond)
				continue
			}
		}
		_ = cn.c.SetDeadline(time.Now().Add(cfg.timeout))
		status, n, err := exchange(cn, req)
		done := time.Now()
		if err != nil {
			w.fail(c, done, err)
			cn.c.Close()
			cn = nil
			continue
		}
		w.record(c, began, done, n, status, false)
	}
}

func exchange(cn *conn, req []byte) (status int, n int64, err error) {
	if _, err := cn.c.Write(req); err != nil {
		return 0, 0, fmt.Errorf("writing the request: %w", err)
	}
	status, n, err = readResponse(cn.br)
	if err != nil {
		return 0, 0, fmt.Errorf("reading the answer: %w", err)
	}
	return status, n, nil
}
