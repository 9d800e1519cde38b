//! One validation path in a loop, for `perf record -g`: `cargo run --release --example
//! validate_profile -- FILE memory|file|bare|sha [ROUNDS] [multi]`.

use std::time::Instant;

use hrconnector::hrdata::{BytesSource, FileSource, ScenarioChoice, ValidationOptions, validate};
use sha2::Digest;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = std::path::PathBuf::from(&args[1]);
    let mode = args[2].as_str();
    let rounds: usize = args.get(3).map_or(5, |r| r.parse().expect("rounds"));
    let opts = if args.get(4).map(String::as_str) == Some("multi") {
        ValidationOptions {
            scenario: ScenarioChoice::Multiple,
            ..ValidationOptions::default()
        }
    } else {
        ValidationOptions::default()
    };
    let data = bytes::Bytes::from(std::fs::read(&path).expect("read"));
    for _ in 0..rounds {
        let t = Instant::now();
        let n = match mode {
            "memory" => {
                validate(&BytesSource::new("mem", data.clone()), &opts)
                    .expect("validates")
                    .records
            }
            "file" => {
                validate(&FileSource::new(&path), &opts)
                    .expect("validates")
                    .records
            }
            "bare" => {
                let mut reader = csv::ReaderBuilder::new().from_reader(&data[..]);
                let mut record = csv::ByteRecord::new();
                let mut n = 0;
                while reader.read_byte_record(&mut record).expect("parses") {
                    n += 1;
                }
                n
            }
            "sha" => {
                std::hint::black_box(sha2::Sha256::digest(&data));
                0
            }
            _ => panic!("mode"),
        };
        println!("{mode}: {n} records, {:.3} s", t.elapsed().as_secs_f64());
    }
}
