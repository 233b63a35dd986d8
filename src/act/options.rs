//! The program's own setsockopt() of a keepalive option: what kashim does around it. The program's
//! call always reaches the kernel first; then, depending on `decide::policy::on_setsockopt`, kashim
//! remembers the socket as the program's, puts its own value back (FORCE), lowers a longer value
//! (FORCE=cap), and at debug level reports the socket's mixed settings (`decide::mixed`).

#![cfg_attr(test, allow(dead_code))]

use crate::act::connection::lower_to_kashims;
use crate::act::sockopt;
use crate::config::{Config, LogLevel};
use crate::debug;
use crate::decide::mixed::{Effective, Report};
use crate::decide::policy::{self, KeepaliveOption, SetsockoptAction};
use crate::state::config::active_config;
use crate::state::fd_table::{self, FdState};
use crate::sys::errno::ErrnoGuard;
use crate::sys::guard::guarded;
use libc::c_int;

/// What to do around the program's setsockopt. Never looks at the program's value: under FORCE
/// the kernel judges it, and kashim's value is put back afterwards.
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
            SetsockoptAction::RestoreKashimsValue => debug!(
                config,
                "fd {fd}: program's setsockopt {} overridden (KASHIM_FORCE)",
                option.name()
            ),
            SetsockoptAction::PassThroughProgramSwitches => debug!(
                config,
                "fd {fd}: program sets SO_KEEPALIVE itself; its timers are decided at the connection"
            ),
            SetsockoptAction::PassThroughProgramOwns => debug!(
                config,
                "fd {fd}: program sets {} itself; kashim leaves this socket alone",
                option.name()
            ),
            SetsockoptAction::PassThrough | SetsockoptAction::CapToKashimsValue => {}
        }
        action
    })
}

/// After the program's setsockopt returned `rc`: carries out `action`.
pub fn after_program_sets(
    fd: c_int,
    level: c_int,
    name: c_int,
    rc: c_int,
    action: SetsockoptAction,
) {
    if rc != 0 {
        return;
    }
    let Some(option) = policy::keepalive_option(level, name) else {
        return;
    };
    guarded((), || {
        let Some(config) = active_config() else {
            return;
        };
        match action {
            SetsockoptAction::PassThrough => report(fd, option, config),
            SetsockoptAction::PassThroughProgramOwns => {
                fd_table::set(fd, FdState::ProgramOwned);
                report(fd, option, config);
            }
            SetsockoptAction::PassThroughProgramSwitches => {
                fd_table::set(fd, FdState::ProgramSwitch);
                report(fd, option, config);
            }
            SetsockoptAction::RestoreKashimsValue => {
                let value = policy::kashim_value(option, config);
                sockopt::set_one(fd, option, value, config, "FORCE");
            }
            SetsockoptAction::CapToKashimsValue => lower_to_kashims(fd, option, config, "cap"),
        }
    })
}

fn get(fd: c_int, option: KeepaliveOption) -> Option<c_int> {
    let (level, name) = option.level_and_name();
    sockopt::get_int(fd, level, name)
}

/// The socket's keepalive settings, read back from the kernel.
pub fn effective(fd: c_int) -> Option<Effective> {
    Some(Effective {
        keepalive: get(fd, KeepaliveOption::KeepAlive)?,
        idle: get(fd, KeepaliveOption::Idle)?,
        interval: get(fd, KeepaliveOption::Interval)?,
        count: get(fd, KeepaliveOption::Count)?,
        user_timeout_ms: get(fd, KeepaliveOption::UserTimeout)?,
    })
}

/// At debug level, outside FORCE: the socket's mixed settings after the program set `chosen`.
fn report(fd: c_int, chosen: KeepaliveOption, config: &Config) {
    if config.log < LogLevel::Debug || config.force {
        return;
    }
    let _errno = ErrnoGuard::save();
    if let Some(now) = effective(fd) {
        let report = Report {
            fd,
            chosen,
            now,
            config,
        };
        crate::sys::logger::log(config.log, LogLevel::Debug, format_args!("{report}"));
    }
}
