//! `kashim --ebpf [options] -- COMMAND`: COMMAND runs in a new child cgroup of kashim's own
//! cgroup (kashim-run-PID) with kashim's programs attached. kashim stays as COMMAND's parent:
//! it forwards INT, TERM, HUP and QUIT, waits until COMMAND and every descendant have left the
//! cgroup, then detaches the programs and removes the cgroup, and exits with COMMAND's status.
//!
//! The links are pinned (<bpffs>/kashim/run-<cgroup id>) and kashim holds a lock on the cgroup
//! directory while it runs, so `kill -9` of kashim leaves COMMAND covered: its later connections
//! still get keepalive. The next `kashim --ebpf` (any mode but --status) finds the run's lock free
//! and, once the cgroup is empty, removes the pins and the cgroup (`remove_ended`).

use super::cgroup::{self, Hierarchy};
use super::pin::{self, Kind};
use super::program::{self, Values};
use crate::error::{Error, Result, EXIT_CANNOT_RUN};
use kashim_config::keepalive::Timers;
use kashim_config::Config;
use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::Duration;

const FORWARDED: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// COMMAND's pid while it runs; NOT_STARTED before, EXITED after. Read by the signal handler.
static CHILD: AtomicI32 = AtomicI32::new(NOT_STARTED);
const NOT_STARTED: i32 = 0;
const EXITED: i32 = -1;
/// Signals kashim received while COMMAND was not running (bit = signal number): before it
/// started, they stop the run; after it exited, they go to its remaining descendants.
static PENDING: AtomicU64 = AtomicU64::new(0);

extern "C" fn forward(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // A terminal's INT/QUIT/HUP goes to the whole foreground process group, COMMAND included
    // (si_code SI_KERNEL); forwarding it would deliver it twice.
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let from_terminal = unsafe { (*info).si_code } == libc::SI_KERNEL;
    match CHILD.load(Ordering::SeqCst) {
        NOT_STARTED => {
            PENDING.fetch_or(1 << sig, Ordering::SeqCst);
        }
        _ if from_terminal => {}
        EXITED => {
            PENDING.fetch_or(1 << sig, Ordering::SeqCst);
        }
        child => {
            // SAFETY: kill is async-signal-safe.
            unsafe { libc::kill(child, sig) };
        }
    }
}

fn install_forwarding() {
    for sig in FORWARDED {
        // SAFETY: reading and setting dispositions with valid sigaction structures.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, std::ptr::null(), &mut old);
            // An ignored signal stays ignored, for kashim and (inherited) for COMMAND.
            if old.sa_sigaction == libc::SIG_IGN {
                continue;
            }
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = forward as *const () as usize;
            act.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(sig, &act, std::ptr::null_mut());
        }
    }
}

/// The run's cgroup, locked (flock) while kashim runs; removed when dropped (after its
/// programs, so the order is right even on an early error).
struct RunCgroup {
    dir: PathBuf,
    _lock: File,
}

impl Drop for RunCgroup {
    fn drop(&mut self) {
        if let Err(e) = cgroup::remove(&self.dir) {
            eprintln!("kashim: cannot remove cgroup {}: {e}", self.dir.display());
        }
    }
}

/// Takes the lock on a cgroup directory without waiting; None while another process holds it.
fn lock(dir: &Path) -> Option<File> {
    let file = File::open(dir).ok()?;
    // SAFETY: flock on a descriptor we own.
    (unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0).then_some(file)
}

/// The run's programs: pinned, so they outlive a killed kashim; held by kashim alone where no
/// bpffs can be had.
enum Held {
    Pinned(program::Pinned),
    Unpinned { _links: program::Links },
}

impl Held {
    fn new(links: program::Links, cgroup_id: u64, verbose: u8) -> Result<Held> {
        let dir = match pin::bpffs() {
            Ok(bpffs) => pin::pin_dir(&bpffs),
            Err(e) => {
                if verbose > 0 {
                    eprintln!("kashim: {e}; the programs stay attached only while kashim runs");
                }
                return Ok(Held::Unpinned { _links: links });
            }
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::failure(format!("cannot create {}: {e}", dir.display())))?;
        let pinned = links.pin(&dir.join(pin::pin_name(Kind::Run, cgroup_id)))?;
        Ok(Held::Pinned(pinned))
    }

    /// Detaches the programs and removes their pins.
    fn release(self) {
        if let Held::Pinned(pinned) = self {
            if let Err(e) = pinned.unpin() {
                eprintln!("kashim: cannot remove the pins of the run's programs: {e}");
            }
            pin::remove_pin_dir_if_empty();
        }
    }
}

/// Removes what `kashim --ebpf -- COMMAND` runs whose kashim was killed left behind, once their
/// COMMAND and its descendants have ended: the pinned programs and the cgroup. A run whose
/// kashim is alive holds its cgroup's lock; a run whose cgroup is not visible from here is left
/// alone unless the kernel reports its programs detached (the cgroup was freed).
pub fn remove_ended(hierarchy: &Hierarchy) {
    let runs: Vec<pin::Pin> = pin::pins()
        .into_iter()
        .filter(|p| p.kind == Kind::Run)
        .collect();
    if runs.is_empty() {
        return;
    }
    let dirs: HashMap<u64, PathBuf> = cgroup::walk(&hierarchy.mount.mount_point)
        .into_iter()
        .filter_map(|dir| Some((cgroup::id(&dir).ok()?, dir)))
        .collect();
    for run in runs {
        let ended = match dirs.get(&run.cgroup_id) {
            Some(dir) => match lock(dir) {
                Some(_lock) if !cgroup::populated(dir) => {
                    let removed = run.remove();
                    removed.and_then(|()| cgroup::remove(dir))
                }
                _ => continue,
            },
            None if run.detached() => run.remove(),
            None => continue,
        };
        if let Err(e) = ended {
            eprintln!(
                "kashim: cannot remove what an ended kashim --ebpf run left ({}): {e}",
                run.path.display()
            );
        }
    }
}

pub fn main(config: &Config, command: &[OsString], verbose: u8) -> Result<ExitCode> {
    // Found (as a shell finds it) before anything is made, with a normal run's messages.
    let path = crate::run::find_command(&command[0])?;
    program::check_privileges()?;
    // From here on an INT/TERM/HUP/QUIT is held until the cgroup is cleaned up.
    install_forwarding();
    let hierarchy = Hierarchy::find()?;
    let own = hierarchy.own()?;
    // Pinned runs first: remove_stale would remove an ended run's cgroup but not its pins.
    remove_ended(&hierarchy);
    cgroup::remove_stale(&own);
    let defaults = crate::kernel_defaults::own().unwrap_or(Timers::LINUX);
    let values = Values::from_config(config, defaults);
    let mut loaded = program::load(values)?;
    let dir = cgroup::create_own(&own, "run")?;
    let Some(lock) = lock(&dir) else {
        let _ = cgroup::remove(&dir);
        return Err(Error::failure(format!(
            "cannot lock cgroup {}",
            dir.display()
        )));
    };
    let run_cgroup = RunCgroup { dir, _lock: lock };
    let id = cgroup::id(&run_cgroup.dir)
        .map_err(|e| Error::failure(format!("cannot stat {}: {e}", run_cgroup.dir.display())))?;
    let links = loaded.attach(&run_cgroup.dir)?;
    let held = Held::new(links, id, verbose)?;
    if let Err(e) = program::probe(&run_cgroup.dir, &values, &config.scope) {
        held.release();
        return Err(e);
    }
    if verbose > 0 {
        eprintln!(
            "kashim: keepalive for COMMAND's TCP connections ({}) via eBPF in cgroup {}",
            values.describe(),
            run_cgroup.dir.display()
        );
    }

    let status = match first_pending() {
        // Interrupted while setting up: COMMAND never starts; kashim ends by that signal.
        Some(sig) => sig,
        None => match spawn_and_wait(&path, command, &run_cgroup.dir) {
            Ok(status) => status,
            Err(e) => {
                held.release();
                return Err(e);
            }
        },
    };
    wait_until_empty(&run_cgroup.dir);
    held.release();
    drop(loaded);
    drop(run_cgroup);
    Ok(pass_through(status))
}

fn spawn_and_wait(path: &Path, command: &[OsString], dir: &Path) -> Result<libc::c_int> {
    let procs = OpenOptions::new()
        .write(true)
        .open(dir.join("cgroup.procs"))
        .map_err(|e| Error::failure(format!("cannot open {}/cgroup.procs: {e}", dir.display())))?;
    let procs_fd = procs.as_raw_fd();
    let mut cmd = Command::new(path);
    cmd.arg0(&command[0]).args(&command[1..]);
    // SAFETY: the hook only calls write(2), which is async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            // "0" moves the writing process: COMMAND is in the cgroup before its first instruction.
            if libc::write(procs_fd, b"0".as_ptr().cast(), 1) != 1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let shown = kashim_config::escape(command[0].as_encoded_bytes());
    let child = cmd
        .spawn()
        .map_err(|e| Error::new(EXIT_CANNOT_RUN, format!("{shown}: cannot run it: {e}")))?;
    drop(procs);
    let pid = child.id() as i32;
    CHILD.store(pid, Ordering::SeqCst);
    // A signal that came between the check before spawning and now.
    if let Some(sig) = first_pending() {
        // SAFETY: plain kill(2) to our child.
        unsafe { libc::kill(pid, sig) };
    }
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        if unsafe { libc::waitpid(pid, &mut status, 0) } == pid {
            break;
        }
        if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break;
        }
    }
    CHILD.store(EXITED, Ordering::SeqCst);
    Ok(status)
}

/// Takes the pending signals; returns the lowest-numbered one.
fn first_pending() -> Option<libc::c_int> {
    let pending = PENDING.swap(0, Ordering::SeqCst);
    (pending != 0).then(|| pending.trailing_zeros() as libc::c_int)
}

/// COMMAND has exited; its descendants may still run (daemons, background jobs). The program
/// stays until the cgroup is empty; signals kashim receives meanwhile go to them.
fn wait_until_empty(dir: &Path) {
    while cgroup::populated(dir) {
        let pending = PENDING.swap(0, Ordering::SeqCst);
        if pending != 0 {
            for pid in cgroup::procs(dir) {
                for sig in FORWARDED {
                    if pending & (1 << sig) != 0 {
                        // SAFETY: plain kill(2).
                        unsafe { libc::kill(pid, sig) };
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// kashim ends the way COMMAND did: its exit status, or the same signal (so a shell sees an
/// interrupted command as interrupted).
fn pass_through(status: libc::c_int) -> ExitCode {
    if libc::WIFEXITED(status) {
        return ExitCode::from(libc::WEXITSTATUS(status) as u8);
    }
    if libc::WIFSIGNALED(status) {
        let sig = libc::WTERMSIG(status);
        // SAFETY: resetting a disposition and raising; no core file for kashim's own death.
        unsafe {
            let no_core = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &no_core);
            libc::signal(sig, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, sig);
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::raise(sig);
        }
        return ExitCode::from(128u8.wrapping_add(sig as u8));
    }
    ExitCode::from(1)
}
