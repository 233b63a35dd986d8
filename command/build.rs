//! Records the commit the command is built from, for `kashim --version`. A build outside a git
//! checkout (a release tarball) may set KASHIM_COMMIT itself.
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
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
