//! Jaeger's native propagation: `uber-trace-id: {trace-id}:{span-id}:{parent-span-id}:{flags}`
//! and baggage as `uberctx-{key}` headers.

use crate::DebugFlag;
use crate::hex::{parse_u8, parse_u64, parse_u128, percent_decode, percent_encode, trim_ows};
use opentelemetry::baggage::{Baggage, BaggageExt};
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceState};
use opentelemetry::{Context, SpanId, TraceFlags, TraceId};
use std::sync::OnceLock;

const UBER_TRACE_ID: &str = "uber-trace-id";
const BAGGAGE_PREFIX: &str = "uberctx-";
const FLAG_SAMPLED: u8 = 0x01;
const FLAG_DEBUG: u8 = 0x02;

/// Propagates Jaeger's `uber-trace-id` (also in its URL-encoded form, `%3A` for `:`) and
/// `uberctx-*` baggage. Trace ids shorter than 32 hex digits (Jaeger clients drop leading zeros,
/// and 64-bit ids exist) are left-padded; hex of either case is read, lowercase is written; the
/// debug flag (0x02) is kept in the context ([`DebugFlag`]) and injected again.
#[derive(Clone, Debug, Default)]
pub struct JaegerPropagator {
    _private: (),
}

impl JaegerPropagator {
    /// A new Jaeger propagator.
    pub fn new() -> Self {
        Self::default()
    }
}

fn fields() -> &'static [String; 1] {
    static FIELDS: OnceLock<[String; 1]> = OnceLock::new();
    FIELDS.get_or_init(|| [UBER_TRACE_ID.to_owned()])
}

/// Parses an `uber-trace-id` value into ids, sampled and debug.
pub(crate) fn parse_uber_trace_id(value: &str) -> Option<(TraceId, SpanId, bool, bool)> {
    let decoded = percent_decode(trim_ows(value));
    let mut parts = decoded.split(':');
    let trace = parse_u128(parts.next()?.as_bytes(), false).filter(|&id| id != 0)?;
    let span = parse_u64(parts.next()?.as_bytes(), false).filter(|&id| id != 0)?;
    // The parent span id is deprecated (usually "0") but must still be hex.
    parse_u64(parts.next()?.as_bytes(), false)?;
    let flags = parse_u8(parts.next()?.as_bytes(), false)?;
    if parts.next().is_some() {
        return None;
    }
    Some((
        TraceId::from(trace),
        SpanId::from(span),
        flags & (FLAG_SAMPLED | FLAG_DEBUG) != 0,
        flags & FLAG_DEBUG != 0,
    ))
}

/// Keeps what needs no encoding in a header value; the rest is percent-encoded.
fn header_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

impl TextMapPropagator for JaegerPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if sc.is_valid() {
            let mut flags = 0;
            if sc.is_sampled() {
                flags |= FLAG_SAMPLED;
            }
            if DebugFlag::is_set(cx, sc.trace_id()) {
                flags |= FLAG_DEBUG | FLAG_SAMPLED;
            }
            injector.set(
                UBER_TRACE_ID,
                format!("{:032x}:{:016x}:0:{flags:x}", sc.trace_id(), sc.span_id()),
            );
        }
        for (key, (value, _)) in cx.baggage() {
            let mut encoded = String::new();
            percent_encode(value.as_str(), header_safe, &mut encoded);
            injector.set(&format!("{BAGGAGE_PREFIX}{}", key.as_str()), encoded);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let mut cx = match extractor.get(UBER_TRACE_ID).and_then(parse_uber_trace_id) {
            Some((trace_id, span_id, sampled, debug)) => {
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
            None => cx.clone(),
        };
        // Baggage keys are dynamic, so finding them needs the carrier's key list.
        let mut baggage: Option<Baggage> = None;
        for key in extractor.keys() {
            let Some(name) = key
                .get(..BAGGAGE_PREFIX.len())
                .filter(|p| p.eq_ignore_ascii_case(BAGGAGE_PREFIX))
                .map(|_| &key[BAGGAGE_PREFIX.len()..])
            else {
                continue;
            };
            if name.is_empty() {
                continue;
            }
            if let Some(value) = extractor.get(key) {
                let baggage = baggage.get_or_insert_with(|| {
                    cx.baggage()
                        .iter()
                        .map(|(k, (v, m))| (k.clone(), (v.clone(), m.clone())))
                        .collect()
                });
                baggage.insert(
                    name.to_ascii_lowercase(),
                    percent_decode(trim_ows(value)).into_owned(),
                );
            }
        }
        if let Some(baggage) = baggage {
            cx = cx.with_baggage(baggage);
        }
        cx
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(fields())
    }
}
