//! Keeping kashim's table true to the process's descriptors: numbers released by close() and its
//! relatives are forgotten, copies made by dup() inherit, a thread with a private descriptor
//! table stops writing, and a fork child drops records of descriptors it does not have.

#![cfg_attr(test, allow(dead_code))]

use crate::state::config::tracking;
use crate::state::fd_table::{self, FdState};
use crate::state::thread_marks;
use crate::sys::errno::ErrnoGuard;
use crate::sys::guard::guarded;
use libc::c_int;

/// Forgotten before the real close: once the number is free another thread may reuse it, and its
/// socket() must not find this one's state afterwards.
pub fn forget(fd: c_int) {
    guarded((), || {
        if tracking() {
            fd_table::set(fd, FdState::Unknown)
        }
    })
}

/// The descriptor under a stdio stream, forgotten before the stream closes it. Streams without
/// one (fmemopen, fopencookie) have none to forget.
///
/// # Safety
/// `stream` is null or a stream the program is about to hand to fclose/freopen.
pub unsafe fn forget_stream(stream: *mut libc::FILE) {
    if stream.is_null() {
        return;
    }
    let fd = {
        let _errno = ErrnoGuard::save();
        // fileno reads the stream's descriptor field without locking; -1 (EBADF) if it has none.
        libc::fileno(stream)
    };
    if fd >= 0 {
        forget(fd);
    }
}

/// Forgets an inclusive range of numbers (close_range, closefrom), if any.
pub fn forget_range(range: Option<(u32, u32)>) {
    guarded((), || {
        if let Some((first, last)) = range {
            if tracking() {
                fd_table::forget_range(first, last);
            }
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

/// The calling thread now has a descriptor table of its own.
pub fn table_now_private() {
    guarded((), thread_marks::mark_private_table)
}

/// In a fork child, before it returns to the program: no thread mark applies, and every record
/// whose descriptor is not open in the child is dropped (one fcntl per recorded descriptor).
pub fn after_fork_in_child() {
    let _errno = ErrnoGuard::save();
    guarded((), || {
        thread_marks::clear_in_fork_child();
        fd_table::retain(|fd| {
            // SAFETY: F_GETFD only reads the descriptor's flags. A direct system call: the child
            // of a threaded program may only make async-signal-safe calls until it execs.
            let rc = unsafe {
                crate::sys::raw_syscall::syscall3(
                    libc::SYS_fcntl,
                    libc::c_long::from(fd),
                    libc::c_long::from(libc::F_GETFD),
                    0,
                )
            };
            rc != -libc::c_long::from(libc::EBADF)
        });
    })
}
