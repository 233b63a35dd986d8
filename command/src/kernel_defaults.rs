//! The keepalive timers a network namespace gives a socket nobody configured
//! (`net.ipv4.tcp_keepalive_time`, `_intvl`, `_probes`): what "on with the kernel's defaults"
//! means for the one rule (`kashim_config::keepalive::judge`). Each network namespace has its
//! own, and a new one starts with Linux's built-in 7200/75/9 whatever the host's are.

use kashim_config::keepalive::Timers;
use std::fs;
use std::io;
use std::os::fd::AsRawFd;

/// The defaults of kashim's own network namespace.
pub fn own() -> io::Result<Timers> {
    let read = |name: &str| -> io::Result<u32> {
        let path = format!("/proc/sys/net/ipv4/tcp_keepalive_{name}");
        fs::read_to_string(&path)?.trim().parse().map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidData, format!("{path}: not a number"))
        })
    };
    Ok(Timers {
        idle_s: read("time")?,
        interval_s: read("intvl")?,
        count: read("probes")?,
    })
}

/// The defaults of the network namespace of process `pid`. /proc/sys/net shows the namespace of
/// the thread reading it, so a short-lived thread joins the process's namespace to read them
/// (setns of a network namespace changes the calling thread only).
pub fn of_pid(pid: i32) -> io::Result<Timers> {
    let theirs = fs::File::open(format!("/proc/{pid}/ns/net"))?;
    if same_file(&theirs, "/proc/thread-self/ns/net") {
        return own();
    }
    std::thread::spawn(move || {
        // SAFETY: setns on a valid namespace descriptor, in this thread only.
        if unsafe { libc::setns(theirs.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        own()
    })
    .join()
    .unwrap_or_else(|_| Err(io::Error::other("the namespace reader panicked")))
}

fn same_file(file: &fs::File, path: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}
