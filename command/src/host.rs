//! `kashim --inspect` without a PID: every process kashim may read (root: all of them, those in
//! containers included), each judged as `--inspect PID` judges one. The report names the
//! processes with connections at risk and those connections, then sums up the host.

use crate::cli::Invocation;
use crate::error::{Result, EXIT_FAILURE};
use crate::inspect::{self, columns, print_out, Judging, Survey};
use crate::kernel_defaults;
use crate::pidfd::PidFd;
use serde_json::json;
use std::collections::HashMap;
use std::process::ExitCode;

/// What one pass over /proc found.
struct Audit {
    surveys: Vec<Survey>,
    /// Processes whose descriptors kashim may not read (with the reason of the first).
    unreadable: usize,
    first_unreadable: Option<String>,
}

pub fn main(inv: &Invocation, threshold_s: u32) -> Result<ExitCode> {
    let audit = audit(threshold_s);
    let at_risk: usize = audit.surveys.iter().map(Survey::at_risk).sum();
    let unknown: usize = audit.surveys.iter().map(Survey::unknown).sum();
    let connections: usize = audit.surveys.iter().map(Survey::total).sum();
    let flagged: Vec<&Survey> = audit.surveys.iter().filter(|s| !s.none_at_risk()).collect();
    if inv.json {
        let processes: Vec<_> = flagged
            .iter()
            .map(|s| {
                let mut v = s.json(None);
                // Only the connections at risk (or not known), as in the table.
                v["sockets"] = s
                    .connections()
                    .filter(|e| e.at_risk(threshold_s) != Some(false))
                    .map(|e| s.socket_json(e, None))
                    .collect();
                v
            })
            .collect();
        let report = json!({
            "threshold_s": threshold_s,
            "processes_read": audit.surveys.len(),
            "processes_unreadable": audit.unreadable,
            "connections": connections,
            "at_risk": at_risk,
            "unknown": unknown,
            "processes": processes,
        });
        print_out(&(report.to_string() + "\n"));
    } else {
        let mut out = String::new();
        for s in &flagged {
            out.push_str(&format!(
                "process {} ({}): {} of {} connection(s) at risk\n",
                s.pid,
                s.command,
                s.at_risk(),
                s.total()
            ));
            let header = crate::inspect::HEADER.map(String::from).to_vec();
            for line in columns(header, s.rows(None, true)).lines() {
                out.push_str("  ");
                out.push_str(line);
                out.push('\n');
            }
        }
        if audit.unreadable > 0 {
            // SAFETY: a plain system call.
            let hint = if unsafe { libc::geteuid() } == 0 {
                ""
            } else {
                "; run as root to see every process"
            };
            out.push_str(&format!(
                "note: {} process(es) could not be read ({}){hint}\n",
                audit.unreadable,
                audit.first_unreadable.as_deref().unwrap_or("not permitted")
            ));
        }
        let not_known = match unknown {
            0 => String::new(),
            n => format!("; {n} not known"),
        };
        out.push_str(&format!(
            "host: {at_risk} of {connections} connections at risk (no keepalive, or a first probe after more than {threshold_s}s idle) in {} of {} processes{not_known}\n",
            flagged.len(),
            audit.surveys.len()
        ));
        print_out(&out);
    }
    Ok(if at_risk == 0 && unknown == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILURE)
    })
}

fn audit(threshold_s: u32) -> Audit {
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    pids.sort_unstable();
    let me = std::process::id() as i32;
    // One read of the defaults per network namespace.
    let mut defaults = HashMap::new();
    let mut audit = Audit {
        surveys: Vec::new(),
        unreadable: 0,
        first_unreadable: None,
    };
    for pid in pids {
        let label = format!("--inspect {pid}");
        // Kernel threads and zombies have no sockets; processes that ended meanwhile neither.
        if pid == me || inspect::check_process(pid, &label).is_err() {
            continue;
        }
        let ns = std::fs::read_link(format!("/proc/{pid}/ns/net")).ok();
        let defaults = *defaults
            .entry(ns)
            .or_insert_with(|| kernel_defaults::of_pid_or_linux(pid));
        let pidfd = PidFd::open(pid).map_err(|e| format!("pidfd_open failed: {e}"));
        let judging = Judging {
            threshold_s,
            defaults,
        };
        match Survey::take(pid, pidfd.as_ref(), &label, judging) {
            Ok(survey) if survey.total() > 0 || survey.listeners() > 0 => {
                audit.surveys.push(survey)
            }
            Ok(_) => {}
            Err(e) if e.lines.iter().any(|l| l.contains("not permitted")) => {
                audit.unreadable += 1;
                audit.first_unreadable.get_or_insert_with(|| e.to_string());
            }
            // Ended meanwhile.
            Err(_) => {}
        }
    }
    audit
}
