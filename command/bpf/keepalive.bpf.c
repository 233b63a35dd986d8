// SPDX-License-Identifier: GPL-2.0 OR MIT
// kashim's cgroup sock_ops program: when a TCP connection of a process in the cgroup becomes
// established (connect or accept), turn keepalive on with kashim's values, the way libkashim.so
// does for the programs it reaches. Connections established before the program was attached are
// never seen: sock_ops callbacks only fire on new events.
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
	struct kashim_rule only[MAX_RULES];
	struct kashim_rule except[MAX_RULES];
};
volatile const struct kashim_values kashim_values = {
	.idle_s = 60, .interval_s = 10, .count = 6, .user_timeout_ms = 0, .force = 0,
	.force_cap = 0, .direction = 0,
	.magic = 0x6b617368, // "kash"
};

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
	if (!kashim_values.force) {
		// The library's policy: a program that turned keepalive on chose its own settings.
		// If the kernel cannot tell us (bpf_getsockopt SOL_SOCKET needs Linux 6.1), leave the
		// connection alone rather than override a choice we cannot see.
		int on = 0;
		if (bpf_getsockopt(skops, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) != 0)
			return 1;
		if (on) {
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

char _license[] SEC("license") = "GPL";
