//! Jaeger `Batch`es and `emitBatch` messages written with the shared Thrift writer: what the
//! tests, the benchmark and the fuzz seeds feed the decoder (real clients' bytes are checked in
//! crates/ferrotel/tests/jaeger.rs). Not used by the receiver.

use super::Protocol;
use super::write::Writer;
use crate::model::{Batch, CHILD_OF, Log, Process, Span, SpanRef, Tag, TagValue};
use ferrotel_thrift::Type;

fn batch_fields(w: &mut Writer, b: &Batch) {
    if let Some(p) = &b.process {
        w.field(Type::Struct, 1);
        w.struct_begin();
        process(w, p);
        w.struct_end();
    }
    w.struct_list_field(2, &b.spans, span);
}

fn process(w: &mut Writer, p: &Process) {
    w.bytes_field(1, p.service_name.as_bytes());
    if !p.tags.is_empty() {
        w.struct_list_field(2, &p.tags, tag);
    }
}

fn span(w: &mut Writer, s: &Span) {
    w.i64_field(1, s.trace_id_low as i64);
    w.i64_field(2, s.trace_id_high as i64);
    w.i64_field(3, s.span_id as i64);
    w.i64_field(4, s.parent_span_id as i64);
    w.bytes_field(5, s.operation_name.as_bytes());
    if !s.references.is_empty() {
        w.struct_list_field(6, &s.references, span_ref);
    }
    w.i32_field(7, s.flags as i32);
    let start = (s.start_unix_nano / 1000) as i64;
    w.i64_field(8, start);
    w.i64_field(9, (s.end_unix_nano / 1000) as i64 - start);
    if !s.tags.is_empty() {
        w.struct_list_field(10, &s.tags, tag);
    }
    if !s.logs.is_empty() {
        w.struct_list_field(11, &s.logs, log);
    }
}

fn span_ref(w: &mut Writer, r: &SpanRef) {
    w.i32_field(1, r.ref_type);
    w.i64_field(2, r.trace_id_low as i64);
    w.i64_field(3, r.trace_id_high as i64);
    w.i64_field(4, r.span_id as i64);
}

fn log(w: &mut Writer, l: &Log) {
    w.i64_field(1, (l.timestamp_unix_nano / 1000) as i64);
    w.struct_list_field(2, &l.fields, tag);
}

fn tag(w: &mut Writer, t: &Tag) {
    w.bytes_field(1, t.key.as_bytes());
    match &t.value {
        TagValue::Str(s) => {
            w.i32_field(2, 0);
            w.bytes_field(3, s.as_bytes());
        }
        TagValue::Double(d) => {
            w.i32_field(2, 1);
            w.double_field(4, *d);
        }
        TagValue::Bool(b) => {
            w.i32_field(2, 2);
            w.bool_field(5, *b);
        }
        TagValue::Long(v) => {
            w.i32_field(2, 3);
            w.i64_field(6, *v);
        }
        TagValue::Binary(b) => {
            w.i32_field(2, 4);
            w.bytes_field(7, b);
        }
        TagValue::Unknown(_) => w.i32_field(2, 99),
    }
}

/// A batch as a bare struct (thrift_http's body).
pub fn batch(b: &Batch, protocol: Protocol) -> Vec<u8> {
    let mut w = Writer::new(protocol);
    w.struct_begin();
    batch_fields(&mut w, b);
    w.struct_end();
    w.out
}

/// A batch as an agent `emitBatch` message (a UDP packet's payload): a oneway call whose
/// argument 1 is the batch.
pub fn emit_batch(b: &Batch, protocol: Protocol) -> Vec<u8> {
    let mut w = Writer::new(protocol);
    w.message_begin("emitBatch", 4, 1);
    w.struct_begin();
    w.field(Type::Struct, 1);
    w.struct_begin();
    batch_fields(&mut w, b);
    w.struct_end();
    w.struct_end();
    w.out
}

/// `n` spans shaped like a Jaeger client's (8 tags of mixed types, a log with 2 fields, a
/// CHILD_OF reference), in trace `seed`: what the ingest benchmark (`benches/thrift_ingest.rs`)
/// and the load sender (`examples/udp_load.rs`) send.
#[doc(hidden)]
pub fn client_like_batch(n: usize, seed: u64) -> Batch {
    let spans = (0..n as u64)
        .map(|i| Span {
            trace_id_high: 0x5af7183fb1d4cf5f,
            trace_id_low: 0x0102030405060708 ^ seed,
            span_id: 1000 + i,
            parent_span_id: 999,
            operation_name: format!("GET /api/items/{i}"),
            references: vec![SpanRef {
                ref_type: CHILD_OF,
                trace_id_high: 0x5af7183fb1d4cf5f,
                trace_id_low: 0x0102030405060708 ^ seed,
                span_id: 999,
            }],
            flags: 1,
            start_unix_nano: 1_700_000_000_000_000_000 + i * 1000,
            end_unix_nano: 1_700_000_000_000_500_000 + i * 1000,
            tags: vec![
                Tag::str("span.kind", "server"),
                Tag::str("http.method", "GET"),
                Tag::str("http.url", "http://items.internal:8080/api/items"),
                Tag {
                    key: "http.status_code".into(),
                    value: TagValue::Long(200),
                },
                Tag::str("component", "tornado"),
                Tag {
                    key: "sampler.param".into(),
                    value: TagValue::Bool(true),
                },
                Tag {
                    key: "db.rows".into(),
                    value: TagValue::Long(42),
                },
                Tag {
                    key: "ratio".into(),
                    value: TagValue::Double(0.25),
                },
            ],
            logs: vec![Log {
                timestamp_unix_nano: 1_700_000_000_000_100_000 + i * 1000,
                fields: vec![Tag::str("event", "cache miss"), Tag::str("key", "items:42")],
            }],
            process: None,
        })
        .collect();
    Batch {
        process: Some(Process {
            service_name: "items".into(),
            tags: vec![
                Tag::str("hostname", "items-7f9c"),
                Tag::str("ip", "10.0.3.7"),
                Tag::str("jaeger.version", "Python-4.8.0"),
            ],
        }),
        spans,
    }
}
