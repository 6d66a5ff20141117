//! W3C Trace Context (<https://www.w3.org/TR/trace-context-2/>): `traceparent` and `tracestate`.

use crate::hex::{parse_u8, parse_u64, parse_u128, trim_ows};
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceState};
use opentelemetry::{Context, SpanId, TraceFlags, TraceId};
use std::sync::OnceLock;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";
/// `sampled` (Level 1) and `random` (Level 2): the flags this version defines. Others are
/// dropped on extraction, since version 00 says unknown flags must be sent as zero.
const KNOWN_FLAGS: u8 = 0x03;
const MAX_MEMBERS: usize = 32;
const MAX_KEY_LEN: usize = 256;
const MAX_VALUE_LEN: usize = 256;

/// Propagates `traceparent` and `tracestate` per W3C Trace Context Level 2.
///
/// Extraction is strict: a `traceparent` that breaks any rule (version `ff`, uppercase hex, wrong
/// field lengths, all-zero ids, extra data after a version-00 header, or two `traceparent`
/// fields) is ignored, so the receiving span starts a new trace. A `tracestate` is only read
/// with a valid `traceparent`; an invalid one (bad key or value, more than 32 members) is dropped
/// whole while the `traceparent` is kept. The flags keep `sampled` and Level 2's `random`.
#[derive(Clone, Debug, Default)]
pub struct TraceContextPropagator {
    _private: (),
}

impl TraceContextPropagator {
    /// A new W3C Trace Context propagator.
    pub fn new() -> Self {
        Self::default()
    }
}

fn fields() -> &'static [String; 2] {
    static FIELDS: OnceLock<[String; 2]> = OnceLock::new();
    FIELDS.get_or_init(|| [TRACEPARENT.to_owned(), TRACESTATE.to_owned()])
}

/// Parses one `traceparent` value into its ids and known flags.
pub fn parse_traceparent(value: &str) -> Option<(TraceId, SpanId, TraceFlags)> {
    let v = trim_ows(value).as_bytes();
    // version "-" trace-id "-" parent-id "-" trace-flags: 2+1+32+1+16+1+2.
    if v.len() < 55 || v[2] != b'-' || v[35] != b'-' || v[52] != b'-' {
        return None;
    }
    let version = parse_u8(&v[..2], true)?;
    match version {
        0xff => return None,
        // Version 00 is exactly 55 characters.
        0x00 if v.len() != 55 => return None,
        // A future version may append fields, each after a dash; its first four parse as 00's.
        _ if v.len() > 55 && v[55] != b'-' => return None,
        _ => {}
    }
    let trace_id = parse_u128(&v[3..35], true)?;
    let span_id = parse_u64(&v[36..52], true)?;
    let flags = parse_u8(&v[53..55], true)?;
    if trace_id == 0 || span_id == 0 {
        return None;
    }
    Some((
        TraceId::from(trace_id),
        SpanId::from(span_id),
        TraceFlags::new(flags & KNOWN_FLAGS),
    ))
}

/// Formats a version-00 `traceparent`.
pub fn format_traceparent(sc: &SpanContext) -> String {
    format!(
        "00-{:032x}-{:016x}-{:02x}",
        sc.trace_id(),
        sc.span_id(),
        sc.trace_flags().to_u8() & KNOWN_FLAGS
    )
}

fn valid_key(key: &str) -> bool {
    let b = key.as_bytes();
    // key = ( lcalpha / DIGIT ) 0*255( keychar ); keychar adds "_" "-" "*" "/" "@". The
    // current grammar has no tenant/system length split any more: `@` is a plain key char.
    !b.is_empty()
        && b.len() <= MAX_KEY_LEN
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(|&c| {
            c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || matches!(c, b'_' | b'-' | b'*' | b'/' | b'@')
        })
}

fn valid_value(value: &str) -> bool {
    let b = value.as_bytes();
    // value = 0*255(chr) nblk-chr; chr = %x20-7E except "," and "="; no trailing space.
    !b.is_empty()
        && b.len() <= MAX_VALUE_LEN
        && b[b.len() - 1] != b' '
        && b.iter()
            .all(|&c| (0x20..=0x7e).contains(&c) && c != b',' && c != b'=')
}

/// Parses the `tracestate` field values (several fields combine as one comma-separated list).
/// Returns the members in order, duplicates after the first dropped (the spec allows it), or
/// `None` when the list is invalid and must be discarded whole.
pub fn parse_tracestate<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Option<Vec<(&'a str, &'a str)>> {
    let mut members: Vec<(&str, &str)> = Vec::new();
    for value in values {
        for member in value.split(',') {
            // Empty and whitespace-only members are allowed and ignored.
            let member = trim_ows(member);
            if member.is_empty() {
                continue;
            }
            let (key, val) = member.split_once('=')?;
            if !valid_key(key) || !valid_value(val) {
                return None;
            }
            if members.iter().any(|(k, _)| *k == key) {
                continue;
            }
            if members.len() == MAX_MEMBERS {
                return None;
            }
            members.push((key, val));
        }
    }
    Some(members)
}

/// The `tracestate` received with a remote parent, kept verbatim when the API's `TraceState`
/// cannot hold all of it. `TraceState` validates keys by an older grammar (at most one `@`,
/// system part of at most 13 characters) than the current spec, which the W3C test suite
/// checks; members it rejects would otherwise be lost though the spec requires passing a valid
/// `tracestate` on. Stored in the extracted context and so inherited by child contexts.
#[derive(Clone, Debug)]
struct ReceivedTraceState {
    trace_id: TraceId,
    /// What the span context carries: the members `TraceState` accepted.
    representable: TraceState,
    /// The members `TraceState` rejected, in order.
    extra: Vec<(String, String)>,
    /// The whole list as received (normalised: no OWS, no empty members, no duplicates).
    header: String,
}

fn build_trace_state(
    members: &[(&str, &str)],
    trace_id: TraceId,
) -> (TraceState, Option<ReceivedTraceState>) {
    if members.is_empty() {
        return (TraceState::NONE, None);
    }
    if let Ok(ts) = TraceState::from_key_value(members.iter().copied()) {
        return (ts, None);
    }
    let (ok, extra): (Vec<_>, Vec<_>) = members
        .iter()
        .partition(|(k, v)| TraceState::from_key_value([(*k, *v)]).is_ok());
    let representable = TraceState::from_key_value(ok).unwrap_or_default();
    let header = join_members(members.iter().copied());
    let received = ReceivedTraceState {
        trace_id,
        representable: representable.clone(),
        extra: extra
            .into_iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        header,
    };
    (representable, Some(received))
}

fn join_members<'a>(members: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (k, v) in members {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// The `tracestate` to send for `sc` in `cx`.
fn outgoing_tracestate(cx: &Context, sc: &SpanContext) -> String {
    let Some(received) = cx
        .get::<ReceivedTraceState>()
        .filter(|r| r.trace_id == sc.trace_id())
    else {
        return sc.trace_state().header();
    };
    if *sc.trace_state() == received.representable {
        // Unchanged since it was received: pass it on as it came.
        return received.header.clone();
    }
    // Mutated (e.g. a sampler wrote its own key): the current state first, as mutations go
    // left, then the members `TraceState` could not hold, within the 32-member limit.
    let mut out = sc.trace_state().header();
    let mut count = sc.trace_state().into_iter().count();
    for (k, v) in &received.extra {
        if count == MAX_MEMBERS {
            break;
        }
        if sc.trace_state().get(k).is_none() {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(k);
            out.push('=');
            out.push_str(v);
            count += 1;
        }
    }
    out
}

impl TextMapPropagator for TraceContextPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return;
        }
        injector.set(TRACEPARENT, format_traceparent(sc));
        let tracestate = outgoing_tracestate(cx, sc);
        if !tracestate.is_empty() {
            injector.set(TRACESTATE, tracestate);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        // Cheap check first: most requests without tracing headers stop here, allocation-free.
        if extractor.get(TRACEPARENT).is_none() {
            return cx.clone();
        }
        // Two traceparent fields (or one a proxy combined with a comma) are invalid: restart.
        let parsed = match extractor.get_all(TRACEPARENT).as_deref() {
            Some([one]) => parse_traceparent(one),
            _ => None,
        };
        let Some((trace_id, span_id, flags)) = parsed else {
            return cx.clone();
        };
        let members = extractor
            .get_all(TRACESTATE)
            .and_then(|values| parse_tracestate(values).map(|m| build_trace_state(&m, trace_id)));
        let (trace_state, received) = members.unwrap_or((TraceState::NONE, None));
        let sc = SpanContext::new(trace_id, span_id, flags, true, trace_state);
        let cx = cx.with_remote_span_context(sc);
        match received {
            Some(received) => cx.with_value(received),
            None => cx,
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(fields())
    }
}
