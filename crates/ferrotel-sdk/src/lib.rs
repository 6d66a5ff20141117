//! ferrotel's OpenTelemetry SDK for Rust services: traces, samplers, span limits, a batch
//! processor that never blocks the application, and OTLP export (gRPC, HTTP/protobuf,
//! HTTP/JSON) through ferrotel's own OTLP client.
//!
//! Two ways to create spans, both recording through the same provider:
//! - the `opentelemetry` API crate (what instrumentation libraries call): install with
//!   `opentelemetry::global::set_tracer_provider(provider)`; [`TracerProvider`], [`Tracer`] and
//!   [`Span`] implement its traits;
//! - the native API (`tracer.start_span(..)`, `tracer.span(..).kind(..).start()`), the same
//!   spans without the API's boxing: use it in code you own where cost per span matters.
//!
//! See `docs/sdk.md` for the quick start and the environment variables.

// Finished spans stay boxed from `Span::end` to the exporter: queues and batches move pointers,
// not 700-byte structs.
#![allow(clippy::vec_box)]

mod api;
pub mod batch;
#[cfg(feature = "tracing")]
pub mod bridge;
mod clock;
pub mod env;
pub mod export;
mod ids;
pub mod inline;
pub mod limits;
pub mod processor;
pub mod resource;
pub mod sampler;
pub mod shared;
pub mod span;
pub mod tracer;

use std::time::Duration;

pub use batch::{BatchConfig, BatchSpanProcessor, BatchStats, BatchStatsHandle};
pub use export::otlp::{OtlpExporterConfig, OtlpSpanExporter};
pub use export::{InMemoryExporter, SpanExporter};
pub use inline::{InlineAttributes, InlineValue};
pub use limits::SpanLimits;
pub use processor::{NoopSpanProcessor, SimpleSpanProcessor, SpanProcessor};
pub use resource::Resource;
pub use sampler::{Sampler, SamplingDecision, SamplingResult, ShouldSample};
pub use shared::SharedAttributes;
pub use span::{AttachedSpan, Span, SpanData};
pub use tracer::{Tracer, TracerProvider, TracerProviderBuilder};

/// Re-exported so users name the same API crate version the SDK implements.
pub use opentelemetry;

/// SDK errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdkError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("already shut down")]
    AlreadyShutdown,
    #[error("export failed: {0}")]
    Export(String),
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// The usual setup in one call: a provider configured from the environment (resource,
/// sampler, limits, `OTEL_SDK_DISABLED`) with a batch processor into the OTLP exporter
/// (`OTEL_EXPORTER_OTLP_*`), installed as the `opentelemetry` global provider. Keep the
/// returned provider to call [`TracerProvider::shutdown`] before exiting.
pub fn init() -> Result<TracerProvider, SdkError> {
    let exporter = OtlpSpanExporter::new(OtlpExporterConfig::from_env())?;
    let provider = TracerProvider::builder()
        .with_batch_exporter(exporter)
        .build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    Ok(provider)
}
