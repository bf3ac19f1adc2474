package tlsterm

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/brink-edge/brink/loop"
)

// probeService reports what a Service's connection looks like under TLS.
type probeService struct{ got chan error }

func (p probeService) ServeConn(c net.Conn) error {
	p.got <- probe(c)
	return nil
}

func probe(c net.Conn) error {
	tc, ok := c.(*Conn)
	if !ok {
		return errors.New("not a *Conn")
	}
	// Loop mode: the handed-off socket as a sockConn; netpoll mode: the
	// accepted *net.TCPConn.
	sc, ok := tc.NetConn().(*wireConn).Conn.(interface {
		net.Conn
		syscall.Conn
	})
	if !ok {
		return fmt.Errorf("the socket under TLS, a %T, has no descriptor", tc.NetConn().(*wireConn).Conn)
	}
	if sc.LocalAddr().String() != tc.LocalAddr().String() || sc.RemoteAddr() == nil {
		return errors.New("addresses missing")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var nodelay, ka, idle, intvl, cnt int
	var gerr [5]error
	if err := rc.Control(func(fd uintptr) {
		nodelay, gerr[0] = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_NODELAY)
		ka, gerr[1] = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
		idle, gerr[2] = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE)
		intvl, gerr[3] = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL)
		cnt, gerr[4] = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT)
	}); err != nil {
		return err
	}
	if err := errors.Join(gerr[:]...); err != nil {
		return err
	}
	if nodelay == 0 {
		return errors.New("TCP_NODELAY is off on the handed-off socket")
	}
	// As net.FileConn and Go's accepted connections have it.
	if ka == 0 || idle != 15 || intvl != 15 || cnt != 9 {
		return fmt.Errorf("keepalive %d, idle %d s, interval %d s, count %d; want on, 15, 15, 9", ka, idle, intvl, cnt)
	}
	// A read deadline gives a net.Error that is a timeout, as net.TCPConn's.
	_ = sc.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	_, err = sc.Read(make([]byte, 1))
	var ne net.Error
	var oe *net.OpError
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.As(err, &oe) || oe.Op != "read" {
		return errors.New("read past the deadline: want a *net.OpError timeout, got " + errString(err))
	}
	_ = sc.SetReadDeadline(time.Time{})
	return nil
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

// TestSockConn: the handed-off socket keeps TCP_NODELAY and the loop's
// addresses, has Go's TCP keepalive (set per connection, or inherited from
// a listener prepared with PrepareListener), and its errors read like net.TCPConn's: a timeout, then the
// peer's close as a bare io.EOF, then net.ErrClosed after Close.
func TestSockConn(t *testing.T) { eachMode(t, testSockConn) }

func testSockConn(t *testing.T, m mode) {
	for _, tt := range []struct {
		name    string
		prepare func(fd int) error
		mode    int32
	}{
		{"set per connection", nil, keepAlivePerConn},
		{"inherited from the listener", PrepareListener, keepAliveInherited},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan error, 2)
			cfg := baseConfig()
			cfg.Services = map[string]Service{"api": probeService{got}, "other": echoService("other")}
			ts := m.start(t, cfg, loop.Config{PrepareListener: tt.prepare})
			for range 2 { // the first connection decides the mode
				c, err := tls.Dial("tcp", ts.addr, clientConfig("engine.test", 0))
				if err != nil {
					t.Fatal(err)
				}
				select {
				case err := <-got:
					if err != nil {
						t.Fatal(err)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("the service did not run")
				}
				_ = c.Close()
			}
			if m := ts.keepAliveMode.Load(); m != tt.mode {
				t.Fatalf("keepalive mode %d, want %d", m, tt.mode)
			}
		})
	}

	// Errors straight from a sockConn over a socket pair.
	a, b := sockPair(t)
	defer b.Close()
	if _, err := b.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	_ = b.Close()
	buf := make([]byte, 4)
	if n, err := a.Read(buf); n != 1 || err != nil {
		t.Fatalf("read = %d, %v; want 1 byte", n, err)
	}
	if _, err := a.Read(buf); err != io.EOF {
		t.Fatalf("read after the peer closed: %v, want io.EOF", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Write(buf); !errors.Is(err, net.ErrClosed) || !isClosed(err) {
		t.Fatalf("write after Close: %v, want net.ErrClosed", err)
	}
	if err := a.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close: %v, want net.ErrClosed", err)
	}
}

// sockPair returns a sockConn and the net.Conn at the other end of a
// loopback TCP connection.
func sockPair(t *testing.T) (*sockConn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	ac, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	f, err := ac.(*net.TCPConn).File()
	_ = ac.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// As loop.Conn.Handoff does: a non-blocking duplicate, as an *os.File.
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		t.Fatal(err)
	}
	return newSockConn(os.NewFile(uintptr(fd), "test"), dc.RemoteAddr(), dc.LocalAddr()), dc
}
