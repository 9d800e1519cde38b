//! Log set-up: human-readable lines on stderr (stdout is for results), level from `RUST_LOG`
//! (default `info`, `warn` for commands whose stdout is the point), JSON lines when `HRCONNECTOR_LOG_FORMAT=json`.

use tracing_subscriber::EnvFilter;

pub fn init(default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let json =
        std::env::var("HRCONNECTOR_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    // A second init (tests calling main twice) is harmless: keep the first subscriber.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
