//! Records the commit the command is built from, for `kashim --version`. A build outside a git
//! checkout (a release tarball) may set KASHIM_COMMIT itself.
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=KASHIM_COMMIT");
    let commit = std::env::var("KASHIM_COMMIT").ok().or_else(|| {
        let out = Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    });
    if let Some(commit) = commit {
        println!("cargo:rustc-env=KASHIM_COMMIT={commit}");
    }
    // Rebuild when HEAD moves, so the commit shown is never stale.
    for path in ["../.git/HEAD", "../.git/refs/heads", "../.git/packed-refs"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
