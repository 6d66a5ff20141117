//! The local all-in-one's embedded telemetry store: what the `local_store` exporter writes and
//! what the web UI and the Jaeger and Tempo query APIs read.
//!
//! [`TelemetryStore`] is the contract between the two sides. [`reference::ReferenceStore`] is
//! its plainest correct implementation (decoded data, linear scans): the indexed engine is
//! checked against it, query by query. [`Store`] is the indexed engine (docs/local-store.md).

mod engine;
pub mod reference;
pub mod segment;
mod wire;

pub use engine::{Store, fuzzing};

use std::time::Duration;

use ferrotel_pdata::Payload;
use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;

/// A trace id as OTLP carries it.
pub type TraceId = [u8; 16];

/// Nanoseconds since the Unix epoch, as OTLP's timestamps.
pub type UnixNanos = u64;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot decode the data: {0}")]
    Decode(#[from] ferrotel_pdata::DecodeError),
    #[error("{0}")]
    Io(String),
    #[error("data directory {path}: {message}")]
    Directory { path: String, message: String },
}

/// Where and how much the store keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreConfig {
    /// Bytes of telemetry kept (the encoded OTLP plus indexes); the oldest data is pruned first
    /// past it.
    pub max_bytes: u64,
    /// Data older than this (by when it was stored) is pruned; zero keeps it until `max_bytes`.
    pub retention: Duration,
    /// Persist here and reload at start; `None` keeps everything in memory.
    pub directory: Option<std::path::PathBuf>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            max_bytes: 256 << 20,
            retention: Duration::ZERO,
            directory: None,
        }
    }
}

/// An operation of a service: a span name with the kind it was seen with.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Operation {
    pub name: String,
    /// OTLP's `Span.kind` (0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5
    /// consumer).
    pub kind: i32,
}

/// What to find traces by. A trace matches when one of its spans matches every given
/// criterion at once (Jaeger's rule), and that span starts within `[start, end]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceQuery {
    /// `service.name` of the span's resource.
    pub service: Option<String>,
    /// The span's name.
    pub operation: Option<String>,
    /// OTLP span kind.
    pub span_kind: Option<i32>,
    /// `key` = `value` pairs, each matched against the span's attributes, then its resource's
    /// attributes, then the derived tags: `error` (`true` when the status is error),
    /// `otel.status_code` (`OK`/`ERROR`/`UNSET`), `span.kind` (`server`, `client`, ...),
    /// `otel.scope.name`. Values compare as their text form (`true`, `42`, `1.5`, the string).
    pub tags: Vec<(String, String)>,
    pub min_duration: Option<Duration>,
    pub max_duration: Option<Duration>,
    pub start: Option<UnixNanos>,
    pub end: Option<UnixNanos>,
    /// At most this many traces, the most recent (by start) first. 0 means the default, 20.
    pub limit: usize,
}

/// One trace as a search lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSummary {
    pub trace_id: TraceId,
    /// The root span's service and name (the span without a parent, or the earliest span when
    /// the root has not arrived).
    pub root_service: String,
    pub root_name: String,
    /// Earliest span start and latest span end.
    pub start: UnixNanos,
    pub duration: Duration,
    pub span_count: usize,
    /// Spans whose status is error.
    pub error_count: usize,
    /// Services with their span counts, by name.
    pub services: Vec<(String, usize)>,
}

/// What to find log records by; every given criterion must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogQuery {
    pub service: Option<String>,
    /// Records at or above this severity number (OTLP's 1..=24).
    pub min_severity: Option<i32>,
    /// Case-insensitive substring of the body's text form.
    pub body_contains: Option<String>,
    /// As [`TraceQuery::tags`], against the record's and its resource's attributes.
    pub attributes: Vec<(String, String)>,
    pub trace_id: Option<TraceId>,
    pub span_id: Option<[u8; 8]>,
    /// By the record's time (its observed time when it has none).
    pub start: Option<UnixNanos>,
    pub end: Option<UnixNanos>,
    /// At most this many records, the most recent first. 0 means the default, 100.
    pub limit: usize,
}

/// A metric stream as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct MetricInfo {
    pub name: String,
    /// `gauge`, `sum`, `histogram`, `exponential_histogram` or `summary`.
    pub kind: String,
    pub unit: String,
    pub description: String,
    /// Services that sent it.
    pub services: Vec<String>,
}

/// Which points of one metric to return.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricQuery {
    pub name: String,
    pub service: Option<String>,
    pub start: Option<UnixNanos>,
    pub end: Option<UnixNanos>,
}

/// How much the store holds and has pruned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub bytes: u64,
    pub spans: u64,
    pub log_records: u64,
    pub data_points: u64,
    pub pruned_spans: u64,
    pub pruned_log_records: u64,
    pub pruned_data_points: u64,
}

/// The store's contract: writes from the exporter, reads from the UI and query APIs. Every
/// method is safe to call from many threads at once; reads never wait for a write to disk.
pub trait TelemetryStore: Send + Sync + 'static {
    /// Stores an OTLP request of any signal (profiles are ignored). Never blocks on a full
    /// store: it prunes the oldest data instead.
    fn append(&self, payload: &Payload) -> Result<(), StoreError>;

    fn stats(&self) -> StoreStats;

    /// Service names that sent spans, sorted.
    fn services(&self) -> Vec<String>;

    /// The operations of `service`, sorted by name then kind; only those of `kind` when given.
    fn operations(&self, service: &str, kind: Option<i32>) -> Vec<Operation>;

    fn find_traces(&self, query: &TraceQuery) -> Vec<TraceSummary>;

    /// Every span of a trace, grouped by resource and scope; `None` when unknown.
    fn trace(&self, id: &TraceId) -> Option<ExportTraceServiceRequest>;

    /// Attribute keys seen on spans and their resources (plus the derived tags), sorted.
    fn tag_names(&self) -> Vec<String>;

    /// Values seen for a tag, sorted, at most `limit` (0: all).
    fn tag_values(&self, tag: &str, limit: usize) -> Vec<String>;

    /// The matching log records, most recent first, grouped by resource and scope.
    fn find_logs(&self, query: &LogQuery) -> ExportLogsServiceRequest;

    /// Metrics seen, sorted by name; only those `service` sent when given.
    fn metrics(&self, service: Option<&str>) -> Vec<MetricInfo>;

    /// The points of one metric in the time range, grouped by resource and scope.
    fn metric_points(&self, query: &MetricQuery) -> ExportMetricsServiceRequest;

    /// Writes what is held to the data directory (if any) and releases it.
    fn close(&self) -> Result<(), StoreError>;
}
