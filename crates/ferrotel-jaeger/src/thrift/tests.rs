use proptest::prelude::*;

use super::Protocol;
use super::encode;
use super::jaeger::{AgentMessage, decode_agent_message, decode_batch};
use crate::model::*;

pub(crate) fn sample_batch() -> Batch {
    Batch {
        process: Some(Process {
            service_name: "api".into(),
            tags: vec![
                Tag::str("hostname", "h1"),
                Tag {
                    key: "ip".into(),
                    value: TagValue::Long(167772161),
                },
            ],
        }),
        spans: vec![Span {
            trace_id_high: 0x0102030405060708,
            trace_id_low: 0xf1f2f3f4f5f6f7f8,
            span_id: 0x1112131415161718,
            parent_span_id: 0x2122232425262728,
            operation_name: "GET /x".into(),
            references: vec![SpanRef {
                ref_type: FOLLOWS_FROM,
                trace_id_high: 1,
                trace_id_low: 2,
                span_id: 3,
            }],
            flags: 1,
            start_unix_nano: 1_700_000_000_123_456_000,
            end_unix_nano: 1_700_000_000_223_456_000,
            tags: vec![
                Tag::str("span.kind", "server"),
                Tag {
                    key: "d".into(),
                    value: TagValue::Double(1.5),
                },
                Tag {
                    key: "b".into(),
                    value: TagValue::Bool(true),
                },
                Tag {
                    key: "f".into(),
                    value: TagValue::Bool(false),
                },
                Tag {
                    key: "neg".into(),
                    value: TagValue::Long(-42),
                },
                Tag {
                    key: "bin".into(),
                    value: TagValue::Binary(vec![0, 1, 255]),
                },
            ],
            logs: vec![Log {
                timestamp_unix_nano: 1_700_000_000_150_000_000,
                fields: vec![Tag::str("event", "retry"), Tag::str("x", "y")],
            }],
            process: None,
        }],
    }
}

#[test]
fn batch_round_trips_in_both_protocols() {
    let b = sample_batch();
    for p in [Protocol::Binary, Protocol::Compact] {
        assert_eq!(decode_batch(&encode::batch(&b, p), p).unwrap(), b, "{p:?}");
        let AgentMessage::EmitBatch(got) =
            decode_agent_message(&encode::emit_batch(&b, p), p).unwrap();
        assert_eq!(got, b, "{p:?}");
    }
}

#[test]
fn compact_long_lists_and_large_field_deltas() {
    let mut b = sample_batch();
    b.spans = (0..40).map(|_| b.spans[0].clone()).collect();
    b.spans[0].tags = (0..300).map(|i| Tag::str(format!("k{i}"), "v")).collect();
    for p in [Protocol::Binary, Protocol::Compact] {
        assert_eq!(decode_batch(&encode::batch(&b, p), p).unwrap(), b);
    }
}

/// Every proper prefix of a valid payload is an error (a truncated packet), never a panic.
#[test]
fn truncated_payloads_are_errors() {
    let b = sample_batch();
    for p in [Protocol::Binary, Protocol::Compact] {
        let full = encode::emit_batch(&b, p);
        for n in 0..full.len() {
            assert!(
                decode_agent_message(&full[..n], p).is_err(),
                "{p:?} prefix {n}"
            );
        }
        let full = encode::batch(&b, p);
        for n in 0..full.len() {
            assert!(decode_batch(&full[..n], p).is_err(), "{p:?} prefix {n}");
        }
    }
}

#[test]
fn errors_name_what_went_wrong() {
    fn msg<T: std::fmt::Debug>(r: Result<T, super::DecodeError>) -> String {
        r.unwrap_err().to_string()
    }
    // A string declaring 2^31-1 bytes, in a 20-byte packet: refused before allocating.
    let mut huge = vec![12, 0, 1, 11, 0, 1];
    huge.extend_from_slice(&i32::MAX.to_be_bytes());
    huge.extend_from_slice(b"abc");
    let e = msg(decode_batch(&huge, Protocol::Binary));
    assert!(
        e.contains("batch.process: declared length 2147483647 is past the end"),
        "{e}"
    );
    // A list declaring a billion spans.
    let mut many = vec![15, 0, 2, 12];
    many.extend_from_slice(&1_000_000_000i32.to_be_bytes());
    let e = msg(decode_batch(&many, Protocol::Binary));
    assert!(
        e.contains("batch.spans: declared list size 1000000000"),
        "{e}"
    );
    // Negative lengths.
    let mut neg = vec![15, 0, 2, 12];
    neg.extend_from_slice(&(-1i32).to_be_bytes());
    assert!(msg(decode_batch(&neg, Protocol::Binary)).contains("negative list size -1"));
    // Missing required fields, with the path to them.
    let mut b = sample_batch();
    b.process = None;
    let e = msg(decode_batch(
        &encode::batch(&b, Protocol::Compact),
        Protocol::Compact,
    ));
    assert_eq!(e, "batch: required field process is not set");
    // A bad tag deep inside names its place.
    let mut bytes = encode::batch(&sample_batch(), Protocol::Binary);
    bytes.truncate(bytes.len() - 5);
    let e = msg(decode_batch(&bytes, Protocol::Binary));
    assert!(e.starts_with("batch.spans[0]"), "{e}");
    // Not a message / wrong method.
    assert!(
        msg(decode_agent_message(b"\x00\x01", Protocol::Compact))
            .contains("not a compact protocol message")
    );
    let mut other = encode::emit_batch(&sample_batch(), Protocol::Compact);
    other[4..13].copy_from_slice(b"emitBatcX");
    assert!(
        msg(decode_agent_message(&other, Protocol::Compact))
            .contains("unknown agent method \"emitBatcX\"")
    );
    let mut bin = encode::emit_batch(&sample_batch(), Protocol::Binary);
    bin[1] = 2;
    assert!(
        msg(decode_agent_message(&bin, Protocol::Binary)).contains("bad binary protocol version")
    );
}

#[test]
fn deep_nesting_is_bounded() {
    // A struct field (unknown id 9) holding a struct holding a struct ... 10 000 deep.
    let mut deep = Vec::new();
    for _ in 0..10_000 {
        deep.extend_from_slice(&[12, 0, 9]);
    }
    let e = decode_batch(&deep, Protocol::Binary)
        .unwrap_err()
        .to_string();
    assert!(e.contains("nested deeper than 64"), "{e}");
    let e = decode_batch(&vec![0x9c; 10_000], Protocol::Compact)
        .unwrap_err()
        .to_string();
    assert!(e.contains("nested deeper than 64"), "{e}");
}

#[test]
fn unknown_fields_and_mistyped_fields_are_skipped() {
    // Binary: Batch { 9: map<string,i32>{"a":1}, 1: Process{1:"s"}, 2: list<Span>[] , 3: i64 seqNo }
    let mut b = vec![13, 0, 9, 11, 8, 0, 0, 0, 1, 0, 0, 0, 1, b'a', 0, 0, 0, 1];
    b.extend_from_slice(&[12, 0, 1, 11, 0, 1, 0, 0, 0, 1, b's', 8, 0, 1, 0, 0, 0, 5, 0]);
    b.extend_from_slice(&[15, 0, 2, 12, 0, 0, 0, 0]);
    b.extend_from_slice(&[10, 0, 3, 0, 0, 0, 0, 0, 0, 0, 7, 0]);
    let got = decode_batch(&b, Protocol::Binary).unwrap();
    assert_eq!(got.process.unwrap().service_name, "s");
    assert!(got.spans.is_empty());
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        crate::fuzz_decode(&data);
    }

    #[test]
    fn mutated_packets_never_panic(at in 0usize..200, byte in any::<u8>(), compact in any::<bool>()) {
        let p = if compact { Protocol::Compact } else { Protocol::Binary };
        let mut b = encode::emit_batch(&sample_batch(), p);
        let at = at % b.len();
        b[at] = byte;
        crate::fuzz_decode(&b);
    }
}
