//! The validator's fast path: the same checks as the table-driven walk in `validate.rs`, but
//! with no error data at all (`None` means "refused") and with hand-specialised walkers for the
//! messages that dominate real traffic (Span, Span.Event, Span.Link, Status, KeyValue,
//! AnyValue, LogRecord, NumberDataPoint). Those match on the whole field key (field number and
//! wire type in one varint) instead of looking the field up in the schema table and dispatching
//! on its kind, and KeyValue/AnyValue are inlined into the walkers that hold attributes.
//!
//! Contract: `Some(n)` only if the table-driven walk returns `Ok(n)`; debug builds assert it.
//! When this returns `None` the caller re-runs the table-driven walk, which builds the
//! path-precise error. Every key value a specialised walker does not match (other fields,
//! unexpected wire types, unknown fields, invalid keys) goes to [`field`], the table-driven
//! check of one field, so each field keeps the schema's semantics.

use std::ptr;

use super::reader::{FIXED32, FIXED64, LEN, Reader, VARINT};
use super::schema::{self, Kind, Msg};

/// Items in `buf` as a message of type `msg`, or `None` if the slow walk must decide.
#[inline]
pub(crate) fn validate(buf: &[u8], msg: &'static Msg, ctx: u32, any_left: u32) -> Option<usize> {
    walk(buf, msg, ctx, any_left)
}

/// Splits a key as `Reader::key` does, refusing what it refuses.
#[inline(always)]
fn split_key(key: u64) -> Option<(u32, u8)> {
    if key > u64::from(u32::MAX) {
        return None;
    }
    let wt = (key & 7) as u8;
    let field = (key >> 3) as u32;
    if wt > 5 || field == 0 {
        return None;
    }
    Some((field, wt))
}

/// The generic table-driven walk of one message.
fn walk(buf: &[u8], msg: &'static Msg, ctx: u32, any_left: u32) -> Option<usize> {
    let mut r = Reader::new(buf);
    let mut items = 0usize;
    let mut run_field = 0u32;
    let mut run = 0usize;
    while !r.is_empty() {
        let (field, wt) = split_key(r.varint().ok()?)?;
        let Some(Some(fd)) = msg.fields.get(field as usize) else {
            r.skip(field, wt, ctx).ok()?;
            continue;
        };
        let n = check(&mut r, fd.kind, wt, ctx, any_left)?;
        if fd.oneof_items {
            if field != run_field {
                run_field = field;
                run = 0;
            }
            run += n;
        } else {
            items += n;
        }
    }
    Some(items + run)
}

/// One field of a message whose fields hold no items (and no item-holding oneof), checked by
/// the schema table: the fallback of the specialised walkers for every key they do not match.
/// Takes and returns the reader by value so that callers keep theirs in registers.
#[inline(never)]
fn field<'a>(
    mut r: Reader<'a>,
    msg: &'static Msg,
    key: u64,
    ctx: u32,
    any_left: u32,
) -> Option<Reader<'a>> {
    let (field, wt) = split_key(key)?;
    match msg.fields.get(field as usize) {
        Some(Some(fd)) => check(&mut r, fd.kind, wt, ctx, any_left)?,
        _ => {
            r.skip(field, wt, ctx).ok()?;
            0
        }
    };
    Some(r)
}

/// Checks one known field's value like `validate::check_field`; returns the items it holds.
#[inline]
fn check(r: &mut Reader<'_>, kind: Kind, wt: u8, ctx: u32, any_left: u32) -> Option<usize> {
    match kind {
        Kind::Varint => {
            (wt == VARINT).then_some(())?;
            r.varint().ok()?;
        }
        Kind::Fixed64 => {
            (wt == FIXED64).then_some(())?;
            r.fixed::<8>().ok()?;
        }
        Kind::Fixed32 => {
            (wt == FIXED32).then_some(())?;
            r.fixed::<4>().ok()?;
        }
        Kind::Str => {
            (wt == LEN).then_some(())?;
            string(r)?;
        }
        Kind::Bytes => {
            (wt == LEN).then_some(())?;
            r.bytes().ok()?;
        }
        Kind::Id(n) => {
            (wt == LEN).then_some(())?;
            id(r, n as usize)?;
        }
        Kind::Msg(m) | Kind::Item(m) => {
            (wt == LEN).then_some(())?;
            let b = r.bytes().ok()?;
            if ctx == 0 {
                return None;
            }
            let mut left = any_left;
            if m.any_value {
                left = left.checked_sub(1)?;
            }
            let n = sub(b, m, ctx - 1, left)?;
            return Some(if matches!(kind, Kind::Item(_)) { 1 } else { n });
        }
        Kind::PackedVarint => match wt {
            VARINT => {
                r.varint().ok()?;
            }
            LEN => {
                let mut p = Reader::new(r.bytes().ok()?);
                while !p.is_empty() {
                    p.varint().ok()?;
                }
            }
            _ => return None,
        },
        Kind::PackedFixed64 => match wt {
            FIXED64 => {
                r.fixed::<8>().ok()?;
            }
            LEN => {
                if r.bytes().ok()?.len() % 8 != 0 {
                    return None;
                }
            }
            _ => return None,
        },
    }
    Some(0)
}

/// Walks a nested message (its budgets already spent), specialised when it is a hot one.
#[inline]
fn sub(b: &[u8], m: &'static Msg, ctx: u32, any_left: u32) -> Option<usize> {
    if ptr::eq(m, &schema::KEY_VALUE) {
        key_value_outlined(b, ctx, any_left).map(|()| 0)
    } else if ptr::eq(m, &schema::ANY_VALUE) {
        any_value_outlined(b, ctx, any_left).map(|()| 0)
    } else if ptr::eq(m, &schema::SPAN) {
        span(b, ctx, any_left).map(|()| 0)
    } else if ptr::eq(m, &schema::LOG_RECORD) {
        log_record(b, ctx, any_left).map(|()| 0)
    } else if ptr::eq(m, &schema::NUMBER_DP) {
        number_dp(b, ctx, any_left).map(|()| 0)
    } else {
        walk(b, m, ctx, any_left)
    }
}

/// A length-delimited UTF-8 string.
#[inline(always)]
fn string(r: &mut Reader<'_>) -> Option<()> {
    let b = r.bytes().ok()?;
    if is_ascii(b) || std::str::from_utf8(b).is_ok() {
        Some(())
    } else {
        None
    }
}

/// A length-delimited id: empty or exactly `n` bytes.
#[inline(always)]
fn id(r: &mut Reader<'_>, n: usize) -> Option<()> {
    let b = r.bytes().ok()?;
    (b.is_empty() || b.len() == n).then_some(())
}

/// A nested KeyValue field (the caller matched its key): spends one level of `ctx`.
#[inline(always)]
fn nested_kv(r: &mut Reader<'_>, ctx: u32, any_left: u32) -> Option<()> {
    let b = r.bytes().ok()?;
    if ctx == 0 {
        return None;
    }
    key_value(b, ctx - 1, any_left)
}

/// A nested AnyValue field (the caller matched its key): spends one level of `ctx` and one of
/// `any_left`.
#[inline(always)]
fn nested_any(r: &mut Reader<'_>, ctx: u32, any_left: u32) -> Option<()> {
    let b = r.bytes().ok()?;
    if ctx == 0 || any_left == 0 {
        return None;
    }
    any_value(b, ctx - 1, any_left - 1)
}

/// Word-at-a-time ASCII check with overlapping loads and no per-byte tail loop: OTLP strings
/// (keys, names, most values) are short and ASCII.
#[inline(always)]
fn is_ascii(b: &[u8]) -> bool {
    const HI: u64 = 0x8080_8080_8080_8080;
    let word = |c: &[u8; 8]| u64::from_le_bytes(*c);
    match (b.first_chunk::<8>(), b.last_chunk::<8>()) {
        (Some(first), Some(last)) => {
            let mut acc = word(first) | word(last);
            let mut rest = &b[8..];
            while let Some((c, tail)) = rest.split_first_chunk::<8>() {
                acc |= word(c);
                rest = tail;
            }
            acc & HI == 0
        }
        _ => match (b.first_chunk::<4>(), b.last_chunk::<4>()) {
            (Some(first), Some(last)) => {
                (u32::from_le_bytes(*first) | u32::from_le_bytes(*last)) & 0x8080_8080 == 0
            }
            _ => b.iter().fold(0u8, |a, &x| a | x) < 0x80,
        },
    }
}

#[inline(never)]
fn key_value_outlined(buf: &[u8], ctx: u32, any_left: u32) -> Option<()> {
    key_value(buf, ctx, any_left)
}

#[inline(never)]
fn any_value_outlined(buf: &[u8], ctx: u32, any_left: u32) -> Option<()> {
    any_value(buf, ctx, any_left)
}

/// common.proto KeyValue: inlined into the hot walkers that hold attributes.
#[inline(always)]
fn key_value(buf: &[u8], ctx: u32, any_left: u32) -> Option<()> {
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        match r.varint().ok()? {
            0x0a => string(&mut r)?,
            0x12 => nested_any(&mut r, ctx, any_left)?,
            key => r = field(r, &schema::KEY_VALUE, key, ctx, any_left)?,
        }
    }
    Some(())
}

/// common.proto AnyValue (`any_left` already spent for this level).
#[inline(always)]
fn any_value(buf: &[u8], ctx: u32, any_left: u32) -> Option<()> {
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        match r.varint().ok()? {
            0x0a => string(&mut r)?,
            0x10 | 0x18 => {
                r.varint().ok()?;
            }
            0x21 => {
                r.fixed::<8>().ok()?;
            }
            key => r = field(r, &schema::ANY_VALUE, key, ctx, any_left)?,
        }
    }
    Some(())
}

/// trace.proto Span.
fn span(buf: &[u8], ctx: u32, any_left: u32) -> Option<()> {
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        match r.varint().ok()? {
            0x0a => id(&mut r, 16)?,
            0x12 | 0x22 => id(&mut r, 8)?,
            0x1a | 0x2a => string(&mut r)?,
            0x30 | 0x50 | 0x60 | 0x70 => {
                r.varint().ok()?;
            }
            0x39 | 0x41 => {
                r.fixed::<8>().ok()?;
            }
            0x4a => nested_kv(&mut r, ctx, any_left)?,
            0x5a => {
                let b = r.bytes().ok()?;
                if ctx == 0 {
                    return None;
                }
                span_event(b, ctx - 1, any_left)?;
            }
            0x6a => {
                let b = r.bytes().ok()?;
                if ctx == 0 {
                    return None;
                }
                span_link(b, ctx - 1, any_left)?;
            }
            0x7a => {
                let b = r.bytes().ok()?;
                if ctx == 0 {
                    return None;
                }
                status(b, ctx - 1, any_left)?;
            }
            // flags (field 16, fixed32): a two-byte key.
            0x85 => {
                r.fixed::<4>().ok()?;
            }
            key => r = field(r, &schema::SPAN, key, ctx, any_left)?,
        }
    }
    Some(())
}

/// trace.proto Span.Event.
fn span_event(buf: &[u8], ctx: u32, any_left: u32) -> Option<()> {
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        match r.varint().ok()? {
            0x09 => {
                r.fixed::<8>().ok()?;
            }
            0x12 => string(&mut r)?,
            0x1a => nested_kv(&mut r, ctx, any_left)?,
            0x20 => {
                r.varint().ok()?;
            }
            key => r = field(r, &schema::SPAN_EVENT, key, ctx, any_left)?,
        }
    }
    Some(())
}

/// trace.proto Span.Link.
fn span_link(buf: &[u8], ctx: u32, any_left: u32) -> Option<()> {
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        match r.varint().ok()? {
            0x0a => id(&mut r, 16)?,
            0x12 => id(&mut r, 8)?,
            0x1a => string(&mut r)?,
            0x22 => nested_kv(&mut r, ctx, any_left)?,
            0x28 => {
                r.varint().ok()?;
            }
            0x35 => {
                r.fixed::<4>().ok()?;
            }
            key => r = field(r, &schema::SPAN_LINK, key, ctx, any_left)?,
        }
    }
    Some(())
}

/// trace.proto Status.
#[inline(always)]
fn status(buf: &[u8], ctx: u32, any_left: u32) -> Option<()> {
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        match r.varint().ok()? {
            0x12 => string(&mut r)?,
            0x18 => {
                r.varint().ok()?;
            }
            key => r = field(r, &schema::STATUS, key, ctx, any_left)?,
        }
    }
    Some(())
}

/// logs.proto LogRecord.
fn log_record(buf: &[u8], ctx: u32, any_left: u32) -> Option<()> {
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        match r.varint().ok()? {
            0x09 | 0x59 => {
                r.fixed::<8>().ok()?;
            }
            0x10 | 0x38 => {
                r.varint().ok()?;
            }
            0x1a | 0x62 => string(&mut r)?,
            0x2a => nested_any(&mut r, ctx, any_left)?,
            0x32 => nested_kv(&mut r, ctx, any_left)?,
            0x45 => {
                r.fixed::<4>().ok()?;
            }
            0x4a => id(&mut r, 16)?,
            0x52 => id(&mut r, 8)?,
            key => r = field(r, &schema::LOG_RECORD, key, ctx, any_left)?,
        }
    }
    Some(())
}

/// metrics.proto NumberDataPoint.
fn number_dp(buf: &[u8], ctx: u32, any_left: u32) -> Option<()> {
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        match r.varint().ok()? {
            0x11 | 0x19 | 0x21 | 0x31 => {
                r.fixed::<8>().ok()?;
            }
            0x3a => nested_kv(&mut r, ctx, any_left)?,
            0x40 => {
                r.varint().ok()?;
            }
            key => r = field(r, &schema::NUMBER_DP, key, ctx, any_left)?,
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use prost::Message;

    use super::super::reader::RECURSION_LIMIT;
    use super::super::validate::{MAX_ANY_VALUE_DEPTH, request_schema, validate_slow};
    use super::*;
    use crate::Signal;
    use crate::proto::collector::logs::v1::ExportLogsServiceRequest;
    use crate::proto::collector::metrics::v1::ExportMetricsServiceRequest;
    use crate::proto::collector::trace::v1::ExportTraceServiceRequest;
    use crate::proto::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList, any_value};
    use crate::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use crate::proto::metrics::v1::{
        Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric, number_data_point,
    };
    use crate::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};

    fn attrs() -> Vec<KeyValue> {
        use any_value::Value::{
            BoolValue, BytesValue, DoubleValue, IntValue, KvlistValue, StringValue,
        };
        let kv = |key: &str, v| KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(v) }),
            ..Default::default()
        };
        vec![
            kv("s", StringValue("héllo wörld, long enough".into())),
            kv("b", BoolValue(true)),
            kv("i", IntValue(-3)),
            kv("d", DoubleValue(0.5)),
            kv("x", BytesValue(Bytes::from_static(&[0xff, 0x80]))),
            kv(
                "a",
                any_value::Value::ArrayValue(ArrayValue {
                    values: vec![AnyValue {
                        value: Some(StringValue("in".into())),
                    }],
                }),
            ),
            kv(
                "k",
                KvlistValue(KeyValueList {
                    values: vec![kv("n", IntValue(1))],
                }),
            ),
        ]
    }

    /// Every id field of the samples.
    const IDS: [&str; 7] = [
        "span.trace",
        "span.span",
        "span.parent",
        "link.trace",
        "link.span",
        "log.trace",
        "log.span",
    ];

    /// One request per signal with every hot field set; the id named `bad` one byte short.
    fn samples(bad: &str) -> Vec<(Signal, Vec<u8>)> {
        let id = |name: &str, n: usize| Bytes::from(vec![7u8; n - usize::from(name == bad)]);
        let span = Span {
            trace_id: id("span.trace", 16),
            span_id: id("span.span", 8),
            trace_state: "a=b".into(),
            parent_span_id: id("span.parent", 8),
            flags: 0x301,
            name: "GET /x".into(),
            kind: 2,
            start_time_unix_nano: 1,
            end_time_unix_nano: 2,
            attributes: attrs(),
            dropped_attributes_count: 1,
            events: vec![span::Event {
                time_unix_nano: 3,
                name: "ev".into(),
                attributes: attrs(),
                dropped_attributes_count: 2,
            }],
            dropped_events_count: 3,
            links: vec![span::Link {
                trace_id: id("link.trace", 16),
                span_id: id("link.span", 8),
                trace_state: "c=d".into(),
                attributes: attrs(),
                dropped_attributes_count: 4,
                flags: 1,
            }],
            dropped_links_count: 5,
            status: Some(Status {
                message: "oops".into(),
                code: 2,
            }),
        };
        let traces = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![span.clone(), span],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let log = LogRecord {
            time_unix_nano: 1,
            observed_time_unix_nano: 2,
            severity_number: 9,
            severity_text: "INFO".into(),
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue("body".into())),
            }),
            attributes: attrs(),
            dropped_attributes_count: 1,
            flags: 1,
            trace_id: id("log.trace", 16),
            span_id: id("log.span", 8),
            event_name: "e".into(),
        };
        let logs = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![log],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let point = NumberDataPoint {
            attributes: attrs(),
            start_time_unix_nano: 1,
            time_unix_nano: 2,
            flags: 1,
            value: Some(number_data_point::Value::AsInt(5)),
            ..Default::default()
        };
        let metrics = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![Metric {
                        name: "m".into(),
                        data: Some(metric::Data::Gauge(Gauge {
                            data_points: vec![point.clone(), point],
                        })),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        vec![
            (Signal::Traces, traces.encode_to_vec()),
            (Signal::Logs, logs.encode_to_vec()),
            (Signal::Metrics, metrics.encode_to_vec()),
        ]
    }

    /// Whatever the fast path accepts, the table-driven walk accepts with the same count.
    fn agree(signal: Signal, b: &[u8], what: &str) -> Option<usize> {
        let msg = request_schema(signal);
        let fast = validate(b, msg, RECURSION_LIMIT, MAX_ANY_VALUE_DEPTH);
        if let Some(n) = fast {
            assert_eq!(validate_slow(msg, b), Ok(n), "{signal:?} {what}");
        }
        fast
    }

    /// The fast path decides valid requests itself and refuses wrong id lengths.
    #[test]
    fn ids() {
        for bad in std::iter::once("").chain(IDS) {
            for (signal, buf) in samples(bad) {
                let msg = request_schema(signal);
                let items = if signal == Signal::Logs { 1 } else { 2 };
                let ok = !(bad.starts_with("log") && signal == Signal::Logs
                    || !bad.starts_with("log") && !bad.is_empty() && signal == Signal::Traces);
                let fast = validate(&buf, msg, RECURSION_LIMIT, MAX_ANY_VALUE_DEPTH);
                assert_eq!(fast, ok.then_some(items), "{signal:?} bad {bad}");
                assert_eq!(validate_slow(msg, &buf).is_ok(), ok, "{signal:?} bad {bad}");
            }
        }
    }

    /// Never accepts what the table-driven walk refuses nor counts differently: every byte of
    /// each sample mutated several ways (0xff in a string is invalid UTF-8 in place), inserted
    /// before, and cut at.
    #[test]
    fn agrees_with_the_table_walk_under_mutation() {
        for (signal, buf) in samples("") {
            let mut accepted = 0;
            for i in 0..buf.len() {
                let orig = buf[i];
                let mut m = buf.clone();
                for v in [
                    0,
                    1,
                    2,
                    5,
                    0x0a,
                    0x7f,
                    0x80,
                    0x85,
                    0xff,
                    orig ^ 1,
                    orig ^ 0x80,
                ] {
                    m[i] = v;
                    accepted += agree(signal, &m, &format!("byte {i} = {v:#x}")).is_some() as usize;
                }
                let mut ins = buf.clone();
                ins.insert(i, 0x80);
                agree(signal, &ins, &format!("insert at {i}"));
                agree(signal, &buf[..i], &format!("cut at {i}"));
            }
            assert!(accepted > 0);
        }
    }
}
