//! `local_store` exporter: appends every payload to the embedded store and serves the web UI
//! and the query APIs over it. One instance per id serves traces, metrics and logs.

pub mod config;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};

use ferrotel_pdata::{Payload, Signal};
use ferrotel_runtime::config::parse_endpoint;
use ferrotel_runtime::telemetry::{Counter, Gauge};
use ferrotel_runtime::*;
use ferrotel_store::{StoreStats, TelemetryStore};

pub use config::{LocalStoreConfig, UiConfig};

use crate::server::{Handler, Server};

/// Factory of the `local_store` exporter.
pub struct LocalStoreExporterFactory;

impl ExporterFactory for LocalStoreExporterFactory {
    type Config = LocalStoreConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "local_store",
            "Stores traces, metrics and logs in an embedded store; serves the web UI and the Jaeger/Tempo query APIs",
        )
        .signal(Signal::Traces, Stability::Development)
        .signal(Signal::Metrics, Stability::Development)
        .signal(Signal::Logs, Stability::Development)
    }

    fn create(
        &self,
        ctx: CreateContext,
        config: Self::Config,
        _signals: &[Signal],
    ) -> Result<Arc<dyn Exporter>, ComponentError> {
        Ok(Arc::new(LocalStoreExporter::new(&ctx, config)))
    }
}

/// The exporter's own metrics, `ferrotel_local_store_*{exporter="<id>"}`.
struct Metrics {
    stored: [Counter; 3],
    pruned: [Counter; 3],
    bytes: Gauge,
    /// The store's pruned totals when last read: counters take the difference.
    last: Mutex<StoreStats>,
}

impl Metrics {
    fn new(t: &Telemetry, id: &str) -> Self {
        let l = &[("exporter", id)];
        Metrics {
            stored: [
                t.counter("ferrotel_local_store_stored_spans", "Spans stored.", l),
                t.counter(
                    "ferrotel_local_store_stored_data_points",
                    "Metric data points stored.",
                    l,
                ),
                t.counter(
                    "ferrotel_local_store_stored_log_records",
                    "Log records stored.",
                    l,
                ),
            ],
            pruned: [
                t.counter(
                    "ferrotel_local_store_pruned_spans",
                    "Spans pruned (size cap or retention).",
                    l,
                ),
                t.counter(
                    "ferrotel_local_store_pruned_data_points",
                    "Metric data points pruned (size cap or retention).",
                    l,
                ),
                t.counter(
                    "ferrotel_local_store_pruned_log_records",
                    "Log records pruned (size cap or retention).",
                    l,
                ),
            ],
            bytes: t.gauge(
                "ferrotel_local_store_bytes",
                "Bytes the store holds (data and indexes).",
                l,
            ),
            last: Mutex::new(StoreStats::default()),
        }
    }

    fn observe(&self, s: StoreStats) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        self.pruned[0].add(s.pruned_spans.saturating_sub(last.pruned_spans));
        self.pruned[1].add(s.pruned_data_points.saturating_sub(last.pruned_data_points));
        self.pruned[2].add(s.pruned_log_records.saturating_sub(last.pruned_log_records));
        self.bytes.set(s.bytes);
        *last = s;
    }
}

pub struct LocalStoreExporter {
    id: String,
    config: LocalStoreConfig,
    /// Opened at start (a data directory is locked only by a running collector), released at
    /// shutdown.
    store: RwLock<Option<Arc<dyn TelemetryStore>>>,
    server: Server,
    address: Mutex<Option<SocketAddr>>,
    metrics: Metrics,
}

impl LocalStoreExporter {
    fn new(ctx: &CreateContext, config: LocalStoreConfig) -> Self {
        let id = ctx.id.to_string();
        LocalStoreExporter {
            metrics: Metrics::new(&ctx.telemetry, &id),
            id,
            config,
            store: RwLock::new(None),
            server: Server::default(),
            address: Mutex::new(None),
        }
    }

    fn store(&self) -> Option<Arc<dyn TelemetryStore>> {
        self.store.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Where the UI listens once started (the bound port when the endpoint said `:0`).
    pub fn ui_address(&self) -> Option<SocketAddr> {
        *self.address.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Consumer for LocalStoreExporter {
    fn consume(&self, payload: Payload, _ctx: Context) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let Some(store) = self.store() else {
                return Err(ConsumeError::retryable(
                    format!(
                        "exporter {}: the store is not open (not started or shut down)",
                        self.id
                    ),
                    None,
                ));
            };
            let slot = match payload.signal() {
                Signal::Traces => 0,
                Signal::Metrics => 1,
                Signal::Logs => 2,
                // Not stored (the factory does not offer profiles): nothing to count.
                Signal::Profiles => return Ok(()),
            };
            store.append(&payload).map_err(|e| {
                ConsumeError::permanent(format!("exporter {}: cannot store the data: {e}", self.id))
            })?;
            self.metrics.stored[slot].add(payload.items() as u64);
            self.metrics.observe(store.stats());
            Ok(())
        })
    }
}

impl Lifecycle for LocalStoreExporter {
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            // Opening re-indexes what a data directory holds (seconds for millions of spans):
            // off the runtime's worker threads.
            let config = self.config.store_config();
            let store = tokio::task::spawn_blocking(move || crate::open_store(config))
                .await
                .map_err(|e| ComponentError::new(format!("exporter {}: {e}", self.id)))?
                .map_err(|e| {
                    ComponentError::new(format!("exporter {}: cannot open the store: {e}", self.id))
                })?;
            self.metrics.observe(store.stats());
            if self.config.ui.enabled {
                let addr = parse_endpoint(&self.config.ui.endpoint).map_err(ComponentError::new)?;
                let bound = self
                    .server
                    .start(addr, Handler::new(store.clone()))
                    .await
                    .map_err(|e| {
                        // The store holds a directory lock: release it for the next attempt.
                        let _ = store.close();
                        ComponentError::new(format!("exporter {}: {e}", self.id))
                    })?;
                *self.address.lock().unwrap_or_else(|e| e.into_inner()) = Some(bound);
                tracing::info!(exporter = %self.id, "UI and query APIs on http://{bound}");
            }
            *self.store.write().unwrap_or_else(|e| e.into_inner()) = Some(store);
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            self.server.stop();
            let store = self.store.write().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(store) = store {
                // Writing a large store to disk blocks: off the runtime's workers.
                tokio::task::spawn_blocking(move || store.close())
                    .await
                    .map_err(|e| ComponentError::new(format!("exporter {}: close: {e}", self.id)))?
                    .map_err(|e| {
                        ComponentError::new(format!(
                            "exporter {}: cannot save the store: {e}",
                            self.id
                        ))
                    })?;
            }
            Ok(())
        })
    }
}

impl Exporter for LocalStoreExporter {}
