//go:build linux && (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64)

package tcpsig

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/features"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/brink-edge/brink/connsig"
)

// Capture is the eBPF capturer: the sockops program attached to a cgroup
// and the maps it fills (the mmapped slots, and sk_storage). Its methods are safe for concurrent use.
type Capture struct {
	objs     tcpsigObjects
	link     link.Link
	cgroup   string
	log      *slog.Logger
	fallback Fallback
	slots    *slots
	netns    uint64 // this process's netns cookie; 0: CaptureAddr is Capture
	closed   atomic.Bool
	bufs     sync.Pool // *lookupBuf
	close    sync.Once
	closeErr error
}

// lookupBuf holds one Map.Lookup's key and value, pooled so that Capture
// neither allocates nor shares buffers between loops.
type lookupBuf struct {
	key uint32
	val [recordSize]byte
}

var (
	_ connsig.Capturer         = (*Capture)(nil)
	_ connsig.AddrCapturer     = (*Capture)(nil)
	_ connsig.ListenerPreparer = (*Capture)(nil)
)

// probe caches the feature probe: the kernel answer does not change.
var probe = sync.OnceValue(func() error {
	checks := []struct {
		what string
		err  func() error
	}{
		{"sockops programs", func() error { return features.HaveProgramType(ebpf.SockOps) }},
		{"sk_storage maps", func() error { return features.HaveMapType(ebpf.SkStorage) }},
		{"LRU hash maps", func() error { return features.HaveMapType(ebpf.LRUHash) }},
		{"mmapable array maps", func() error { return features.HaveMapFlag(features.BPF_F_MMAPABLE) }},
		{"bpf_get_socket_cookie in sockops", func() error { return features.HaveProgramHelper(ebpf.SockOps, asm.FnGetSocketCookie) }},
		{"bpf_sk_storage_get in sockops", func() error { return features.HaveProgramHelper(ebpf.SockOps, asm.FnSkStorageGet) }},
		{"bpf_get_netns_cookie in sockops", func() error { return features.HaveProgramHelper(ebpf.SockOps, asm.FnGetNetnsCookie) }},
		{"bpf_skc_to_tcp_sock in sockops", func() error { return features.HaveProgramHelper(ebpf.SockOps, asm.FnSkcToTcpSock) }},
	}
	for _, c := range checks {
		if err := c.err(); err != nil {
			return fmt.Errorf("probing %s: %w", c.what, err)
		}
	}
	return nil
})

// Open loads the sockops program, attaches it to cfg's cgroup and returns
// the capturer. It probes the kernel once per process (github.com/cilium/ebpf/features).
// Errors wrap ebpf.ErrNotSupported when the kernel lacks a feature and
// unix.EPERM (or EACCES) without the privileges (CAP_BPF and CAP_NET_ADMIN,
// or root); callers fall back then (Auto does).
//
// Only listeners that call listen() after Open get the SYN-ACK callback that
// records SYN headers and SYN-ACK times: open the capturer before the
// listening sockets (PrepareListener notices a listener that predates it).
func Open(cfg Config) (*Capture, error) {
	log := cfg.logger()
	cgroup := cfg.CgroupPath
	if cgroup == "" {
		cgroup = ownCgroup()
	}
	if err := probe(); err != nil {
		return nil, err
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("removing the memlock rlimit: %w", err)
	}
	c := &Capture{cgroup: cgroup, log: log}
	c.bufs.New = func() any { return new(lookupBuf) }
	if err := loadTcpsigObjects(&c.objs, nil); err != nil {
		return nil, fmt.Errorf("loading the sockops program: %w", err)
	}
	l, err := link.AttachCgroup(link.CgroupOptions{
		Path:    cgroup,
		Attach:  ebpf.AttachCGroupSockOps,
		Program: c.objs.TcpsigSockops,
	})
	if err != nil {
		c.objs.Close()
		return nil, fmt.Errorf("attaching the sockops program to cgroup %s: %w", cgroup, err)
	}
	c.link = l
	if c.slots, err = mapSlots(c, c.objs.Slots, c.objs.AddrIndex); err != nil {
		c.link.Close()
		c.objs.Close()
		return nil, err
	}
	// CaptureAddr matches records to this netns only (the loop's sockets);
	// without SO_NETNS_COOKIE (Linux < 5.14) it does what Capture does.
	if c.netns, err = netnsCookie(); err != nil {
		log.Info("tcpsig: no SO_NETNS_COOKIE; records are found by socket cookie only", "err", err)
	}
	ebpfEnabled.Set(1)
	return c, nil
}

// Cgroup returns the cgroup directory the program is attached to.
func (c *Capture) Cgroup() string { return c.cgroup }

// Mode returns connsig.SourceEBPF.
func (c *Capture) Mode() connsig.Source { return connsig.SourceEBPF }

// Capture fills s (after s.Reset) from the record the program keeps for the
// accepted socket fd: in its cookie's slot of the mmapped array (one
// getsockopt), else (the slot was taken) in its sk_storage (one bpf(2)
// lookup). Without a record (the connection's listener predates
// Open and its handshake entry was evicted, or the socket is not in the
// cgroup) it falls back to TCP_SAVED_SYN and TCP_INFO for this connection.
// It allocates nothing.
func (c *Capture) Capture(fd int, s *connsig.Signal) error {
	var rec [recordSize]byte
	if cookie, err := socketCookie(fd); err == nil && !c.closed.Load() && c.slots.read(cookie, &rec) {
		lookupsCookie.Inc()
		return c.decode(fd, &rec, s)
	}
	return c.captureStorage(fd, s)
}

// CaptureAddr is Capture for a socket whose addresses the caller knows (the
// loop has them from accept): local may be the listener's address, with an
// unspecified IP (0.0.0.0, ::) when it listens on all of them; IPv4 and
// IPv4-mapped IPv6 addresses are the same. It finds the record through the
// program's address index, with no system call, and checks the addresses
// (and the network namespace) stored beside it; when they do not match (no
// such entry, another connection with the same hash came later, or the
// record went to sk_storage) it does what Capture does. It allocates
// nothing.
//
// One imprecision: a connection that the peer reset while it waited in the
// accept queue, followed by a new connection from the same address and
// port, gets the new connection's record (the dead one's first read
// fails anyway).
func (c *Capture) CaptureAddr(fd int, local, remote netip.AddrPort, s *connsig.Signal) error {
	if c.netns != 0 && remote.IsValid() && !c.closed.Load() {
		k := makeAddrKey(c.netns, local, remote)
		var rec [recordSize]byte
		if c.slots.readAddr(&k, &rec) {
			lookupsAddr.Inc()
			return c.decode(fd, &rec, s)
		}
	}
	return c.Capture(fd, s)
}

// decode fills s from rec, a record copied from a slot.
func (c *Capture) decode(fd int, rec *[recordSize]byte, s *connsig.Signal) error {
	s.Reset()
	if err := decodeRecord(rec[:], s); err != nil {
		return c.fallback.Capture(fd, s)
	}
	observe(s)
	return nil
}

// captureStorage fills s from the socket's sk_storage record, or from the
// fallback when it has none.
func (c *Capture) captureStorage(fd int, s *connsig.Signal) error {
	b := c.bufs.Get().(*lookupBuf)
	b.key = uint32(fd)
	err := c.objs.Records.Lookup(&b.key, &b.val)
	if err == nil {
		s.Reset()
		err = decodeRecord(b.val[:], s)
	}
	c.bufs.Put(b)
	if err != nil {
		// ErrKeyNotExist, ErrNotEstablished, or the socket is gone (EBADF).
		return c.fallback.Capture(fd, s)
	}
	lookupsStorage.Inc()
	observe(s)
	return nil
}

// PrepareListener checks that the program instruments the listening socket
// fd. When it does not (fd called listen() before Open), it sets
// TCP_SAVE_SYN on it, so that the program (and the per-connection fallback)
// still get the SYN headers of its non-syncookie connections, and logs once
// per listener what is missing.
func (c *Capture) PrepareListener(fd int) error {
	if c.instrumented(fd) {
		return nil
	}
	c.log.Warn("tcpsig: listener predates the eBPF program: SYN-ACK times and syncookie SYNs of its connections are not captured; SYN headers come from TCP_SAVE_SYN",
		"fd", fd)
	return c.fallback.PrepareListener(fd)
}

// instrumented reports whether the program marked fd as a listener it
// instruments (BPF_SOCK_OPS_TCP_LISTEN_CB ran for it).
func (c *Capture) instrumented(fd int) bool {
	b := c.bufs.Get().(*lookupBuf)
	defer c.bufs.Put(b)
	b.key = uint32(fd)
	return c.objs.Records.Lookup(&b.key, &b.val) == nil && b.val[offFlags]&flagListener != 0
}

// Close detaches the program and frees the maps; records of open
// connections go with them. It is idempotent.
func (c *Capture) Close() error {
	c.close.Do(func() {
		ebpfEnabled.Set(0)
		c.closed.Store(true)
		c.closeErr = errors.Join(c.link.Close(), c.objs.Close())
	})
	return c.closeErr
}

// ownCgroup returns the calling process's cgroup v2 directory, or
// DefaultCgroupRoot when it cannot be resolved. Cold path.
func ownCgroup() string {
	mount := cgroup2Mount()
	if mount == "" {
		return DefaultCgroupRoot
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return mount
	}
	for line := range strings.Lines(string(b)) {
		if rel, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			dir := filepath.Join(mount, filepath.Clean("/"+rel))
			if st, err := os.Stat(dir); err == nil && st.IsDir() {
				return dir
			}
			return mount
		}
	}
	return mount
}

// isUnavailable reports whether err means "no eBPF here" (a missing kernel
// feature or privilege) rather than a bug. A verifier rejection also comes
// back as EACCES or EPERM, but with the verifier's log: that is a bug in
// sockops.c, never "unavailable" (a load refused for want of privilege is a
// VerifierError too, with an empty log).
func isUnavailable(err error) bool {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) && len(ve.Log) > 0 {
		return false
	}
	return errors.Is(err, ebpf.ErrNotSupported) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES)
}
