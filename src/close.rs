//! close(), dup2(), dup3(): keep the descriptor table true when a number is released or reused,
//! so a later socket at the same number is never mistaken for the old one.

use crate::fd_table::{self, FdState};
use crate::init::{guarded, tracking};
use libc::c_int;

#[cfg(not(test))]
redhook::hook! {
    unsafe fn close(fd: c_int) -> c_int => kashim_close {
        forget(fd);
        redhook::real!(close)(fd)
    }
}

#[cfg(not(test))]
redhook::hook! {
    unsafe fn dup2(old_fd: c_int, new_fd: c_int) -> c_int => kashim_dup2 {
        let rc = redhook::real!(dup2)(old_fd, new_fd);
        if rc >= 0 && old_fd != new_fd {
            copy_state(old_fd, rc);
        }
        rc
    }
}

#[cfg(not(test))]
redhook::hook! {
    unsafe fn dup3(old_fd: c_int, new_fd: c_int, flags: c_int) -> c_int => kashim_dup3 {
        let rc = redhook::real!(dup3)(old_fd, new_fd, flags);
        if rc >= 0 {
            copy_state(old_fd, rc);
        }
        rc
    }
}

#[cfg(not(test))]
pub fn resolve() {
    let _ = redhook::real!(close);
    let _ = redhook::real!(dup2);
    let _ = redhook::real!(dup3);
}

/// Forgotten before the real close: once the number is free another thread may reuse it, and
/// its socket() must not find this one's state afterwards.
pub fn forget(fd: c_int) {
    guarded((), || {
        if tracking() {
            fd_table::set(fd, FdState::Unknown)
        }
    })
}

/// The new number refers to the same socket, options and all.
pub fn copy_state(old_fd: c_int, new_fd: c_int) {
    guarded((), || {
        if tracking() {
            fd_table::set(new_fd, fd_table::get(old_fd))
        }
    })
}
