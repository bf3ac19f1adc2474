package http1

import (
	"bytes"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// testUpstream is the Upstream of the proxy and ServeConn tests,
// allocation-free so the alloc tests can use it: paths under /up go
// upstream with Host: upstream, X-Test-Forwarded: 1 (and X-Test-TLS: 1
// when ctx.IsTLS), the client's other fields kept except the framing,
// Connection and Expect ones; outcomes and retries are counted.
type testUpstream struct {
	done    [5]atomic.Int64 // by Outcome
	retried atomic.Int64
	mu      sync.Mutex
	errs    []string
}

var (
	upPrefix  = []byte("/up")
	upDropped = [][]byte{[]byte("host"), []byte("content-length"), []byte("transfer-encoding"), []byte("connection"), []byte("expect")}
)

func (u *testUpstream) Match(ctx *fasthttp.RequestCtx) bool {
	return bytes.HasPrefix(ctx.Path(), upPrefix)
}

func (u *testUpstream) AppendRequestHead(dst []byte, ctx *fasthttp.RequestCtx, raw []byte, bodyLen int) ([]byte, bool) {
	dst = append(dst, ctx.Method()...)
	dst = append(dst, ' ')
	dst = append(dst, ctx.RequestURI()...)
	dst = append(dst, " HTTP/1.1\r\nHost: upstream\r\nX-Test-Forwarded: 1\r\n"...)
	if ctx.IsTLS() {
		dst = append(dst, "X-Test-TLS: 1\r\n"...)
	}
	lines := raw[bytes.IndexByte(raw, '\n')+1:]
	for {
		i := bytes.IndexByte(lines, '\n')
		if i < 0 {
			break
		}
		line := bytes.TrimSuffix(lines[:i], []byte{'\r'})
		lines = lines[i+1:]
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			break
		}
		drop := false
		for _, d := range upDropped {
			drop = drop || bytes.EqualFold(line[:colon], d)
		}
		if !drop {
			dst = append(dst, line...)
			dst = append(dst, "\r\n"...)
		}
	}
	if bodyLen > 0 {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, int64(bodyLen), 10)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...), true
}

var outcomeStatus = [...]string{
	OutcomeOK:         "200 OK",
	OutcomeTooLarge:   "413 Request Entity Too Large",
	OutcomeBadGateway: "502 Bad Gateway",
	OutcomeTimeout:    "504 Gateway Timeout",
}

func (u *testUpstream) AppendErrorAnswer(dst []byte, o Outcome, closeConn bool) []byte {
	body := `{"error":"` + outcomeStatus[o][4:] + `"}`
	dst = append(dst, "HTTP/1.1 "+outcomeStatus[o]+"\r\nContent-Type: application/json\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n"...)
	if closeConn {
		dst = append(dst, "Connection: close\r\n"...)
	}
	return append(append(dst, "\r\n"...), body...)
}

func (u *testUpstream) Done(o Outcome, err error) {
	u.done[o].Add(1)
	if err != nil {
		u.mu.Lock()
		u.errs = append(u.errs, err.Error())
		u.mu.Unlock()
	}
}

func (u *testUpstream) Retried() { u.retried.Add(1) }

// want checks the outcome counts: ok, too large, bad gateway, timeout,
// retries. ServeConn records an outcome before the client's answer is
// flushed, so no wait is needed.
func (u *testUpstream) want(t *testing.T, want [5]int64) {
	t.Helper()
	got := u.counts()
	if got != want {
		u.mu.Lock()
		defer u.mu.Unlock()
		t.Fatalf("outcomes [ok too_large bad_gateway timeout retried] = %v, want %v (errors %q)", got, want, u.errs)
	}
}

// counts returns the outcomes counted so far: ok, too large, bad gateway,
// timeout, retries.
func (u *testUpstream) counts() [5]int64 {
	return [5]int64{u.done[0].Load(), u.done[1].Load(), u.done[2].Load(), u.done[3].Load(), u.retried.Load()}
}

// waitCounts waits (a bounded while) for the outcome counts to be want:
// Done may run just after the client has read the answer.
func (u *testUpstream) waitCounts(t *testing.T, want [5]int64) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for u.counts() != want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := u.counts(); got != want {
		u.mu.Lock()
		defer u.mu.Unlock()
		t.Fatalf("outcomes [ok too_large bad_gateway timeout retried] = %v, want %v (errors %q)", got, want, u.errs)
	}
}
