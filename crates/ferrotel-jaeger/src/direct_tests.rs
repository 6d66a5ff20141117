//! The direct path against the reference (`thrift::jaeger` + `to_otlp` + prost): the same
//! bytes wherever the direct path answers, on client-like batches, on generated spans built
//! around the tags the rules read, and (through `translation_tests`' `to_otlp`) on every batch
//! of the translation tests.

use proptest::prelude::*;

use crate::direct::check_agrees;
use crate::model::*;
use crate::thrift::Protocol::{Binary, Compact};
use crate::thrift::encode;

/// Runs [`check_agrees`] on `b` as a UDP packet and as a thrift_http body in both protocols;
/// returns how many of the four the direct path answered.
pub(crate) fn agrees_everywhere(b: &Batch) -> usize {
    let mut direct = 0;
    for p in [Binary, Compact] {
        for (agent, bytes) in [
            (true, encode::emit_batch(b, p)),
            (false, encode::batch(b, p)),
        ] {
            match check_agrees(&bytes, p, agent) {
                Ok(answered) => direct += usize::from(answered),
                Err(e) => panic!("{p:?} agent={agent}: {e}"),
            }
        }
    }
    direct
}

#[test]
fn client_like_batches_take_the_direct_path() {
    for seed in 0..4 {
        assert_eq!(agrees_everywhere(&encode::client_like_batch(50, seed)), 4);
    }
}

/// Inputs the direct path must leave to the reference (which then answers or refuses).
#[test]
fn unusual_inputs_are_left_to_the_reference() {
    let mut b = encode::client_like_batch(2, 1);
    b.spans[0].tags.push(Tag::str("http.method", "POST")); // a repeated key
    assert_eq!(agrees_everywhere(&b), 0);
    let mut b = encode::client_like_batch(2, 1);
    b.spans[1].tags.push(Tag {
        key: "odd".into(),
        value: TagValue::Unknown("x".into()),
    });
    assert_eq!(agrees_everywhere(&b), 0);
    // Invalid UTF-8 (the reference replaces it), truncated input, another method.
    let good = encode::emit_batch(&encode::client_like_batch(1, 1), Compact);
    let at = good
        .windows(3)
        .position(|w| w == b"GET")
        .expect("the operation name");
    let mut bad = good.clone();
    bad[at] = 0xff;
    assert_eq!(check_agrees(&bad, Compact, true), Ok(false));
    for n in [0, 1, good.len() / 2, good.len() - 1] {
        assert_eq!(check_agrees(&good[..n], Compact, true), Ok(false));
    }
    let mut other = good.clone();
    let m = other.windows(9).position(|w| w == b"emitBatch").unwrap();
    other[m] = b'E';
    assert_eq!(check_agrees(&other, Compact, true), Ok(false));
}

const KEYS: &[&str] = &[
    "span.kind",
    "error",
    "otel.status_code",
    "otel.status_description",
    "http.status_code",
    "http.status_message",
    "w3c.tracestate",
    "otel.dropped_attributes_count",
    "otel.dropped_events_count",
    "otel.dropped_links_count",
    "otel.scope.name",
    "otel.scope.version",
    "otel.library.name",
    "otel.library.version",
    "event",
    "message",
    "a",
    "b",
    "",
];

fn value() -> impl Strategy<Value = TagValue> {
    prop_oneof![
        prop::sample::select(vec![
            "server", "client", "internal", "OK", "ok", "ERROR", "Unset", "true", "404", "500",
            "3", "x", "",
        ])
        .prop_map(|s| TagValue::Str(s.into())),
        prop::sample::select(vec![-1i64, 0, 3, 200, 404, 500, 5_000_000_000])
            .prop_map(TagValue::Long),
        any::<bool>().prop_map(TagValue::Bool),
        prop::sample::select(vec![0.0, -2.5, 1e300]).prop_map(TagValue::Double),
        prop::collection::vec(any::<u8>(), 0..3).prop_map(TagValue::Binary),
    ]
}

/// Tags with distinct keys from [`KEYS`], in any order.
fn tags() -> impl Strategy<Value = Vec<Tag>> {
    prop::sample::subsequence(KEYS.to_vec(), 0..8)
        .prop_shuffle()
        .prop_flat_map(|keys| {
            let n = keys.len();
            (Just(keys), prop::collection::vec(value(), n))
        })
        .prop_map(|(keys, values)| {
            keys.into_iter()
                .zip(values)
                .map(|(k, value)| Tag {
                    key: k.into(),
                    value,
                })
                .collect()
        })
}

fn span(seed: u64) -> impl Strategy<Value = Span> {
    (
        (0..3u64, 0..3u64, 0..4u64, 0..4u64),
        prop::collection::vec((0..3i32, 0..2u64, 0..4u64), 0..3),
        "[a-z]{0,3}",
        (0..3i64, 0..3i64),
        tags(),
        prop::collection::vec((0..3u64, tags()), 0..3),
    )
        .prop_map(
            move |((high, low, id, parent), refs, name, (start, len), tags, logs)| Span {
                trace_id_high: high,
                trace_id_low: low ^ seed,
                span_id: id,
                parent_span_id: parent,
                operation_name: name,
                references: refs
                    .into_iter()
                    .map(|(t, other, span_id)| SpanRef {
                        ref_type: t,
                        trace_id_high: high ^ other,
                        trace_id_low: low ^ seed,
                        span_id,
                    })
                    .collect(),
                flags: (id % 2) as u32,
                start_unix_nano: start as u64 * 1000,
                end_unix_nano: (start + len) as u64 * 1000,
                tags,
                logs: logs
                    .into_iter()
                    .map(|(t, fields)| Log {
                        timestamp_unix_nano: t * 1000,
                        fields,
                    })
                    .collect(),
                process: None,
            },
        )
}

fn batch() -> impl Strategy<Value = Batch> {
    ("[a-z]{0,3}", tags(), prop::collection::vec(span(0), 0..5)).prop_map(
        |(service_name, tags, spans)| Batch {
            process: Some(Process { service_name, tags }),
            spans,
        },
    )
}

proptest! {
    /// Distinct keys, defined types, valid UTF-8: the direct path always answers, with the
    /// reference's bytes.
    #[test]
    fn generated_batches_agree(b in batch()) {
        prop_assert_eq!(agrees_everywhere(&b), 4);
    }

    /// Any bytes: the direct path answers only where the reference agrees.
    #[test]
    fn arbitrary_bytes_agree_or_are_refused(data in prop::collection::vec(any::<u8>(), 0..256)) {
        for p in [Binary, Compact] {
            for agent in [true, false] {
                prop_assert!(check_agrees(&data, p, agent).is_ok());
            }
        }
    }

    /// Generated batches with bytes flipped: either path's answer, never a disagreement.
    #[test]
    fn mutated_batches_agree_or_are_refused(
        b in batch(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        for p in [Binary, Compact] {
            let mut bytes = encode::emit_batch(&b, p);
            for (i, x) in &flips {
                let i = i.index(bytes.len());
                bytes[i] ^= x;
            }
            prop_assert!(check_agrees(&bytes, p, true).is_ok(), "{:?}", check_agrees(&bytes, p, true));
        }
    }
}
