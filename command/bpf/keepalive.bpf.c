// SPDX-License-Identifier: GPL-2.0 OR MIT
// kashim's cgroup sock_ops program: when a TCP connection of a process in the cgroup becomes
// established (connect or accept), turn keepalive on with kashim's values, the way libkashim.so
// does for the programs it reaches. Connections established before the program was attached are
// never seen: sock_ops callbacks only fire on new events.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

// The socket ABI numbers (no libc headers for the bpf target).
#define SOL_SOCKET 1
#define SO_KEEPALIVE 9
#define IPPROTO_TCP 6
#define TCP_KEEPIDLE 4
#define TCP_KEEPINTVL 5
#define TCP_KEEPCNT 6
#define TCP_USER_TIMEOUT 18

// Set by the loader (kashim) before the program is loaded, and read back by
// `kashim --ebpf --status` from the program's .rodata map: one struct, so its layout is fixed
// (it must match `Values` in command/src/ebpf/program.rs).
struct kashim_values {
	__u32 idle_s;
	__u32 interval_s;
	__u32 count;
	__u32 user_timeout_ms; // 0: leave TCP_USER_TIMEOUT alone
	__u32 force;           // 1: replace a keepalive the program turned on itself
	__u32 force_cap;       // 1: lower a program's own idle/interval/count to kashim's
	__u32 direction;       // 0 both, 1 outbound (connect) only, 2 inbound (accept) only
	__u32 magic;           // KASHIM_MAGIC: tells kashim's .rodata from another program's
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
