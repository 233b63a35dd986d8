//! Will the preloaded library reach a program once it is exec'd? Judged from the file alone, the
//! way the kernel and the dynamic loader will judge it: a script by its interpreter, a static
//! executable never, and one started in secure-execution mode (AT_SECURE: setuid or setgid to
//! another id, or file capabilities) only through /etc/ld.so.preload.

use crate::elf::{self, Linking};
use std::ffi::{CString, OsStr, OsString};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Why the kernel will start a program in secure-execution mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Secure {
    Setuid,
    Setgid,
    FileCaps,
}

impl Secure {
    fn what(self) -> &'static str {
        match self {
            Secure::Setuid => "setuid",
            Secure::Setgid => "setgid",
            Secure::FileCaps => "given file capabilities (setcap)",
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Reach {
    /// The dynamic loader runs normally and honours LD_PRELOAD.
    Normal,
    /// The file the kernel really starts (`path`, perhaps a script's interpreter) is static.
    Static(PathBuf),
    /// A Go program: its runtime calls the kernel itself, whatever its linking.
    Go(PathBuf),
    /// Secure-execution mode: LD_PRELOAD paths with a slash are ignored, /etc/ld.so.preload is not.
    Secure(PathBuf, Secure),
}

/// The warning a run prints for `reach`, if any. `system_wide`: /etc/ld.so.preload loads kashim.
/// `settings`: the run passes KASHIM_* values (which secure-execution mode ignores).
pub fn warning(reach: &Reach, system_wide: bool, settings: bool) -> Option<String> {
    match reach {
        Reach::Normal => None,
        Reach::Static(path) => Some(format!(
            "warning: {} is statically linked: {} cannot reach it, so keepalive is NOT on \
             for its sockets; running it anyway",
            path.display(),
            if system_wide {
                "no dynamic loader runs, so neither LD_PRELOAD nor /etc/ld.so.preload"
            } else {
                "LD_PRELOAD"
            }
        )),
        Reach::Go(path) => Some(format!(
            "warning: {} is a Go program: Go makes its system calls itself, so {} never \
             sees its sockets (kashim --ebpf reaches it): keepalive is NOT on for them; running it anyway",
            path.display(),
            if system_wide {
                "neither LD_PRELOAD nor /etc/ld.so.preload"
            } else {
                "LD_PRELOAD"
            }
        )),
        Reach::Secure(path, why) if !system_wide => Some(format!(
            "warning: {} is {}: the dynamic loader ignores LD_PRELOAD for it (secure-execution \
             mode), so keepalive is NOT on for its sockets; running it anyway",
            path.display(),
            why.what()
        )),
        Reach::Secure(path, why) if settings => Some(format!(
            "warning: {} is {}: the system-wide libkashim.so ({}) reaches it, but in \
             secure-execution mode it ignores KASHIM_* settings and uses its defaults; running it anyway",
            path.display(),
            why.what(),
            crate::library::SYSTEM_PRELOAD
        )),
        Reach::Secure(..) => None,
    }
}

/// How LD_PRELOAD fares with the executable at `path` (already found and executable).
pub fn judge(path: &Path) -> Reach {
    judge_at(path, 0)
}

fn judge_at(path: &Path, depth: u32) -> Reach {
    // The kernel follows at most 4 levels of interpreters (binfmt_script).
    if depth >= 4 {
        return Reach::Normal;
    }
    if let Some(interp) = script_interpreter(path) {
        return match interp {
            Some(interp) => judge_at(&interp, depth + 1),
            None => Reach::Normal,
        };
    }
    let linking = elf::linking(path);
    if matches!(linking, Linking::Go { .. }) {
        return Reach::Go(path.to_path_buf());
    }
    if let Some(why) = secure_execution(path) {
        return Reach::Secure(path.to_path_buf(), why);
    }
    match linking {
        Linking::Static => Reach::Static(path.to_path_buf()),
        _ => Reach::Normal,
    }
}

/// `None`: not a script. `Some(None)`: a script whose interpreter cannot be found (exec will say
/// so). `Some(Some(path))`: the program the kernel really starts; `#!/usr/bin/env NAME` is followed
/// to NAME as found in PATH.
fn script_interpreter(path: &Path) -> Option<Option<PathBuf>> {
    let mut head = [0u8; 256]; // BINPRM_BUF_SIZE: the kernel reads no more of the #! line
    let mut file = std::fs::File::open(path).ok()?;
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(_) => return None,
        }
    }
    let line = head[..n].strip_prefix(b"#!")?;
    let line = line.split(|b| *b == b'\n').next().unwrap_or(&[]);
    let mut words = line
        .split(|b| *b == b' ' || *b == b'\t')
        .filter(|w| !w.is_empty());
    let interp = PathBuf::from(OsStr::from_bytes(words.next()?));
    if interp.file_name() != Some(OsStr::new("env")) {
        return Some(Some(interp));
    }
    // The first word after env's options and assignments is the real interpreter.
    let name = words.find(|w| !w.starts_with(b"-") && !w.contains(&b'='))?;
    Some(find_in_path(OsStr::from_bytes(name)))
}

/// The first executable regular file called `name` in PATH, as a shell finds it.
pub fn find_in_path(name: &OsStr) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/bin:/bin"));
    for dir in path.as_bytes().split(|b| *b == b':') {
        let dir = if dir.is_empty() {
            Path::new(".")
        } else {
            Path::new(OsStr::from_bytes(dir))
        };
        let candidate = dir.join(name);
        if candidate.is_file() && executable(&candidate) {
            return Some(candidate);
        }
    }
    None
}

pub fn executable(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a valid NUL-terminated path.
    unsafe { libc::access(c.as_ptr(), libc::X_OK) == 0 }
}

/// Whether exec'ing `path` sets AT_SECURE for this caller: the kernel does so when the effective
/// user or group id after exec differs from the real one, or file capabilities add privileges.
/// Set-id bits and capabilities do nothing on a nosuid mount or under no_new_privs.
fn secure_execution(path: &Path) -> Option<Secure> {
    let meta = std::fs::metadata(path).ok()?;
    let mode = meta.mode();
    // SAFETY: plain system calls without pointers.
    let (ruid, rgid) = unsafe { (libc::getuid(), libc::getgid()) };
    let setuid = mode & libc::S_ISUID != 0 && meta.uid() != ruid;
    // Set-group-id without group execute is a mandatory-locking mark, not setgid.
    let setgid = mode & libc::S_ISGID != 0 && mode & libc::S_IXGRP != 0 && meta.gid() != rgid;
    // Root already holds every capability, so file capabilities give it nothing new.
    let caps = !setuid && !setgid && ruid != 0 && has_file_caps(path);
    if !(setuid || setgid || caps) || privileges_ignored(path) {
        return None;
    }
    Some(if setuid {
        Secure::Setuid
    } else if setgid {
        Secure::Setgid
    } else {
        Secure::FileCaps
    })
}

fn has_file_caps(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a size query (null buffer, size 0) with valid NUL-terminated strings.
    let n = unsafe {
        libc::getxattr(
            c.as_ptr(),
            c"security.capability".as_ptr(),
            std::ptr::null_mut(),
            0,
        )
    };
    n > 0
}

/// True when the kernel will not honour set-id bits or file capabilities for this exec.
fn privileges_ignored(path: &Path) -> bool {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) } == 1 {
        return true;
    }
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    let mut fs: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid path and a properly sized output struct.
    unsafe { libc::statvfs(c.as_ptr(), &mut fs) == 0 && fs.f_flag & libc::ST_NOSUID != 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kashim-reach-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn scripts_are_judged_by_their_interpreter() {
        let sh = find_in_path(OsStr::new("sh")).expect("sh in PATH");
        let direct = tmp("direct.sh");
        std::fs::write(&direct, format!("#!{} -e\necho\n", sh.display())).unwrap();
        assert_eq!(script_interpreter(&direct), Some(Some(sh.clone())));
        let via_env = tmp("env.sh");
        std::fs::write(&via_env, "#!/usr/bin/env -S A=1 sh -x\n").unwrap();
        assert_eq!(script_interpreter(&via_env), Some(Some(sh)));
        let missing = tmp("missing.sh");
        std::fs::write(&missing, "#!/usr/bin/env no-such-interpreter-here\n").unwrap();
        assert_eq!(script_interpreter(&missing), Some(None));
        assert_eq!(judge(&missing), Reach::Normal);
        let me = std::env::current_exe().unwrap();
        assert_eq!(script_interpreter(&me), None);
        assert_eq!(judge(&me), Reach::Normal);
    }

    #[test]
    fn set_id_bits_to_ones_own_ids_change_nothing() {
        let f = tmp("self-suid");
        std::fs::copy(std::env::current_exe().unwrap(), &f).unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o6755)).unwrap();
        // The file is ours: set-user-id to ourselves is no change of id.
        assert_eq!(secure_execution(&f), None);
    }

    #[test]
    fn warnings_tell_what_happens() {
        let p = PathBuf::from("/bin/x");
        assert!(warning(&Reach::Normal, false, true).is_none());
        let w = warning(&Reach::Static(p.clone()), false, false).unwrap();
        assert!(w.contains("statically linked: LD_PRELOAD cannot") && w.contains("NOT on"));
        let w = warning(&Reach::Static(p.clone()), true, false).unwrap();
        assert!(w.contains("nor /etc/ld.so.preload") && w.contains("NOT on"));
        let w = warning(&Reach::Secure(p.clone(), Secure::Setuid), false, false).unwrap();
        assert!(w.contains("is setuid") && w.contains("NOT on"));
        // System-wide, the library reaches it; only the settings are lost.
        assert_eq!(
            warning(&Reach::Secure(p.clone(), Secure::Setuid), true, false),
            None
        );
        let w = warning(&Reach::Secure(p, Secure::FileCaps), true, true).unwrap();
        assert!(w.contains("ignores KASHIM_* settings") && !w.contains("NOT on"));
    }
}
