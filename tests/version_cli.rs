//! `hrconnector version` names the version and the commit the binary was built from, in text
//! and JSON, so a running operator or an image can be traced to its source.

mod common;

use common::cli::*;

#[tokio::test]
async fn version_names_the_release_and_the_commit_it_was_built_from() {
    // What git says of this checkout, asked here and not by the build.
    let head = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let run = hrconnector(&["version", "--output", "json"], &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = json(&run);
    assert_eq!(report["version"], env!("CARGO_PKG_VERSION"));
    let commit = report["commit"].as_str().expect("a commit");
    match &head {
        Some(head) => assert!(
            commit.len() == 12 && head.starts_with(commit),
            "{commit} is not HEAD {head}"
        ),
        None => assert_eq!(commit, "unknown"),
    }
    let text = hrconnector(&["version"], &[]).await;
    assert!(
        text.stdout.starts_with(&format!(
            "hrconnector {}\ncommit: {commit}\n",
            env!("CARGO_PKG_VERSION")
        )),
        "{}",
        text.stdout
    );
}
