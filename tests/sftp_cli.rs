//! `--source sftp://…` decisions made before any connection, in both builds: in the FIPS build
//! SFTP is refused with a message naming why (russh's ciphers do not run on the FIPS module);
//! in the default build the same command goes on to connect (and here finds no server).

mod common;

use common::cli::*;

#[tokio::test]
async fn sftp_is_refused_in_the_fips_build_and_tried_in_the_default_one() {
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("password");
    std::fs::write(&password, "a-password\n").unwrap();
    let known = dir.path().join("known_hosts");
    std::fs::write(
        &known,
        "[127.0.0.1]:1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDiMfeXFVNj5yy9jug6GNAW9q1v4kGCcSv5eif3vmvtt\n",
    )
    .unwrap();
    let url = "sftp://hr@127.0.0.1:1/outbound/terminations.csv";
    let (password, known) = (password.to_str().unwrap(), known.to_str().unwrap());
    // upload, for --max-attempts 1: a refused connection is not waited on again.
    let mut args = upload_args("https://127.0.0.1:1", "unused", common::APP, &[]);
    let at = args.iter().position(|a| *a == "--csv-file-path").unwrap();
    args.splice(at..at + 2, ["--source", url]);
    args.extend([
        "--app-secret",
        common::SECRET,
        "--max-attempts",
        "1",
        "--ssh-password-file",
        password,
        "--ssh-known-hosts",
        known,
    ]);
    let run = hrconnector(&args, &[]).await;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    if cfg!(feature = "fips") {
        assert!(
            run.stderr
                .contains("SFTP is not available in the FIPS build"),
            "{}",
            run.stderr
        );
    } else {
        assert!(
            run.stderr
                .contains("cannot reach sftp://hr@127.0.0.1:1/outbound/terminations.csv"),
            "{}",
            run.stderr
        );
    }
    assert!(!run.printed("a-password"));
}
