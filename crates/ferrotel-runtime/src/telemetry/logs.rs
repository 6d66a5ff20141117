//! The collector's own logs, via `tracing`, configured by `service::telemetry::logs`.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber: `level` (debug|info|warn|error), `encoding` (console|json),
/// to stderr. `FERROTEL_LOG` (an EnvFilter directive) overrides the level. Does nothing if a
/// subscriber is already installed (tests).
pub fn init(level: &str, encoding: &str) {
    let filter = EnvFilter::try_from_env("FERROTEL_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = if encoding == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
