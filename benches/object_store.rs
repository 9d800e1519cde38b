//! Object storage: `hrconnector upload --source az://…` (release binary) from Azurite against the
//! same bytes from a local file (`--csv-file-path`), to the in-process emulator, best of
//! HRCONNECTOR_BENCH_ROUNDS (default 5) each, interleaved; then peak RSS of `validate` and
//! `upload` from a 10 MiB blob and from a 1 GiB blob.
//! Targets: object-store throughput reported as a ratio to the local file (the object store
//! adds HTTP and Azurite, a Node.js server, on the same two cores); peak RSS at 1 GiB within
//! 10 % of the RSS at 10 MiB.
//!
//! Azurite keeps the blobs in memory (no 1 GiB copy on disk); the 1 GiB blob is generated
//! straight into a multipart upload.
//!
//! `cargo bench --bench object_store` (HRCONNECTOR_BENCH_LARGE_MIB: size of the large blob,
//! default 1024)

#[path = "../tests/common/stores.rs"]
#[allow(dead_code)]
mod stores;
mod support;

use std::process::Command;
use std::time::Duration;

use hrconnector::source::{ObjectCredentials, ObjectLocation, StoreConfig};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, WriteMultipart};
use support::*;

const THROUGHPUT_RECORDS: u64 = 1_000_000;
const CONTAINER: &str = "bench";

fn config(azurite: &stores::Server, blob: &str) -> StoreConfig {
    let mut config = StoreConfig::new(ObjectLocation::AzureBlob {
        account_url: Some(azurite.azure_account_url()),
        container: CONTAINER.into(),
        blob: blob.into(),
    });
    config.credentials = ObjectCredentials::AzureAccountKey(stores::AZURITE_KEY.to_owned().into());
    config
}

/// Generates a CSV of about `bytes` bytes (the records of [`generate_csv`]) straight into the
/// blob, in 8 MiB parts. Returns the records written.
async fn generate_blob(config: &StoreConfig, bytes: u64) -> u64 {
    let store = config.build().expect("store");
    let path = ObjectPath::from(config.location.object());
    let upload = store.put_multipart(&path).await.expect("multipart");
    let mut writer = WriteMultipart::new_with_chunk_size(upload, 8 << 20);
    let mut line = String::new();
    let mut written = 0u64;
    let mut records = 0u64;
    let header = "EmailAddress,TerminationDate,LastWorkingDate,Department\n";
    writer.write(header.as_bytes());
    written += header.len() as u64;
    let mut block = Vec::with_capacity(1 << 20);
    while written < bytes {
        let day = 1 + records % 28;
        line.clear();
        use std::fmt::Write;
        let _ = writeln!(
            line,
            "employee.number{records:08}@contoso.com,2026-03-{day:02}T09:00:00.1234567+05:30,2026-04-{day:02}T17:30:00Z,Dept {}",
            records % 97
        );
        block.extend_from_slice(line.as_bytes());
        written += line.len() as u64;
        records += 1;
        if block.len() >= 1 << 20 {
            writer.wait_for_capacity(4).await.expect("capacity");
            writer.write(&block);
            block.clear();
        }
    }
    writer.write(&block);
    writer.finish().await.expect("finish");
    records
}

fn azurite_env(cmd: &mut Command, azurite: &stores::Server) {
    cmd.env("AZURE_STORAGE_USE_EMULATOR", "true")
        .env("AZURITE_BLOB_STORAGE_URL", azurite.url())
        .env("AZURE_STORAGE_ACCOUNT_NAME", stores::AZURITE_ACCOUNT);
}

/// `upload` with `--source URL` instead of `--csv-file-path`.
fn object_upload(url: &str, source: &str, azurite: &stores::Server) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["upload", "--cloud", "gcc", "--output", "json"])
        .args(["--tenant-id", TENANT, "--app-id", APP, "--job-id", JOB])
        .args(["--authority-url", url, "--ingestion-url", url])
        .args(["--source", source])
        .env("HRCONNECTOR_APP_SECRET", SECRET)
        .env("RUST_LOG", "warn");
    azurite_env(&mut cmd, azurite);
    cmd
}

fn object_validate(source: &str, azurite: &stores::Server) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["validate", "--output", "json", "--source", source]);
    azurite_env(&mut cmd, azurite);
    cmd
}

fn main() {
    if !under_cargo_bench() {
        return;
    }
    let (runtime, emu) = runtime_with_emulator();
    let url = emu.url();
    let azurite = stores::start_azurite_in_memory();
    runtime.block_on(azurite.create_container(CONTAINER));

    // Throughput: the same bytes from a file and from a blob.
    let dir = scratch_dir();
    let csv = dir.path().join("hr-1m.csv");
    let size = generate_csv(&csv, THROUGHPUT_RECORDS).expect("generate");
    let data = std::fs::read(&csv).expect("read");
    runtime.block_on(async {
        config(&azurite, "hr-1m.csv")
            .build()
            .unwrap()
            .put(&ObjectPath::from("hr-1m.csv"), data.into())
            .await
            .expect("put")
    });
    let source = format!("az://{CONTAINER}/hr-1m.csv");
    let rounds = rounds();
    let (mut best_file, mut best_object) = (Duration::MAX, Duration::MAX);
    for _ in 0..rounds {
        best_file = best_file.min(run(&mut upload_command(&url, &csv, SECRET), true).0);
        best_object = best_object.min(run(&mut object_upload(&url, &source, &azurite), true).0);
    }
    println!(
        "upload of {THROUGHPUT_RECORDS} records ({:.0} MB) to the emulator:",
        size as f64 / 1e6
    );
    throughput_line(
        "local file        ",
        rounds,
        best_file,
        size,
        Some(THROUGHPUT_RECORDS),
    );
    throughput_line(
        "Azurite blob      ",
        rounds,
        best_object,
        size,
        Some(THROUGHPUT_RECORDS),
    );
    println!(
        "RESULT object-store upload throughput = {:.2}x the local file's (time ratio {:.2})",
        best_file.as_secs_f64() / best_object.as_secs_f64(),
        best_object.as_secs_f64() / best_file.as_secs_f64()
    );
    drop(dir);

    // Memory: 10 MiB against 1 GiB.
    println!("peak memory (maximum resident set size), --source az://…:");
    let mut peaks = Vec::new();
    // HRCONNECTOR_BENCH_LARGE_MIB: a smaller large blob where a debug build reads too slowly for
    // 1 GiB (the figure then says which size it compares).
    let large_mib: u64 = std::env::var("HRCONNECTOR_BENCH_LARGE_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let large_name = format!("hr-{large_mib}mib.csv");
    for (blob, bytes) in [
        ("hr-10mib.csv", 10u64 << 20),
        (large_name.as_str(), large_mib << 20),
    ] {
        let records = runtime.block_on(generate_blob(&config(&azurite, blob), bytes));
        let source = format!("az://{CONTAINER}/{blob}");
        let (validate_kib, vt) = peak_rss_kib(&object_validate(&source, &azurite));
        let (upload_kib, ut) = peak_rss_kib(&object_upload(&url, &source, &azurite));
        println!(
            "  {:>6.0} MiB ({records} records): validate {:.1} MiB ({}), upload {:.1} MiB ({})",
            bytes as f64 / (1 << 20) as f64,
            validate_kib as f64 / 1024.0,
            secs(vt),
            upload_kib as f64 / 1024.0,
            secs(ut)
        );
        peaks.push((validate_kib, upload_kib));
        runtime.block_on(async {
            config(&azurite, blob)
                .build()
                .unwrap()
                .delete(&ObjectPath::from(blob))
                .await
                .expect("delete")
        });
    }
    for (what, small, large) in [
        ("validate", peaks[0].0, peaks[1].0),
        ("upload", peaks[0].1, peaks[1].1),
    ] {
        let growth = (large as f64 / small as f64 - 1.0) * 100.0;
        println!(
            "RESULT {what} --source peak RSS {:.1} MiB (10 MiB blob) -> {:.1} MiB ({large_mib} MiB blob), growth {growth:+.1}% (target <= 10%): {}",
            small as f64 / 1024.0,
            large as f64 / 1024.0,
            verdict(growth <= 10.0)
        );
    }
    runtime.block_on(emu.shutdown());
}
