//! setsockopt(): the program's own keepalive choices win (kashim remembers and stays away), or
//! with KASHIM_FORCE its keepalive calls succeed without changing kashim's values.

use crate::debug;
use crate::fd_table::{self, FdState};
use crate::init::{active_config, guarded};
use crate::policy::{self, SetsockoptAction};
use libc::{c_int, c_void, socklen_t};

pub type SetsockoptFn =
    unsafe extern "C" fn(c_int, c_int, c_int, *const c_void, socklen_t) -> c_int;

#[cfg(not(test))]
redhook::hook! {
    unsafe fn setsockopt(fd: c_int, level: c_int, name: c_int, value: *const c_void, value_len: socklen_t) -> c_int => kashim_setsockopt {
        let real = redhook::real!(setsockopt);
        match decide(fd, level, name, value, value_len) {
            SetsockoptAction::PassThrough => real(fd, level, name, value, value_len),
            SetsockoptAction::Swallow => 0,
            SetsockoptAction::PassThroughProgramOwns => {
                let rc = real(fd, level, name, value, value_len);
                if rc == 0 {
                    program_owns(fd);
                }
                rc
            }
        }
    }
}

#[cfg(not(test))]
pub fn resolve() {
    let _ = redhook::real!(setsockopt);
}

/// libc's setsockopt, never kashim's own hook.
#[cfg(not(test))]
pub fn real_setsockopt() -> SetsockoptFn {
    redhook::real!(setsockopt)
}

/// In unit tests nothing is interposed, so libc's symbol is the real one.
#[cfg(test)]
pub fn real_setsockopt() -> SetsockoptFn {
    libc::setsockopt
}

/// After the program's own keepalive setsockopt succeeded: the socket is the program's from now on.
pub fn program_owns(fd: c_int) {
    fd_table::set(fd, FdState::ProgramOwned);
}

pub fn decide(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    value_len: socklen_t,
) -> SetsockoptAction {
    // Most setsockopt calls are not about keepalive: answer those without looking further.
    let Some(option) = policy::keepalive_option(level, name) else {
        return SetsockoptAction::PassThrough;
    };
    guarded(SetsockoptAction::PassThrough, || {
        let Some(config) = active_config() else {
            return SetsockoptAction::PassThrough;
        };
        let action = policy::on_setsockopt(fd_table::get(fd), option, config);
        match action {
            // A call the kernel would reject is not swallowed: it gets the kernel's own error
            // (EFAULT, EINVAL) and, failing, changes nothing.
            SetsockoptAction::Swallow if !kernel_would_accept(option, value, value_len) => {
                SetsockoptAction::PassThrough
            }
            SetsockoptAction::Swallow => {
                debug!(
                    config,
                    "fd {fd}: program's setsockopt {} ignored (KASHIM_FORCE)",
                    option.name()
                );
                action
            }
            SetsockoptAction::PassThroughProgramOwns => {
                debug!(
                    config,
                    "fd {fd}: program sets {} itself; kashim leaves this socket alone",
                    option.name()
                );
                action
            }
            SetsockoptAction::PassThrough => action,
        }
    })
}

fn kernel_would_accept(
    option: policy::KeepaliveOption,
    value: *const c_void,
    value_len: socklen_t,
) -> bool {
    if value.is_null() || (value_len as usize) < std::mem::size_of::<c_int>() {
        return false;
    }
    // SAFETY: non-null and at least an int long, as the caller promised the kernel; the program's
    // buffer need not be aligned.
    let value = unsafe { std::ptr::read_unaligned(value.cast::<c_int>()) };
    policy::kernel_accepts(option, value)
}
