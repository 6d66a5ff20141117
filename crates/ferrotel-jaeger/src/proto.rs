//! Jaeger protobuf (`jaeger.api_v2`, model.proto and collector.proto's `PostSpansRequest`),
//! with prost's derive on the few messages, converted into [`crate::model`].

use prost::Message;

use crate::model::{Batch, CHILD_OF, Log, Process, Span, SpanRef, Tag, TagValue};

#[derive(Clone, PartialEq, Message)]
pub struct PostSpansRequest {
    #[prost(message, optional, tag = "1")]
    pub batch: Option<PBatch>,
}

#[derive(Clone, PartialEq, Message)]
pub struct PBatch {
    #[prost(message, repeated, tag = "1")]
    pub spans: Vec<PSpan>,
    #[prost(message, optional, tag = "2")]
    pub process: Option<PProcess>,
}

#[derive(Clone, PartialEq, Message)]
pub struct PProcess {
    #[prost(string, tag = "1")]
    pub service_name: String,
    #[prost(message, repeated, tag = "2")]
    pub tags: Vec<PKeyValue>,
}

#[derive(Clone, PartialEq, Message)]
pub struct PSpan {
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub span_id: Vec<u8>,
    #[prost(string, tag = "3")]
    pub operation_name: String,
    #[prost(message, repeated, tag = "4")]
    pub references: Vec<PSpanRef>,
    #[prost(uint32, tag = "5")]
    pub flags: u32,
    #[prost(message, optional, tag = "6")]
    pub start_time: Option<Timestamp>,
    #[prost(message, optional, tag = "7")]
    pub duration: Option<Timestamp>,
    #[prost(message, repeated, tag = "8")]
    pub tags: Vec<PKeyValue>,
    #[prost(message, repeated, tag = "9")]
    pub logs: Vec<PLog>,
    #[prost(message, optional, tag = "10")]
    pub process: Option<PProcess>,
    #[prost(string, tag = "11")]
    pub process_id: String,
    #[prost(string, repeated, tag = "12")]
    pub warnings: Vec<String>,
}

/// google.protobuf.Timestamp and Duration share this shape.
#[derive(Clone, PartialEq, Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

#[derive(Clone, PartialEq, Message)]
pub struct PSpanRef {
    #[prost(bytes = "vec", tag = "1")]
    pub trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub span_id: Vec<u8>,
    /// 0 CHILD_OF, 1 FOLLOWS_FROM.
    #[prost(int32, tag = "3")]
    pub ref_type: i32,
}

#[derive(Clone, PartialEq, Message)]
pub struct PLog {
    #[prost(message, optional, tag = "1")]
    pub timestamp: Option<Timestamp>,
    #[prost(message, repeated, tag = "2")]
    pub fields: Vec<PKeyValue>,
}

#[derive(Clone, PartialEq, Message)]
pub struct PKeyValue {
    #[prost(string, tag = "1")]
    pub key: String,
    /// 0 STRING, 1 BOOL, 2 INT64, 3 FLOAT64, 4 BINARY.
    #[prost(int32, tag = "2")]
    pub v_type: i32,
    #[prost(string, tag = "3")]
    pub v_str: String,
    #[prost(bool, tag = "4")]
    pub v_bool: bool,
    #[prost(int64, tag = "5")]
    pub v_int64: i64,
    #[prost(double, tag = "6")]
    pub v_float64: f64,
    #[prost(bytes = "vec", tag = "7")]
    pub v_binary: Vec<u8>,
}

fn nanos(t: &Option<Timestamp>) -> i64 {
    t.as_ref().map_or(0, |t| {
        t.seconds
            .wrapping_mul(1_000_000_000)
            .wrapping_add(i64::from(t.nanos))
    })
}

/// Jaeger's 16-byte trace id, big-endian high then low.
fn trace_id(b: &[u8], what: &str) -> Result<(u64, u64), String> {
    let a: [u8; 16] = b
        .try_into()
        .map_err(|_| format!("{what} has {} bytes, not 16", b.len()))?;
    let (hi, lo) = a.split_at(8);
    Ok((
        u64::from_be_bytes(hi.try_into().unwrap_or_default()),
        u64::from_be_bytes(lo.try_into().unwrap_or_default()),
    ))
}

fn span_id(b: &[u8], what: &str) -> Result<u64, String> {
    let a: [u8; 8] = b
        .try_into()
        .map_err(|_| format!("{what} has {} bytes, not 8", b.len()))?;
    Ok(u64::from_be_bytes(a))
}

fn tags(kvs: Vec<PKeyValue>) -> Vec<Tag> {
    kvs.into_iter()
        .map(|kv| Tag {
            value: match kv.v_type {
                0 => TagValue::Str(kv.v_str),
                1 => TagValue::Bool(kv.v_bool),
                2 => TagValue::Long(kv.v_int64),
                3 => TagValue::Double(kv.v_float64),
                4 => TagValue::Binary(kv.v_binary),
                // Go prints an unknown protobuf enum value as its number.
                t => TagValue::Unknown(t.to_string()),
            },
            key: kv.key,
        })
        .collect()
}

fn process(p: PProcess) -> Process {
    Process {
        service_name: p.service_name,
        tags: tags(p.tags),
    }
}

/// A `PostSpansRequest` body (one gRPC message) as a batch; errors name the field.
pub fn decode_post_spans(body: &[u8]) -> Result<Batch, String> {
    let req =
        PostSpansRequest::decode(body).map_err(|e| format!("invalid PostSpansRequest: {e}"))?;
    let b = req.batch.unwrap_or_default();
    let mut spans = Vec::with_capacity(b.spans.len());
    for (i, s) in b.spans.into_iter().enumerate() {
        spans.push(span_from_proto(s, &format!("batch.spans[{i}]."))?);
    }
    Ok(Batch {
        process: b.process.map(process),
        spans,
    })
}

/// One `jaeger.api_v2.Span` (what the Go kafka exporter writes per message) as a batch of
/// that span under its own process, as the Go kafka receiver reads it.
pub fn decode_span(body: &[u8]) -> Result<Batch, String> {
    let s = PSpan::decode(body).map_err(|e| format!("invalid Jaeger Span: {e}"))?;
    span_batch(s)
}

/// A single decoded span as a batch under its own process.
pub fn span_batch(s: PSpan) -> Result<Batch, String> {
    let mut span = span_from_proto(s, "span.")?;
    Ok(Batch {
        process: span.process.take(),
        spans: vec![span],
    })
}

/// A protobuf span in the model; `at` prefixes the field named in an error.
pub fn span_from_proto(s: PSpan, at: &str) -> Result<Span, String> {
    let at = |f: &str| format!("{at}{f}");
    let (trace_id_high, trace_id_low) = trace_id(&s.trace_id, &at("trace_id"))?;
    let mut references = Vec::with_capacity(s.references.len());
    for (j, r) in s.references.into_iter().enumerate() {
        let (high, low) = trace_id(&r.trace_id, &at(&format!("references[{j}].trace_id")))?;
        references.push(SpanRef {
            ref_type: r.ref_type,
            trace_id_high: high,
            trace_id_low: low,
            span_id: span_id(&r.span_id, &at(&format!("references[{j}].span_id")))?,
        });
    }
    let start = nanos(&s.start_time);
    Ok(Span {
        trace_id_high,
        trace_id_low,
        span_id: span_id(&s.span_id, &at("span_id"))?,
        parent_span_id: 0,
        operation_name: s.operation_name,
        references,
        flags: s.flags,
        start_unix_nano: start as u64,
        end_unix_nano: start.wrapping_add(nanos(&s.duration)) as u64,
        tags: tags(s.tags),
        logs: s
            .logs
            .into_iter()
            .map(|l| Log {
                timestamp_unix_nano: nanos(&l.timestamp) as u64,
                fields: tags(l.fields),
            })
            .collect(),
        process: s.process.map(process),
    })
}

/// Epoch nanoseconds as a Timestamp (nanos never negative, as protobuf requires).
pub fn timestamp(ns: i64) -> Timestamp {
    Timestamp {
        seconds: ns.div_euclid(1_000_000_000),
        nanos: ns.rem_euclid(1_000_000_000) as i32,
    }
}

/// Signed nanoseconds as a Duration (seconds and nanos of one sign, as protobuf requires).
pub fn duration(ns: i64) -> Timestamp {
    Timestamp {
        seconds: ns / 1_000_000_000,
        nanos: (ns % 1_000_000_000) as i32,
    }
}

fn kvs_to_proto(tags: &[Tag]) -> Vec<PKeyValue> {
    tags.iter()
        .map(|t| {
            let mut kv = PKeyValue {
                key: t.key.clone(),
                ..Default::default()
            };
            match &t.value {
                TagValue::Str(s) => kv.v_str = s.clone(),
                TagValue::Bool(b) => (kv.v_type, kv.v_bool) = (1, *b),
                TagValue::Long(i) => (kv.v_type, kv.v_int64) = (2, *i),
                TagValue::Double(d) => (kv.v_type, kv.v_float64) = (3, *d),
                TagValue::Binary(b) => (kv.v_type, kv.v_binary) = (4, b.clone()),
                TagValue::Unknown(t) => kv.v_str = format!("<Unknown Jaeger TagType \"{t}\">"),
            }
            kv
        })
        .collect()
}

fn process_to_proto(p: &Process) -> PProcess {
    PProcess {
        service_name: p.service_name.clone(),
        tags: kvs_to_proto(&p.tags),
    }
}

fn trace_id_bytes(high: u64, low: u64) -> Vec<u8> {
    let mut b = Vec::with_capacity(16);
    b.extend_from_slice(&high.to_be_bytes());
    b.extend_from_slice(&low.to_be_bytes());
    b
}

/// A model span as protobuf, with `process` (the batch's) when the span has none of its own.
/// A Thrift `parentSpanId` without a matching CHILD_OF reference becomes the first one, as
/// protobuf has no parent field.
pub fn span_to_proto(s: &Span, process: Option<&Process>) -> PSpan {
    let mut references = Vec::with_capacity(s.references.len() + 1);
    let parent_listed = s
        .references
        .iter()
        .any(|r| r.ref_type == CHILD_OF && r.span_id == s.parent_span_id);
    if s.parent_span_id != 0 && !parent_listed {
        references.push(PSpanRef {
            trace_id: trace_id_bytes(s.trace_id_high, s.trace_id_low),
            span_id: s.parent_span_id.to_be_bytes().to_vec(),
            ref_type: CHILD_OF,
        });
    }
    references.extend(s.references.iter().map(|r| PSpanRef {
        trace_id: trace_id_bytes(r.trace_id_high, r.trace_id_low),
        span_id: r.span_id.to_be_bytes().to_vec(),
        ref_type: r.ref_type,
    }));
    let start = s.start_unix_nano as i64;
    PSpan {
        trace_id: trace_id_bytes(s.trace_id_high, s.trace_id_low),
        span_id: s.span_id.to_be_bytes().to_vec(),
        operation_name: s.operation_name.clone(),
        references,
        flags: s.flags,
        start_time: Some(timestamp(start)),
        duration: Some(duration((s.end_unix_nano as i64).wrapping_sub(start))),
        tags: kvs_to_proto(&s.tags),
        logs: s
            .logs
            .iter()
            .map(|l| PLog {
                timestamp: Some(timestamp(l.timestamp_unix_nano as i64)),
                fields: kvs_to_proto(&l.fields),
            })
            .collect(),
        process: s.process.as_ref().or(process).map(process_to_proto),
        process_id: String::new(),
        warnings: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(trace_id: Vec<u8>) -> Vec<u8> {
        PostSpansRequest {
            batch: Some(PBatch {
                spans: vec![PSpan {
                    trace_id,
                    span_id: vec![0, 0, 0, 0, 0, 0, 0, 9],
                    operation_name: "op".into(),
                    references: vec![PSpanRef {
                        trace_id: vec![1; 16],
                        span_id: vec![0, 0, 0, 0, 0, 0, 0, 7],
                        ref_type: 0,
                    }],
                    start_time: Some(Timestamp {
                        seconds: 1_700_000_000,
                        nanos: 123,
                    }),
                    duration: Some(Timestamp {
                        seconds: 1,
                        nanos: 5,
                    }),
                    tags: vec![PKeyValue {
                        key: "n".into(),
                        v_type: 2,
                        v_int64: 5,
                        ..Default::default()
                    }],
                    process: Some(PProcess {
                        service_name: "own".into(),
                        tags: vec![],
                    }),
                    ..Default::default()
                }],
                process: Some(PProcess {
                    service_name: "svc".into(),
                    tags: vec![],
                }),
            }),
        }
        .encode_to_vec()
    }

    #[test]
    fn post_spans_decodes_with_nanosecond_times() {
        let b = decode_post_spans(&request(vec![1; 16])).unwrap();
        let s = &b.spans[0];
        assert_eq!(s.trace_id_high, 0x0101010101010101);
        assert_eq!(s.span_id, 9);
        assert_eq!(s.start_unix_nano, 1_700_000_000_000_000_123);
        assert_eq!(s.end_unix_nano, 1_700_000_001_000_000_128);
        assert_eq!(s.references[0].span_id, 7);
        assert_eq!(s.tags[0].value, TagValue::Long(5));
        assert_eq!(s.process.as_ref().unwrap().service_name, "own");
        assert_eq!(b.process.unwrap().service_name, "svc");
    }

    #[test]
    fn bad_ids_and_bytes_are_named() {
        let e = decode_post_spans(&request(vec![1; 8])).unwrap_err();
        assert_eq!(e, "batch.spans[0].trace_id has 8 bytes, not 16");
        let e = decode_post_spans(b"\x0a\xff\xff\xff\xff\x0f").unwrap_err();
        assert!(e.starts_with("invalid PostSpansRequest"), "{e}");
    }
}
