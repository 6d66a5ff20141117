//! Context propagation for ferrotel's SDK, implementing the `opentelemetry` API crate's
//! [`TextMapPropagator`](opentelemetry::propagation::TextMapPropagator):
//!
//! - [`TraceContextPropagator`]: W3C Trace Context Level 1 and 2 (`traceparent`, `tracestate`);
//! - [`BaggagePropagator`]: W3C Baggage (`baggage`);
//! - [`B3Propagator`]: Zipkin B3, single (`b3`) and multi (`X-B3-*`) header;
//! - [`JaegerPropagator`]: Jaeger's `uber-trace-id` and `uberctx-*` baggage;
//! - [`CompositePropagator`] and [`from_env`] / [`from_names`] for `OTEL_PROPAGATORS`;
//! - carriers for [`http::HeaderMap`] ([`HeaderInjector`], [`HeaderExtractor`]) and, with the
//!   `tonic` feature, tonic's `MetadataMap`.
//!
//! Every extractor accepts any input without panicking: a malformed header is ignored (the
//! context is returned unchanged), as the specs ask.

mod b3;
mod baggage;
mod carrier;
mod composite;
mod hex;
mod jaeger;
mod trace_context;

pub use b3::{B3Encoding, B3Propagator};
pub use baggage::BaggagePropagator;
pub use baggage::{format_baggage, parse_baggage};
pub use carrier::{HeaderExtractor, HeaderInjector};
#[cfg(feature = "tonic")]
pub use carrier::{MetadataExtractor, MetadataInjector};
pub use composite::{
    CompositePropagator, DEFAULT_PROPAGATORS, NoopPropagator, from_env, from_names,
};
pub use jaeger::JaegerPropagator;
pub use trace_context::{
    TraceContextPropagator, format_traceparent, parse_traceparent, parse_tracestate,
};

use opentelemetry::Context;
use opentelemetry::trace::TraceId;

/// The debug ("force trace") decision received in B3 (`d`, `X-B3-Flags: 1`) or Jaeger (flag
/// 0x02). OpenTelemetry's `TraceFlags` has no debug bit, so the flag rides in the context beside
/// the span context, tied to its trace id: B3 and Jaeger inject it again for every span of that
/// trace, as their specs ask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DebugFlag {
    /// The trace this decision was made for.
    pub trace_id: TraceId,
}

impl DebugFlag {
    /// Whether the debug flag applies to `trace_id` in `cx`.
    pub fn is_set(cx: &Context, trace_id: TraceId) -> bool {
        cx.get::<DebugFlag>()
            .is_some_and(|flag| flag.trace_id == trace_id)
    }
}
