//! kashim: an LD_PRELOAD shim that turns on TCP keepalive, with short timers, for every TCP socket
//! of an unmodified, dynamically linked program, so idle connections survive firewalls and NATs
//! that forget quiet connections, and dead peers are noticed.
//!
//! The map:
//! - `hooks`: the exported entry points. One table declares every hooked function; each family's
//!   file holds its thin detour, which calls the real function and hands the rest to `act`.
//! - `decide`: the decisions, pure functions returning what to do (policy, scope rules, RTLD_DEEPBIND
//!   routes, mixed-settings reports).
//! - `act`: carrying them out with kashim's own calls on sockets, one module per kind of event.
//! - `state`: what kashim knows — the published configuration, the per-descriptor table, the
//!   threads whose descriptor changes are not recorded.
//! - `sys`: plumbing that knows nothing of keepalive — the resolver of definitions, the ELF
//!   reader, stand-ins, direct system calls, kashim's own memory, errno, the panic guard, logging.
//! - `start`: the constructor.
//!
//! Calls flow one way: hooks → act → decide/state → sys. Start-up walks the hook table; nothing
//! under `hooks` is called back by start-up. Hooks are compiled out of `cargo test`, so the test
//! binary never interposes on itself.

pub use kashim_config as config;

mod act;
mod decide;
mod hooks;
mod start;
mod state;
mod sys;

/// The configuration a set of KASHIM_* variables gives, for unit tests.
#[cfg(test)]
fn test_config(vars: &[(&str, &str)]) -> config::Config {
    let vars = vars
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()));
    config::Config::from_vars(vars).config
}

/// Marks this file as libkashim.so: the `kashim` command recognises the library by reading its
/// dynamic symbols instead of loading it in a test process.
#[no_mangle]
#[used]
pub static KASHIM_LIBRARY: u8 = 1;
