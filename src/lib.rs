//! kashim: an LD_PRELOAD shim that turns on TCP keepalive, with short timers, for every TCP socket
//! of an unmodified, dynamically linked program, so idle connections survive firewalls and NATs
//! that forget quiet connections, and dead peers are noticed.
//!
//! Layout: one module per hooked family (`socket`, `connect`, `accept`, `setsockopt`, `close`),
//! each a thin detour (`real` finds the next definition) around plain Rust; the decisions live in `policy` (pure), the
//! settings in `config` (pure), the per-descriptor memory in `fd_table`, kashim's own system calls
//! in `sockopt`, start-up in `init`. Hooks are compiled out of `cargo test`, so the test binary
//! never interposes on itself.

mod accept;
mod children;
mod close;
mod close_range;
pub use kashim_config as config;
mod connect;
mod deepbind;
mod dup;
mod elf;
mod errno;
mod fd_table;
mod inherited;
mod init;
#[cfg(not(test))]
mod libc_only;
mod logger;
mod mapping;
mod mixed;
mod policy;
mod raw_syscall;
mod real;
mod scope;
mod setsockopt;
mod socket;
mod sockopt;
mod vfork;

#[cfg(test)]
mod flow_tests;

/// Marks this file as libkashim.so: the `kashim` command recognises the library by reading its
/// dynamic symbols (command/src/elf.rs) instead of loading it in a test process.
#[no_mangle]
#[used]
pub static KASHIM_LIBRARY: u8 = 1;
