//go:build linux

package loop

import (
	"errors"
	"net/netip"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// stopListening closes the listening socket that gnet polls, given our
// duplicate of it, without gnet noticing: gnet has no call for it, and a
// shutdown(2) of the listener makes its accept fail with EINVAL, which
// stops the whole engine. Instead, gnet's descriptor number is pointed at
// a listening socket nobody connects to (an abstract-namespace Unix socket,
// where accept just says EAGAIN), and our duplicate, the last reference
// to the real socket, is closed. The kernel then removes the socket from
// its SO_REUSEPORT group, so new connections go to the other processes,
// and from gnet's epoll set.
func stopListening(dup int) error {
	defer closeFd(dup)
	var st unix.Stat_t
	if err := unix.Fstat(dup, &st); err != nil {
		return err
	}
	target, err := findTwin(dup, st.Dev, st.Ino)
	if err != nil {
		return err
	}
	dummy, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer closeFd(dummy)
	// An empty address autobinds a random abstract name.
	if err := unix.Bind(dummy, &unix.SockaddrUnix{}); err != nil {
		return err
	}
	if err := unix.Listen(dummy, 1); err != nil {
		return err
	}
	return unix.Dup3(dummy, target, unix.O_CLOEXEC)
}

var errNoTwin = errors.New("loop: listener descriptor not found")

// findTwin returns the descriptor other than fd that refers to the same
// socket (gnet's own).
func findTwin(fd int, dev uint64, ino uint64) (int, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1, err
	}
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil || n == fd {
			continue
		}
		var st unix.Stat_t
		if unix.Fstat(n, &st) == nil && st.Dev == dev && st.Ino == ino {
			return n, nil
		}
	}
	return -1, errNoTwin
}

// shutdownWrite sends FIN after the queued data.
func shutdownWrite(fd int) { _ = unix.Shutdown(fd, unix.SHUT_WR) }

func closeFd(fd int) { _ = unix.Close(fd) }

// unreadBytes returns how many received bytes wait in fd's socket, -1 when
// that cannot be told (so the caller lingers).
func unreadBytes(fd int) int {
	n, err := unix.IoctlGetInt(fd, unix.SIOCINQ)
	if err != nil {
		return -1
	}
	return n
}

// pickPort binds host:0 and returns the port. With reusePort the socket
// stays bound (SO_REUSEPORT, not listening) and is returned, so that no
// one else takes the port before the engines bind it; otherwise it is
// closed and -1 returned.
func pickPort(host string, reusePort bool) (int, int, error) {
	family, sa := unix.AF_INET, unix.Sockaddr(&unix.SockaddrInet4{})
	if host != "" {
		a, err := netip.ParseAddr(host)
		if err != nil {
			return 0, -1, err
		}
		if a.Is4() || a.Is4In6() {
			sa = &unix.SockaddrInet4{Addr: a.Unmap().As4()}
		} else {
			family, sa = unix.AF_INET6, &unix.SockaddrInet6{Addr: a.As16()}
		}
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, -1, err
	}
	if reusePort {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			closeFd(fd)
			return 0, -1, err
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		closeFd(fd)
		return 0, -1, err
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		closeFd(fd)
		return 0, -1, err
	}
	var port int
	switch a := got.(type) {
	case *unix.SockaddrInet4:
		port = a.Port
	case *unix.SockaddrInet6:
		port = a.Port
	}
	if !reusePort {
		closeFd(fd)
		fd = -1
	}
	return port, fd, nil
}
