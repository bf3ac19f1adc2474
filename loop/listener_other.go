//go:build !linux

package loop

import (
	"errors"
	"net"
	"strconv"

	"golang.org/x/sys/unix"
)

var errUnsupported = errors.New("loop: closing the listener early is implemented on Linux only")

// stopListening is Linux-only; elsewhere the listener stays open during the
// drain and new connections are closed at once.
func stopListening(dup int) error {
	closeFd(dup)
	return errUnsupported
}

func shutdownWrite(fd int) { _ = unix.Shutdown(fd, unix.SHUT_WR) }

func closeFd(fd int) { _ = unix.Close(fd) }

// unreadBytes returns -1: not told here, so the caller always lingers.
func unreadBytes(int) int { return -1 }

// pickPort picks a free port by listening on host:0 and closing.
func pickPort(host string, _ bool) (int, int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, -1, err
	}
	defer ln.Close()
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	port, err := strconv.Atoi(p)
	return port, -1, err
}
