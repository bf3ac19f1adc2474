//go:build ignore

// sockops.c: brink's connection-signal capture, one cgroup v2 sockops program.
//
// For every passive TCP connection of a listener in the cgroup it records,
// in the slot of the accepted socket's cookie in the BPF_F_MMAPABLE array
// "slots" (userspace reads it from its mapping, with no bpf(2) call), or,
// when that slot holds another connection's unread record, in
// BPF_MAP_TYPE_SK_STORAGE on the socket (userspace looks it up with the
// socket's fd as the key). The slot also holds the connection's netns cookie
// and addresses, and the BPF_F_MMAPABLE array "addr_index", indexed by a
// hash of the remote address, remote port and local port (addr_hash; not
// the local address, which userspace may know only as the listener's
// 0.0.0.0 or ::), holds the cookie of the last connection established with
// that hash: userspace that knows the accepted socket's addresses finds its
// slot with no system call at all, and verifies the addresses stored there;
// otherwise it asks the socket for its cookie (getsockopt SO_COOKIE). The
// record:
//
//   syn_ns          bpf_ktime_get_ns() when the kernel processed the SYN:
//                   BPF_SOCK_OPS_TIMEOUT_INIT on the request socket, or, in
//                   syncookie mode (no request socket is kept and TIMEOUT_INIT
//                   does not run), the first SYN-ACK callback
//   synack_ns       when the first SYN-ACK was built (BPF_SOCK_OPS_HDR_OPT_LEN_CB
//                   with skb_tcp_flags SYN|ACK on the request socket)
//   synack_last_ns  when the last one was (SYN-ACK retransmits), synacks: how many
//   ack_ns          BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB: the final ACK arrived
//   srtt/mdev/rtt_min/mss/total_retrans   the sock_ops fields at that moment
//                   (mdev from the tcp_sock through bpf_skc_to_tcp_sock)
//   syn[]           the SYN's IP and TCP headers, from
//                   bpf_getsockopt(SOL_TCP, TCP_BPF_SYN_IP) in the SYN-ACK
//                   callback, where the kernel hands the program the SYN it is
//                   answering, syncookie mode included; or, for a listener
//                   that predates the program but has TCP_SAVE_SYN, from the
//                   child's saved SYN at PASSIVE_ESTABLISHED
//
// The request-socket callbacks cannot reach the accepted socket (it does not
// exist yet, and in syncookie mode the request socket is gone before the ACK),
// so they keep their part in an LRU hash keyed by netns cookie and 4-tuple
// (addresses as IPv6, IPv4 mapped, so a dual-stack listener's AF_INET request
// and AF_INET6 child agree); PASSIVE_ESTABLISHED moves it into the slot (or
// sk_storage) and deletes it. Slot writes use compare-and-swaps (BPF
// atomics: -mcpu=v3, Linux 5.12+). No XDP/TC program and no per-interface attachment is needed.
//
// The SYN-ACK callback runs only for listeners with
// BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG, which the program sets in
// BPF_SOCK_OPS_TCP_LISTEN_CB: listeners must call listen() after the program
// is attached (their sk_storage gets F_LISTENER so userspace can tell). The
// accepted socket inherits the flag; PASSIVE_ESTABLISHED clears it again so
// established connections pay nothing per packet. The program never reserves
// option space, so packets are unchanged, and it always returns 1 (sockops
// "ok") with reply untouched (0: the kernel's defaults for TIMEOUT_INIT etc.).
//
// BPF_SOCK_OPS_RTT_CB_FLAG is not set: userspace reads the record once, right
// after accept, before the socket has sent data, so no later RTT sample could
// reach it, and the callback would cost a program run per ACK for nothing.
//
// Keep struct record in step with record.go (recordSize, the offsets), struct
// slot and addr_hash with slots_linux.go.

#include <linux/bpf.h>
#include "bpf_helpers.h"
#include "bpf_endian.h"

#define AF_INET 2
#define AF_INET6 10
#define SOL_TCP 6
#define ENOSPC 28
#define TCPHDR_SYN 0x02
#define TCPHDR_ACK 0x10

// The one kernel-internal field read (the RTT variance is not in the
// sock_ops context); CO-RE relocates its offset against the kernel's BTF at
// load time, so no vmlinux.h is needed.
struct tcp_sock {
	__u32 mdev_us; // RTT variance << 2, µs
} __attribute__((preserve_access_index));

#define RECORD_VERSION 1
// IPv4 (max 60) or IPv6 (40 + extension headers) plus TCP (max 60).
#define SYN_MAX 128
// In-flight handshakes remembered between SYN-ACK and ACK. Under a SYN flood
// in syncookie mode the oldest are evicted and those connections lose their
// SYN record (about 200 bytes an entry: some 3 MiB).
#define PENDING_MAX 16384
// Slots of the mmapped array (a power of two): 16384 of 248 bytes, 3.9 MiB;
// as many addr_index entries of 8 bytes (128 KiB).
#define SLOTS 16384
// A full slot that userspace has not read for this long may be reused: its
// connection waited in the accept queue that long, or is not brink's.
#define SLOT_STALE_NS (5ULL * 1000 * 1000 * 1000)

enum {
	F_SYN = 1 << 0,         // syn[] holds the SYN's IP+TCP headers
	F_TRUNCATED = 1 << 1,   // they were longer than SYN_MAX
	F_COOKIE = 1 << 2,      // the SYN was answered with a syncookie
	F_ESTABLISHED = 1 << 3, // PASSIVE_ESTABLISHED ran: ack_ns and the RTT figures are set
	F_LISTENER = 1 << 4,    // a listening socket that the program instruments
	F_REQUEST = 1 << 5,     // a request-socket callback saw the handshake
};

struct record {
	__u64 syn_ns;
	__u64 synack_ns;
	__u64 synack_last_ns;
	__u64 ack_ns;
	__u32 srtt_us;
	__u32 mdev_us;
	__u32 rtt_min_us;
	__u32 mss;
	__u32 total_retrans;
	__u16 synacks;
	__u8 version;
	__u8 flags;
	__u16 syn_len;
	__u16 pad0;
	__u32 pad1;
	__u8 syn[SYN_MAX];
};

// Slot states, in the low 2 bits of slot.state; the upper 30 bits count the
// slot's writes, so that userspace detects a write that overlapped its read.
enum {
	SLOT_FREE = 0,
	SLOT_WRITING = 1,
	SLOT_FULL = 2,     // written, not read yet
	SLOT_CONSUMED = 3, // read by userspace (still readable, reusable)
};

// One entry of the mmapped array: the record of the socket whose cookie it
// holds, and that socket's netns cookie and addresses (IPv6, IPv4 mapped, as
// in struct tuple; ports in host byte order). The program claims a slot with
// a compare-and-swap on state (so two writers never share one) and publishes
// it with another; userspace reads it with plain loads and validates (and
// marks it consumed) with a compare-and-swap.
struct slot {
	__u32 state;
	__u16 lport;
	__u16 rport;
	__u64 cookie;
	__u64 netns;
	__u32 laddr[4];
	__u32 raddr[4];
	struct record rec;
};

struct tuple {
	__u64 netns;
	__u32 laddr[4];
	__u32 raddr[4];
	__u32 lport;
	__u32 rport;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PENDING_MAX);
	__type(key, struct tuple);
	__type(value, struct record);
} pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct record);
} records SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, SLOTS);
	__type(key, __u32);
	__type(value, struct slot);
} slots SEC(".maps");

// addr_index[addr_hash(t)] is the cookie of the last socket established
// with that hash; its record is (normally) in that cookie's slot. A plain
// 64-bit store, so userspace never sees half of one.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} addr_index SEC(".maps");

// ctx reads a sock_ops context field with a volatile load.
#define ctx(skops, field) (*(volatile __u32 *)&(skops)->field)

static __always_inline int make_tuple(struct bpf_sock_ops *skops, struct tuple *t)
{
	// Every address field is read, whatever the family, before branching:
	// the verifier rejects a context access through a computed pointer,
	// which is what clang makes of two branches loading different fields
	// into the same place. Volatile loads are neither sunk into the
	// branches nor dropped.
	__u32 family = ctx(skops, family);
	__u32 l4 = ctx(skops, local_ip4), r4 = ctx(skops, remote_ip4);
	__u32 l0 = ctx(skops, local_ip6[0]), l1 = ctx(skops, local_ip6[1]);
	__u32 l2 = ctx(skops, local_ip6[2]), l3 = ctx(skops, local_ip6[3]);
	__u32 r0 = ctx(skops, remote_ip6[0]), r1 = ctx(skops, remote_ip6[1]);
	__u32 r2 = ctx(skops, remote_ip6[2]), r3 = ctx(skops, remote_ip6[3]);

	t->netns = bpf_get_netns_cookie(skops);
	t->lport = ctx(skops, local_port);
	t->rport = ctx(skops, remote_port);
	if (family == AF_INET) {
		// IPv4-mapped, as the AF_INET6 child of a dual-stack listener has it.
		t->laddr[2] = bpf_htonl(0xffff);
		t->laddr[3] = l4;
		t->raddr[2] = bpf_htonl(0xffff);
		t->raddr[3] = r4;
		return 0;
	}
	if (family == AF_INET6) {
		t->laddr[0] = l0;
		t->laddr[1] = l1;
		t->laddr[2] = l2;
		t->laddr[3] = l3;
		t->raddr[0] = r0;
		t->raddr[1] = r1;
		t->raddr[2] = r2;
		t->raddr[3] = r3;
		return 0;
	}
	return -1;
}

// mix and addr_hash: keep in step with addrHash in slots_linux.go
// (TestAddrHashAgrees runs both). Multiply-xorshift rounds over the words
// as they lie in memory (little-endian loads of network-order addresses),
// then murmur3's finalizer, so every input bit reaches the low bits that
// pick the entry.
static __always_inline __u32 mix(__u32 h, __u32 w)
{
	h = (h ^ w) * 0x9e3779b1;
	return h ^ (h >> 15);
}

// addr_hash hashes t's remote address, remote port and local port (t's
// ports as the context has them: remote in network byte order in the upper
// 16 bits, local in host order).
static __always_inline __u32 addr_hash(const struct tuple *t)
{
	__u32 h = 0;

	h = mix(h, t->raddr[0]);
	h = mix(h, t->raddr[1]);
	h = mix(h, t->raddr[2]);
	h = mix(h, t->raddr[3]);
	h = mix(h, (t->lport << 16) | bpf_ntohl(t->rport));
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	return h ^ (h >> 16);
}

// start_request (re)starts the pending record of a handshake.
static __always_inline struct record *start_request(struct tuple *t, __u64 now, __u8 flags)
{
	struct record r = {};

	r.version = RECORD_VERSION;
	r.flags = F_REQUEST | flags;
	r.syn_ns = now;
	if (bpf_map_update_elem(&pending, t, &r, BPF_ANY))
		return 0;
	return bpf_map_lookup_elem(&pending, t);
}

static __always_inline void save_syn(struct bpf_sock_ops *skops, struct record *r)
{
	long n = bpf_getsockopt(skops, SOL_TCP, TCP_BPF_SYN_IP, r->syn, SYN_MAX);

	if (n > 0) {
		r->syn_len = n;
		r->flags |= F_SYN;
	} else if (n == -ENOSPC) {
		r->syn_len = SYN_MAX;
		r->flags |= F_SYN | F_TRUNCATED;
	}
}

// on_synack runs while a SYN-ACK's header is sized, on the request socket.
static __always_inline void on_synack(struct bpf_sock_ops *skops)
{
	struct tuple t = {};
	struct record *r;
	__u64 now = bpf_ktime_get_ns();
	int cookie = skops->args[0] & BPF_WRITE_HDR_TCP_SYNACK_COOKIE;

	if (make_tuple(skops, &t))
		return;
	r = cookie ? 0 : bpf_map_lookup_elem(&pending, &t);
	if (!r)
		r = start_request(&t, now, cookie ? F_COOKIE : 0);
	if (!r)
		return;
	if (r->synacks == 0) {
		// Only the first SYN-ACK carries the SYN (syn_skb); retransmits
		// are sent from a timer.
		r->synack_ns = now;
		save_syn(skops, r);
	}
	r->synack_last_ns = now;
	r->synacks++;
}

// claim_slot returns the slot for the socket cookie, claimed for writing,
// or 0 when it holds another connection's unread, recent record (or another
// program run is writing it).
static __always_inline struct slot *claim_slot(__u64 cookie, __u64 now, __u32 *state)
{
	__u32 idx = cookie & (SLOTS - 1);
	struct slot *s = bpf_map_lookup_elem(&slots, &idx);
	__u32 v, nv;

	if (!s)
		return 0;
	v = *(volatile __u32 *)&s->state;
	if ((v & 3) == SLOT_WRITING)
		return 0;
	if ((v & 3) == SLOT_FULL && now - s->rec.ack_ns < SLOT_STALE_NS)
		return 0;
	nv = (((v >> 2) + 1) << 2) | SLOT_WRITING;
	if (__sync_val_compare_and_swap(&s->state, v, nv) != v)
		return 0;
	*state = nv;
	return s;
}

// fill_record writes the accepted socket's record into st, moving the
// handshake's pending part (key t, when have_t) into it.
static __always_inline void fill_record(struct bpf_sock_ops *skops, struct bpf_sock *sk,
					struct record *st, __u64 now, struct tuple *t, int have_t)
{
	struct record *r;
	struct tcp_sock *tp;

	if (have_t) {
		r = bpf_map_lookup_elem(&pending, t);
		if (r) {
			*st = *r;
			bpf_map_delete_elem(&pending, t);
		}
	}
	st->version = RECORD_VERSION;
	st->ack_ns = now;
	st->srtt_us = skops->srtt_us >> 3;
	tp = bpf_skc_to_tcp_sock(sk);
	if (tp)
		st->mdev_us = tp->mdev_us >> 2;
	st->rtt_min_us = skops->rtt_min;
	st->mss = skops->mss_cache;
	st->total_retrans = skops->total_retrans;
	st->flags |= F_ESTABLISHED;
	if (!(st->flags & F_SYN))
		save_syn(skops, st); // the child's saved SYN, when the listener has TCP_SAVE_SYN
}

// on_established runs on the accepted socket when the final ACK arrives. The
// record goes into the socket cookie's slot of the mmapped array, which
// userspace reads without a bpf(2) call; only when that slot is taken does it
// go into the socket's sk_storage. Either way addr_index then points at the
// cookie (after the slot is published, so that a reader led there finds it
// full): a reader led by it to a slot that holds another cookie (the record
// went to sk_storage) or other addresses (another connection with the same
// hash came later) falls back to SO_COOKIE. Two live connections never share
// netns and addresses, so an entry whose slot matches them is this
// connection's.
static __always_inline void on_established(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk = skops->sk;
	struct tuple t = {};
	struct record *st;
	struct slot *s;
	__u64 now = bpf_ktime_get_ns();
	__u64 cookie, *ie;
	__u32 state = 0, h;
	int have_t;

	if (!sk)
		return;
	have_t = !make_tuple(skops, &t);
	cookie = bpf_get_socket_cookie(skops);
	s = claim_slot(cookie, now, &state);
	if (s) {
		__builtin_memset(&s->rec, 0, sizeof(s->rec));
		s->cookie = cookie;
		s->netns = t.netns;
		s->lport = t.lport;
		s->rport = bpf_ntohl(t.rport);
		s->laddr[0] = t.laddr[0];
		s->laddr[1] = t.laddr[1];
		s->laddr[2] = t.laddr[2];
		s->laddr[3] = t.laddr[3];
		s->raddr[0] = t.raddr[0];
		s->raddr[1] = t.raddr[1];
		s->raddr[2] = t.raddr[2];
		s->raddr[3] = t.raddr[3];
		fill_record(skops, sk, &s->rec, now, &t, have_t);
		__sync_val_compare_and_swap(&s->state, state, (state & ~3) | SLOT_FULL);
	} else {
		st = bpf_sk_storage_get(&records, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (st)
			fill_record(skops, sk, st, now, &t, have_t);
	}
	if (have_t) {
		h = addr_hash(&t) & (SLOTS - 1);
		ie = bpf_map_lookup_elem(&addr_index, &h);
		if (ie)
			*(volatile __u64 *)ie = cookie;
	}
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags & ~BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
}

static __always_inline void on_listen(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk = skops->sk;
	struct record *st;

	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
	if (!sk)
		return;
	st = bpf_sk_storage_get(&records, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st)
		return;
	st->version = RECORD_VERSION;
	st->flags |= F_LISTENER;
}

SEC("sockops")
int tcpsig_sockops(struct bpf_sock_ops *skops)
{
	struct tuple t = {};

	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_LISTEN_CB:
		on_listen(skops);
		break;
	case BPF_SOCK_OPS_TIMEOUT_INIT:
		// A fresh request socket (not in syncookie mode). Active opens
		// run it on a full socket: not ours.
		if (!skops->is_fullsock && !make_tuple(skops, &t))
			start_request(&t, bpf_ktime_get_ns(), 0);
		break;
	case BPF_SOCK_OPS_HDR_OPT_LEN_CB:
		if (!skops->is_fullsock &&
		    (skops->skb_tcp_flags & (TCPHDR_SYN | TCPHDR_ACK)) == (TCPHDR_SYN | TCPHDR_ACK))
			on_synack(skops);
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		on_established(skops);
		break;
	}
	return 1;
}

char __license[] SEC("license") = "Dual MIT/GPL";
