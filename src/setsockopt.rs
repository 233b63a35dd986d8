//! setsockopt(): the program's own keepalive choices win (kashim remembers and stays away), or
//! with KASHIM_FORCE kashim's values stand: the program's call still reaches the kernel (so its
//! result and errno are the kernel's, and kashim never reads the program's buffer), then kashim
//! puts its own value back.

use crate::fd_table::{self, FdState};
use crate::init::{active_config, guarded};
use crate::policy::{self, SetsockoptAction};
use crate::real::SetsockoptFn;
#[cfg(not(test))]
use crate::real::{self, Next};
use crate::{debug, sockopt};
use libc::c_int;
#[cfg(not(test))]
use libc::{c_void, socklen_t};

#[cfg(not(test))]
static NEXT_SETSOCKOPT: Next<SetsockoptFn> = Next::new(c"setsockopt");

/// # Safety
/// As setsockopt(2).
#[cfg(not(test))]
#[no_mangle]
pub unsafe extern "C" fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    value: *const c_void,
    value_len: socklen_t,
) -> c_int {
    let real = real_setsockopt();
    match decide(fd, level, name) {
        SetsockoptAction::PassThrough => {
            let rc = real(fd, level, name, value, value_len);
            crate::mixed::after_program_sets(fd, level, name, rc);
            rc
        }
        SetsockoptAction::RestoreKashimsValue => {
            let rc = real(fd, level, name, value, value_len);
            if rc == 0 {
                restore(fd, level, name);
            }
            rc
        }
        SetsockoptAction::PassThroughProgramOwns => {
            let rc = real(fd, level, name, value, value_len);
            if rc == 0 {
                program_owns(fd);
            }
            crate::mixed::after_program_sets(fd, level, name, rc);
            rc
        }
        SetsockoptAction::CapToKashimsValue => {
            let rc = real(fd, level, name, value, value_len);
            if rc == 0 {
                crate::scope::cap_after_program(fd, level, name);
            }
            rc
        }
    }
}

#[cfg(not(test))]
#[link_section = ".text.kashim_startup"]
pub fn resolve() {
    NEXT_SETSOCKOPT.resolve();
}

/// libc's setsockopt, never kashim's own hook.
#[cfg(not(test))]
pub fn real_setsockopt() -> SetsockoptFn {
    NEXT_SETSOCKOPT.or(real::fallback::setsockopt)
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

/// What to do with the program's setsockopt. Never looks at the program's value: under FORCE the
/// kernel judges it, and kashim's value is put back afterwards (`restore`).
pub fn decide(fd: c_int, level: c_int, name: c_int) -> SetsockoptAction {
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
            SetsockoptAction::RestoreKashimsValue => {
                debug!(
                    config,
                    "fd {fd}: program's setsockopt {} overridden (KASHIM_FORCE)",
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
            SetsockoptAction::PassThrough | SetsockoptAction::CapToKashimsValue => action,
        }
    })
}

/// Under KASHIM_FORCE, after the program's own keepalive call succeeded: kashim's value goes back.
pub fn restore(fd: c_int, level: c_int, name: c_int) {
    guarded((), || {
        if let (Some(config), Some(option)) =
            (active_config(), policy::keepalive_option(level, name))
        {
            sockopt::set_one(
                fd,
                option,
                policy::kashim_value(option, config),
                config,
                "FORCE",
            );
        }
    })
}
