//! An SFTP drop (issue 21): `hrconnector validate --source sftp://…` (release binary: read the
//! file over SFTP and validate it) against OpenSSH's own `sftp` client fetching the same file
//! to disk, from the same local OpenSSH sshd (host and client keys made here), best of
//! HRCONNECTOR_BENCH_ROUNDS (default 5) each, interleaved. Target: ≤ 1.25× sftp. Then the peak
//! RSS of `validate` for 10 MB, 100 MB and 1 GB files (the median of three runs each): target
//! flat (≤ +10 %).
//!
//! `cargo bench --bench sftp_download` (root: it starts sshd; HRCONNECTOR_BENCH_SFTP_MIB: the
//! timed file's size, default 100; HRCONNECTOR_BENCH_SFTP_RSS=0 skips the memory part)

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::*;

const LIMIT: f64 = 1.25;
const RSS_GROWTH_LIMIT: f64 = 0.10;
/// Runs of each size for the peak RSS; their median is compared.
const RSS_RUNS: usize = 3;

struct Sshd {
    child: Child,
    port: u16,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen");
    assert!(status.success());
}

fn start_sshd(dir: &Path, user: &str) -> Sshd {
    std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
    keygen(&dir.join("host_key"));
    keygen(&dir.join("client_key"));
    std::fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys")).expect("copy");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let config = dir.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\n\
             PermitRootLogin prohibit-password\nPasswordAuthentication no\nAllowUsers {user}\n\
             Subsystem sftp internal-sftp\nLogLevel ERROR\n",
            d = dir.display()
        ),
    )
    .expect("config");
    let child = Command::new("/usr/sbin/sshd")
        .args(["-D", "-f"])
        .arg(&config)
        .arg("-E")
        .arg(dir.join("sshd.log"))
        .spawn()
        .expect("sshd (scripts/install-test-tools.sh installs openssh-server)");
    // Owned at once, so that every way out of here (a panic included) stops it.
    let sshd = Sshd { child, port };
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            let host = std::fs::read_to_string(dir.join("host_key.pub")).expect("host key");
            let mut parts = host.split_whitespace();
            let line = format!(
                "[127.0.0.1]:{port} {} {}\n",
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default()
            );
            std::fs::write(dir.join("known_hosts"), line).expect("known_hosts");
            return sshd;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("sshd did not listen on {port}");
}

fn validate(dir: &Path, user: &str, port: u16, file: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["validate", "--output", "json", "--source"])
        .arg(format!("sftp://{user}@127.0.0.1:{port}{}", file.display()))
        .arg("--ssh-private-key-file")
        .arg(dir.join("client_key"))
        .arg("--ssh-known-hosts")
        .arg(dir.join("known_hosts"));
    cmd
}

fn main() {
    if !under_cargo_bench() {
        return;
    }
    let mib: u64 = std::env::var("HRCONNECTOR_BENCH_SFTP_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let user = String::from_utf8(Command::new("id").arg("-un").output().expect("id").stdout)
        .expect("user")
        .trim()
        .to_owned();
    let dir = scratch_dir();
    let sshd = start_sshd(dir.path(), &user);
    let csv = dir.path().join("drop.csv");
    let size = generate_csv(&csv, mib * 1024 * 1024 / 100).expect("generate");
    let out = dir.path().join("sftp-copy.csv");
    println!(
        "sftp download: {:.1} MB from a local OpenSSH sshd (ed25519 keys, default ciphers), best of {}",
        size as f64 / 1e6,
        rounds()
    );
    let (mut ours, mut theirs) = (Duration::MAX, Duration::MAX);
    for round in 1..=rounds() {
        let mut sftp = Command::new("sftp");
        sftp.args(["-q", "-b", "-", "-P", &sshd.port.to_string(), "-i"])
            .arg(dir.path().join("client_key"))
            .arg("-o")
            .arg(format!(
                "UserKnownHostsFile={}",
                dir.path().join("known_hosts").display()
            ))
            .args(["-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"])
            .arg(format!("{user}@127.0.0.1"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null());
        let start = std::time::Instant::now();
        let mut child = sftp.spawn().expect("sftp");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("get {} {}\n", csv.display(), out.display()).as_bytes())
            .expect("batch");
        let status = child.wait().expect("sftp ran");
        let s = start.elapsed();
        assert!(status.success(), "sftp failed");
        assert_eq!(std::fs::metadata(&out).expect("sftp's copy").len(), size);
        std::fs::remove_file(&out).expect("delete");
        let (v, output) = run(&mut validate(dir.path(), &user, sshd.port, &csv), true);
        let report: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("validate's JSON");
        assert_eq!(report["valid"], true, "{report}");
        println!(
            "  round {round}: sftp to disk {}; hrconnector validate (read over SFTP + validate) {} ({:.2}x)",
            secs(s),
            secs(v),
            v.as_secs_f64() / s.as_secs_f64()
        );
        ours = ours.min(v);
        theirs = theirs.min(s);
    }
    let ratio = ours.as_secs_f64() / theirs.as_secs_f64();
    println!(
        "RESULT SFTP: hrconnector validate / sftp = {ratio:.2}x ({} vs {}, {:.1} MB; target <= {LIMIT:.2}x): {}",
        secs(ours),
        secs(theirs),
        size as f64 / 1e6,
        verdict(ratio <= LIMIT)
    );
    std::fs::remove_file(&csv).expect("delete");

    if std::env::var("HRCONNECTOR_BENCH_SFTP_RSS").as_deref() == Ok("0") {
        return;
    }
    let mut peaks = Vec::new();
    for mb in [10u64, 100, 1000] {
        let file = dir.path().join(format!("drop-{mb}.csv"));
        let size = generate_csv(&file, mb * 1_000_000 / 100).expect("generate");
        // A peak is one moment of one run, and how many answers are queued then varies from
        // run to run by a MiB or so: the median of three runs of each size is compared.
        let mut runs: Vec<(u64, Duration)> = (0..RSS_RUNS)
            .map(|_| peak_rss_kib(&validate(dir.path(), &user, sshd.port, &file)))
            .collect();
        runs.sort();
        let (kib, took) = runs[runs.len() / 2];
        println!(
            "  {:>6.1} MB: peak RSS {:.1} MiB (median of {RSS_RUNS}; runs {}), {}",
            size as f64 / 1e6,
            kib as f64 / 1024.0,
            runs.iter()
                .map(|(k, _)| format!("{:.1}", *k as f64 / 1024.0))
                .collect::<Vec<_>>()
                .join(", "),
            secs(took)
        );
        peaks.push(kib);
        std::fs::remove_file(&file).expect("delete");
    }
    let growth = peaks[2] as f64 / peaks[0] as f64 - 1.0;
    println!(
        "RESULT SFTP peak RSS {:.1} MiB (10 MB) -> {:.1} MiB (1 GB), growth {:+.1}% (target <= {:.0}%): {}",
        peaks[0] as f64 / 1024.0,
        peaks[2] as f64 / 1024.0,
        growth * 100.0,
        RSS_GROWTH_LIMIT * 100.0,
        verdict(growth <= RSS_GROWTH_LIMIT)
    );
}
