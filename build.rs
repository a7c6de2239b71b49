//! Build-time facts the server reports: the git commit it was built from (`INFO modules`' `ai_git_sha`).

use std::process::Command;

fn main() {
    let sha = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=TENSORCELL_GIT_SHA={sha}");
    // A new commit or checkout changes the sha. Only paths that exist: cargo reruns a build script whose
    // watched path is missing on every build (a clone without packed refs, a worktree, a tarball).
    for path in [".git/HEAD", ".git/refs/heads", ".git/packed-refs"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
