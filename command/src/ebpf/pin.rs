//! `kashim --ebpf --cgroup PATH` and `--detach`: kashim's program attached to an existing cgroup
//! and pinned in bpffs as <bpffs>/kashim/cgroup-<cgroup id>, so it stays after kashim exits.

use super::cgroup::{self, Hierarchy};
use super::program::{self, Values};
use super::sys;
use crate::error::{Error, Result};
use kashim_config::Config;
use std::ffi::CString;
use std::fs;
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub const UNTOUCHED: &str =
    "connections established before the attach are not touched; only new ones get keepalive";

/// Where bpffs is mounted, if it is.
pub fn find_bpffs() -> Option<PathBuf> {
    let text = fs::read_to_string("/proc/self/mountinfo").ok()?;
    cgroup::parse_mountinfo(&text)
        .into_iter()
        .find(|m| m.fs_type == "bpf")
        .map(|m| m.mount_point)
}

/// bpffs, mounted at /sys/fs/bpf when no bpffs is mounted yet (as systemd would).
fn bpffs() -> Result<PathBuf> {
    if let Some(dir) = find_bpffs() {
        return Ok(dir);
    }
    let dir = PathBuf::from("/sys/fs/bpf");
    let fail = |e: io::Error| {
        Error::failure(format!(
            "cannot mount bpffs at {} to pin kashim's program: {e}",
            dir.display()
        ))
    };
    fs::create_dir_all(&dir).map_err(fail)?;
    let target = CString::new("/sys/fs/bpf").expect("no NUL");
    let kind = CString::new("bpf").expect("no NUL");
    let opts = CString::new("mode=0700").expect("no NUL");
    // SAFETY: valid C strings; mount(2) reads them only.
    let rc = unsafe {
        libc::mount(
            kind.as_ptr(),
            target.as_ptr(),
            kind.as_ptr(),
            0,
            opts.as_ptr().cast(),
        )
    };
    if rc != 0 {
        return Err(fail(io::Error::last_os_error()));
    }
    Ok(dir)
}

pub fn pin_dir(bpffs: &Path) -> PathBuf {
    bpffs.join("kashim")
}

pub fn pin_name(cgroup_id: u64) -> String {
    format!("cgroup-{cgroup_id}")
}

/// The cgroup id a pin is named after.
pub fn pinned_id(name: &str) -> Option<u64> {
    name.strip_prefix("cgroup-")?.parse().ok()
}

pub fn attach(config: &Config, given: &Path) -> Result<ExitCode> {
    program::check_privileges()?;
    let hierarchy = Hierarchy::find()?;
    let target = hierarchy.resolve(given)?;
    let id = cgroup::id(&target)
        .map_err(|e| Error::failure(format!("cannot stat {}: {e}", target.display())))?;
    let values = Values::from_config(config);
    let mut loaded = program::load(values)?;
    probe_elsewhere(&hierarchy, &mut loaded, &config.scope)?;

    let dir = pin_dir(&bpffs()?);
    fs::create_dir_all(&dir)
        .map_err(|e| Error::failure(format!("cannot create {}: {e}", dir.display())))?;
    let pin = dir.join(pin_name(id));
    let replaced = match sys::open_pinned(&pin) {
        Ok(link) => {
            let prog = loaded.program_fd()?;
            match sys::link_update(link.as_fd(), prog) {
                Ok(()) => true,
                Err(e) => {
                    // A link whose cgroup was deleted and recreated under the same id cannot be
                    // updated; replace it by a new attachment.
                    let _ = sys::link_detach(link.as_fd());
                    fs::remove_file(&pin).map_err(|r| {
                        Error::failure(format!(
                            "cannot replace the program pinned at {} ({e}): {r}",
                            pin.display()
                        ))
                    })?;
                    attach_and_pin(&mut loaded, &target, &pin)?;
                    false
                }
            }
        }
        Err(_) => {
            attach_and_pin(&mut loaded, &target, &pin)?;
            false
        }
    };
    println!(
        "kashim: {} on {} ({}); pinned at {}",
        if replaced {
            "settings replaced"
        } else {
            "keepalive attached"
        },
        target.display(),
        values.describe(),
        pin.display()
    );
    println!("kashim: {UNTOUCHED}");
    println!(
        "kashim: remove with: kashim --ebpf --cgroup {} --detach",
        target.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn attach_and_pin(loaded: &mut program::Loaded, target: &Path, pin: &Path) -> Result<()> {
    let link = loaded.attach(target)?;
    // If pinning fails the link is dropped here, which detaches it: nothing is left half done.
    link.pin(pin)
        .map(drop)
        .map_err(|e| Error::failure(format!("cannot pin at {}: {e}", pin.display())))
}

/// The probe for a pinned attach runs in a short-lived child of kashim's own cgroup, so no
/// foreign process ever joins the target cgroup.
fn probe_elsewhere(
    hierarchy: &Hierarchy,
    loaded: &mut program::Loaded,
    scope: &kashim_config::Scope,
) -> Result<()> {
    let own = hierarchy.own()?;
    cgroup::remove_stale(&own);
    let dir = cgroup::create_own(&own, "probe")?;
    let result = loaded
        .attach(&dir)
        .and_then(|link| program::probe(&dir, &loaded.values, scope).map(|()| drop(link)));
    let removed = cgroup::remove(&dir);
    result?;
    removed.map_err(|e| Error::failure(format!("cannot remove {}: {e}", dir.display())))
}

pub fn detach(given: &Path) -> Result<ExitCode> {
    program::check_privileges()?;
    let hierarchy = Hierarchy::find()?;
    let target = hierarchy.resolve(given)?;
    let id = cgroup::id(&target)
        .map_err(|e| Error::failure(format!("cannot stat {}: {e}", target.display())))?;
    let pin = find_bpffs().map(|b| pin_dir(&b).join(pin_name(id)));
    let link = pin.as_ref().and_then(|p| sys::open_pinned(p).ok());
    let (Some(pin), Some(link)) = (pin, link) else {
        println!(
            "kashim: kashim's program is not pinned on {}; nothing to detach",
            target.display()
        );
        return Ok(ExitCode::SUCCESS);
    };
    sys::link_detach(link.as_fd()).map_err(|e| {
        Error::failure(format!(
            "cannot detach kashim's program from {}: {e}",
            target.display()
        ))
    })?;
    fs::remove_file(&pin)
        .map_err(|e| Error::failure(format!("cannot remove the pin {}: {e}", pin.display())))?;
    remove_pin_dir_if_empty();
    println!(
        "kashim: detached from {}; connections it already configured keep their keepalive",
        target.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The pin directory goes when its last pin does, so a detach leaves nothing of kashim's.
pub fn remove_pin_dir_if_empty() {
    if let Some(bpffs) = find_bpffs() {
        // Fails (and changes nothing) while other pins remain.
        let _ = fs::remove_dir(pin_dir(&bpffs));
    }
}
