//! A conversion leaves no thread behind, even when it stops at an error: its writer thread was
//! detached on an early error and outlived `convert()` (found by the `convert_input` fuzz target,
//! whose leak check then saw that thread's half-torn-down state). Alone in its own test binary,
//! so that no other test's conversion runs threads of the same name meanwhile.

use std::sync::Arc;

use hrconnector::convert::{InputOptions, convert};
use hrconnector::hrdata::{BytesSource, CsvSource, ValidationOptions};

/// The kernel's flag of a task in its exit path (`PF_EXITING`, `include/linux/sched.h`).
const PF_EXITING: u64 = 0x4;

/// Threads of this process named `name` right now that are not exiting. A joined thread is
/// past its exit's wake-up of the joiner but can still be listed for a moment (the kernel
/// unlists it a little later, in the same exit): it has `PF_EXITING` set; a thread left
/// running does not.
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|task| {
            let path = task.ok()?.path();
            let comm = std::fs::read_to_string(path.join("comm")).ok()?;
            let stat = std::fs::read_to_string(path.join("stat")).ok()?;
            // After "pid (comm)": state, ppid, pgrp, session, tty_nr, tpgid, flags.
            let flags: u64 = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(6)?
                .parse()
                .ok()?;
            (comm.trim_end() == name && flags & PF_EXITING == 0).then_some(())
        })
        .count()
}

#[test]
fn an_export_refused_mid_way_leaves_no_writer_thread_running() {
    let input = InputOptions {
        time_zone: Some("America/New_York".into()),
        ..InputOptions::default()
    };
    // Enough records that the writer has work in flight, then bytes that are not UTF-8.
    let mut export = String::from("EmailAddress,TerminationDate,LastWorkingDate\n");
    for i in 0..20_000 {
        export.push_str(&format!(
            "user{i}@contoso.com,2026-03-01T09:00:00Z,2026-03-02T09:00:00Z\n"
        ));
    }
    let mut bytes = export.into_bytes();
    bytes.extend_from_slice(b"bad\xff@contoso.com,2026-03-01T09:00:00Z,2026-03-02T09:00:00Z\n");
    for round in 0..20 {
        let source: Arc<dyn CsvSource> = Arc::new(BytesSource::new("export.csv", bytes.clone()));
        let error = convert(source, &input, &ValidationOptions::default(), 1)
            .err()
            .expect("not UTF-8 is refused");
        assert!(error.to_string().contains("not UTF-8"), "{error}");
        assert_eq!(
            threads_named("convert-writer"),
            0,
            "round {round}: the writer thread outlived convert()"
        );
    }
}
