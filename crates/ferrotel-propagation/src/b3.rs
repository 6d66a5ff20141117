//! Zipkin B3 (<https://github.com/openzipkin/b3-propagation>), as the OpenTelemetry propagators
//! spec profiles it: single header `b3` and multi header `X-B3-*`.

use crate::DebugFlag;
use crate::hex::{parse_u64, parse_u128, trim_ows};
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceState};
use opentelemetry::{Context, SpanId, TraceFlags, TraceId};

const B3: &str = "b3";
const TRACE_ID: &str = "x-b3-traceid";
const SPAN_ID: &str = "x-b3-spanid";
const SAMPLED: &str = "x-b3-sampled";
const FLAGS: &str = "x-b3-flags";
const PARENT_SPAN_ID: &str = "x-b3-parentspanid";

/// Which B3 headers [`B3Propagator`] injects. Extraction always reads both, the single header
/// first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum B3Encoding {
    /// `b3: {trace-id}-{span-id}-{sampling}` (`OTEL_PROPAGATORS=b3`).
    #[default]
    SingleHeader,
    /// `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-Sampled` or `X-B3-Flags` (`OTEL_PROPAGATORS=b3multi`).
    MultipleHeader,
    /// Both.
    SingleAndMultiHeader,
}

/// Propagates B3. Extraction reads `b3` first, then the `X-B3-*` headers; 64-bit trace ids are
/// left-padded to 128 bits; the debug flag (`d`, `X-B3-Flags: 1`) implies sampled and is kept in
/// the context ([`DebugFlag`]) so it is injected again downstream. A sampling-only `b3: 0` has
/// no ids to continue and leaves the context unchanged. The parent span id is never injected,
/// as the OpenTelemetry spec asks.
#[derive(Clone, Debug)]
pub struct B3Propagator {
    encoding: B3Encoding,
    fields: Vec<String>,
}

impl Default for B3Propagator {
    fn default() -> Self {
        Self::with_encoding(B3Encoding::SingleHeader)
    }
}

impl B3Propagator {
    /// Single-header injection.
    pub fn new() -> Self {
        Self::default()
    }

    /// Injection in the given encoding.
    pub fn with_encoding(encoding: B3Encoding) -> Self {
        let single = [B3];
        let multi = [TRACE_ID, SPAN_ID, SAMPLED, FLAGS];
        let fields: Vec<&str> = match encoding {
            B3Encoding::SingleHeader => single.to_vec(),
            B3Encoding::MultipleHeader => multi.to_vec(),
            B3Encoding::SingleAndMultiHeader => single.iter().chain(&multi).copied().collect(),
        };
        B3Propagator {
            encoding,
            fields: fields.into_iter().map(str::to_owned).collect(),
        }
    }

    /// The injection encoding.
    pub fn encoding(&self) -> B3Encoding {
        self.encoding
    }
}

/// A B3 trace id: 16 or 32 lowercase hex digits, not all zero.
fn trace_id(s: &str) -> Option<TraceId> {
    if s.len() != 16 && s.len() != 32 {
        return None;
    }
    parse_u128(s.as_bytes(), true)
        .filter(|&id| id != 0)
        .map(TraceId::from)
}

/// A B3 span id: 16 lowercase hex digits, not all zero.
fn span_id(s: &str) -> Option<SpanId> {
    if s.len() != 16 {
        return None;
    }
    parse_u64(s.as_bytes(), true)
        .filter(|&id| id != 0)
        .map(SpanId::from)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sampling {
    Deferred,
    Deny,
    Accept,
    Debug,
}

/// Parses `b3: {trace-id}-{span-id}[-{sampling}[-{parent-span-id}]]`.
pub(crate) fn parse_single(value: &str) -> Option<(TraceId, SpanId, bool, bool)> {
    let mut parts = trim_ows(value).split('-');
    let trace = trace_id(parts.next()?)?;
    let span = span_id(parts.next()?)?;
    let sampling = match parts.next() {
        None => Sampling::Deferred,
        Some("0") => Sampling::Deny,
        Some("1") => Sampling::Accept,
        Some("d") => Sampling::Debug,
        Some(_) => return None,
    };
    if let Some(parent) = parts.next() {
        span_id(parent)?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(ids_with(trace, span, sampling))
}

fn ids_with(trace: TraceId, span: SpanId, s: Sampling) -> (TraceId, SpanId, bool, bool) {
    // A deferred decision has no sampled bit to carry: it reads as not sampled.
    (
        trace,
        span,
        matches!(s, Sampling::Accept | Sampling::Debug),
        s == Sampling::Debug,
    )
}

fn parse_multi(extractor: &dyn Extractor) -> Option<(TraceId, SpanId, bool, bool)> {
    let trace = trace_id(trim_ows(extractor.get(TRACE_ID)?))?;
    let span = span_id(trim_ows(extractor.get(SPAN_ID)?))?;
    let debug = extractor.get(FLAGS).map(trim_ows) == Some("1");
    let sampling = if debug {
        Sampling::Debug
    } else {
        match extractor.get(SAMPLED).map(trim_ows) {
            None => Sampling::Deferred,
            // "true"/"false" are what old Zipkin clients sent.
            Some("1" | "true") => Sampling::Accept,
            Some("0" | "false") => Sampling::Deny,
            Some(_) => return None,
        }
    };
    if let Some(parent) = extractor.get(PARENT_SPAN_ID) {
        span_id(trim_ows(parent))?;
    }
    Some(ids_with(trace, span, sampling))
}

impl TextMapPropagator for B3Propagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return;
        }
        let debug = DebugFlag::is_set(cx, sc.trace_id());
        if self.encoding != B3Encoding::MultipleHeader {
            let sampling = match (debug, sc.is_sampled()) {
                (true, _) => 'd',
                (false, true) => '1',
                (false, false) => '0',
            };
            injector.set(
                B3,
                format!("{:032x}-{:016x}-{sampling}", sc.trace_id(), sc.span_id()),
            );
        }
        if self.encoding != B3Encoding::SingleHeader {
            injector.set(TRACE_ID, format!("{:032x}", sc.trace_id()));
            injector.set(SPAN_ID, format!("{:016x}", sc.span_id()));
            // Debug implies sampled; B3 says not to send both.
            if debug {
                injector.set(FLAGS, "1".to_owned());
            } else {
                injector.set(SAMPLED, if sc.is_sampled() { "1" } else { "0" }.to_owned());
            }
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let parsed = extractor
            .get(B3)
            .and_then(parse_single)
            .or_else(|| parse_multi(extractor));
        let Some((trace_id, span_id, sampled, debug)) = parsed else {
            return cx.clone();
        };
        let flags = if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        let sc = SpanContext::new(trace_id, span_id, flags, true, TraceState::NONE);
        let cx = cx.with_remote_span_context(sc);
        if debug {
            cx.with_value(DebugFlag { trace_id })
        } else {
            cx
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}
