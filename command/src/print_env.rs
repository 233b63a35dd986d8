//! `kashim --print-env [shell|systemd|docker]`: the settings as lines to paste: LD_PRELOAD and
//! every KASHIM_* value of this invocation (inherited ones included, options overriding them).

use crate::cli::{EnvForm, Invocation};
use crate::error::Result;
use crate::library::{self, Origin};
use crate::settings;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::ExitCode;

pub fn main(inv: &Invocation, form: EnvForm) -> Result<ExitCode> {
    let settings = settings::resolve(std::env::vars_os(), &inv.settings)?;
    let lib = library::for_print(inv.lib.as_deref())?;
    if form != EnvForm::Shell && lib.origin == Origin::Build {
        eprintln!(
            "kashim: warning: {} is this machine's build of the library; for an image or another \
             machine, pass --lib with the path libkashim.so has there",
            lib.path.display()
        );
    }
    let vars: Vec<(&str, &OsStr)> = settings
        .vars
        .iter()
        .map(|(n, v)| (*n, v.as_os_str()))
        .collect();
    print!("{}", render(form, &lib.path, &vars));
    Ok(ExitCode::SUCCESS)
}

pub fn render(form: EnvForm, lib: &Path, vars: &[(&str, &OsStr)]) -> String {
    let mut out = String::new();
    let lib_text = String::from_utf8_lossy(lib.as_os_str().as_bytes()).into_owned();
    match form {
        EnvForm::Shell => {
            // Appends to the LD_PRELOAD of the shell it is pasted into, unless that already names
            // the library (entries are separated by spaces or colons), so pasting twice is harmless.
            let q = double_quoted(&lib_text);
            let _ = writeln!(
                out,
                "case \" ${{LD_PRELOAD-}} \" in *[\\ :]{q}[\\ :]*) ;; \
                 *) export LD_PRELOAD=\"${{LD_PRELOAD:+$LD_PRELOAD:}}{}\" ;; esac",
                &q[1..q.len() - 1]
            );
        }
        EnvForm::Systemd => {
            out.push_str("[Service]\n");
            out.push_str(&systemd("LD_PRELOAD", &lib_text));
        }
        EnvForm::Docker => out.push_str(&docker("LD_PRELOAD", &lib_text)),
    }
    for (name, value) in vars {
        let value = String::from_utf8_lossy(value.as_bytes());
        out.push_str(&match form {
            EnvForm::Shell => format!("export {name}={}\n", shell_word(&value)),
            EnvForm::Systemd => systemd(name, &value),
            EnvForm::Docker => docker(name, &value),
        });
    }
    out
}

fn plain(v: &str) -> bool {
    !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._/+@-".contains(&b))
}

fn double_quoted(v: &str) -> String {
    let mut q = String::from("\"");
    for c in v.chars() {
        if matches!(c, '\\' | '"' | '$' | '`') {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

fn shell_word(v: &str) -> String {
    if plain(v) {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', "'\\''"))
    }
}

fn systemd(name: &str, value: &str) -> String {
    let v = value.replace('%', "%%"); // systemd expands %-specifiers
    if plain(&v) {
        format!("Environment={name}={v}\n")
    } else {
        let q = v.replace('\\', "\\\\").replace('"', "\\\"");
        format!("Environment=\"{name}={q}\"\n")
    }
}

fn docker(name: &str, value: &str) -> String {
    if plain(value) {
        format!("ENV {name}={value}\n")
    } else {
        let q = value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('$', "\\$");
        format!("ENV {name}=\"{q}\"\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let vars = [
            ("KASHIM_IDLE", OsStr::new("30s")),
            ("KASHIM_LOG", OsStr::new("a b%")),
        ];
        let lib = Path::new("/usr/lib/libkashim.so");
        assert_eq!(
            render(EnvForm::Docker, lib, &vars),
            "ENV LD_PRELOAD=/usr/lib/libkashim.so\nENV KASHIM_IDLE=30s\nENV KASHIM_LOG=\"a b%\"\n"
        );
        assert_eq!(
            render(EnvForm::Systemd, lib, &vars),
            "[Service]\nEnvironment=LD_PRELOAD=/usr/lib/libkashim.so\n\
             Environment=KASHIM_IDLE=30s\nEnvironment=\"KASHIM_LOG=a b%%\"\n"
        );
        let shell = render(EnvForm::Shell, lib, &vars);
        assert!(shell.ends_with("export KASHIM_IDLE=30s\nexport KASHIM_LOG='a b%'\n"));
        assert!(shell.starts_with(
            "case \" ${LD_PRELOAD-} \" in *[\\ :]\"/usr/lib/libkashim.so\"[\\ :]*) ;;"
        ));
    }
}
