//! kashim: turn on TCP keepalive for programs you cannot edit.
//!
//! A small `main` over one module per mode: `run` (exec with libkashim.so preloaded),
//! `print_env`, `inspect`, `attach`, `ebpf` and `probe` (measure a path's idle timeout). `cli`
//! declares every flag, `settings` applies the shared KASHIM_* rules, `error` turns every failure
//! into one line and an exit status.

mod attach;
mod cli;
mod ebpf;
mod elf;
mod error;
mod help;
mod host;
mod inspect;
mod kernel_defaults;
mod library;
mod pidfd;
mod print_env;
mod probe;
mod proc_net;
mod reach;
mod run;
mod settings;
mod sock_diag;
mod sockopt;

use cli::Mode;
use std::process::ExitCode;

fn main() -> ExitCode {
    match dispatch() {
        Ok(code) => code,
        Err(err) => err.report(),
    }
}

fn dispatch() -> error::Result<ExitCode> {
    let inv = cli::parse(std::env::args_os().skip(1))?;
    match &inv.mode {
        Mode::Help => help::print_help(),
        Mode::Version => help::print_version(),
        Mode::Completion(shell) => help::print_completion(shell),
        Mode::Run { command } => run::main(&inv, command),
        Mode::PrintEnv { form } => print_env::main(&inv, *form),
        Mode::Inspect { pid } => inspect::main(&inv, *pid),
        Mode::Attach { pid } => attach::main(&inv, *pid),
        Mode::Ebpf(mode) => ebpf::main(&inv, mode),
        Mode::Probe { target, max_s } => probe::main(&inv, target, *max_s),
    }
}
