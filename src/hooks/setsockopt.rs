//! setsockopt(): the program's own keepalive choices win (kashim remembers and stays away), or
//! with KASHIM_FORCE kashim's values stand. The program's call always reaches the kernel, so its
//! result and errno are the kernel's and kashim never reads the program's buffer; what kashim
//! does comes after.

use crate::act::options;
use libc::{c_int, c_void, socklen_t};

/// # Safety
/// As setsockopt(2).
pub unsafe fn setsockopt(
    real: unsafe extern "C" fn(c_int, c_int, c_int, *const c_void, socklen_t) -> c_int,
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    len: socklen_t,
) -> c_int {
    let action = options::decide(fd, level, name);
    let rc = real(fd, level, name, value, len);
    options::after_program_sets(fd, level, name, rc, action);
    rc
}
