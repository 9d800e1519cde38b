//! Shared set-up of the benchmarks: data generation, the in-process emulator, the release
//! binary, and small measuring helpers. Every figure is a ratio against a baseline measured in
//! the same run, so the machine's speed (and its other tenants) cancel out as far as possible.
#![allow(dead_code)]

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use hrconnector::emulator::{self, AppRegistration, EmulatorConfig, EmulatorHandle};

pub const TENANT: &str = "6f1d9b2e-0c7a-4d43-9a59-2b7f3c1e5a10";
pub const APP: &str = "a3c5e7f9-1b2d-4e6f-8a0b-c2d4e6f8a0b2";
pub const JOB: &str = "1e0c5a3b-7d9f-4b2a-8c6e-0f1a2b3c4d5e";
pub const SECRET: &str = "bench-secret-0d9c";

/// Rounds of each timed command (best of them is reported): `HRCONNECTOR_BENCH_ROUNDS`, else 5.
/// The machine is shared, so more rounds give the best case more chances to show.
pub fn rounds() -> usize {
    std::env::var("HRCONNECTOR_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(5)
}

/// The binary under test: the one cargo built for this bench (release profile).
pub const BIN: &str = env!("CARGO_BIN_EXE_hrconnector");

/// Writes `n` valid records (about 100 bytes each) to `path`, streaming: a 5M-record file never
/// sits in memory. Returns the file size in bytes.
pub fn generate_csv(path: &Path, n: u64) -> io::Result<u64> {
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
    writeln!(w, "EmailAddress,TerminationDate,LastWorkingDate,Department")?;
    for i in 0..n {
        let day = 1 + i % 28;
        writeln!(
            w,
            "employee.number{i:08}@contoso.com,2026-03-{day:02}T09:00:00.1234567+05:30,2026-04-{day:02}T17:30:00Z,Dept {}",
            i % 97
        )?;
    }
    w.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// Writes a multi-scenario file (scenario column `HRScenario`) of at least `bytes` bytes, the
/// records cycling through the five scenarios with the other scenarios' columns blank and a
/// quoted remark with a comma in every tenth. Returns (size, records, records per scenario in
/// `Scenario::ALL` order).
pub fn generate_multi_csv(path: &Path, bytes: u64) -> io::Result<(u64, u64, [u64; 5])> {
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let header = "HRScenario,EmailAddress,TerminationDate,LastWorkingDate,EffectiveDate,Remarks,\
                  Rating,EmployeeFirstName,EmployeeLastName,EmployeeAddressLine1,EmployeeZipCode\n";
    w.write_all(header.as_bytes())?;
    let (mut written, mut n, mut per) = (header.len() as u64, 0u64, [0u64; 5]);
    while written < bytes {
        let day = 1 + n % 28;
        let kind = (n % 5) as usize;
        let remarks = if n % 10 == 1 {
            "\"Reviewed, on time\""
        } else {
            "On time"
        };
        let line = match kind {
            0 => format!(
                "Resignation,employee.number{n:08}@contoso.com,2026-03-{day:02}T09:00:00.1234567+05:30,2026-04-{day:02}T17:30:00Z,,,,,,,\n"
            ),
            1 => format!(
                "Job level change,employee.number{n:08}@contoso.com,,,2026-03-{day:02}T09:00:00Z,{remarks},,,,,\n"
            ),
            2 => format!(
                "Performance review,employee.number{n:08}@contoso.com,,,2026-03-{day:02}T09:00:00Z,{remarks},3,,,,\n"
            ),
            3 => format!(
                "Performance improvement plan,employee.number{n:08}@contoso.com,,,2026-03-{day:02}T09:00:00Z,{remarks},4,,,,\n"
            ),
            _ => format!(
                "Employee profile,employee.number{n:08}@contoso.com,,,,,,Sara,Davis,1 Contoso Way,98052\n"
            ),
        };
        w.write_all(line.as_bytes())?;
        written += line.len() as u64;
        per[kind] += 1;
        n += 1;
    }
    w.flush()?;
    Ok((std::fs::metadata(path)?.len(), n, per))
}

/// A scratch directory in the system temp dir, removed (with its big files) when dropped.
pub fn scratch_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("scratch dir")
}

/// A two-worker runtime with the emulator started on it (the runtime must outlive the emulator).
pub fn runtime_with_emulator() -> (tokio::runtime::Runtime, EmulatorHandle) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let emu = runtime.block_on(start_emulator());
    (runtime, emu)
}

/// One summary line: the best time of `rounds`, its throughput over `bytes` and, when given,
/// over `records`.
pub fn throughput_line(
    label: &str,
    rounds: usize,
    best: Duration,
    bytes: u64,
    records: Option<u64>,
) {
    let secs_f = best.as_secs_f64();
    let per_record = records.map_or(String::new(), |n| {
        format!(", {:.0} records/s", n as f64 / secs_f)
    });
    println!(
        "  {label} (best of {rounds}): {}, {:.0} MB/s{per_record}",
        secs(best),
        bytes as f64 / 1e6 / secs_f
    );
}

/// The emulator on a free loopback port, keeping counts but no records (memory stays flat).
pub async fn start_emulator() -> EmulatorHandle {
    let config = EmulatorConfig {
        apps: vec![AppRegistration {
            tenant_id: TENANT.into(),
            app_id: APP.into(),
            secret: Some(SECRET.into()),
            certificate_pem: None,
            federated_credentials: Vec::new(),
        }],
        jobs: vec![JOB.into()],
        keep_records: false,
        ..EmulatorConfig::default()
    };
    emulator::start(config, ([127, 0, 0, 1], 0).into())
        .await
        .expect("emulator starts")
}

/// `hrconnector upload` of `csv` to the emulator at `url`, JSON result on stdout.
pub fn upload_command(url: &str, csv: &Path, secret: &str) -> Command {
    upload_command_of(Path::new(BIN), url, csv, secret)
}

/// [`upload_command`] with another build of the binary (a before/after comparison).
pub fn upload_command_of(bin: &Path, url: &str, csv: &Path, secret: &str) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(["upload", "--cloud", "gcc", "--output", "json"])
        .args(["--tenant-id", TENANT, "--app-id", APP, "--job-id", JOB])
        .args(["--authority-url", url, "--ingestion-url", url])
        .arg("--csv-file-path")
        .arg(csv)
        .env("HRCONNECTOR_APP_SECRET", secret)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    cmd
}

/// `hrconnector validate` of `csv`.
pub fn validate_command(csv: &Path) -> Command {
    validate_command_of(Path::new(BIN), csv)
}

/// [`validate_command`] with another build of the binary (a before/after comparison).
pub fn validate_command_of(bin: &Path, csv: &Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(["validate", "--output", "json", "--csv-file-path"])
        .arg(csv)
        .stdin(Stdio::null());
    cmd
}

/// Runs `cmd` to completion; panics with its output unless it exits as `expect_success` says.
pub fn run(cmd: &mut Command, expect_success: bool) -> (Duration, Output) {
    let start = Instant::now();
    let out = cmd.output().expect("command runs");
    let took = start.elapsed();
    if out.status.success() != expect_success {
        panic!(
            "{cmd:?} exited {}\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (took, out)
}

/// Peak resident set size (KiB) of `cmd`, from `/usr/bin/time -v`.
pub fn peak_rss_kib(cmd: &Command) -> (u64, Duration) {
    let report = tempfile::NamedTempFile::new().expect("temp file");
    let mut timed = Command::new("/usr/bin/time");
    timed.arg("-v").arg("-o").arg(report.path());
    timed.arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => timed.env(k, v),
            None => timed.env_remove(k),
        };
    }
    timed.stdout(Stdio::null()).stdin(Stdio::null());
    let (took, _) = run(&mut timed, true);
    let text = std::fs::read_to_string(report.path()).expect("time report");
    let kib = text
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no maximum RSS in:\n{text}"));
    (kib, took)
}

/// Seconds with three decimals.
pub fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// Where a result stands against its target.
pub fn verdict(met: bool) -> &'static str {
    if met { "MET" } else { "MISSED" }
}

/// True under `cargo bench` (which passes `--bench`). `cargo test --all-targets` runs these
/// binaries too, without it: they then return at once instead of generating ~700 MB of data.
pub fn under_cargo_bench() -> bool {
    let yes = std::env::args().any(|a| a == "--bench");
    if !yes {
        println!("skipped: run with `cargo bench --bench NAME` or scripts/bench.sh");
    }
    yes
}

/// Processor time (user + system) of this process's threads and of its waited-for children so
/// far, from `getrusage`: (self, children).
pub fn processor_times() -> (Duration, Duration) {
    fn of(who: libc::c_int) -> Duration {
        // SAFETY: getrusage only writes the struct it is given.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(who, &mut usage) } != 0 {
            return Duration::ZERO;
        }
        let tv = |t: libc::timeval| {
            Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
        };
        tv(usage.ru_utime) + tv(usage.ru_stime)
    }
    (of(libc::RUSAGE_SELF), of(libc::RUSAGE_CHILDREN))
}
