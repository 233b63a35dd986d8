//! `kashim --ebpf`: a cgroup sock_ops eBPF program sets keepalive on every TCP connection of the
//! cgroup's processes, for programs LD_PRELOAD cannot reach.

use crate::cli::{EbpfMode, Invocation};
use crate::error::{Error, Result};
use std::process::ExitCode;

pub fn main(_inv: &Invocation, _mode: &EbpfMode) -> Result<ExitCode> {
    Err(Error::failure("--ebpf is not built yet"))
}
