//! Records the commit the command is built from, for `kashim --version`, and compiles the eBPF
//! program of `kashim --ebpf` (bpf/keepalive.bpf.c) when clang is present.
//!
//! A build outside a git checkout (a release tarball) may set KASHIM_COMMIT itself. Without a
//! working `clang -target bpf` (or with BPF_CLANG naming one that is missing) the command still
//! builds, and `kashim --ebpf` then says it was built without eBPF support.
use std::path::{Path, PathBuf};
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    record_commit();
    compile_bpf();
}

fn record_commit() {
    println!("cargo:rerun-if-env-changed=KASHIM_COMMIT");
    let commit = std::env::var("KASHIM_COMMIT")
        .ok()
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]));
    if let Some(commit) = commit {
        println!("cargo:rustc-env=KASHIM_COMMIT={commit}");
    }
    // Rebuild when HEAD moves, so the commit shown is never stale. Git names the files: in a
    // linked worktree HEAD is per worktree while the branch refs live in the common directory.
    let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--path-format=absolute", "--git-path", &name]) {
            if std::path::Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
}

/// Sets the `kashim_ebpf` cfg and KASHIM_BPF_OBJECT when the program compiled.
fn compile_bpf() {
    println!("cargo::rustc-check-cfg=cfg(kashim_ebpf)");
    println!("cargo:rerun-if-env-changed=BPF_CLANG");
    let source = "bpf/keepalive.bpf.c";
    println!("cargo:rerun-if-changed={source}");
    let clang = std::env::var("BPF_CLANG").unwrap_or_else(|_| "clang".to_string());
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let object = out_dir.join("keepalive.bpf.o");
    let mut cmd = Command::new(&clang);
    cmd.args([
        "-target", "bpf", "-O2", "-g", "-Wall", "-Werror", "-c", source, "-o",
    ])
    .arg(&object);
    // <linux/bpf.h> includes <asm/types.h>, which Debian keeps in the multiarch directory; the
    // bpf target does not search it by itself.
    if let Some(dir) = multiarch_include() {
        cmd.arg("-I").arg(dir);
    }
    match cmd.output() {
        Ok(out) if out.status.success() => {
            println!("cargo:rustc-cfg=kashim_ebpf");
            println!("cargo:rustc-env=KASHIM_BPF_OBJECT={}", object.display());
        }
        Ok(out) => println!(
            "cargo:warning=kashim --ebpf disabled: {clang} could not compile {source}: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .next()
                .unwrap_or("")
        ),
        Err(err) => println!("cargo:warning=kashim --ebpf disabled: cannot run {clang}: {err}"),
    }
}

fn multiarch_include() -> Option<PathBuf> {
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").ok()?;
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let dir = Path::new("/usr/include").join(format!("{arch}-linux-{env}"));
    dir.is_dir().then_some(dir)
}
