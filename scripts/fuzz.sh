#!/usr/bin/env bash
# Fuzz the CSV reader (fuzz/fuzz_targets/csv_reader.rs) for SECONDS (default 60), then the
# conversion stage (convert_input.rs: every input option on arbitrary bytes) for half as long,
# with libFuzzer and AddressSanitizer, on the stable toolchain. Usage: scripts/fuzz.sh [SECONDS]
#
# cargo-fuzz passes nightly-only flags (-Zsanitizer=address, ...) to rustc; RUSTC_BOOTSTRAP=1 lets
# the stable compiler accept them. The first run builds the whole crate instrumented into
# fuzz/target (about 2 GB, 7 to 8 minutes on 2 cores: dependencies the target never runs are built
# unoptimised, see fuzz/Cargo.toml); later runs reuse it.
# The fuzzer runs on a temporary copy of the seed corpus fuzz/corpus/csv_reader, with the
# dictionary fuzz/csv.dict, so the seeds stay as committed. Exits non-zero on any crash, leak,
# timeout or out-of-memory; the input that caused it is left in fuzz/artifacts/csv_reader/.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
SECONDS_TO_RUN="${1:-60}"
if ! [[ "$SECONDS_TO_RUN" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 [SECONDS]   (a positive whole number; default 60)" >&2
    exit 2
fi

if [[ "$(cargo fuzz --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
    echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION"
    # A debug build of the tool itself: it only starts cargo and the fuzzer, and builds in less
    # than half the time.
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --debug
fi

mkdir -p fuzz/target

# fuzz TARGET SECONDS [DICT]: runs one target on a copy of its seeds.
fuzz() {
    local target="$1" seconds="$2" dict="${3:-}"
    local corpus log status=0
    corpus="$(mktemp -d fuzz/target/corpus-run.XXXXXX)"
    log="$corpus.log"
    cp fuzz/corpus/"$target"/* "$corpus"/

    echo "== cargo fuzz build $target (AddressSanitizer, stable + RUSTC_BOOTSTRAP=1)"
    RUSTC_BOOTSTRAP=1 cargo fuzz build "$target"

    echo "== cargo fuzz run $target for ${seconds}s"
    # fuzz/lsan.supp: the one LeakSanitizer false positive we know (glibc's TLS destructor list
    # of a thread LeakSanitizer loses track of after thread ids wrap); the file says why.
    LSAN_OPTIONS="suppressions=$PWD/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}" \
        RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "$corpus" -- \
        ${dict:+-dict="$dict"} \
        -max_total_time="$seconds" \
        -rss_limit_mb=2048 \
        -timeout=10 \
        -print_final_stats=1 \
        >"$log" 2>&1 || status=$?

    if [[ $status -ne 0 ]]; then
        # The sanitizer's own report (cargo fuzz's trailer would fill the last lines), then the rest.
        sed -n '/^==[0-9]*==ERROR/,/^SUMMARY/p' "$log" | cut -c1-300 | head -n 80
        tail -n 25 "$log"
        local artifact
        artifact="$(ls -t fuzz/artifacts/"$target"/ 2>/dev/null | head -n 1 || true)"
        # A leak report is confirmed by running its input again alone, 100 times: LeakSanitizer
        # loses track of live threads once thread ids wrap (fuzz/lsan.supp says how), and then
        # reports what such a thread holds. Our code leaks the same way for the same input, so
        # a report that no rerun repeats is that false positive; a crash, a hang or an OOM is
        # never excused.
        if [[ $artifact == leak-* ]] && LSAN_OPTIONS="suppressions=$PWD/fuzz/lsan.supp" \
            RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "fuzz/artifacts/$target/$artifact" -- \
            -runs=100 >"$log.rerun" 2>&1; then
            echo "== $target: the leak report above did not repeat in 100 runs of its input alone:" \
                 "LeakSanitizer's thread-registry false positive, not a leak (fuzz/lsan.supp)"
            rm -rf "$corpus" "$log" "$log.rerun" "fuzz/artifacts/$target/$artifact"
            return 0
        fi
        echo "== FAILED: cargo fuzz run $target exited with status $status (crash, leak, timeout or OOM; see above)" >&2
        echo "   fuzz/artifacts/$target/$artifact" >&2
        rm -rf "$corpus" "$log" "$log.rerun"
        exit 1
    fi

    # The last status line (#runs DONE cov: ft: corp: exec/s: rss:) and libFuzzer's final counters.
    grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1
    grep -E '^(Done [0-9]+ runs|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)' "$log"
    rm -rf "$corpus" "$log"
}

fuzz csv_reader "$SECONDS_TO_RUN" fuzz/csv.dict
fuzz convert_input "$(( (SECONDS_TO_RUN + 1) / 2 ))" fuzz/csv.dict
