//! The keepalive defaults of a network namespace (`net.ipv4.tcp_keepalive_time`, `_intvl`,
//! `_probes`): what a socket's timers are when nobody chose them. The one rule
//! ([`kashim_config::keepalive::judge`]) compares a socket's timers with the defaults of the
//! socket's own namespace, which may differ from kashim's (a container's).
//!
//! `/proc/sys/net` shows the namespace of the task that reads it, so another namespace's values
//! are read by a short-lived thread that joins it with setns(2); the rest of kashim stays where
//! it is. A namespace that cannot be joined (no CAP_SYS_ADMIN over it) falls back to Linux's
//! built-in defaults, which is what a new namespace starts with.

use kashim_config::keepalive::Timers;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

const SYSCTLS: [&str; 3] = [
    "/proc/sys/net/ipv4/tcp_keepalive_time",
    "/proc/sys/net/ipv4/tcp_keepalive_intvl",
    "/proc/sys/net/ipv4/tcp_keepalive_probes",
];

/// The defaults of kashim's own network namespace.
pub fn own() -> Result<Timers, String> {
    read_sysctls()
}

/// The defaults of the network namespace of process `pid`.
pub fn of_pid(pid: i32) -> Result<Timers, String> {
    let theirs = format!("/proc/{pid}/ns/net");
    let same = match (
        std::fs::read_link(&theirs),
        std::fs::read_link("/proc/self/ns/net"),
    ) {
        (Ok(a), Ok(b)) => a == b,
        (Err(e), _) => return Err(format!("{theirs}: {e}")),
        // kashim's own namespace unreadable: join theirs to be sure.
        (Ok(_), Err(_)) => false,
    };
    if same {
        return own();
    }
    let ns = File::open(&theirs).map_err(|e| format!("{theirs}: {e}"))?;
    // A thread of its own: setns changes only the calling thread, which ends right after.
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                // SAFETY: a plain system call on a descriptor this function owns.
                if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(format!(
                        "cannot join the network namespace of process {pid}: {}",
                        io::Error::last_os_error()
                    ));
                }
                read_sysctls()
            })
            .join()
            .unwrap_or_else(|_| Err("the namespace reader panicked".into()))
    })
}

/// `of_pid`, or Linux's built-in defaults (a new namespace's) when those cannot be read.
pub fn of_pid_or_linux(pid: i32) -> Timers {
    of_pid(pid).unwrap_or(Timers::LINUX)
}

fn read_sysctls() -> Result<Timers, String> {
    let mut values = [0u32; 3];
    for (value, path) in values.iter_mut().zip(SYSCTLS) {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        *value = text
            .trim()
            .parse()
            .map_err(|_| format!("{path}: not a number: {:?}", text.trim()))?;
    }
    Ok(Timers {
        idle_s: values[0],
        interval_s: values[1],
        count: values[2],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_namespace_matches_a_fresh_socket() {
        // A socket nobody configured has its namespace's defaults.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let k = crate::sockopt::read(std::os::fd::AsFd::as_fd(&l)).unwrap();
        let own = own().unwrap();
        assert_eq!(
            (k.idle_s, k.interval_s, k.count),
            (own.idle_s, own.interval_s, own.count)
        );
        assert_eq!(of_pid(std::process::id() as i32), Ok(own));
    }

    #[test]
    fn a_missing_process_is_an_error() {
        assert!(of_pid(i32::MAX).is_err());
        assert_eq!(of_pid_or_linux(i32::MAX), Timers::LINUX);
    }
}
