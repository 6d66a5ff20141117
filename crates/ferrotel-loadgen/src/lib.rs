//! `ferrotel-loadgen`: an OTLP load generator and a counting sink, for benchmarks and tests.
//!
//! The generator ([`send::run`]) sends traces (span trees with kinds, statuses, events and
//! links), metrics (sums, gauges, histograms, exponential histograms) or logs (bodies and
//! severities) over OTLP/gRPC, HTTP/protobuf or HTTP/JSON at a fixed rate or as fast as the
//! server answers. Requests are encoded once per service as [`generate::Template`]s and then only
//! copied and patched (ids, timestamps), so the generator stays cheap next to the collector it
//! measures. Every item carries a unique id ([`ids`]): its span id, or a `loadgen.seq`
//! attribute on metric data points and log records. The [`sink`] records those ids to count
//! loss and duplicates exactly, and can inject failures, latency and outages. [`corpus`] files
//! hold a fixed sequence of requests to send again and again.
//!
//! `ferrotel-bench` drives both in-process against a collector binary.

pub mod args;
pub mod corpus;
pub mod generate;
pub mod hist;
pub mod ids;
pub mod report;
pub mod send;
pub mod sink;

pub use args::{LoadArgs, Rate};
pub use report::Report;
