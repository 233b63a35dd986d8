//! The keepalive settings of one kashim invocation: the `KASHIM_*` variables kashim inherited,
//! overridden by its options, judged by the same rules as the library (`kashim-config`). A bad
//! value is a usage error here (exit 2), named as the user gave it: `--idle "0" ...` for an
//! option, `KASHIM_IDLE="0" ...` for an inherited variable. The library alone never stops a program.

use crate::cli::SettingArg;
use crate::error::{Error, Result, EXIT_USAGE};
use kashim_config::{check, escape, Config, KNOWN, PREFIX};
use std::ffi::OsString;

#[derive(Debug, PartialEq, Eq)]
pub struct Settings {
    /// The variables a run exports, in `KNOWN` order: inherited ones and the options' values.
    pub vars: Vec<(&'static str, OsString)>,
    /// What those variables mean.
    pub config: Config,
}

/// `env` is the process environment; `args` the settings given as options (a later one wins).
pub fn resolve(
    env: impl IntoIterator<Item = (OsString, OsString)>,
    args: &[SettingArg],
) -> Result<Settings> {
    let mut lines = Vec::new();
    let mut inherited: Vec<(OsString, OsString)> = Vec::new();
    for (name, value) in env {
        // Like getenv, the first of duplicated entries counts.
        if name.as_encoded_bytes().starts_with(PREFIX.as_bytes())
            && !inherited.iter().any(|(n, _)| *n == name)
        {
            inherited.push((name, value));
        }
    }
    let mut vars = Vec::new();
    for known in KNOWN {
        let given = args.iter().rev().find(|a| a.var == known);
        let (shown, value) = match given {
            Some(arg) => (format!("{} ", arg.flag), arg.value.clone()),
            None => match inherited.iter().find(|(n, _)| n == known) {
                Some((_, v)) => (format!("{known}="), v.clone()),
                None => continue,
            },
        };
        if let Err(why) = check(known, value.as_encoded_bytes()) {
            lines.push(format!(
                "{shown}\"{}\" {why}",
                escape(value.as_encoded_bytes())
            ));
        }
        vars.push((known, value));
    }
    for (name, value) in &inherited {
        let name_bytes = name.as_encoded_bytes();
        if !KNOWN.iter().any(|k| k.as_bytes() == name_bytes) {
            lines.push(format!(
                "{}=\"{}\" in the environment is not a kashim variable (known: {})",
                escape(name_bytes),
                escape(value.as_encoded_bytes()),
                KNOWN.join(", ")
            ));
        }
    }
    if !lines.is_empty() {
        return Err(Error {
            code: EXIT_USAGE,
            lines,
        });
    }
    let loaded = Config::from_vars(
        vars.iter()
            .map(|(n, v)| (n.as_bytes().to_vec(), v.as_encoded_bytes().to_vec())),
    );
    Ok(Settings {
        vars,
        config: loaded.config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arg(flag: &'static str, var: &'static str, value: &str) -> SettingArg {
        SettingArg {
            flag,
            var,
            value: value.into(),
        }
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs.iter().map(|(k, v)| (k.into(), v.into())).collect()
    }

    #[test]
    fn options_override_the_environment_and_keep_the_rest() {
        let s = resolve(
            env(&[
                ("KASHIM_COUNT", "3"),
                ("KASHIM_IDLE", "abc"),
                ("PATH", "/bin"),
            ]),
            &[arg("--idle", "KASHIM_IDLE", "30")],
        )
        .unwrap();
        assert_eq!(s.config.idle_s, 30);
        assert_eq!(s.config.count, 3);
        assert_eq!(
            s.vars,
            vec![("KASHIM_IDLE", "30".into()), ("KASHIM_COUNT", "3".into())]
        );
    }

    #[test]
    fn bad_values_are_named_as_given() {
        let err = resolve(
            env(&[("KASHIM_COUNT", "500"), ("KASHIM_IDEL", "5")]),
            &[arg("--idle", "KASHIM_IDLE", "0")],
        )
        .unwrap_err();
        assert_eq!(err.code, 2);
        assert_eq!(err.lines.len(), 3, "{:?}", err.lines);
        assert!(err.lines[0].starts_with("--idle \"0\" is out of range (accepted: whole seconds"));
        assert!(err.lines[1]
            .starts_with("KASHIM_COUNT=\"500\" is out of range (accepted: a whole number"));
        assert!(err.lines[2]
            .starts_with("KASHIM_IDEL=\"5\" in the environment is not a kashim variable"));
    }

    #[test]
    fn the_first_of_duplicated_variables_counts() {
        let s = resolve(env(&[("KASHIM_IDLE", "30"), ("KASHIM_IDLE", "x")]), &[]).unwrap();
        assert_eq!(s.config.idle_s, 30);
    }

    #[test]
    fn scope_values_are_checked_like_the_library() {
        let s = resolve(
            env(&[("KASHIM_EXCEPT", ":22")]),
            &[
                arg("--only", "KASHIM_ONLY", "10.0.0.0/8,[::1]:443"),
                arg("--force", "KASHIM_FORCE", "cap"),
                arg("--no-children", "KASHIM_CHILDREN", "0"),
            ],
        )
        .unwrap();
        assert!(s.config.force_cap && !s.config.children);
        assert_eq!(s.config.scope.only.rules().len(), 2);
        assert_eq!(s.config.scope.except.rules().len(), 1);
        let err = resolve(
            env(&[("KASHIM_DIRECTION", "up")]),
            &[arg("--only", "KASHIM_ONLY", "10.0.0.0/8,bad")],
        )
        .unwrap_err();
        assert!(err.lines[0].starts_with(
            "KASHIM_DIRECTION=\"up\" is not a direction (accepted: both, outbound, inbound)"
        ));
        assert!(
            err.lines[1].starts_with("--only \"10.0.0.0/8,bad\" entry \"bad\" is not an IPv4 address (accepted: comma-separated"),
            "{:?}",
            err.lines
        );
        assert!(!err.lines[1].contains("ignored"), "{:?}", err.lines);
        let err = resolve(env(&[]), &[arg("--force", "KASHIM_FORCE", "maybe")]).unwrap_err();
        assert!(
            err.lines[0].starts_with("--force \"maybe\" is not a boolean or cap"),
            "{:?}",
            err.lines
        );
    }
}
