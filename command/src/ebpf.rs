//! `kashim --ebpf`: a cgroup sock_ops eBPF program sets keepalive on every TCP connection of the
//! cgroup's processes, for programs LD_PRELOAD cannot reach (static, musl, setuid, io_uring,
//! raw system calls, launchers that clear the environment).
//!
//! `run`: COMMAND in a new cgroup, removed afterwards. `pin`: `--cgroup PATH` (pinned in bpffs)
//! and `--detach`. `status`: what is attached where, read from the kernel. `program`: loading
//! the embedded object with kashim's values, and the probe showing the kernel applies them.
//! `cgroup`: finding cgroup v2. `sys`: the bpf(2) commands aya does not wrap.

use crate::cli::{EbpfMode, Invocation};
use crate::error::{Error, Result};
use std::process::ExitCode;

#[cfg(kashim_ebpf)]
mod cgroup;
#[cfg(kashim_ebpf)]
mod pin;
#[cfg(kashim_ebpf)]
mod program;
#[cfg(kashim_ebpf)]
mod run;
#[cfg(kashim_ebpf)]
mod status;
#[cfg(kashim_ebpf)]
mod sys;

#[cfg(not(kashim_ebpf))]
pub fn main(_inv: &Invocation, _mode: &EbpfMode) -> Result<ExitCode> {
    Err(Error::failure(
        "this kashim was built without eBPF support (clang was missing at build time)",
    ))
}

#[cfg(kashim_ebpf)]
pub fn main(inv: &Invocation, mode: &EbpfMode) -> Result<ExitCode> {
    let config = || {
        let config = crate::settings::resolve(std::env::vars_os(), &inv.settings)?.config;
        match unsupported(&config) {
            Some(why) => Err(Error::usage(format!(
                "{why} is not supported with --ebpf (--ebpf covers every process of the cgroup, children included)"
            ))),
            None => Ok(config),
        }
    };
    match mode {
        EbpfMode::Run { command } => {
            let config = config()?;
            if !config.enabled {
                // KASHIM_ENABLED=0 means "kashim changes nothing", as in the library.
                return exec_plain(command);
            }
            run::main(&config, command, inv.verbose)
        }
        EbpfMode::Attach { cgroup } => {
            let config = config()?;
            if !config.enabled {
                return Err(Error::failure(
                    "KASHIM_ENABLED=0: nothing to attach (to remove kashim's program use --detach)",
                ));
            }
            pin::attach(&config, cgroup)
        }
        EbpfMode::Detach { cgroup } => pin::detach(cgroup),
        EbpfMode::Status => status::main(inv.json),
    }
}

/// The settings the eBPF program cannot honour: refused, never silently ignored.
#[cfg(kashim_ebpf)]
fn unsupported(config: &kashim_config::Config) -> Option<&'static str> {
    // Every process of the cgroup is covered, children included.
    (!config.children).then_some("KASHIM_CHILDREN=0")
}

#[cfg(kashim_ebpf)]
fn exec_plain(command: &[std::ffi::OsString]) -> Result<ExitCode> {
    use std::os::unix::process::CommandExt;
    let path = crate::run::find_command(&command[0])?;
    let err = std::process::Command::new(path)
        .arg0(&command[0])
        .args(&command[1..])
        .exec();
    let shown = kashim_config::escape(command[0].as_encoded_bytes());
    Err(Error::new(
        crate::error::EXIT_CANNOT_RUN,
        format!("{shown}: cannot run it: {err}"),
    ))
}
