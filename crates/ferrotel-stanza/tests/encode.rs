//! `LogsEncoder` writes the same bytes prost writes for `into_resource_logs`' output, for any
//! entries: every value type, nesting, long records (multi-byte lengths), several resources
//! and scopes, and across batches; and `push_line` (a line without operators) the bytes of the
//! equivalent entry.

use ferrotel_pdata::Request;
use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_stanza::{Entry, LineValue, LogsEncoder, Map, Value, into_resource_logs};
use proptest::prelude::*;

fn prost_bytes(entries: Vec<Entry>) -> Vec<u8> {
    let resource_logs = into_resource_logs(entries);
    Request::Logs(ExportLogsServiceRequest { resource_logs })
        .encode_proto()
        .to_vec()
}

fn encoder_bytes(enc: &mut LogsEncoder, entries: Vec<Entry>) -> Vec<u8> {
    let n = entries.len();
    for e in entries {
        enc.push(e);
    }
    assert_eq!(enc.len(), n);
    let (bytes, items) = enc.finish();
    assert_eq!(items, n);
    assert!(enc.is_empty());
    bytes.to_vec()
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        any::<f64>().prop_map(Value::Double),
        // Lengths around the one-byte/two-byte varint boundary, and empty.
        "\\PC{0,140}".prop_map(Value::Str),
        proptest::collection::vec(any::<u8>(), 0..20).prop_map(Value::Bytes),
    ];
    leaf.prop_recursive(3, 40, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z.]{0,8}", inner, 0..6)
                .prop_map(|m| Value::Map(m.into_iter().map(|(k, v)| (k.into(), v)).collect())),
        ]
    })
}

fn map() -> impl Strategy<Value = Map> {
    proptest::collection::btree_map("[a-z._]{0,12}", value(), 0..8)
        .prop_map(|m| m.into_iter().map(|(k, v)| (k.into(), v)).collect())
}

fn entry() -> impl Strategy<Value = Entry> {
    (
        (any::<u64>(), any::<u64>(), value(), map()),
        // Few distinct resources and scopes, so groups repeat and interleave.
        prop_oneof![Just(Map::new()), map()],
        (
            0..25i32,
            "[A-Z]{0,5}",
            prop_oneof![Just(""), Just("scope.a")],
        ),
        (
            prop_oneof![Just(vec![]), Just(vec![7u8; 16])],
            prop_oneof![Just(vec![]), Just(vec![9u8; 8])],
            prop_oneof![Just(0u32), any::<u32>()],
        ),
    )
        .prop_map(
            |((t, o, body, attributes), resource, (sev, text, scope), (tid, sid, flags))| Entry {
                observed_time_unix_nano: o,
                time_unix_nano: t,
                body,
                attributes,
                resource,
                severity_number: sev,
                severity_text: text.into(),
                trace_id: tid,
                span_id: sid,
                trace_flags: flags,
                scope_name: scope.into(),
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn encoder_writes_what_prost_writes(batches in proptest::collection::vec(proptest::collection::vec(entry(), 0..12), 1..4)) {
        let mut enc = LogsEncoder::default();
        for entries in batches {
            let want = prost_bytes(entries.clone());
            prop_assert_eq!(encoder_bytes(&mut enc, entries), want);
        }
    }
}

/// A line's parts as `push_line` takes them, owned: observed time, body, attributes.
type Line = (u64, Value, Vec<(String, Value)>);

fn line_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        "\\PC{0,140}".prop_map(Value::Str),
        any::<i64>().prop_map(Value::Int),
        proptest::collection::vec(any::<u8>(), 0..140).prop_map(Value::Bytes),
    ]
}

fn line() -> impl Strategy<Value = Line> {
    (
        any::<u64>(),
        prop_oneof![
            "\\PC{0,300}".prop_map(Value::Str),
            proptest::collection::vec(any::<u8>(), 0..300).prop_map(Value::Bytes),
        ],
        // Distinct keys, as the receiver's attributes are.
        proptest::collection::btree_map("[a-z._]{1,12}", line_value(), 0..5)
            .prop_map(|m| m.into_iter().collect()),
    )
}

fn as_line_value(v: &Value) -> LineValue<'_> {
    match v {
        Value::Str(s) => LineValue::Str(s),
        Value::Int(i) => LineValue::Int(*i),
        Value::Bytes(b) => LineValue::Bytes(b),
        other => panic!("not a line value: {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn push_line_writes_what_prost_writes_for_the_same_entry(resource in prop_oneof![Just(Map::new()), map()], lines in proptest::collection::vec(line(), 0..12)) {
        let mut enc = LogsEncoder::default();
        for (observed, body, attributes) in &lines {
            let attrs = attributes.iter().map(|(k, v)| (k.as_str(), as_line_value(v)));
            enc.push_line(&resource, *observed, as_line_value(body), attrs);
        }
        let entries: Vec<Entry> = lines
            .into_iter()
            .map(|(observed, body, attributes)| Entry {
                observed_time_unix_nano: observed,
                body,
                attributes: attributes.into_iter().map(|(k, v)| (k.into(), v)).collect(),
                resource: resource.clone(),
                ..Entry::default()
            })
            .collect();
        prop_assert_eq!(enc.finish().0.to_vec(), prost_bytes(entries));
    }
}

#[test]
fn a_large_body_and_a_typical_record_encode_as_prost_does() {
    let mut big = Entry::from_line("x".repeat(70_000), 5);
    big.attributes
        .insert("log.file.name".into(), Value::Str("a.log".into()));
    let mut typical = Entry::from_line(r#"{"level":"info"}"#.into(), 6);
    typical
        .attributes
        .insert("level".into(), Value::Str("info".into()));
    typical.severity_number = 9;
    typical.severity_text = "info".into();
    typical.time_unix_nano = 1_700_000_000_123_456_789;
    let entries = vec![big, typical, Entry::default()];
    let mut enc = LogsEncoder::default();
    assert_eq!(
        encoder_bytes(&mut enc, entries.clone()),
        prost_bytes(entries)
    );
    // An empty batch is an empty request.
    assert_eq!(enc.finish().0.len(), 0);
}
