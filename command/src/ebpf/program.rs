//! kashim's programs (bpf/keepalive.bpf.c, compiled by build.rs and embedded): the sock_ops
//! program that configures connections as they are established and the setsockopt program that
//! holds --force/--force=cap against the program's later calls. Their values, loading them with
//! those, attaching both to a cgroup, and the probe that shows the running kernel applies them.

use crate::error::{Error, Result};
use aya::programs::{CgroupSockopt, SockOps};
use aya::{Ebpf, EbpfLoader};
use aya_obj::generated::bpf_attach_type;
use kashim_config::keepalive::Timers;
use kashim_config::scope::{Net, MAX_RULES};
use kashim_config::Config;
use kashim_config::{Direction, Peer, Scope, Side};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The program as the kernel names it (BPF names are cut at 15 bytes).
pub const PROGRAM_NAME: &str = "kashim_sockops";
const SETSOCKOPT_NAME: &str = "kashim_setsockopt";
const VALUES_GLOBAL: &str = "kashim_values";
const MAGIC: u32 = 0x6b61_7368;

static OBJECT: &[u8] = aya::include_bytes_aligned!(env!("KASHIM_BPF_OBJECT"));

/// `struct kashim_values` of keepalive.bpf.c: the program's only input, in its .rodata.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Values {
    pub idle_s: u32,
    pub interval_s: u32,
    pub count: u32,
    /// 0: TCP_USER_TIMEOUT left alone.
    pub user_timeout_ms: u32,
    pub force: u32,
    pub force_cap: u32,
    /// 0 both, 1 outbound only, 2 inbound only (KASHIM_DIRECTION).
    pub direction: u32,
    pub magic: u32,
    /// KASHIM_ONLY was set (with no valid entry, nothing matches).
    pub only_given: u32,
    pub only_len: u32,
    pub except_len: u32,
    /// The namespace's net.ipv4.tcp_keepalive_*: keepalive on with these is not configured.
    pub default_idle_s: u32,
    pub default_interval_s: u32,
    pub default_count: u32,
    pub only: [Rule; MAX_RULES],
    pub except: [Rule; MAX_RULES],
}

/// `struct kashim_rule`: one KASHIM_ONLY/KASHIM_EXCEPT entry in the program's terms.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Rule {
    /// 0 any address, 4 IPv4, 6 IPv6.
    pub family: u32,
    /// Masked address and mask, as the kernel stores addresses (network byte order).
    pub addr: [u32; 4],
    pub mask: [u32; 4],
    pub port_lo: u32,
    pub port_hi: u32,
}

impl Rule {
    fn from_config(rule: &kashim_config::scope::Rule) -> Rule {
        // A host-order value as the words of its network-order bytes, the layout of
        // bpf_sock_ops.remote_ip4/remote_ip6.
        fn words(bytes: &[u8]) -> [u32; 4] {
            let mut out = [0u32; 4];
            for (word, chunk) in out.iter_mut().zip(bytes.chunks(4)) {
                *word = u32::from_ne_bytes(chunk.try_into().expect("4 bytes"));
            }
            out
        }
        let (family, addr, mask) = match rule.net() {
            Net::Any => (0, [0; 4], [0; 4]),
            Net::V4 { addr, mask } => (4, words(&addr.to_be_bytes()), words(&mask.to_be_bytes())),
            Net::V6 { addr, mask } => (6, words(&addr.to_be_bytes()), words(&mask.to_be_bytes())),
        };
        let (lo, hi) = rule.ports();
        Rule {
            family,
            addr,
            mask,
            port_lo: u32::from(lo),
            port_hi: u32::from(hi),
        }
    }
}

fn rules_of(list: &kashim_config::scope::RuleList) -> ([Rule; MAX_RULES], u32) {
    let mut out = [Rule::default(); MAX_RULES];
    let rules = list.rules();
    for (slot, rule) in out.iter_mut().zip(rules) {
        *slot = Rule::from_config(rule);
    }
    (out, rules.len().min(MAX_RULES) as u32)
}

// SAFETY: plain u32 fields, no padding.
unsafe impl aya::Pod for Values {}

impl Values {
    /// `defaults`: the keepalive timers of the network namespace the connections are in.
    pub fn from_config(c: &Config, defaults: Timers) -> Values {
        let (only, only_len) = rules_of(&c.scope.only);
        let (except, except_len) = rules_of(&c.scope.except);
        Values {
            idle_s: c.idle_s,
            interval_s: c.interval_s,
            count: c.count,
            user_timeout_ms: c.user_timeout_ms.unwrap_or(0),
            force: u32::from(c.force),
            force_cap: u32::from(c.force_cap && !c.force),
            direction: match c.scope.direction {
                Direction::Both => 0,
                Direction::Outbound => 1,
                Direction::Inbound => 2,
            },
            magic: MAGIC,
            only_given: u32::from(c.scope.only.given()),
            only_len,
            except_len,
            default_idle_s: defaults.idle_s,
            default_interval_s: defaults.interval_s,
            default_count: defaults.count,
            only,
            except,
        }
    }

    pub fn is_kashims(&self) -> bool {
        self.magic == MAGIC
    }

    pub fn direction_name(&self) -> &'static str {
        match self.direction {
            1 => "outbound",
            2 => "inbound",
            _ => "both",
        }
    }

    /// "idle 60s, interval 10s, count 6, user timeout off": for messages and --status.
    pub fn describe(&self) -> String {
        let ut = match self.user_timeout_ms {
            0 => "off".to_string(),
            ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
            ms => format!("{ms}ms"),
        };
        let force = match (self.force, self.force_cap) {
            (0, 0) => "",
            (0, _) => ", force cap",
            _ => ", force",
        };
        let mut scope = match self.direction {
            0 => String::new(),
            _ => format!(", {} only", self.direction_name()),
        };
        if self.only_given != 0 {
            scope += &format!(", only {} rule(s)", self.only_len);
        }
        if self.except_len != 0 {
            scope += &format!(", except {} rule(s)", self.except_len);
        }
        format!(
            "idle {}s, interval {}s, count {}, user timeout {ut}{force}{scope}",
            self.idle_s, self.interval_s, self.count,
        )
    }
}

/// Root, or CAP_BPF with CAP_NET_ADMIN (or CAP_SYS_ADMIN, which covers both), checked before
/// anything is touched so a refusal leaves nothing half done.
pub fn check_privileges() -> Result<()> {
    if has_cap(CAP_SYS_ADMIN) || (has_cap(CAP_BPF) && has_cap(CAP_NET_ADMIN)) {
        Ok(())
    } else {
        Err(Error::failure(
            "kashim --ebpf needs root (or the capabilities CAP_BPF and CAP_NET_ADMIN) to load and attach its eBPF program",
        ))
    }
}

/// --status walks every BPF program of the kernel, which takes CAP_SYS_ADMIN.
pub fn check_status_privileges() -> Result<()> {
    if has_cap(CAP_SYS_ADMIN) {
        Ok(())
    } else {
        Err(Error::failure(
            "kashim --ebpf --status needs root (CAP_SYS_ADMIN) to list the kernel's eBPF programs",
        ))
    }
}

const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_BPF: u32 = 39;

/// Whether kashim has the capability in its effective set.
fn has_cap(cap: u32) -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let caps = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    caps & (1u64 << cap) != 0
}

/// The program loaded into the kernel with its values, not attached anywhere yet.
pub struct Loaded {
    ebpf: Ebpf,
    pub values: Values,
}

pub fn load(values: Values) -> Result<Loaded> {
    // No RLIMIT_MEMLOCK raise: kernels before 5.11 needed one, but kashim needs 6.1 anyway, and
    // COMMAND must inherit kashim's limits unchanged.
    let mut ebpf = EbpfLoader::new()
        .override_global(VALUES_GLOBAL, &values, true)
        .load(OBJECT)
        .map_err(|e| Error::failure(format!("cannot load kashim's eBPF program: {e}")))?;
    let build_problem =
        || Error::failure("kashim's eBPF object lacks one of its programs (a build problem)");
    let sock_ops: &mut SockOps = ebpf
        .program_mut(PROGRAM_NAME)
        .and_then(|p| p.try_into().ok())
        .ok_or_else(build_problem)?;
    sock_ops.load().map_err(|e| {
        Error::failure(format!(
            "this kernel refused kashim's sock_ops program ({}); kashim --ebpf needs a kernel with BPF_PROG_TYPE_SOCK_OPS (CONFIG_BPF_SYSCALL, CONFIG_CGROUP_BPF)",
            root_cause(&e)
        ))
    })?;
    let setsockopt: &mut CgroupSockopt = ebpf
        .program_mut(SETSOCKOPT_NAME)
        .and_then(|p| p.try_into().ok())
        .ok_or_else(build_problem)?;
    setsockopt.load().map_err(|e| {
        Error::failure(format!(
            "this kernel refused kashim's cgroup setsockopt program ({}); kashim --ebpf needs Linux 6.1 or later",
            root_cause(&e)
        ))
    })?;
    Ok(Loaded { ebpf, values })
}

/// The two attachments of kashim's programs to one cgroup (BPF link descriptors). Dropping them
/// detaches both.
pub struct Links {
    sock_ops: OwnedFd,
    setsockopt: OwnedFd,
}

/// Where the setsockopt link of an attachment pinned at `pin` is pinned.
pub fn setsockopt_pin(pin: &Path) -> PathBuf {
    let mut name = pin.as_os_str().to_owned();
    name.push("-setsockopt");
    name.into()
}

impl Links {
    /// Pins both links (the sock_ops one at `pin`). If either cannot be pinned, neither is, and
    /// both are detached: nothing is left half done.
    pub fn pin(self, pin: &Path) -> Result<Pinned> {
        let fail = |e: io::Error, path: &Path| {
            Error::failure(format!("cannot pin at {}: {e}", path.display()))
        };
        let second = setsockopt_pin(pin);
        super::sys::pin(self.setsockopt.as_fd(), &second).map_err(|e| fail(e, &second))?;
        if let Err(e) = super::sys::pin(self.sock_ops.as_fd(), pin) {
            let _ = std::fs::remove_file(&second);
            return Err(fail(e, pin));
        }
        Ok(Pinned {
            links: self,
            path: pin.to_path_buf(),
        })
    }
}

/// Both links, pinned: they stay attached after kashim exits (or is killed).
pub struct Pinned {
    links: Links,
    path: PathBuf,
}

impl Pinned {
    /// Removes both pins; the links are detached when the returned value is dropped.
    pub fn unpin(self) -> io::Result<Links> {
        std::fs::remove_file(setsockopt_pin(&self.path))?;
        std::fs::remove_file(&self.path)?;
        Ok(self.links)
    }
}

/// aya's errors nest the system call's error; the user needs the innermost one.
fn root_cause(e: &dyn std::error::Error) -> String {
    let mut last = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        last = s.to_string();
        cur = s.source();
    }
    last
}

impl Loaded {
    /// The programs' descriptors (sock_ops, setsockopt), for replacing those of pinned links.
    pub fn program_fds(&self) -> Result<(BorrowedFd<'_>, BorrowedFd<'_>)> {
        let no_fd = |e: aya::programs::ProgramError| {
            Error::failure(format!("kashim's eBPF program has no fd: {e}"))
        };
        let ebpf = &self.ebpf;
        let sock_ops: &SockOps = ebpf
            .program(PROGRAM_NAME)
            .and_then(|p| p.try_into().ok())
            .expect("loaded above");
        let setsockopt: &CgroupSockopt = ebpf
            .program(SETSOCKOPT_NAME)
            .and_then(|p| p.try_into().ok())
            .expect("loaded above");
        Ok((
            sock_ops.fd().map_err(no_fd)?.as_fd(),
            setsockopt.fd().map_err(no_fd)?.as_fd(),
        ))
    }

    /// Attaches both programs to the cgroup, alongside any other programs already there (a BPF
    /// link is always attached in "allow multiple" mode). The links live as long as the returned
    /// value (or their pins).
    pub fn attach(&mut self, cgroup_dir: &Path) -> Result<Links> {
        let dir = File::open(cgroup_dir).map_err(|e| {
            Error::failure(format!("cannot open cgroup {}: {e}", cgroup_dir.display()))
        })?;
        let failed = |e: io::Error| {
            let hint = match e.raw_os_error() {
                Some(libc::EINVAL) => " (BPF links need Linux 5.7 or later)",
                _ => "",
            };
            Error::failure(format!(
                "cannot attach kashim's eBPF program to {}: {e}{hint}",
                cgroup_dir.display()
            ))
        };
        let (sock_ops, setsockopt) = self.program_fds()?;
        let sock_ops =
            super::sys::link_create(sock_ops, dir.as_fd(), bpf_attach_type::BPF_CGROUP_SOCK_OPS)
                .map_err(failed)?;
        let setsockopt = super::sys::link_create(
            setsockopt,
            dir.as_fd(),
            bpf_attach_type::BPF_CGROUP_SETSOCKOPT,
        )
        .map_err(failed)?;
        Ok(Links {
            sock_ops,
            setsockopt,
        })
    }
}

fn ancestors_have_sock_ops(cgroup_dir: &Path) -> bool {
    cgroup_dir
        .ancestors()
        .skip(1)
        .take_while(|dir| super::cgroup::is_cgroup2_dir(dir))
        .any(|dir| {
            File::open(dir)
                .ok()
                .and_then(|f| super::sys::sock_ops_programs(f.as_fd()).ok())
                .is_some_and(|ids| !ids.is_empty())
        })
}

/// Why a probe failed, from its exit status.
fn probe_failure(code: i32) -> Option<String> {
    let option = match code {
        0 | PROBE_NO_LOOPBACK => return None,
        PROBE_CANNOT_JOIN => return Some("could not move the probe into its cgroup".into()),
        PROBE_OUT_OF_SCOPE => {
            return Some(
                "kashim's eBPF program configured a connection outside KASHIM_DIRECTION/ONLY/EXCEPT (a kashim bug; nothing was attached)".into(),
            )
        }
        20 => "SO_KEEPALIVE",
        21 => "TCP_KEEPIDLE",
        22 => "TCP_KEEPINTVL",
        23 => "TCP_KEEPCNT",
        24 => "TCP_USER_TIMEOUT",
        _ => return Some(format!("the probe failed (status {code})")),
    };
    Some(format!(
        "this kernel did not let kashim's sock_ops program set {option} (bpf_setsockopt/bpf_getsockopt on keepalive options need Linux 6.1 or later)"
    ))
}

const PROBE_CANNOT_JOIN: i32 = 10;
const PROBE_NO_LOOPBACK: i32 = 11;
const PROBE_OUT_OF_SCOPE: i32 = 25;

/// Shows the kernel applies the program: a child process joins the cgroup (which has the
/// program attached), makes one loopback connection and reads the options back on both ends.
/// Without loopback (a fresh network namespace) there is nothing to probe with, and it passes.
pub fn probe(cgroup_dir: &Path, values: &Values, scope: &Scope) -> Result<()> {
    // A sock_ops program on an ancestor cgroup (kashim's with --force, or another tool's) also
    // acts on the probe's connection, after kashim's: what the probe reads back would then not be
    // kashim's alone, so it cannot judge the kernel. The program is attached all the same.
    if ancestors_have_sock_ops(cgroup_dir) {
        return Ok(());
    }
    let procs = std::ffi::CString::new(
        cgroup_dir
            .join("cgroup.procs")
            .as_os_str()
            .as_encoded_bytes(),
    )
    .map_err(|_| Error::failure("cgroup path contains a NUL byte"))?;
    // SAFETY: kashim is single-threaded here; the child uses only system calls and _exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Error::failure(format!(
            "cannot fork the probe: {}",
            io::Error::last_os_error()
        )));
    }
    if pid == 0 {
        // SAFETY: only async-signal-safe system calls, then _exit.
        unsafe { libc::_exit(probe_child(&procs, values, scope)) };
    }
    let mut status = 0;
    // SAFETY: waiting for the child just forked.
    while unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {
        if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break;
        }
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        99
    };
    match probe_failure(code) {
        None => Ok(()),
        Some(why) => Err(Error::failure(why)),
    }
}

unsafe fn probe_child(procs: &std::ffi::CStr, v: &Values, scope: &Scope) -> i32 {
    use libc::*;
    let fd = open(procs.as_ptr(), O_WRONLY | O_CLOEXEC);
    if fd < 0 || write(fd, b"0".as_ptr().cast(), 1) != 1 {
        return PROBE_CANNOT_JOIN;
    }
    close(fd);
    let listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    let mut addr: sockaddr_in = std::mem::zeroed();
    addr.sin_family = AF_INET as sa_family_t;
    addr.sin_addr.s_addr = u32::from_be_bytes([127, 0, 0, 1]).to_be();
    let mut len = std::mem::size_of::<sockaddr_in>() as socklen_t;
    let sa = &mut addr as *mut sockaddr_in as *mut sockaddr;
    if listener < 0
        || bind(listener, sa, len) != 0
        || listen(listener, 1) != 0
        || getsockname(listener, sa, &mut len) != 0
    {
        return PROBE_NO_LOOPBACK;
    }
    let client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if client < 0 || connect(client, sa, len) != 0 {
        return PROBE_NO_LOOPBACK;
    }
    let server = accept(listener, std::ptr::null_mut(), std::ptr::null_mut());
    if server < 0 {
        return PROBE_NO_LOOPBACK;
    }
    let get = |fd: c_int, level: c_int, name: c_int| -> i64 {
        let mut value: c_int = -1;
        let mut l = std::mem::size_of::<c_int>() as socklen_t;
        if getsockopt(fd, level, name, (&mut value as *mut c_int).cast(), &mut l) != 0 {
            return -1;
        }
        i64::from(value)
    };
    // Which ends the scope (direction, address rules) covers: the same decision as the library's.
    let mut local: sockaddr_in = std::mem::zeroed();
    let mut local_len = std::mem::size_of::<sockaddr_in>() as socklen_t;
    if getsockname(
        client,
        (&mut local as *mut sockaddr_in).cast(),
        &mut local_len,
    ) != 0
    {
        return PROBE_NO_LOOPBACK;
    }
    let loopback = [127, 0, 0, 1];
    let client_in = scope.matches(
        Side::Outbound,
        Some(Peer::v4(loopback, u16::from_be(addr.sin_port))),
    );
    let server_in = scope.matches(
        Side::Inbound,
        Some(Peer::v4(loopback, u16::from_be(local.sin_port))),
    );
    for (fd, covered) in [(client, client_in), (server, server_in)] {
        if !covered {
            if get(fd, SOL_SOCKET, SO_KEEPALIVE) != 0 {
                return PROBE_OUT_OF_SCOPE;
            }
            continue;
        }
        if get(fd, SOL_SOCKET, SO_KEEPALIVE) != 1 {
            return 20;
        }
        if get(fd, IPPROTO_TCP, TCP_KEEPIDLE) != i64::from(v.idle_s) {
            return 21;
        }
        if get(fd, IPPROTO_TCP, TCP_KEEPINTVL) != i64::from(v.interval_s) {
            return 22;
        }
        if get(fd, IPPROTO_TCP, TCP_KEEPCNT) != i64::from(v.count) {
            return 23;
        }
        if v.user_timeout_ms != 0
            && get(fd, IPPROTO_TCP, TCP_USER_TIMEOUT) != i64::from(v.user_timeout_ms)
        {
            return 24;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_follow_the_shared_config() {
        let mut c = Config {
            idle_s: 30,
            interval_s: 5,
            count: 3,
            user_timeout_ms: Some(20_000),
            ..Config::default()
        };
        let v = Values::from_config(&c, Timers::LINUX);
        assert!(v.is_kashims());
        assert_eq!(
            (v.default_idle_s, v.default_interval_s, v.default_count),
            (7200, 75, 9)
        );
        assert_eq!(
            v.describe(),
            "idle 30s, interval 5s, count 3, user timeout 20s"
        );
        c.force_cap = true;
        c.scope.direction = Direction::Outbound;
        c.user_timeout_ms = Some(1500);
        assert_eq!(
            Values::from_config(&c, Timers::LINUX).describe(),
            "idle 30s, interval 5s, count 3, user timeout 1500ms, force cap, outbound only"
        );
        // FORCE=1 wins over cap, as in the library.
        c.force = true;
        let v = Values::from_config(&c, Timers::LINUX);
        assert_eq!((v.force, v.force_cap), (1, 0));
    }
}
