use super::*;

fn load(vars: &[(&str, &str)]) -> Loaded {
    Config::from_vars(
        vars.iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec())),
    )
}

fn one_problem(vars: &[(&str, &str)]) -> (Config, String) {
    let loaded = load(vars);
    assert_eq!(loaded.problems.len(), 1, "{:?}", loaded.problems);
    (loaded.config, loaded.problems[0].clone())
}

#[test]
fn no_variables_means_defaults_and_silence() {
    let loaded = load(&[("PATH", "/usr/bin"), ("HOME", "/root")]);
    assert_eq!(loaded.config, Config::default());
    assert!(loaded.problems.is_empty());
    let d = Config::default();
    assert_eq!((d.idle_s, d.interval_s, d.count), (60, 10, 6));
    assert_eq!(d.user_timeout_ms, None);
    assert!(d.enabled && !d.force);
    assert_eq!(d.log, LogLevel::Warn);
}

#[test]
fn durations_in_every_accepted_form() {
    for (text, seconds) in [
        ("600", 600),
        ("30s", 30),
        ("10m", 600),
        ("1h", 3600),
        ("2000ms", 2),
        ("1", 1),
        ("32767", 32767),
        ("32767s", 32767),
        (" 45 ", 45),
        ("5S", 5),
        ("2M", 120),
    ] {
        let loaded = load(&[("KASHIM_IDLE", text), ("KASHIM_INTERVAL", text)]);
        assert!(loaded.problems.is_empty(), "{text}: {:?}", loaded.problems);
        assert_eq!(loaded.config.idle_s, seconds, "{text}");
        assert_eq!(loaded.config.interval_s, seconds, "{text}");
    }
}

#[test]
fn bad_durations_fall_back_with_one_clear_line() {
    for (text, why) in [
        ("abc", "is not a duration"),
        ("10x", "is not a duration"),
        ("s", "is not a duration"),
        ("-5", "is not a duration"),
        ("1.5s", "is not a duration"),
        ("10 s", "is not a duration"),
        ("0", "is out of range"),
        ("32768", "is out of range"),
        ("10h", "is out of range"),
        ("99999999999999999999", "is out of range"),
        ("1500ms", "is not a whole number of seconds"),
        ("", "is empty"),
        ("   ", "is empty"),
    ] {
        let (config, line) = one_problem(&[("KASHIM_IDLE", text)]);
        assert_eq!(config.idle_s, 60, "{text}");
        assert_eq!(
            line,
            format!(
                "KASHIM_IDLE=\"{text}\" {why} (accepted: whole seconds from 1s to 32767s, e.g. 600, 30s, 10m, 1h); using the default 60s"
            )
        );
    }
    let (config, line) = one_problem(&[("KASHIM_INTERVAL", "0s")]);
    assert_eq!(config.interval_s, 10);
    assert!(
        line.starts_with("KASHIM_INTERVAL=\"0s\" is out of range"),
        "{line}"
    );
    assert!(line.ends_with("using the default 10s"), "{line}");
}

#[test]
fn count_range_and_errors() {
    for (text, n) in [("1", 1), ("127", 127), ("9", 9), ("007", 7)] {
        assert_eq!(load(&[("KASHIM_COUNT", text)]).config.count, n);
    }
    for (text, why) in [
        ("0", "is out of range"),
        ("128", "is out of range"),
        ("-1", "is not a whole number"),
        ("3s", "is not a whole number"),
        ("three", "is not a whole number"),
        ("", "is empty"),
    ] {
        let (config, line) = one_problem(&[("KASHIM_COUNT", text)]);
        assert_eq!(config.count, 6);
        assert_eq!(
            line,
            format!("KASHIM_COUNT=\"{text}\" {why} (accepted: a whole number from 1 to 127); using the default 6")
        );
    }
}

#[test]
fn user_timeout_forms() {
    for (text, expected) in [
        ("30s", Some(30_000)),
        ("1500ms", Some(1500)),
        ("45", Some(45_000)),
        ("2m", Some(120_000)),
        ("2147483647ms", Some(i32::MAX as u32)),
        ("0", None),
        ("0ms", None),
        ("off", None),
        ("OFF", None),
    ] {
        let loaded = load(&[("KASHIM_USER_TIMEOUT", text)]);
        assert!(loaded.problems.is_empty(), "{text}: {:?}", loaded.problems);
        assert_eq!(loaded.config.user_timeout_ms, expected, "{text}");
    }
}

#[test]
fn user_timeout_auto_uses_the_effective_keepalive_values() {
    let loaded = load(&[("KASHIM_USER_TIMEOUT", "auto")]);
    assert_eq!(loaded.config.user_timeout_ms, Some((60 + 10 * 6) * 1000));
    let loaded = load(&[
        ("KASHIM_USER_TIMEOUT", "Auto"),
        ("KASHIM_IDLE", "2"),
        ("KASHIM_INTERVAL", "3"),
        ("KASHIM_COUNT", "4"),
    ]);
    // (idle + interval × count) × 1000, not idle + interval × count × 1000.
    assert_eq!(loaded.config.user_timeout_ms, Some(14_000));
    // A bad idle falls back first, then auto uses the fallback.
    let loaded = load(&[("KASHIM_USER_TIMEOUT", "auto"), ("KASHIM_IDLE", "x")]);
    assert_eq!(loaded.config.user_timeout_ms, Some(120_000));
    // The largest keepalive values exceed an int of milliseconds: clamped, not wrapped.
    assert_eq!(auto_user_timeout_ms(32767, 32767, 127), i32::MAX as u32);
}

#[test]
fn user_timeout_errors() {
    for (text, why) in [
        ("soon", "is not a duration, auto or off"),
        ("2147483648ms", "is out of range"),
        ("1000h", "is out of range"),
        ("", "is empty"),
    ] {
        let (config, line) = one_problem(&[("KASHIM_USER_TIMEOUT", text)]);
        assert_eq!(config.user_timeout_ms, None);
        assert_eq!(
            line,
            format!("KASHIM_USER_TIMEOUT=\"{text}\" {why} (accepted: a duration up to 2147483647ms such as 30s, 1500ms, 2m, or auto, or 0/off); using the default off")
        );
    }
}

#[test]
fn booleans_in_every_accepted_form() {
    for (text, value) in [
        ("1", true),
        ("true", true),
        ("TRUE", true),
        ("yes", true),
        ("Yes", true),
        ("on", true),
        ("0", false),
        ("false", false),
        ("no", false),
        ("off", false),
        ("Off", false),
    ] {
        let loaded = load(&[("KASHIM_FORCE", text), ("KASHIM_ENABLED", text)]);
        assert!(loaded.problems.is_empty());
        assert_eq!(loaded.config.force, value, "{text}");
        assert_eq!(loaded.config.enabled, value, "{text}");
    }
    let (config, line) = one_problem(&[("KASHIM_FORCE", "maybe")]);
    assert!(!config.force);
    assert_eq!(
        line,
        "KASHIM_FORCE=\"maybe\" is not a boolean or cap (accepted: 1/0, true/false, yes/no, on/off, or cap); using the default false"
    );
    let (config, line) = one_problem(&[("KASHIM_ENABLED", "2")]);
    assert!(config.enabled);
    assert!(line.ends_with("using the default true"), "{line}");
}

#[test]
fn log_levels() {
    for (text, level) in [
        ("off", LogLevel::Off),
        ("warn", LogLevel::Warn),
        ("INFO", LogLevel::Info),
        ("debug", LogLevel::Debug),
    ] {
        assert_eq!(load(&[("KASHIM_LOG", text)]).config.log, level);
    }
    let (config, line) = one_problem(&[("KASHIM_LOG", "loud")]);
    assert_eq!(config.log, LogLevel::Warn);
    assert_eq!(
        line,
        "KASHIM_LOG=\"loud\" is not a log level (accepted: off, warn, info, debug); using the default warn"
    );
}

#[test]
fn unknown_kashim_names_are_reported_and_ignored() {
    let loaded = load(&[("KASHIM_IDEL", "5"), ("KASHIM_IDLE", "7")]);
    assert_eq!(loaded.config.idle_s, 7);
    assert_eq!(
        loaded.problems,
        vec!["KASHIM_IDEL=\"5\" is not a kashim variable (known: KASHIM_IDLE, KASHIM_INTERVAL, KASHIM_COUNT, KASHIM_USER_TIMEOUT, KASHIM_FORCE, KASHIM_ENABLED, KASHIM_LOG, KASHIM_DIRECTION, KASHIM_ONLY, KASHIM_EXCEPT, KASHIM_CHILDREN); ignored".to_string()]
    );
    // Names are case-sensitive, like every environment variable: kashim_idle is not ours at all.
    assert!(load(&[("kashim_idle", "x")]).problems.is_empty());
}

#[test]
fn one_bad_value_costs_only_that_setting() {
    let loaded = load(&[
        ("KASHIM_IDLE", "abc"),
        ("KASHIM_INTERVAL", "3"),
        ("KASHIM_COUNT", "999"),
        ("KASHIM_FORCE", "yes"),
    ]);
    assert_eq!(loaded.problems.len(), 2);
    assert!(loaded.problems[0].starts_with("KASHIM_IDLE="));
    assert!(loaded.problems[1].starts_with("KASHIM_COUNT="));
    assert_eq!(
        (
            loaded.config.idle_s,
            loaded.config.interval_s,
            loaded.config.count,
            loaded.config.force
        ),
        (60, 3, 6, true)
    );
}

#[test]
fn non_utf8_unrelated_variables_do_not_matter() {
    let loaded = Config::from_vars(vec![
        (b"JUNK\xff".to_vec(), b"x".to_vec()),
        (b"OTHER".to_vec(), b"\xfe\xff".to_vec()),
        (b"KASHIM_IDLE".to_vec(), b"5".to_vec()),
    ]);
    assert!(loaded.problems.is_empty());
    assert_eq!(loaded.config.idle_s, 5);
}

#[test]
fn non_utf8_kashim_values_and_names_are_reported() {
    let loaded = Config::from_vars(vec![(b"KASHIM_IDLE".to_vec(), b"6\xff0".to_vec())]);
    assert_eq!(loaded.config.idle_s, 60);
    assert_eq!(
        loaded.problems,
        vec!["KASHIM_IDLE=\"6\\xff0\" is not valid UTF-8 (accepted: whole seconds from 1s to 32767s, e.g. 600, 30s, 10m, 1h); using the default 60s".to_string()]
    );
    let loaded = Config::from_vars(vec![(b"KASHIM_\xffX".to_vec(), b"1".to_vec())]);
    assert_eq!(loaded.problems.len(), 1);
    assert!(loaded.problems[0].starts_with("KASHIM_\\xffX=\"1\" is not a kashim variable"));
}

#[test]
fn hostile_values_cannot_forge_lines() {
    let (_, line) = one_problem(&[("KASHIM_LOG", "x\nkashim: fake\x1b[2J\"")]);
    assert!(!line.contains('\n') && !line.contains('\x1b'), "{line}");
    assert!(
        line.starts_with("KASHIM_LOG=\"x\\x0akashim: fake\\x1b[2J\\\"\" is not a log level"),
        "{line}"
    );
    // A huge value is still one line (the logger cuts it to its buffer).
    let huge = "9".repeat(100_000);
    let (config, line) = one_problem(&[("KASHIM_COUNT", &huge)]);
    assert_eq!(config.count, 6);
    assert!(line.contains("is out of range"));
}

#[test]
fn summary_line() {
    assert_eq!(
        Config::default().summary(),
        "active: TCP keepalive idle 60s, interval 10s, count 6, user timeout off, force off, log warn"
    );
    let loaded = load(&[("KASHIM_USER_TIMEOUT", "1500ms"), ("KASHIM_FORCE", "1")]);
    assert!(loaded
        .config
        .summary()
        .contains("user timeout 1500ms, force on"));
    let loaded = load(&[("KASHIM_ENABLED", "off")]);
    assert!(loaded.config.summary().starts_with("disabled"));
}

#[test]
fn a_repeated_variable_takes_the_first_value_and_keeps_the_others() {
    let loaded = load(&[
        ("KASHIM_ENABLED", "0"),
        ("KASHIM_IDLE", "30"),
        ("KASHIM_IDLE", "45"),
        ("KASHIM_IDLE", "50"),
        ("KASHIM_COUNT", "3"),
    ]);
    assert!(!loaded.config.enabled);
    assert_eq!(loaded.config.idle_s, 30);
    assert_eq!(loaded.config.count, 3);
    assert_eq!(
        loaded.problems,
        vec!["KASHIM_IDLE is set more than once; the first value is used (as getenv does), the others are ignored".to_string()]
    );
}
