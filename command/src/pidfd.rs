//! Duplicates of another process's descriptors through pidfd_open(2) and pidfd_getfd(2)
//! (Linux 5.6+). A duplicate shares the open file, so a setsockopt on it changes the one
//! socket both processes hold. The target is never stopped or signalled; its descriptor table
//! is not touched. Every duplicate is an `OwnedFd`, closed when dropped.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub struct PidFd(OwnedFd);

impl PidFd {
    pub fn open(pid: i32) -> io::Result<PidFd> {
        // SAFETY: plain system call; a descriptor it returns is ours to own.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(PidFd(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }))
    }

    /// A duplicate (close-on-exec) of the target's descriptor `fd`. Needs ptrace attach rights
    /// over the target (PTRACE_MODE_ATTACH_REALCREDS): EPERM otherwise, ESRCH once it has
    /// exited, EBADF when it no longer has `fd`.
    pub fn dup(&self, fd: RawFd) -> io::Result<OwnedFd> {
        // SAFETY: as above.
        let dup = unsafe { libc::syscall(libc::SYS_pidfd_getfd, self.0.as_raw_fd(), fd, 0) };
        if dup < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(unsafe { OwnedFd::from_raw_fd(dup as RawFd) })
    }

    /// The duplicate of `fd` only if it is still the socket with this inode: between listing
    /// /proc/PID/fd and now the target may have closed `fd` and reused the number.
    pub fn dup_socket(&self, fd: RawFd, inode: u64) -> Result<OwnedFd, DupError> {
        let dup = self.dup(fd).map_err(DupError::from_io)?;
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: dup is an open descriptor and st a valid buffer.
        if unsafe { libc::fstat(dup.as_raw_fd(), &mut st) } != 0 {
            return Err(DupError::Other(io::Error::last_os_error()));
        }
        if st.st_mode & libc::S_IFMT != libc::S_IFSOCK || st.st_ino != inode {
            return Err(DupError::Gone);
        }
        Ok(dup)
    }
}

#[derive(Debug)]
pub enum DupError {
    /// No ptrace rights over the target.
    NotPermitted(io::Error),
    /// The kernel has no pidfd_getfd (older than 5.6).
    NoSyscall,
    /// The process has exited.
    Exited,
    /// The descriptor was closed (or now names something else).
    Gone,
    Other(io::Error),
}

impl DupError {
    pub fn from_io(err: io::Error) -> Self {
        match err.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => DupError::NotPermitted(err),
            Some(libc::ENOSYS) => DupError::NoSyscall,
            Some(libc::ESRCH) => DupError::Exited,
            Some(libc::EBADF) => DupError::Gone,
            _ => DupError::Other(err),
        }
    }
}

/// What is needed to take another process's descriptors, for the "not permitted" message.
pub fn permission_hint() -> String {
    let scope = std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
        .ok()
        .map(|s| s.trim().to_string());
    let yama = match scope.as_deref() {
        Some("0") | None => String::new(),
        Some(n) => format!(" and kernel.yama.ptrace_scope 0 (it is {n})"),
    };
    format!(
        "needs ptrace rights over it: run as root (CAP_SYS_PTRACE), or as the process's own user{yama}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_its_own_socket_and_checks_the_inode() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let me = PidFd::open(std::process::id() as i32).unwrap();
        let fd = l.as_raw_fd();
        let inode = crate::proc_net::socket_fds(std::process::id() as i32)
            .unwrap()
            .into_iter()
            .find(|(f, _)| *f == fd)
            .unwrap()
            .1;
        let dup = me.dup_socket(fd, inode).unwrap();
        assert_ne!(dup.as_raw_fd(), fd);
        assert!(matches!(me.dup_socket(fd, inode + 1), Err(DupError::Gone)));
    }
}
