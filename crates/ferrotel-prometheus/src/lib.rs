//! Prometheus both ways (issue 21): scrape targets into OTLP (`prometheus` receiver), serve
//! OTLP metrics for Prometheus to scrape (`prometheus` exporter), and speak remote write both
//! ways (`prometheusremotewrite` exporter and receiver). Names, types and units are translated
//! as the OpenTelemetry specification's Prometheus compatibility rules say.
//!
//! - `scrape`: the receiver — config (the embedded `scrape_configs`), text 0.0.4 and OpenMetrics
//!   parsing, relabeling, service discovery, scrape loops, series → OTLP with start times.
//! - `naming`: OTLP ↔ Prometheus metric names, units and labels.
//! - `exporter`, `remote_write`: the pull exporter, remote write out and in.

pub mod exporter;
pub mod naming;
pub mod remote_write;
pub mod scrape;
pub mod series;
mod server_tls;
#[cfg(test)]
pub(crate) mod testing;

pub use exporter::PrometheusExporterFactory;
pub use scrape::PrometheusReceiverFactory;
