//! close(), fclose(), freopen(): a number is released, so kashim forgets what it knew about it, and
//! a later socket at the same number is never mistaken for the old one. glibc's stdio closes its
//! descriptor internally (not through close()), so `fclose(fdopen(socket))` is hooked too.

use crate::fd_table::{self, FdState};
use crate::init::{guarded, tracking};
#[cfg(not(test))]
use crate::real::{self, fallback, Next};
use libc::c_int;

#[cfg(not(test))]
static NEXT_CLOSE: Next<real::CloseFn> = Next::new(c"close");
#[cfg(not(test))]
static NEXT_FCLOSE: Next<real::FcloseFn> = Next::new(c"fclose");
#[cfg(not(test))]
static NEXT_FREOPEN: Next<real::FreopenFn> = Next::new(c"freopen");
#[cfg(not(test))]
static NEXT_FREOPEN64: Next<real::FreopenFn> = Next::new(c"freopen64");

/// # Safety
/// As close(2).
#[cfg(not(test))]
#[no_mangle]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    forget(fd);
    NEXT_CLOSE.or(fallback::close)(fd)
}

/// # Safety
/// As fclose(3).
#[cfg(not(test))]
#[no_mangle]
pub unsafe extern "C" fn fclose(stream: *mut libc::FILE) -> c_int {
    forget_stream(stream);
    NEXT_FCLOSE.or(fallback::fclose)(stream)
}

/// # Safety
/// As freopen(3): the stream's descriptor is closed (or replaced) whatever happens next.
#[cfg(not(test))]
#[no_mangle]
pub unsafe extern "C" fn freopen(
    path: *const libc::c_char,
    mode: *const libc::c_char,
    stream: *mut libc::FILE,
) -> *mut libc::FILE {
    forget_stream(stream);
    NEXT_FREOPEN.or(fallback::freopen)(path, mode, stream)
}

/// # Safety
/// As freopen64(3).
#[cfg(not(test))]
#[no_mangle]
pub unsafe extern "C" fn freopen64(
    path: *const libc::c_char,
    mode: *const libc::c_char,
    stream: *mut libc::FILE,
) -> *mut libc::FILE {
    forget_stream(stream);
    NEXT_FREOPEN64.or(fallback::freopen)(path, mode, stream)
}

#[cfg(not(test))]
#[link_section = ".text.kashim_startup"]
pub fn resolve() {
    NEXT_CLOSE.resolve();
    NEXT_FCLOSE.resolve();
    NEXT_FREOPEN.resolve();
    NEXT_FREOPEN64.resolve();
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
        let _errno = crate::errno::ErrnoGuard::save();
        // fileno reads the stream's descriptor field without locking; -1 (EBADF) if it has none.
        libc::fileno(stream)
    };
    if fd >= 0 {
        forget(fd);
    }
}
