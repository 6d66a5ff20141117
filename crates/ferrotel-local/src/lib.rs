//! The local all-in-one: the `local_store` exporter, which keeps traces, metrics and logs in
//! the embedded store (`ferrotel-store`), and the HTTP server beside it: the web UI's files,
//! ferrotel's own query API (`/api/v1`), the Jaeger query API (`/api`) and Tempo's (`/tempo`).

pub mod api;
pub mod assets;
pub mod client;
pub mod exporter;
pub mod jaeger;
pub mod params;
pub mod server;
pub mod tempo;
#[cfg(test)]
mod testing;

use std::sync::Arc;

use ferrotel_store::{StoreConfig, StoreError, TelemetryStore};

pub use exporter::LocalStoreExporterFactory;

/// The store the exporter writes and the APIs read. The one place that picks the engine.
pub fn open_store(config: StoreConfig) -> Result<Arc<dyn TelemetryStore>, StoreError> {
    let store: Arc<dyn TelemetryStore> = ferrotel_store::Store::open(config)?;
    Ok(store)
}
