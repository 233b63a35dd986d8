// SPDX-License-Identifier: GPL-2.0 OR MIT
// kashim's two cgroup programs. The sock_ops program: when a TCP connection of a process in the
// cgroup becomes established (connect or accept), turn keepalive on with kashim's values, the way
// libkashim.so does for the programs it reaches. The setsockopt program: under force or cap, the
// program's own later keepalive calls on such a connection are rewritten or bounded, as the
// library does. Connections established before the programs were attached are never seen:
// sock_ops callbacks only fire on new events, and only connections the sock_ops program marked
// are touched by the setsockopt program.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

// The socket ABI numbers (no libc headers for the bpf target).
#define SOL_SOCKET 1
#define SO_KEEPALIVE 9
#define IPPROTO_TCP 6
#define TCP_KEEPIDLE 4
#define TCP_KEEPINTVL 5
#define TCP_KEEPCNT 6
#define TCP_USER_TIMEOUT 18
#define BPF_F_NO_PREALLOC (1U << 0)
#define AF_INET 2
#define AF_INET6 10
#define MAX_RULES 32 // kashim_config::scope::MAX_RULES

// Set by the loader (kashim) before the program is loaded, and read back by
// `kashim --ebpf --status` from the program's .rodata map: one struct, so its layout is fixed
// (it must match `Values` in command/src/ebpf/program.rs).
// One KASHIM_ONLY/KASHIM_EXCEPT entry, as kashim-config parsed it.
struct kashim_rule {
	__u32 family;  // 0 any address, 4 IPv4, 6 IPv6
	__u32 addr[4]; // masked, network byte order; IPv4 in addr[0]
	__u32 mask[4];
	__u32 port_lo; // host byte order, inclusive
	__u32 port_hi;
};

struct kashim_values {
	__u32 idle_s;
	__u32 interval_s;
	__u32 count;
	__u32 user_timeout_ms; // 0: leave TCP_USER_TIMEOUT alone
	__u32 force;           // 1: replace a keepalive the program turned on itself
	__u32 force_cap;       // 1: lower a program's own idle/interval/count to kashim's
	__u32 direction;       // 0 both, 1 outbound (connect) only, 2 inbound (accept) only
	__u32 magic;           // KASHIM_MAGIC: tells kashim's .rodata from another program's
	__u32 only_given;      // KASHIM_ONLY set (even if no entry was valid: then nothing matches)
	__u32 only_len;
	__u32 except_len;
	// The keepalive timers of the network namespace (net.ipv4.tcp_keepalive_*), as the loader
	// read them: keepalive on with exactly these counts as not configured by the program.
	__u32 default_idle_s;
	__u32 default_interval_s;
	__u32 default_count;
	struct kashim_rule only[MAX_RULES];
	struct kashim_rule except[MAX_RULES];
};
volatile const struct kashim_values kashim_values = {
	.idle_s = 60, .interval_s = 10, .count = 6, .user_timeout_ms = 0, .force = 0,
	.force_cap = 0, .direction = 0,
	.magic = 0x6b617368, // "kash"
	.default_idle_s = 7200, .default_interval_s = 75, .default_count = 9,
};

// The connections the sock_ops program covered (in direction and scope) under force or cap:
// the setsockopt program acts on these only.
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u32);
} kashim_covered SEC(".maps");

static __always_inline void set_int(struct bpf_sock_ops *skops, int level, int name, int value)
{
	// A failure leaves that one option at its previous value; kashim's probe detects it at
	// attach time, so there is nothing useful to do here.
	bpf_setsockopt(skops, level, name, &value, sizeof(value));
}

// The far end of the connection; an IPv4 peer on an IPv6 socket (::ffff:a.b.c.d) is IPv4.
struct peer {
	__u32 family; // 4 or 6; 0 unknown (matches no rule)
	__u32 addr[4];
	__u32 port;
};

static __always_inline int rule_matches(const volatile struct kashim_rule *r, const struct peer *p)
{
	if (r->family != 0) {
		if (r->family != p->family)
			return 0;
		for (int w = 0; w < 4; w++)
			if ((p->addr[w] & r->mask[w]) != r->addr[w])
				return 0;
	}
	return p->port >= r->port_lo && p->port <= r->port_hi;
}

static __always_inline int list_matches(const volatile struct kashim_rule *rules, __u32 len,
					const struct peer *p)
{
	if (p->family == 0)
		return 0;
	for (int i = 0; i < MAX_RULES; i++) {
		if (i >= len)
			break;
		if (rule_matches(&rules[i], p))
			return 1;
	}
	return 0;
}

// The library's scope rules (kashim_config::scope::Scope::matches): EXCEPT wins over ONLY.
static __always_inline int in_scope(struct bpf_sock_ops *skops)
{
	if (!kashim_values.only_given && kashim_values.except_len == 0)
		return 1;
	struct peer p = {};
	if (skops->family == AF_INET) {
		p.family = 4;
		p.addr[0] = skops->remote_ip4;
	} else if (skops->family == AF_INET6) {
		__u32 a0 = skops->remote_ip6[0], a1 = skops->remote_ip6[1];
		__u32 a2 = skops->remote_ip6[2], a3 = skops->remote_ip6[3];
		if (a0 == 0 && a1 == 0 && a2 == bpf_htonl(0xffff)) {
			p.family = 4;
			p.addr[0] = a3;
		} else {
			p.family = 6;
			p.addr[0] = a0;
			p.addr[1] = a1;
			p.addr[2] = a2;
			p.addr[3] = a3;
		}
	}
	// remote_port holds the port in network byte order in its upper 16 bits (on every
	// architecture); bpf_ntohl turns that into the port.
	p.port = bpf_ntohl(skops->remote_port) & 0xffff;
	if (kashim_values.only_given && !list_matches(kashim_values.only, kashim_values.only_len, &p))
		return 0;
	return !list_matches(kashim_values.except, kashim_values.except_len, &p);
}

// KASHIM_FORCE=cap: the program's own value wins only when it is not longer than kashim's.
static __always_inline void cap_int(struct bpf_sock_ops *skops, int name, int limit)
{
	int value = 0;
	if (bpf_getsockopt(skops, IPPROTO_TCP, name, &value, sizeof(value)) == 0 && value > limit)
		set_int(skops, IPPROTO_TCP, name, limit);
}

// Keepalive on with the namespace's default timers: nobody chose them (the one rule,
// kashim_config::keepalive::judge). A timer that cannot be read counts as chosen.
static __always_inline int default_timers(struct bpf_sock_ops *skops)
{
	int idle = 0, interval = 0, count = 0;
	if (bpf_getsockopt(skops, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) ||
	    bpf_getsockopt(skops, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof(interval)) ||
	    bpf_getsockopt(skops, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count)))
		return 0;
	return idle == kashim_values.default_idle_s &&
	       interval == kashim_values.default_interval_s && count == kashim_values.default_count;
}

SEC("sockops")
int kashim_sockops(struct bpf_sock_ops *skops)
{
	int op = skops->op;
	if (op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	// KASHIM_DIRECTION: connect() makes the active side, accept() the passive one.
	if ((kashim_values.direction == 1 && op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB) ||
	    (kashim_values.direction == 2 && op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB))
		return 1;
	if (!in_scope(skops))
		return 1;
	if ((kashim_values.force || kashim_values.force_cap) && skops->sk)
		bpf_sk_storage_get(&kashim_covered, skops->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!kashim_values.force) {
		// The library's policy: a program that turned keepalive on chose its own settings,
		// unless its timers are the namespace's defaults. If the kernel cannot tell us
		// (bpf_getsockopt SOL_SOCKET needs Linux 6.1), leave the connection alone rather than
		// override a choice we cannot see.
		int on = 0;
		if (bpf_getsockopt(skops, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) != 0)
			return 1;
		if (on && !default_timers(skops)) {
			if (kashim_values.force_cap) {
				cap_int(skops, TCP_KEEPIDLE, kashim_values.idle_s);
				cap_int(skops, TCP_KEEPINTVL, kashim_values.interval_s);
				cap_int(skops, TCP_KEEPCNT, kashim_values.count);
			}
			return 1;
		}
	}
	set_int(skops, IPPROTO_TCP, TCP_KEEPIDLE, kashim_values.idle_s);
	set_int(skops, IPPROTO_TCP, TCP_KEEPINTVL, kashim_values.interval_s);
	set_int(skops, IPPROTO_TCP, TCP_KEEPCNT, kashim_values.count);
	if (kashim_values.user_timeout_ms)
		set_int(skops, IPPROTO_TCP, TCP_USER_TIMEOUT, kashim_values.user_timeout_ms);
	set_int(skops, SOL_SOCKET, SO_KEEPALIVE, 1);
	// 1: let the connection proceed (sock_ops ignores it for these callbacks, but be explicit).
	return 1;
}

static __always_inline int min_int(int a, int b)
{
	return a < b ? a : b;
}

// The program's own setsockopt on a connection kashim covered, after it is established (Go sets
// idle and interval 15 s after connect). The kernel then applies the value as rewritten here:
// --force puts kashim's values in place of the program's, --force=cap lowers the program's longer
// idle, interval and count to kashim's. SO_KEEPALIVE off and TCP_USER_TIMEOUT stay the
// program's under cap. A call with a short buffer reaches the kernel untouched, so its error
// stays the kernel's.
SEC("cgroup/setsockopt")
int kashim_setsockopt(struct bpf_sockopt *ctx)
{
	if (!kashim_values.force && !kashim_values.force_cap)
		return 1;
	struct bpf_sock *sk = ctx->sk;
	if (!sk)
		return 1;
	int level = ctx->level, name = ctx->optname;
	int keepalive_option = (level == SOL_SOCKET && name == SO_KEEPALIVE) ||
			       (level == IPPROTO_TCP &&
				(name == TCP_KEEPIDLE || name == TCP_KEEPINTVL ||
				 name == TCP_KEEPCNT || name == TCP_USER_TIMEOUT));
	if (!keepalive_option)
		return 1;
	if (!bpf_sk_storage_get(&kashim_covered, sk, 0, 0))
		return 1;
	int *value = ctx->optval;
	if (ctx->optlen < (int)sizeof(int) || (void *)(value + 1) > ctx->optval_end)
		return 1;
	int wanted = *value;
	if (kashim_values.force) {
		if (name == SO_KEEPALIVE && level == SOL_SOCKET)
			wanted = 1;
		else if (name == TCP_KEEPIDLE)
			wanted = kashim_values.idle_s;
		else if (name == TCP_KEEPINTVL)
			wanted = kashim_values.interval_s;
		else if (name == TCP_KEEPCNT)
			wanted = kashim_values.count;
		else if (name == TCP_USER_TIMEOUT && kashim_values.user_timeout_ms)
			wanted = kashim_values.user_timeout_ms;
	} else if (level == IPPROTO_TCP) {
		if (name == TCP_KEEPIDLE)
			wanted = min_int(wanted, kashim_values.idle_s);
		else if (name == TCP_KEEPINTVL)
			wanted = min_int(wanted, kashim_values.interval_s);
		else if (name == TCP_KEEPCNT)
			wanted = min_int(wanted, kashim_values.count);
	}
	*value = wanted;
	return 1;
}

char _license[] SEC("license") = "GPL";
