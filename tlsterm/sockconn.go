package tlsterm

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// sockConn is a handed-off socket as a net.Conn: the *os.File that
// loop.Conn.Handoff returned, used as it is. The descriptor is
// non-blocking, so os.NewFile already registered it with Go's netpoller
// (reads, writes and deadlines park the goroutine as on a net.TCPConn);
// net.FileConn would dup it a second time and register the copy too,
// which costs about ten system calls per connection (fcntl ×3,
// getsockopt, getsockname, getpeername, epoll_ctl ×2, setsockopt, close)
// for nothing: the loop already set TCP_NODELAY (the accepted socket
// inherits it from the listener) and knows both addresses. TCP keepalive
// is set as net.FileConn and net.Listen's accepted connections set it
// (15 s idle, 15 s interval, 9 probes), so a vanished client is still
// found on an idle or passed-through connection. Errors look like net.TCPConn's: *net.OpError around a
// *os.SyscallError, os.ErrDeadlineExceeded or net.ErrClosed, and a bare
// io.EOF, so callers (crypto/tls, fasthttp, isClosed, countFailure) see
// what they would from the net package.
type sockConn struct {
	f            *os.File
	laddr, raddr net.Addr
}

var (
	_ net.Conn     = (*sockConn)(nil)
	_ syscall.Conn = (*sockConn)(nil)
)

func newSockConn(f *os.File, laddr, raddr net.Addr) *sockConn {
	return &sockConn{f: f, laddr: laddr, raddr: raddr}
}

// Go's keepalive defaults for TCP connections (net.KeepAliveConfig zero
// values).
const (
	keepAliveIdle     = 15 // seconds
	keepAliveInterval = 15 // seconds
	keepAliveCount    = 9
)

// keepAliveOpts are the socket options of Go's TCP keepalive.
var keepAliveOpts = [...]struct{ level, name, v int }{
	{syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1},
	{syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, keepAliveIdle},
	{syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, keepAliveInterval},
	{syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, keepAliveCount},
}

// setKeepAlive turns Go's TCP keepalive on for the socket fd.
func setKeepAlive(fd int) error {
	for _, o := range keepAliveOpts {
		if err := syscall.SetsockoptInt(fd, o.level, o.name, o.v); err != nil {
			return os.NewSyscallError("setsockopt", err)
		}
	}
	return nil
}

// hasKeepAlive reports whether the socket fd has Go's TCP keepalive.
func hasKeepAlive(fd int) bool {
	for _, o := range keepAliveOpts {
		if v, err := syscall.GetsockoptInt(fd, o.level, o.name); err != nil || v != o.v {
			return false
		}
	}
	return true
}

// PrepareListener sets Go's TCP keepalive (15 s idle and interval, 9
// probes) on a listening socket, for loop.Config.PrepareListener. Linux
// copies it to every accepted socket, so a Server whose handed-off
// sockets already have it (checked once) skips the four setsockopt calls
// it otherwise makes per connection.
func PrepareListener(fd int) error {
	if err := setKeepAlive(fd); err != nil {
		return fmt.Errorf("tlsterm: keepalive on listening socket %d: %w", fd, err)
	}
	return nil
}

// SyscallConn returns the descriptor's raw connection, as
// net.TCPConn's does (for keepalive and capture).
func (c *sockConn) SyscallConn() (syscall.RawConn, error) {
	rc, err := c.f.SyscallConn()
	if err != nil {
		return nil, c.opError("set", err)
	}
	return rc, nil
}

func (c *sockConn) Read(p []byte) (int, error) {
	n, err := c.f.Read(p)
	if err != nil && err != io.EOF {
		err = c.opError("read", err)
	}
	return n, err
}

func (c *sockConn) Write(p []byte) (int, error) {
	n, err := c.f.Write(p)
	if err != nil {
		err = c.opError("write", err)
	}
	return n, err
}

func (c *sockConn) Close() error {
	if err := c.f.Close(); err != nil {
		return c.opError("close", err)
	}
	return nil
}

// CloseWrite shuts down the sending side (a passthrough's half-close).
func (c *sockConn) CloseWrite() error {
	rc, err := c.f.SyscallConn()
	if err != nil {
		return c.opError("close", err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = syscall.Shutdown(int(fd), syscall.SHUT_WR) }); err != nil {
		return c.opError("close", err)
	}
	if serr != nil {
		return c.opError("close", os.NewSyscallError("shutdown", serr))
	}
	return nil
}

func (c *sockConn) LocalAddr() net.Addr  { return c.laddr }
func (c *sockConn) RemoteAddr() net.Addr { return c.raddr }

func (c *sockConn) SetDeadline(t time.Time) error {
	if err := c.f.SetDeadline(t); err != nil {
		return c.opError("set", err)
	}
	return nil
}

func (c *sockConn) SetReadDeadline(t time.Time) error {
	if err := c.f.SetReadDeadline(t); err != nil {
		return c.opError("set", err)
	}
	return nil
}

func (c *sockConn) SetWriteDeadline(t time.Time) error {
	if err := c.f.SetWriteDeadline(t); err != nil {
		return c.opError("set", err)
	}
	return nil
}

// opError turns an *os.File error into the one net.TCPConn returns.
func (c *sockConn) opError(op string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var errno syscall.Errno
	switch {
	case errors.Is(err, os.ErrClosed):
		err = net.ErrClosed
	case errors.As(err, &errno):
		err = os.NewSyscallError(op, errno)
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.laddr, Addr: c.raddr, Err: err}
}
