package main

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/panjf2000/gnet/v2"
)

func TestAnswersEveryRequest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	answer := "HTTP/1.1 304 Not Modified\r\nEtag: \"x\"\r\n\r\n"
	s := &server{answer: []byte(answer), booted: make(chan gnet.Engine, 1)}
	done := make(chan error, 1)
	go func() { done <- serve(s, addr, 1) }()
	var eng gnet.Engine
	select {
	case eng = <-s.booted:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("not booted after 5s")
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = eng.Stop(ctx)
		<-done
	})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	// Two pipelined requests, then one split across writes.
	req := "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	if _, err := io.WriteString(c, req+req+req[:10]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if _, err := io.WriteString(c, req[10:]); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 3*len(answer))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("reading three answers: %v (got %q)", err, got)
	}
	if want := strings.Repeat(answer, 3); string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
