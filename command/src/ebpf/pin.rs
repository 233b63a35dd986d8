//! `kashim --ebpf --cgroup PATH` and `--detach`: kashim's programs attached to an existing cgroup
//! and pinned in bpffs as <bpffs>/kashim/cgroup-<cgroup id> (sock_ops) and
//! cgroup-<cgroup id>-setsockopt, so they stay after kashim exits. A `kashim --ebpf -- COMMAND`
//! run pins its own as run-<cgroup id>, so they outlive a killed kashim (see run.rs).

use super::cgroup::{self, Hierarchy};
use super::program::{self, Values};
use super::sys;
use crate::error::{Error, Result};
use kashim_config::keepalive::Timers;
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
pub fn bpffs() -> Result<PathBuf> {
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

/// What a pin holds: a `--cgroup` attachment, or the programs of a `kashim --ebpf -- COMMAND` run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Attach,
    Run,
}

/// The name of the sock_ops pin; the setsockopt one adds "-setsockopt" (program::setsockopt_pin).
pub fn pin_name(kind: Kind, cgroup_id: u64) -> String {
    match kind {
        Kind::Attach => format!("cgroup-{cgroup_id}"),
        Kind::Run => format!("run-{cgroup_id}"),
    }
}

/// The kind and cgroup id a sock_ops pin is named after (None for the setsockopt pins).
pub fn parse_pin_name(name: &str) -> Option<(Kind, u64)> {
    let (kind, id) = match name.strip_prefix("cgroup-") {
        Some(id) => (Kind::Attach, id),
        None => (Kind::Run, name.strip_prefix("run-")?),
    };
    Some((kind, id.parse().ok()?))
}

/// One of kashim's attachments as pinned in bpffs.
#[derive(Debug)]
pub struct Pin {
    pub kind: Kind,
    pub cgroup_id: u64,
    /// The sock_ops link's pin.
    pub path: PathBuf,
}

impl Pin {
    /// Whether the kernel reports the link detached from its cgroup: detached by hand, or the
    /// cgroup was removed and freed (a container that ended, a stopped service). Such a pin
    /// holds nothing but a dead link.
    pub fn detached(&self) -> bool {
        sys::open_pinned(&self.path)
            .and_then(|link| sys::link_cgroup_id(link.as_fd()))
            .is_ok_and(|id| id == 0)
    }

    /// Detaches both links at once and removes both pins.
    pub fn remove(&self) -> io::Result<()> {
        let second = program::setsockopt_pin(&self.path);
        for path in [&self.path, &second] {
            if let Ok(link) = sys::open_pinned(path) {
                let _ = sys::link_detach(link.as_fd());
            }
        }
        let mut result = Ok(());
        for path in [&self.path, &second] {
            match fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => result = Err(e),
                _ => {}
            }
        }
        remove_pin_dir_if_empty();
        result
    }
}

/// kashim's pins in bpffs (none when bpffs is not mounted).
pub fn pins() -> Vec<Pin> {
    let Some(bpffs) = find_bpffs() else {
        return Vec::new();
    };
    let Ok(entries) = fs::read_dir(pin_dir(&bpffs)) else {
        return Vec::new();
    };
    let mut out: Vec<Pin> = entries
        .flatten()
        .filter_map(|e| {
            let (kind, cgroup_id) = parse_pin_name(&e.file_name().to_string_lossy())?;
            Some(Pin {
                kind,
                cgroup_id,
                path: e.path(),
            })
        })
        .collect();
    out.sort_by_key(|p| p.cgroup_id);
    out
}

/// Removes the pins whose links the kernel reports detached (their cgroups were freed), saying
/// so on stderr for each. Nothing else: a pin whose cgroup is merely not visible from here (a
/// mount namespace showing part of the cgroup tree) still acts there, and is kept.
pub fn prune_detached() -> usize {
    let mut pruned = 0;
    for pin in pins() {
        if pin.detached() {
            match pin.remove() {
                Ok(()) => {
                    pruned += 1;
                    eprintln!(
                        "kashim: removed the pin {}: the kernel reports its cgroup (id {}) gone and the program detached",
                        pin.path.display(),
                        pin.cgroup_id
                    );
                }
                Err(e) => eprintln!("kashim: cannot remove the pin {}: {e}", pin.path.display()),
            }
        }
    }
    pruned
}

pub fn attach(config: &Config, given: &Path) -> Result<ExitCode> {
    program::check_privileges()?;
    let hierarchy = Hierarchy::find()?;
    super::run::remove_ended(&hierarchy);
    let target = hierarchy.resolve(given)?;
    let id = cgroup::id(&target)
        .map_err(|e| Error::failure(format!("cannot stat {}: {e}", target.display())))?;
    let values = Values::from_config(config, namespace_defaults(&target));
    let mut loaded = program::load(values)?;
    probe_elsewhere(&hierarchy, &mut loaded, &config.scope)?;

    let dir = pin_dir(&bpffs()?);
    fs::create_dir_all(&dir)
        .map_err(|e| Error::failure(format!("cannot create {}: {e}", dir.display())))?;
    let pin = Pin {
        kind: Kind::Attach,
        cgroup_id: id,
        path: dir.join(pin_name(Kind::Attach, id)),
    };
    let updated = sys::open_pinned(&pin.path)
        .and_then(|a| Ok((a, sys::open_pinned(&program::setsockopt_pin(&pin.path))?)))
        .and_then(|(sock_ops, setsockopt)| {
            let (new_sock_ops, new_setsockopt) = loaded
                .program_fds()
                .map_err(|e| io::Error::other(e.to_string()))?;
            sys::link_update(sock_ops.as_fd(), new_sock_ops)?;
            sys::link_update(setsockopt.as_fd(), new_setsockopt)
        });
    let replaced = match updated {
        Ok(()) => true,
        Err(e) => {
            // No pin yet, or a link whose cgroup was deleted and recreated under the same id
            // (which cannot be updated): replace it by a new attachment.
            if pin.path.exists() {
                pin.remove().map_err(|r| {
                    Error::failure(format!(
                        "cannot replace the program pinned at {} ({e}): {r}",
                        pin.path.display()
                    ))
                })?;
                fs::create_dir_all(&dir)
                    .map_err(|e| Error::failure(format!("cannot create {}: {e}", dir.display())))?;
            }
            // If pinning fails the links are dropped, which detaches them.
            loaded.attach(&target)?.pin(&pin.path)?;
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
        pin.path.display()
    );
    println!("kashim: {UNTOUCHED}");
    println!(
        "kashim: remove with: kashim --ebpf --cgroup {} --detach",
        target.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The keepalive defaults of the network namespace the cgroup's connections are in: that of its
/// first process found (a container's own namespace), or kashim's own for an empty cgroup (a
/// service attached before it starts). Linux's built-in ones when neither can be read.
fn namespace_defaults(target: &Path) -> Timers {
    cgroup::walk(target)
        .iter()
        .flat_map(|dir| cgroup::procs(dir))
        .find_map(|pid| crate::kernel_defaults::of_pid(pid).ok())
        .or_else(|| crate::kernel_defaults::own().ok())
        .unwrap_or(Timers::LINUX)
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
        .and_then(|links| program::probe(&dir, &loaded.values, scope).map(|()| drop(links)));
    let removed = cgroup::remove(&dir);
    result?;
    removed.map_err(|e| Error::failure(format!("cannot remove {}: {e}", dir.display())))
}

pub fn detach(given: &Path) -> Result<ExitCode> {
    program::check_privileges()?;
    let hierarchy = Hierarchy::find()?;
    super::run::remove_ended(&hierarchy);
    let gone =
        |p: &Path| matches!(fs::symlink_metadata(p), Err(e) if e.kind() == io::ErrorKind::NotFound);
    if gone(given) && (!given.is_absolute() || gone(&hierarchy.dir_of(&given.to_string_lossy()))) {
        // A cgroup that no longer exists (a stopped service, an ended container): the kernel
        // detached kashim's program when it freed the cgroup; what may be left is the pin.
        let shown = kashim_config::escape(given.as_os_str().as_encoded_bytes());
        let pruned = prune_detached();
        println!(
            "kashim: cgroup {shown} no longer exists; {}",
            match pruned {
                0 => "no pin of a removed cgroup is left".to_string(),
                n => format!("removed {n} pin(s) of removed cgroups"),
            }
        );
        return Ok(ExitCode::SUCCESS);
    }
    let target = hierarchy.resolve(given)?;
    let id = cgroup::id(&target)
        .map_err(|e| Error::failure(format!("cannot stat {}: {e}", target.display())))?;
    let pin = find_bpffs().map(|b| Pin {
        kind: Kind::Attach,
        cgroup_id: id,
        path: pin_dir(&b).join(pin_name(Kind::Attach, id)),
    });
    let Some(pin) = pin.filter(|p| sys::open_pinned(&p.path).is_ok()) else {
        println!(
            "kashim: kashim's program is not pinned on {}; nothing to detach",
            target.display()
        );
        return Ok(ExitCode::SUCCESS);
    };
    pin.remove().map_err(|e| {
        Error::failure(format!(
            "cannot detach kashim's program from {}: {e}",
            target.display()
        ))
    })?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_names_carry_kind_and_cgroup_id() {
        assert_eq!(pin_name(Kind::Attach, 42), "cgroup-42");
        assert_eq!(pin_name(Kind::Run, 42), "run-42");
        assert_eq!(parse_pin_name("cgroup-42"), Some((Kind::Attach, 42)));
        assert_eq!(parse_pin_name("run-7"), Some((Kind::Run, 7)));
        // The setsockopt pins go with their sock_ops pin, never on their own.
        assert_eq!(parse_pin_name("cgroup-42-setsockopt"), None);
        assert_eq!(parse_pin_name("run-7-setsockopt"), None);
        assert_eq!(parse_pin_name("other"), None);
        assert_eq!(
            program::setsockopt_pin(Path::new("/sys/fs/bpf/kashim/cgroup-42")),
            Path::new("/sys/fs/bpf/kashim/cgroup-42-setsockopt")
        );
    }
}
