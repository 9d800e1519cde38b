//! Build facts for `hrconnector version`: the commit the binary was built from, so a running
//! operator (`kubectl exec … version`) or an image can be traced to its source.

use std::process::Command;

fn main() {
    // Set by whoever builds from a source tree without git (scripts/build-image.sh passes it).
    println!("cargo:rerun-if-env-changed=HRCONNECTOR_COMMIT");
    let commit = std::env::var("HRCONNECTOR_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=HRCONNECTOR_COMMIT={commit}");
    // Built again when HEAD moves: the ref it names, or HEAD itself when detached.
    if let Some(head) = git(&["rev-parse", "--git-path", "HEAD"]) {
        println!("cargo:rerun-if-changed={head}");
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"])
        && let Some(path) = git(&["rev-parse", "--git-path", &branch])
    {
        println!("cargo:rerun-if-changed={path}");
    }
}

/// `git ARGS`' first line, if git is there and succeeds.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let line = text.lines().next()?.trim().to_owned();
    (!line.is_empty()).then_some(line)
}
