//go:build linux

package tcpsig

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The network labs of the accuracy and crafted-SYN tests: anonymous network
// namespaces and TUN devices inside them, all held by file descriptors of
// this process. Nothing is named in the root namespace (no `ip netns add`,
// no firewall rule), so there is nothing to leak: a namespace goes with its
// last fd, socket or thread, a (non-persistent) TUN device with its fd, and
// a crashed test takes both with it.

// netns is an anonymous network namespace, held open by fd.
type netns struct{ fd int }

// newNetns creates a network namespace with lo up; cleanup closes it.
// Needs root (it skips without, or fails under BRINK_REQUIRE_EBPF=1).
func newNetns(t testing.TB) *netns {
	t.Helper()
	requireRoot(t)
	type result struct {
		fd  int
		err error
	}
	rc := make(chan result, 1)
	go func() {
		// The thread is never unlocked: it dies with the goroutine, so no
		// other goroutine ever runs in the namespace by accident.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			rc <- result{-1, fmt.Errorf("unshare(CLONE_NEWNET): %w", err)}
			return
		}
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			rc <- result{-1, fmt.Errorf("opening the new netns: %w", err)}
			return
		}
		if err := linkUp("lo"); err != nil {
			unix.Close(fd)
			rc <- result{-1, err}
			return
		}
		rc <- result{fd, nil}
	}()
	r := <-rc
	if r.err != nil {
		if errors.Is(r.err, unix.EPERM) && !requireEBPF {
			t.Skipf("no network namespaces here: %v", r.err)
		}
		t.Fatal(r.err)
	}
	ns := &netns{fd: r.fd}
	t.Cleanup(func() { unix.Close(ns.fd) })
	return ns
}

// do runs fn on a locked OS thread inside ns and returns its error. Sockets
// that fn creates belong to ns for good, whichever thread uses them later;
// fn's goroutine stays on that thread, so it may also block (net.Dial).
func (ns *netns) do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		if err := unix.Setns(ns.fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// listenTCP opens a plain-TCP (no MPTCP, which takes no TCP_SAVE_SYN)
// listener on addr inside ns and lets prepare see its fd before any
// connection arrives; cleanup closes it.
func (ns *netns) listenTCP(t testing.TB, addr string, prepare func(fd int) error) *net.TCPListener {
	t.Helper()
	var ln *net.TCPListener
	err := ns.do(func() error {
		var lc net.ListenConfig
		lc.SetMultipathTCP(false)
		l, err := lc.Listen(context.Background(), "tcp4", addr)
		if err != nil {
			return err
		}
		ln = l.(*net.TCPListener)
		return nil
	})
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	if prepare != nil {
		if err := prepare(sysFD(t, ln)); err != nil {
			t.Fatalf("PrepareListener: %v", err)
		}
	}
	return ln
}

// dialTCP connects to addr from inside ns (plain TCP); cleanup closes the
// connection with SO_LINGER 0, so it leaves no FIN_WAIT behind.
func (ns *netns) dialTCP(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	var c *net.TCPConn
	err := ns.do(func() error {
		d := net.Dialer{Timeout: 5 * time.Second}
		d.SetMultipathTCP(false)
		conn, err := d.Dial("tcp4", addr)
		if err != nil {
			return err
		}
		c = conn.(*net.TCPConn)
		return nil
	})
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.SetLinger(0); c.Close() })
	return c
}

// acceptTCP accepts one connection within 5 s; cleanup closes it with
// SO_LINGER 0.
func acceptTCP(t testing.TB, ln *net.TCPListener) *net.TCPConn {
	t.Helper()
	ln.SetDeadline(time.Now().Add(5 * time.Second))
	c, err := ln.AcceptTCP()
	if err != nil {
		t.Fatalf("accept: %v", err)
	}
	t.Cleanup(func() { c.SetLinger(0); c.Close() })
	return c
}

// openTUN creates the TUN device name (IFF_TUN|IFF_NO_PI: bare IP packets)
// inside ns, gives it addr/prefix, brings it up and returns its fd as a
// non-blocking *os.File (reads and writes go through the runtime poller, so
// deadlines work and Close unblocks a reader). The device goes with the
// file, which cleanup closes. No /dev/net/tun skips the test (fails it under
// BRINK_REQUIRE_EBPF=1).
func (ns *netns) openTUN(t testing.TB, name string, addr net.IP, prefix int) *os.File {
	t.Helper()
	var f *os.File
	err := ns.do(func() error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("opening /dev/net/tun: %w", err)
		}
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			unix.Close(fd)
			return err
		}
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			return fmt.Errorf("TUNSETIFF %s: %w", name, err)
		}
		f = os.NewFile(uintptr(fd), "/dev/net/tun:"+name)
		if err := ifconfig(name, addr, prefix); err != nil {
			f.Close()
			return err
		}
		return nil
	})
	if err != nil {
		if (errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENODEV)) && !requireEBPF {
			t.Skipf("no TUN devices here: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// ifconfig sets name's IPv4 address and netmask and brings it up, in the
// calling thread's network namespace (SIOCSIFADDR etc.: no netlink needed).
func ifconfig(name string, addr net.IP, prefix int) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := ifr.SetInet4Addr(addr.To4()); err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFADDR, ifr); err != nil {
		return fmt.Errorf("SIOCSIFADDR %s %s: %w", name, addr, err)
	}
	if err := ifr.SetInet4Addr(net.IP(net.CIDRMask(prefix, 32))); err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFNETMASK, ifr); err != nil {
		return fmt.Errorf("SIOCSIFNETMASK %s /%d: %w", name, prefix, err)
	}
	return linkUp(name)
}
