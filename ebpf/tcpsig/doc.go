// Package tcpsig captures a TCP connection's signal (connsig.Signal) right
// after accept: the SYN's headers, the handshake's kernel times and the
// kernel's RTT figures. It is named tcpsig so that it does not shadow
// github.com/cilium/ebpf.
//
// # Modes
//
// eBPF (Open, *Capture): one cgroup v2 sockops program (sockops.c; bpf2go
// output committed, so go build needs no clang) records, per passive
// connection, a record for the accepted socket (where it is kept: below):
//
//   - the SYN's time: BPF_SOCK_OPS_TIMEOUT_INIT, the first callback on the
//     new request socket, in the softirq that processes the SYN;
//   - the SYN-ACK's time and the SYN's IP and TCP headers:
//     BPF_SOCK_OPS_HDR_OPT_LEN_CB while the SYN-ACK is built (enabled on the
//     listener with BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG at
//     BPF_SOCK_OPS_TCP_LISTEN_CB), where bpf_getsockopt(TCP_BPF_SYN_IP) hands
//     over the SYN being answered — also in syncookie mode, where no request
//     socket is kept, TIMEOUT_INIT does not run (the SYN's time is then the
//     SYN-ACK's) and TCP_SAVED_SYN has nothing;
//   - the final ACK's time and srtt, rtt_min, mss_cache, total_retrans
//     (and mdev from the tcp_sock, via bpf_skc_to_tcp_sock and CO-RE):
//     BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB on the new socket.
//
// The request-socket callbacks keep their part in an LRU hash keyed by netns
// cookie and 4-tuple until PASSIVE_ESTABLISHED moves it into the record's
// place: the slot (socket cookie mod 16384) of a BPF_F_MMAPABLE array that
// Open mmaps, or, when that slot holds another connection's unread record
// younger than 5 s, BPF_MAP_TYPE_SK_STORAGE on the socket. The slot also
// holds the connection's netns cookie and addresses, and PASSIVE_ESTABLISHED
// then stores the socket's cookie in a second mmapped array, addr_index, at
// a hash of the remote address, remote port and local port (not the local
// address: the loop knows only its listener's, which may be 0.0.0.0 or ::;
// IPv4 is hashed IPv4-mapped, as a dual-stack listener's child has it).
//
// Three ways to the record, cheapest first:
//
//   - CaptureAddr (the loop calls it, with the listener's and the peer's
//     addresses from accept): addr_index gives the cookie, the cookie the
//     slot; the slot's netns (Open's own, from SO_NETNS_COOKIE), remote
//     address and port, local port and, unless the caller's is unspecified,
//     local address must match. No system call: 0.13 µs in
//     BenchmarkCapture/ebpf-addr. Any mismatch (no entry; a later connection
//     with the same hash took it; the record went to sk_storage; another
//     netns) goes on as Capture. Two live connections never share netns and
//     addresses, so a matching slot is this connection's; the one exception
//     is a connection the peer reset while it waited in the accept queue,
//     followed by a new one from the same address and port: the dead one
//     gets the new one's record.
//   - Capture: getsockopt SO_COOKIE, then the cookie's slot (1.45 µs, almost
//     all of it the system call on this VM).
//   - Either, when the slot was taken: the bpf(2) lookup of the sk_storage
//     keyed by the fd (2.3 µs, plus the storage's allocation and RCU free).
//
// A slot is read with plain loads and validated with one compare-and-swap on
// its state (the program claims and publishes a slot with compare-and-swaps
// and counts its writes there, so a read that a write overlapped is detected
// and never used). A record whose slot was reused because it went unread for
// 5 s (its connection waited that long in the accept queue, and 16384 newer
// sockets took cookies meanwhile) is lost: that connection gets the
// fallback. No XDP/TC program and no per-interface attachment are needed:
// the SYN-ACK callback sees the SYN even with syncookies.
// BPF_SOCK_OPS_PARSE_HDR_OPT_CB is not used (on the final ACK it cannot see
// the SYN), nor BPF_SOCK_OPS_RTT_CB (the record is read once, at accept,
// before any later RTT sample exists; the callback would cost a program run
// per ACK for nothing).
//
// Fallback (Fallback): TCP_SAVE_SYN on the listener (PrepareListener), then
// getsockopt TCP_SAVED_SYN and TCP_INFO on the accepted socket, as raw
// system calls (neither blocks). Never TCP_DEFER_ACCEPT. Those two calls are
// its floor: a getsockopt that does nothing (SO_TYPE) costs about 1.3 µs on
// the 2-vCPU VM of bench/RESULTS-capture.md, so 2.6 of the fallback's 3.1 µs
// are system call entry and exit; there is no one call that returns both.
//
// What each mode fills (see the connsig package doc for the JSON names):
//
//	field                          eBPF                        fallback
//	SYNTime, SYNACKTime, ACKTime   yes (CLOCK_MONOTONIC ns)    no (0)
//	HandshakeRTT                   ACK - SYN-ACK, one SYN-ACK  no (0)
//	RTT, RTTVar, MinRTT, MSS,      at PASSIVE_ESTABLISHED      TCP_INFO at Capture
//	Retransmits
//	SYN fields (TTL, DF, window,   yes, syncookies too         yes, not with syncookies
//	options, MSS, wscale, ...)
//	SYNCookie                      yes                         no (false)
//
// Right after accept the fallback's RTT (tcpi_rtt) is usually the kernel's
// own SYN-ACK→ACK sample, the quantity HandshakeRTT measures, but not after
// a SYN-ACK retransmit or with syncookies: the sample then comes from the
// timestamp echo at millisecond granularity (on loopback with syncookies
// forced the kernel reported 44 ms where the eBPF handshake RTT was 30 µs).
// So the fallback leaves HandshakeRTT 0 instead of passing RTT off as it.
//
// # Order and scope
//
// The SYN-ACK callback runs only for listeners that call listen() after the
// program is attached: open the capturer (Auto) before the listening
// sockets. PrepareListener notices a listener that predates it, logs that,
// and sets TCP_SAVE_SYN so its connections still get SYN headers (read by
// the program from the new socket) and ACK-side figures. The program
// instruments the sockets of every process in Config.CgroupPath (default:
// brink's own cgroup) and of its descendants. The listener must be plain TCP:
// Go's net.Listen uses MPTCP by default since Go 1.24, and an MPTCP socket
// takes no TCP_SAVE_SYN (ENOPROTOOPT) and is not the TCP subflow that holds
// the record (ListenConfig.SetMultipathTCP(false) avoids it).
//
// A connection with no record (its handshake entry evicted from the LRU under
// a SYN flood, or its socket outside the cgroup) is captured by the fallback
// path instead, per connection.
//
// # Contracts
//
// Allocation: Capture (both modes), CaptureAddr and the record decoder
// allocate nothing in steady state (the bpf(2) lookup buffers are pooled;
// the slots and the index are mapped once by Open and unmapped by a cleanup
// once the Capture is unreachable, so a Capture racing Close never faults).
// Concurrency: Capture, CaptureAddr and PrepareListener are safe to call
// from concurrently running loops; Open, Auto and Close are cold. Buffers:
// they keep no reference to the Signal. Errors: they return sentinels or a
// unix.Errno, unwrapped.
//
// Auto returns the *Capture itself (or a Fallback), so a caller that holds
// it as a Capturer reaches CaptureAddr with a type assertion to
// connsig.AddrCapturer, as the loop does, and as Listener (the fasthttp
// path's wrapper) does with the addresses the standard library got at
// accept; the Fallback has no CaptureAddr (its two getsockopt calls need
// the fd whatever the addresses).
//
// # Metrics
//
//	brink_ebpf_enabled                      gauge: 1 while an eBPF Capture is open
//	brink_ebpf_lookups_total{path}          eBPF records found: addr (CaptureAddr, no system call), cookie (SO_COOKIE), storage (bpf(2))
//	brink_signal_captures_total{source}     Capture calls by connsig.Signal.CaptureSource: ebpf, fallback, none
//	brink_tcp_handshake_rtt_seconds         histogram of HandshakeRTT (eBPF mode)
//	brink_tcp_rtt_seconds                   histogram of the kernel's smoothed RTT at accept (both modes)
//
// # Privileges and tests
//
// Open needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON (bpf_skc_to_tcp_sock), or
// root. Its errors wrap ebpf.ErrNotSupported or EPERM/EACCES when the kernel
// or the privileges do not allow it (Auto then falls back); a verifier
// rejection is a bug and is reported as such.
//
// The kernel tests need root: each creates a child cgroup under the cgroup2
// mount, moves the test process into it and attaches the program there, so
// only that process's sockets ever meet it; the link is fd-based, so nothing
// stays attached if the process dies. Syncookie and dual-stack cases run in a
// private network namespace. Without root or eBPF they skip with the reason,
// and fail instead under BRINK_REQUIRE_EBPF=1 (.ci/run sets it).
package tcpsig
