//! close(), fclose(), freopen(): a number is released, so kashim forgets what it knew about it
//! before the real call (once the number is free another thread may reuse it). glibc's stdio
//! closes its descriptor internally, not through close(), so the stream functions are hooked too.

use crate::act::descriptors;
use libc::{c_char, c_int, FILE};

/// # Safety
/// As close(2).
pub unsafe fn close(real: unsafe extern "C" fn(c_int) -> c_int, fd: c_int) -> c_int {
    descriptors::forget(fd);
    real(fd)
}

/// # Safety
/// As fclose(3).
pub unsafe fn fclose(real: unsafe extern "C" fn(*mut FILE) -> c_int, stream: *mut FILE) -> c_int {
    descriptors::forget_stream(stream);
    real(stream)
}

/// freopen and freopen64: the stream's descriptor is closed (or replaced) whatever happens next.
///
/// # Safety
/// As freopen(3).
pub unsafe fn freopen(
    real: unsafe extern "C" fn(*const c_char, *const c_char, *mut FILE) -> *mut FILE,
    path: *const c_char,
    mode: *const c_char,
    stream: *mut FILE,
) -> *mut FILE {
    descriptors::forget_stream(stream);
    real(path, mode, stream)
}
