//! `kashim --ebpf --status [--json]`: every cgroup with kashim's program attached, read from the
//! kernel (not from kashim's own records): each cgroup of the hierarchy is asked for its sock_ops
//! programs, kashim's are recognised by name, and their values read back from their .rodata.

use super::cgroup::{self, Hierarchy};
use super::pin::{self, Kind};
use super::program::{self, Values, PROGRAM_NAME};
use super::sys;
use crate::error::Result;
use aya::maps::{Array, Map, MapData};
use aya::programs::{loaded_programs, ProgramInfo};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug)]
pub struct Entry {
    pub cgroup: PathBuf,
    pub program_id: u32,
    pub pinned: bool,
    /// None when the values could not be read back.
    pub values: Option<Values>,
}

pub fn main(json: bool) -> Result<ExitCode> {
    program::check_status_privileges()?;
    let hierarchy = Hierarchy::find()?;
    let entries = collect(&hierarchy);
    if json {
        println!("{}", to_json(&entries));
    } else {
        print!("{}", to_table(&entries));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn collect(hierarchy: &Hierarchy) -> Vec<Entry> {
    let ours: HashMap<u32, ProgramInfo> = loaded_programs()
        .flatten()
        .filter(|p| p.name_as_str() == Some(PROGRAM_NAME))
        .map(|p| (p.id(), p))
        .collect();
    let pins = pin::pins();
    let attached: HashSet<u64> = pins
        .iter()
        .filter(|p| p.kind == Kind::Attach)
        .map(|p| p.cgroup_id)
        .collect();
    let mut seen_ids = HashSet::new();
    let mut entries = Vec::new();
    for dir in cgroup::walk(&hierarchy.mount.mount_point) {
        let Ok(id) = cgroup::id(&dir) else { continue };
        seen_ids.insert(id);
        let Ok(file) = File::open(&dir) else { continue };
        let Ok(ids) = sys::sock_ops_programs(file.as_fd()) else {
            continue;
        };
        for program_id in ids {
            if let Some(info) = ours.get(&program_id) {
                entries.push(Entry {
                    cgroup: dir.clone(),
                    program_id,
                    pinned: attached.contains(&id),
                    values: values_of(info),
                });
            }
        }
    }
    // A pin whose link the kernel reports detached (its cgroup was removed and freed) holds
    // nothing: it is removed, and said so. A pin whose cgroup is just not in this view (a mount
    // namespace showing part of the cgroup tree) still acts there: it is kept.
    for p in pins.iter().filter(|p| !seen_ids.contains(&p.cgroup_id)) {
        if p.detached() {
            match p.remove() {
                Ok(()) => eprintln!(
                    "kashim: removed the pin {}: the kernel reports its cgroup (id {}) gone and the program detached",
                    p.path.display(),
                    p.cgroup_id
                ),
                Err(e) => eprintln!("kashim: cannot remove the pin {}: {e}", p.path.display()),
            }
        } else {
            eprintln!(
                "kashim: {} acts on cgroup id {}, which is not visible from here (kept)",
                p.path.display(),
                p.cgroup_id
            );
        }
    }
    entries
}

fn values_of(info: &ProgramInfo) -> Option<Values> {
    for id in info.map_ids().ok()??.into_iter() {
        let Ok(data) = MapData::from_id(id) else {
            continue;
        };
        let is_rodata = data
            .info()
            .ok()
            .and_then(|i| i.name_as_str().map(|n| n.ends_with(".rodata")))
            .unwrap_or(false);
        if !is_rodata {
            continue;
        }
        let array: Array<MapData, Values> = Array::try_from(Map::Array(data)).ok()?;
        let values = array.get(&0, 0).ok()?;
        if values.is_kashims() {
            return Some(values);
        }
    }
    None
}

pub fn to_table(entries: &[Entry]) -> String {
    if entries.is_empty() {
        return "no cgroup has kashim's eBPF program attached\n".to_string();
    }
    let width = entries
        .iter()
        .map(|e| e.cgroup.as_os_str().len())
        .max()
        .unwrap_or(0)
        .max("CGROUP".len());
    let mut out = format!("{:<width$}  {:<8}  SETTINGS\n", "CGROUP", "PINNED");
    for e in entries {
        let settings = e
            .values
            .map(|v| v.describe())
            .unwrap_or_else(|| "(cannot read)".to_string());
        out += &format!(
            "{:<width$}  {:<8}  {settings}\n",
            e.cgroup.display(),
            if e.pinned { "yes" } else { "no (run)" }
        );
    }
    out += &format!("note: {}\n", pin::UNTOUCHED);
    out
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out += "\\\"",
            '\\' => out += "\\\\",
            c if (c as u32) < 0x20 => out += &format!("\\u{:04x}", c as u32),
            c => out.push(c),
        }
    }
    out + "\""
}

pub fn to_json(entries: &[Entry]) -> String {
    let items: Vec<String> = entries
        .iter()
        .map(|e| {
            let values = match e.values {
                Some(v) => format!(
                    "\"idle_s\":{},\"interval_s\":{},\"count\":{},\"user_timeout_ms\":{},\"force\":{},\"force_cap\":{},\"direction\":\"{}\",\"only_rules\":{},\"except_rules\":{}",
                    v.idle_s,
                    v.interval_s,
                    v.count,
                    if v.user_timeout_ms == 0 {
                        "null".to_string()
                    } else {
                        v.user_timeout_ms.to_string()
                    },
                    v.force != 0,
                    v.force_cap != 0,
                    v.direction_name(),
                    if v.only_given == 0 {
                        "null".to_string()
                    } else {
                        v.only_len.to_string()
                    },
                    v.except_len
                ),
                None => "\"idle_s\":null".to_string(),
            };
            format!(
                "{{\"cgroup\":{},\"pinned\":{},\"program_id\":{},{values}}}",
                json_string(&e.cgroup.to_string_lossy()),
                e.pinned,
                e.program_id
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(cgroup: &str, pinned: bool, user_timeout_ms: u32) -> Entry {
        let mut values = Values::from_config(
            &kashim_config::Config::default(),
            kashim_config::keepalive::Timers::LINUX,
        );
        values.user_timeout_ms = user_timeout_ms;
        Entry {
            cgroup: cgroup.into(),
            program_id: 7,
            pinned,
            values: Some(values),
        }
    }

    #[test]
    fn table_lists_each_cgroup_and_says_earlier_connections_are_untouched() {
        let t = to_table(&[entry("/cg/a", true, 0), entry("/cg/b\"x", false, 1500)]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "CGROUP   PINNED    SETTINGS");
        assert_eq!(
            lines[1],
            "/cg/a    yes       idle 60s, interval 10s, count 6, user timeout off"
        );
        assert_eq!(
            lines[2],
            "/cg/b\"x  no (run)  idle 60s, interval 10s, count 6, user timeout 1500ms"
        );
        assert!(lines[3].contains("before the attach are not touched"));
        assert_eq!(
            to_table(&[]),
            "no cgroup has kashim's eBPF program attached\n"
        );
    }

    #[test]
    fn json_escapes_paths_and_writes_off_as_null() {
        assert_eq!(to_json(&[]), "[]");
        assert_eq!(
            to_json(&[entry("/cg/b\"x\n", true, 0)]),
            "[{\"cgroup\":\"/cg/b\\\"x\\u000a\",\"pinned\":true,\"program_id\":7,\"idle_s\":60,\"interval_s\":10,\"count\":6,\"user_timeout_ms\":null,\"force\":false,\"force_cap\":false,\"direction\":\"both\",\"only_rules\":null,\"except_rules\":0}]"
        );
    }
}
