//! cgroup v2: where it is mounted (never assumed: /sys/fs/cgroup on most machines,
//! /sys/fs/cgroup/unified in hybrid mode), which cgroup kashim is in, what a --cgroup PATH means,
//! and the short-lived cgroups kashim makes itself.

use crate::error::{Error, Result};
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// statfs f_type of a cgroup2 file system.
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
const CGROUP1_SUPER_MAGIC: i64 = 0x0027_e0eb;

/// One line of /proc/self/mountinfo, the fields kashim needs.
#[derive(Debug, PartialEq, Eq)]
pub struct Mount {
    /// The directory of the file system mounted here (field 4).
    pub root: String,
    pub mount_point: PathBuf,
    pub fs_type: String,
}

/// Parses /proc/self/mountinfo. Fields: id parent major:minor root mount-point options
/// [optional...] - fstype source super-options; paths escape space, tab, newline and backslash
/// as octal.
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let fields: Vec<&str> = left.split(' ').collect();
            let fs_type = right.split(' ').next()?;
            Some(Mount {
                root: unescape(fields.get(3)?),
                mount_point: PathBuf::from(unescape(fields.get(4)?)),
                fs_type: fs_type.to_string(),
            })
        })
        .collect()
}

fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if let Some(v) = field
                .get(i + 1..i + 4)
                .and_then(|o| u8::from_str_radix(o, 8).ok())
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroup v2 path of a process from /proc/PID/cgroup: the "0::" line.
pub fn parse_proc_cgroup(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(|p| p.trim_end_matches(" (deleted)").to_string())
}

/// The mounted cgroup v2 hierarchy.
pub struct Hierarchy {
    pub mount: Mount,
}

impl Hierarchy {
    pub fn find() -> Result<Hierarchy> {
        let text = fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| Error::failure(format!("cannot read /proc/self/mountinfo: {e}")))?;
        // A mount hidden by a later one over it or above it (a cgroup2 bind-mounted over
        // /sys/fs/cgroup, hiding /sys/fs/cgroup/unified) is listed but not reachable: the first
        // one whose mount point really is cgroup v2 now.
        let cgroup2: Vec<Mount> = parse_mountinfo(&text)
            .into_iter()
            .filter(|m| m.fs_type == "cgroup2")
            .collect();
        let reachable = cgroup2.iter().position(|m| is_cgroup2_dir(&m.mount_point));
        cgroup2
            .into_iter()
            .nth(reachable.unwrap_or(0))
            .map(|mount| Hierarchy { mount })
            .ok_or_else(|| {
                Error::failure(
                    "no cgroup v2 file system is mounted (kashim --ebpf needs cgroup v2: mount -t cgroup2 none /sys/fs/cgroup/unified)",
                )
            })
    }

    /// The directory of a cgroup path as /proc/PID/cgroup names it.
    pub fn dir_of(&self, cgroup_path: &str) -> PathBuf {
        let root = self.mount.root.trim_end_matches('/');
        let rel = cgroup_path.strip_prefix(root).unwrap_or(cgroup_path);
        self.mount.mount_point.join(rel.trim_start_matches('/'))
    }

    /// The cgroup kashim itself runs in.
    pub fn own(&self) -> Result<PathBuf> {
        let text = fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| Error::failure(format!("cannot read /proc/self/cgroup: {e}")))?;
        let path = parse_proc_cgroup(&text).ok_or_else(|| {
            Error::failure(
                "/proc/self/cgroup has no cgroup v2 entry (\"0::\"); kashim --ebpf needs cgroup v2",
            )
        })?;
        Ok(self.dir_of(&path))
    }

    /// What `--cgroup PATH` names: a cgroup v2 directory, given either as a file-system path or as
    /// /proc/PID/cgroup shows it (relative to the cgroup v2 mount, such as /system.slice/x.service).
    pub fn resolve(&self, given: &Path) -> Result<PathBuf> {
        let shown = kashim_config::escape(given.as_os_str().as_encoded_bytes());
        let accepted = format!(
            "accepted: a cgroup v2 directory under {}",
            self.mount.mount_point.display()
        );
        if is_cgroup2_dir(given) {
            return Ok(fs::canonicalize(given).unwrap_or_else(|_| given.to_path_buf()));
        }
        if given.is_absolute() {
            let under = self.dir_of(&given.to_string_lossy());
            if is_cgroup2_dir(&under) {
                return Ok(under);
            }
        }
        let why = match fs::metadata(given) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => "does not exist".to_string(),
            Err(e) => format!("cannot be read ({e})"),
            Ok(m) if !m.is_dir() => "is not a directory".to_string(),
            Ok(_) => match fs_type(given) {
                Some(CGROUP1_SUPER_MAGIC) => "is a cgroup v1 directory, not cgroup v2".into(),
                _ => "is not a cgroup directory".to_string(),
            },
        };
        Err(Error::failure(format!(
            "--cgroup \"{shown}\" {why} ({accepted})"
        )))
    }
}

fn fs_type(path: &Path) -> Option<i64> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is a valid C string and st a properly sized buffer.
    (unsafe { libc::statfs(c.as_ptr(), &mut st) } == 0).then_some(st.f_type as i64)
}

pub fn is_cgroup2_dir(path: &Path) -> bool {
    path.is_dir() && fs_type(path) == Some(CGROUP2_SUPER_MAGIC)
}

/// The cgroup's id, as the kernel's BPF interfaces name it: the inode number of its directory.
pub fn id(dir: &Path) -> io::Result<u64> {
    Ok(fs::metadata(dir)?.ino())
}

/// Every cgroup directory of the hierarchy, parents first.
pub fn walk(top: &Path) -> Vec<PathBuf> {
    let mut out = vec![top.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if let Ok(entries) = fs::read_dir(&out[i]) {
            let mut children: Vec<PathBuf> = entries
                .flatten()
                .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
                .map(|e| e.path())
                .collect();
            children.sort();
            out.extend(children);
        }
        i += 1;
    }
    out
}

/// Whether a process is still in the cgroup or one of its children ("populated 1").
pub fn populated(dir: &Path) -> bool {
    fs::read_to_string(dir.join("cgroup.events"))
        .map(|t| t.lines().any(|l| l == "populated 1"))
        .unwrap_or(false)
}

/// The processes in the cgroup itself.
pub fn procs(dir: &Path) -> Vec<i32> {
    fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Removes a cgroup kashim made. The kernel may report it busy for a moment after its last
/// process exited, so this retries for up to a second.
pub fn remove(dir: &Path) -> io::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if Instant::now() < deadline && e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) => return Err(e),
        }
    }
}

/// Makes the cgroup of a `kashim --ebpf` run (kind "run") or probe ("probe") under `parent`:
/// kashim-KIND-PID, or kashim-KIND-PID.N when a kashim in another pid namespace has the same pid.
pub fn create_own(parent: &Path, kind: &str) -> Result<PathBuf> {
    let pid = std::process::id();
    for n in 0..100 {
        let name = match n {
            0 => format!("kashim-{kind}-{pid}"),
            n => format!("kashim-{kind}-{pid}.{n}"),
        };
        let dir = parent.join(name);
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(Error::failure(format!(
                    "cannot create cgroup {}: {e}",
                    dir.display()
                )))
            }
        }
    }
    Err(Error::failure(format!(
        "cannot create a kashim-{kind}-{pid} cgroup in {}: all names taken",
        parent.display()
    )))
}

/// The pid in the name of a cgroup `create_own` made.
fn own_pid(name: &str) -> Option<u32> {
    let rest = ["kashim-run-", "kashim-probe-"]
        .iter()
        .find_map(|p| name.strip_prefix(p))?;
    rest.split('.').next()?.parse().ok()
}

/// Removes the empty cgroups left by kashim runs that were killed (SIGKILL leaves no chance to
/// clean up). Only old ones: a kashim in another pid namespace (whose pid is not visible here)
/// may have made one a moment ago; and the kernel refuses to remove a cgroup with processes.
pub fn remove_stale(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    let now = std::time::SystemTime::now();
    for entry in entries.flatten() {
        let Some(pid) = own_pid(&entry.file_name().to_string_lossy()) else {
            continue;
        };
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > Duration::from_secs(60));
        if old && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 23 0:40 / /mnt/with\\040space rw shared:5 - ext4 /dev/sda1 rw
";

    #[test]
    fn finds_the_cgroup2_mount_and_unescapes_paths() {
        let mounts = parse_mountinfo(HYBRID);
        assert_eq!(mounts.len(), 4);
        let cg2 = mounts.iter().find(|m| m.fs_type == "cgroup2").unwrap();
        assert_eq!(cg2.mount_point, Path::new("/sys/fs/cgroup/unified"));
        assert_eq!(mounts[3].mount_point, Path::new("/mnt/with space"));
        assert_eq!(mounts[3].fs_type, "ext4");
    }

    #[test]
    fn proc_cgroup_takes_the_v2_line() {
        let text = "9:name=systemd:/\n4:memory:/x\n0::/system.slice/a.service\n";
        assert_eq!(
            parse_proc_cgroup(text).as_deref(),
            Some("/system.slice/a.service")
        );
        assert_eq!(parse_proc_cgroup("4:memory:/x\n"), None);
    }

    #[test]
    fn cgroup_paths_are_relative_to_the_mount_root() {
        let h = Hierarchy {
            mount: Mount {
                root: "/".into(),
                mount_point: "/sys/fs/cgroup".into(),
                fs_type: "cgroup2".into(),
            },
        };
        assert_eq!(h.dir_of("/"), Path::new("/sys/fs/cgroup"));
        assert_eq!(h.dir_of("/a/b"), Path::new("/sys/fs/cgroup/a/b"));
        let nested = Hierarchy {
            mount: Mount {
                root: "/ctr".into(),
                mount_point: "/sys/fs/cgroup".into(),
                fs_type: "cgroup2".into(),
            },
        };
        assert_eq!(nested.dir_of("/ctr/app"), Path::new("/sys/fs/cgroup/app"));
    }

    #[test]
    fn own_cgroup_names_carry_the_pid() {
        assert_eq!(own_pid("kashim-run-42"), Some(42));
        assert_eq!(own_pid("kashim-probe-42.3"), Some(42));
        assert_eq!(own_pid("kashim-suite-42"), None);
        assert_eq!(own_pid("myapp.service"), None);
    }
}
