use super::*;

fn p(args: &[&str]) -> Result<Invocation> {
    parse(args.iter().map(OsString::from))
}

fn usage_line(args: &[&str]) -> String {
    let err = p(args).unwrap_err();
    assert_eq!(err.code, 2, "{args:?}");
    assert_eq!(err.lines.len(), 1);
    err.lines[0].clone()
}

#[test]
fn options_stop_at_the_command() {
    let inv = p(&["--idle", "30", "python3", "--idle", "x", "-v"]).unwrap();
    assert_eq!(
        inv.mode,
        Mode::Run {
            command: ["python3", "--idle", "x", "-v"]
                .map(OsString::from)
                .to_vec()
        }
    );
    assert_eq!(inv.settings.len(), 1);
    assert_eq!(inv.settings[0].var, "KASHIM_IDLE");
}

#[test]
fn values_inline_or_separate() {
    let inv = p(&["--idle=", "--count", "3", "-vv", "--", "ls"]).unwrap();
    let got: Vec<_> = inv
        .settings
        .iter()
        .map(|s| (s.var, s.value.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("KASHIM_IDLE", "".into()),
            ("KASHIM_COUNT", "3".into()),
            ("KASHIM_LOG", "debug".into())
        ]
    );
}

#[test]
fn syntax_errors_are_one_line() {
    assert!(usage_line(&["--idle", "--count", "3", "ls"]).starts_with("--idle needs a value"));
    assert!(usage_line(&["--count"]).starts_with("--count needs a value"));
    assert!(usage_line(&["--frobnicate", "ls"]).starts_with("unknown option --frobnicate"));
    assert!(usage_line(&["--no-children=yes", "ls"]).starts_with("--no-children takes no value"));
    assert!(usage_line(&["--idle", "30"]).starts_with("missing COMMAND"));
    assert!(usage_line(&["--"]).starts_with("missing COMMAND"));
    assert!(usage_line(&["--print-env", "yaml"]).starts_with("--print-env \"yaml\" is not a form"));
    assert!(usage_line(&["--print-env", "shell", "ls"]).starts_with("--print-env takes no COMMAND"));
    assert!(usage_line(&["--inspect", "abc"]).starts_with("--inspect \"abc\" is not a process id"));
    assert!(
        usage_line(&["--inspect", "-3"]).contains("needs a value")
            || usage_line(&["--inspect", "-3"]).contains("not a process id")
    );
}

#[test]
fn print_env_form_defaults_to_shell() {
    assert_eq!(
        p(&["--print-env"]).unwrap().mode,
        Mode::PrintEnv {
            form: EnvForm::Shell
        }
    );
    assert_eq!(
        p(&["--print-env", "--idle", "5"]).unwrap().mode,
        Mode::PrintEnv {
            form: EnvForm::Shell
        }
    );
    assert_eq!(
        p(&["--print-env=docker"]).unwrap().mode,
        Mode::PrintEnv {
            form: EnvForm::Docker
        }
    );
}

#[test]
fn options_without_effect_in_a_mode_are_errors() {
    assert!(usage_line(&["--count", "5", "--inspect", "1"])
        .starts_with("--count has no effect with --inspect"));
    assert!(usage_line(&["--lib", "/x.so", "--attach", "1"])
        .starts_with("--lib has no effect with --attach"));
    assert!(usage_line(&["--json", "ls"]).starts_with("--json has no effect with a run"));
    assert!(usage_line(&["--inspect", "1", "--attach", "2"]).contains("cannot be used together"));
    assert!(usage_line(&["--cgroup", "/sys/fs/cgroup/x"]).contains("has no effect"));
}

#[test]
fn ebpf_forms() {
    assert_eq!(
        p(&["--ebpf", "--idle", "5", "--", "ls"]).unwrap().mode,
        Mode::Ebpf(EbpfMode::Run {
            command: vec!["ls".into()]
        })
    );
    assert_eq!(
        p(&["--ebpf", "--cgroup", "/c"]).unwrap().mode,
        Mode::Ebpf(EbpfMode::Attach {
            cgroup: "/c".into()
        })
    );
    assert_eq!(
        p(&["--ebpf", "--cgroup", "/c", "--detach"]).unwrap().mode,
        Mode::Ebpf(EbpfMode::Detach {
            cgroup: "/c".into()
        })
    );
    assert_eq!(
        p(&["--ebpf", "--status", "--json"]).unwrap().mode,
        Mode::Ebpf(EbpfMode::Status)
    );
    assert!(usage_line(&["--ebpf"]).starts_with("--ebpf needs"));
    assert!(usage_line(&["--ebpf", "--detach"]).starts_with("--detach needs --cgroup"));
    assert!(
        usage_line(&["--ebpf", "--cgroup", "/c", "ls"]).starts_with("--cgroup takes no COMMAND")
    );
}

#[test]
fn help_and_version_win() {
    assert_eq!(p(&["--idle", "x", "--help"]).unwrap().mode, Mode::Help);
    assert_eq!(p(&["-V"]).unwrap().mode, Mode::Version);
    assert_eq!(p(&["-h"]).unwrap().mode, Mode::Help);
}

#[test]
fn every_flag_is_in_the_help_and_the_completion() {
    let help = crate::help::help_text();
    let completion = crate::help::completion_bash();
    for f in FLAGS {
        assert!(help.contains(f.long), "{} missing from --help", f.long);
        assert!(
            completion.contains(f.long),
            "{} missing from completion",
            f.long
        );
    }
}

#[test]
fn every_flag_is_in_the_man_page() {
    let man = include_str!("../../../docs/man/kashim.1");
    for f in FLAGS {
        let roff = f.long.replace('-', "\\-");
        assert!(
            man.contains(&roff),
            "{} missing from docs/man/kashim.1",
            f.long
        );
        if let Some(c) = f.short {
            assert!(
                man.contains(&format!("\\-{c}")),
                "-{c} missing from kashim.1"
            );
        }
    }
}

#[test]
fn scope_options() {
    let inv = p(&["--force", "curl"]).unwrap();
    assert_eq!(inv.settings[0].value, OsString::from("1"));
    assert_eq!(
        inv.mode,
        Mode::Run {
            command: vec!["curl".into()]
        }
    );
    let inv = p(&[
        "--force=cap",
        "--only",
        "10.0.0.0/8",
        "--except=:22",
        "--direction",
        "outbound",
        "--no-children",
        "ls",
    ])
    .unwrap();
    let got: Vec<(&str, String)> = inv
        .settings
        .iter()
        .map(|s| (s.var, s.value.to_string_lossy().into_owned()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("KASHIM_FORCE", "cap".to_string()),
            ("KASHIM_ONLY", "10.0.0.0/8".to_string()),
            ("KASHIM_EXCEPT", ":22".to_string()),
            ("KASHIM_DIRECTION", "outbound".to_string()),
            ("KASHIM_CHILDREN", "0".to_string()),
        ]
    );
    assert!(p(&["--print-env", "--only", ":5432"]).is_ok());
    assert!(usage_line(&["--ebpf", "--no-children", "--", "ls"])
        .starts_with("--no-children has no effect with --ebpf"));
    assert!(usage_line(&["--attach", "1", "--only", ":5432"])
        .starts_with("--only has no effect with --attach"));
    assert!(p(&["--attach", "1", "--force=cap"]).is_ok());
    assert!(usage_line(&["--inspect", "1", "--force=cap"])
        .starts_with("--force has no effect with --inspect"));
    // The eBPF program applies direction, address rules and cap itself.
    assert!(p(&[
        "--ebpf",
        "--force=cap",
        "--direction",
        "inbound",
        "--only",
        ":5432",
        "--except",
        ":22",
        "--",
        "ls"
    ])
    .is_ok());
    assert!(p(&["--attach", "1", "--force"]).is_ok());
}

#[test]
fn inspect_takes_an_optional_pid_and_a_threshold() {
    assert_eq!(
        p(&["--inspect", "--json"]).unwrap().mode,
        Mode::Inspect { pid: None }
    );
    assert_eq!(
        p(&["--inspect", "12", "--idle", "2m"]).unwrap().mode,
        Mode::Inspect { pid: Some(12) }
    );
    assert_eq!(p(&["--inspect"]).unwrap().mode, Mode::Inspect { pid: None });
}

#[test]
fn probe_takes_a_target_and_a_max() {
    let inv = p(&["--probe", "[::1]:22", "--max", "90s", "--json"]).unwrap();
    assert_eq!(
        inv.mode,
        Mode::Probe {
            target: Target {
                host: "::1".into(),
                port: 22
            },
            max_s: 90
        }
    );
    assert!(inv.json);
    let inv = p(&["--probe=db:5432"]).unwrap();
    assert_eq!(
        inv.mode,
        Mode::Probe {
            target: Target {
                host: "db".into(),
                port: 5432
            },
            max_s: PROBE_MAX_DEFAULT_S
        }
    );
}

#[test]
fn probe_refuses_bad_input_in_one_line() {
    assert!(usage_line(&["--probe", "db"]).starts_with("--probe \"db\" has no port"));
    assert!(usage_line(&["--probe", "db:70000"]).contains("out of range"));
    for (max, why) in [
        ("1s", "is out of range"),
        ("32768", "is out of range"),
        ("1500ms", "is not a whole number of seconds"),
        ("soon", "is not a duration"),
    ] {
        let line = usage_line(&["--probe", "db:22", "--max", max]);
        assert_eq!(
            line,
            format!(
                "--max \"{max}\" {why} (accepted: whole seconds from 2s to 32767s, e.g. 90s, 10m, 1h)"
            )
        );
    }
    assert!(usage_line(&["--max", "10s", "ls"]).starts_with("--max has no effect with a run"));
    assert!(usage_line(&["--probe", "db:22", "ls"]).starts_with("--probe takes no COMMAND"));
    assert!(usage_line(&["--probe", "db:22", "--idle", "5"])
        .starts_with("--idle has no effect with --probe"));
    assert!(usage_line(&["--probe", "db:22", "--inspect", "1"]).contains("cannot be used together"));
}
