//! Malformed protobuf inputs with their exact validation errors, and edge cases of the
//! shallow operations on hand-built encodings.

use bytes::Bytes;
use ferrotel_pdata::wire::{self, AnyValueView};
use ferrotel_pdata::{DecodeError, Request, Signal};

fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out
}

/// Length-delimited field.
fn ld(field: u32, body: &[u8]) -> Vec<u8> {
    let mut out = varint(u64::from(field) << 3 | 2);
    out.extend(varint(body.len() as u64));
    out.extend_from_slice(body);
    out
}

/// Varint field.
fn vi(field: u32, v: u64) -> Vec<u8> {
    let mut out = varint(u64::from(field) << 3);
    out.extend(varint(v));
    out
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A traces request with one resource, one scope and the given encoded spans.
fn traces(spans: &[Vec<u8>]) -> Vec<u8> {
    let ss: Vec<u8> = spans.iter().flat_map(|s| ld(2, s)).collect();
    ld(1, &ld(2, &ss))
}

fn span_with(extra: &[u8]) -> Vec<u8> {
    cat(&[&ld(1, &[1; 16]), &ld(2, &[2; 8]), &ld(5, b"op"), extra])
}

/// AnyValue nested `levels` deep through arrays, innermost an int.
fn nested_array(levels: usize) -> Vec<u8> {
    let mut v = vi(3, 7);
    for _ in 1..levels {
        v = ld(5, &ld(1, &v));
    }
    v
}

fn err(signal: Signal, buf: &[u8]) -> String {
    match wire::validate(signal, buf) {
        Ok(n) => format!("accepted with {n} items"),
        Err(DecodeError { path, message }) => format!("{path}|{message}"),
    }
}

#[test]
fn malformed_inputs_have_exact_errors() {
    let mut deep_path = String::from("resourceLogs[0].scopeLogs[0].logRecords[0].body");
    for _ in 0..48 {
        deep_path.push_str(".arrayValue.values[0]");
    }
    deep_path.push_str(".arrayValue");
    let bad_utf8_attr = ld(1, &cat(&[&ld(1, &ld(1, &ld(1, b"a\xff")))]));
    let cases: Vec<(&str, Signal, Vec<u8>, String)> =
        vec![
        (
            "length prefix missing",
            Signal::Traces,
            vec![0x0a],
            "resourceSpans[0]|truncated varint".into(),
        ),
        (
            "length past end",
            Signal::Traces,
            vec![0x0a, 0x05, 0x00],
            "resourceSpans[0]|length 5 past end of message (1 bytes left)".into(),
        ),
        (
            "varint over 10 bytes",
            Signal::Traces,
            cat(&[&[0x0a], &[0xff; 10], &[0x01]]),
            "resourceSpans[0]|varint longer than 10 bytes".into(),
        ),
        (
            "wrong wire type for a known field",
            Signal::Traces,
            vi(1, 1),
            "resourceSpans[0]|wrong wire type: expected length-delimited, got varint".into(),
        ),
        (
            "short trace id, indices",
            Signal::Traces,
            ld(
                1,
                &cat(&[
                    &ld(2, &[]),
                    &ld(
                        2,
                        &cat(&[
                            &ld(2, &span_with(&[])),
                            &ld(1, &ld(1, b"scope-between-spans")),
                            &ld(2, &span_with(&[])),
                            &ld(2, &span_with(&[])),
                            &ld(2, &cat(&[&ld(1, &[9; 15])])),
                        ]),
                    ),
                ]),
            ),
            "resourceSpans[0].scopeSpans[1].spans[3].traceId|expected 16 bytes, got 15".into(),
        ),
        (
            "link span id",
            Signal::Traces,
            traces(&[span_with(&ld(13, &ld(2, &[1; 7])))]),
            "resourceSpans[0].scopeSpans[0].spans[0].links[0].spanId|expected 8 bytes, got 7"
                .into(),
        ),
        (
            "parent span id",
            Signal::Traces,
            traces(&[span_with(&ld(4, &[1; 9]))]),
            "resourceSpans[0].scopeSpans[0].spans[0].parentSpanId|expected 8 bytes, got 9".into(),
        ),
        (
            "invalid UTF-8 in span name",
            Signal::Traces,
            traces(&[span_with(&ld(5, b"\xc3"))]),
            "resourceSpans[0].scopeSpans[0].spans[0].name|invalid UTF-8 at byte 0 of string"
                .into(),
        ),
        (
            "invalid UTF-8 in resource attribute key",
            Signal::Traces,
            bad_utf8_attr,
            "resourceSpans[0].resource.attributes[0].key|invalid UTF-8 at byte 1 of string".into(),
        ),
        (
            "truncated fixed64",
            Signal::Traces,
            traces(&[cat(&[&[0x39], &[0; 3]])]),
            "resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano|truncated fixed-width \
             value (8 bytes needed, 3 left)"
                .into(),
        ),
        (
            "nested length exceeds parent",
            Signal::Traces,
            ld(1, &[0x12, 20, 0, 0]),
            "resourceSpans[0].scopeSpans[0]|length 20 past end of message (2 bytes left)".into(),
        ),
        (
            "invalid wire type",
            Signal::Traces,
            vec![0x0f],
            "|invalid wire type 7".into(),
        ),
        ("field number 0", Signal::Traces, vec![0x02, 0x00], "|invalid field number 0".into()),
        (
            "key over 32 bits",
            Signal::Traces,
            vec![0xff, 0xff, 0xff, 0xff, 0x7f],
            "|field key overflows 32 bits".into(),
        ),
        (
            "unknown field past end",
            Signal::Traces,
            vec![0x9a, 0x05, 0x03, 0x00],
            "|field 83: length 3 past end of message (1 bytes left)".into(),
        ),
        (
            "varint overflow in unknown field",
            Signal::Traces,
            cat(&[&[0x18], &[0xff; 9], &[0x02]]),
            "|field 3: varint overflows 64 bits".into(),
        ),
        (
            "stray end-group",
            Signal::Traces,
            vec![0x14],
            "|field 2: unexpected end-group tag".into(),
        ),
        (
            "mismatched end-group",
            Signal::Traces,
            vec![0x1b, 0x24],
            "|field 3: unexpected end-group tag".into(),
        ),
        (
            "log record trace id",
            Signal::Logs,
            ld(1, &ld(2, &ld(2, &ld(9, &[0; 3])))),
            "resourceLogs[0].scopeLogs[0].logRecords[0].traceId|expected 16 bytes, got 3".into(),
        ),
        (
            "log event name UTF-8",
            Signal::Logs,
            ld(1, &ld(2, &ld(2, &ld(12, b"ok\xe2\x82")))),
            "resourceLogs[0].scopeLogs[0].logRecords[0].eventName|invalid UTF-8 at byte 2 of \
             string"
                .into(),
        ),
        (
            "AnyValue nesting past the protobuf recursion limit",
            Signal::Logs,
            ld(1, &ld(2, &ld(2, &ld(5, &nested_array(60))))),
            format!("{deep_path}|nesting deeper than 100 messages"),
        ),
        (
            "exemplar trace id",
            Signal::Metrics,
            ld(1, &ld(2, &ld(2, &ld(7, &ld(1, &ld(5, &ld(5, &[0; 17]))))))),
            "resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[0].exemplars[0].\
             traceId|expected 16 bytes, got 17"
                .into(),
        ),
        (
            "packed fixed64 length",
            Signal::Metrics,
            ld(1, &ld(2, &ld(2, &ld(9, &ld(1, &ld(6, &[0; 7])))))),
            "resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints[0].bucketCounts|\
             packed fixed64 length 7 is not a multiple of 8"
                .into(),
        ),
        (
            "packed varint truncated",
            Signal::Metrics,
            ld(1, &ld(2, &ld(2, &ld(10, &ld(1, &ld(8, &ld(2, &[0x01, 0x80]))))))),
            "resourceMetrics[0].scopeMetrics[0].metrics[0].exponentialHistogram.dataPoints[0].\
             positive.bucketCounts|packed values: truncated varint"
                .into(),
        ),
        (
            "profiles string table",
            Signal::Profiles,
            ld(2, &cat(&[&ld(5, b""), &ld(5, b"x"), &ld(5, b"\xff")])),
            "dictionary.stringTable[2]|invalid UTF-8 at byte 0 of string".into(),
        ),
        (
            "profiles link span id",
            Signal::Profiles,
            ld(2, &ld(4, &cat(&[&ld(1, &[1; 16]), &ld(2, &[1; 4])]))),
            "dictionary.linkTable[0].spanId|expected 8 bytes, got 4".into(),
        ),
        (
            "scope attribute value string",
            Signal::Profiles,
            ld(1, &ld(2, &ld(1, &ld(3, &ld(2, &ld(1, b"\x80")))))),
            "resourceProfiles[0].scopeProfiles[0].scope.attributes[0].value.stringValue|invalid \
             UTF-8 at byte 0 of string"
                .into(),
        ),
    ];
    let mut failures = Vec::new();
    for (name, signal, buf, want) in &cases {
        let got = err(*signal, buf);
        if &got != want {
            failures.push(format!("{name}:\n  got  {got}\n  want {want}"));
        }
        // The fast walkers report the validator's error whenever they fail.
        if let Err(e) = wire::count(*signal, buf) {
            assert_eq!(format!("{}|{}", e.path, e.message), got, "{name}: count");
        }
        // Whatever validate rejects, prost must not silently mis-decode as valid ids.
        let _ = Request::decode_proto(*signal, Bytes::from(buf.clone()));
    }
    assert!(cases.len() >= 15);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn accepts_what_protobuf_allows() {
    // Unknown fields of every wire type, a group with a nested group, repeated singular fields.
    let unknown = cat(&[
        &vi(99, 5),
        &[0xa1, 0x06],
        &[0; 8],
        &[0xa5, 0x06],
        &[0; 4],
        &ld(101, b"zz"),
        &[0xab, 0x06, 0x08, 0x01, 0x13, 0x14, 0xac, 0x06],
    ]);
    let span = span_with(&cat(&[&ld(5, b"again"), &unknown]));
    let buf = cat(&[&traces(&[span.clone(), span]), &unknown]);
    assert_eq!(wire::validate(Signal::Traces, &buf), Ok(2));
    assert_eq!(wire::count(Signal::Traces, &buf), Ok(2));
    let req = Request::decode_proto(Signal::Traces, Bytes::from(buf)).unwrap();
    assert_eq!(req.item_count(), 2);
}

#[test]
fn metric_oneof_counts_like_prost() {
    let dp = ld(1, &[0x19, 0, 0, 0, 0, 0, 0, 0, 0]);
    let gauge2 = ld(5, &cat(&[&dp, &dp]));
    let sum1 = ld(7, &dp);
    for metric in [
        cat(&[&gauge2, &sum1]),
        cat(&[&gauge2, &gauge2]),
        cat(&[&sum1, &gauge2, &sum1, &sum1]),
        cat(&[&gauge2, &ld(1, b"name"), &gauge2]),
    ] {
        let buf = ld(1, &ld(2, &ld(2, &metric)));
        let prost = Request::decode_proto(Signal::Metrics, Bytes::from(buf.clone()))
            .unwrap()
            .item_count();
        assert_eq!(wire::validate(Signal::Metrics, &buf), Ok(prost));
        assert_eq!(wire::count(Signal::Metrics, &buf), Ok(prost));
        let parts = wire::split(Signal::Metrics, &Bytes::from(buf), 1).unwrap();
        assert_eq!(parts.len(), prost);
        for p in &parts {
            assert_eq!(wire::count(Signal::Metrics, p), Ok(1));
        }
    }
}

#[test]
fn anyvalue_depth_limit_in_bounds() {
    // 45 array levels fit under prost's limit at this depth.
    let buf = ld(1, &ld(2, &ld(2, &ld(5, &nested_array(45)))));
    assert_eq!(wire::validate(Signal::Logs, &buf), Ok(1));
    Request::decode_proto(Signal::Logs, Bytes::from(buf)).unwrap();
}

#[test]
fn split_repeats_context_and_dictionary() {
    let scope = ld(1, &ld(1, b"lib"));
    let spans: Vec<u8> = (0..5u8)
        .flat_map(|i| ld(2, &span_with(&vi(6, i.into()))))
        .collect();
    let rs = cat(&[
        &ld(1, &ld(1, &ld(1, b"k"))),
        &ld(2, &cat(&[&scope, &spans])),
        &ld(3, b"u"),
    ]);
    let buf = Bytes::from(ld(1, &rs));
    let parts = wire::split(Signal::Traces, &buf, 2).unwrap();
    assert_eq!(parts.len(), 3);
    let counts: Vec<usize> = parts
        .iter()
        .map(|p| wire::validate(Signal::Traces, p).unwrap())
        .collect();
    assert_eq!(counts, [2, 2, 1]);
    for p in &parts {
        let Request::Traces(r) = Request::decode_proto(Signal::Traces, p.clone()).unwrap() else {
            unreachable!()
        };
        assert_eq!(r.resource_spans[0].schema_url, "u");
        assert_eq!(
            r.resource_spans[0].scope_spans[0]
                .scope
                .as_ref()
                .unwrap()
                .name,
            "lib"
        );
    }
    // Within the limit: the same bytes, no copy.
    let whole = wire::split(Signal::Traces, &buf, 5).unwrap();
    assert_eq!(whole[0].as_ptr(), buf.as_ptr());
}

#[test]
fn merge_profiles_with_two_dictionaries_is_an_error() {
    let profile = ld(1, &ld(2, &ld(2, &vi(4, 1))));
    let one = cat(&[&profile, &ld(2, &ld(5, b"s"))]);
    let parts = [Bytes::from(one.clone()), Bytes::from(one)];
    let e = wire::merge(Signal::Profiles, &parts).unwrap_err();
    assert_eq!(e.path, "dictionary");
    // Without dictionaries, concatenation is right.
    let parts = [Bytes::from(profile.clone()), Bytes::from(profile)];
    let merged = wire::merge(Signal::Profiles, &parts).unwrap();
    assert_eq!(wire::count(Signal::Profiles, &merged), Ok(2));
}

#[test]
fn resource_view_reads_attributes() {
    let kv = |k: &[u8], v: Vec<u8>| ld(1, &cat(&[&ld(1, k), &ld(2, &v)]));
    let res = cat(&[
        &kv(b"service.name", ld(1, b"checkout")),
        &kv(b"n", vi(3, 42)),
        &kv(b"b", vi(2, 1)),
        &kv(b"d", cat(&[&[0x21], &1.5f64.to_le_bytes()])),
        &kv(b"arr", ld(5, &[])),
    ]);
    let rs = cat(&[
        &ld(1, &res),
        &ld(2, &[]),
        &ld(1, &kv(b"second", ld(7, b"\x01"))),
    ]);
    let buf = ld(1, &rs);
    let mut seen = Vec::new();
    wire::for_each_resource(Signal::Traces, &buf, |view| {
        assert_eq!(view.raw(), &rs[..]);
        assert_eq!(view.attribute_str("service.name"), Some("checkout"));
        assert_eq!(view.attribute("n"), Some(AnyValueView::Int(42)));
        assert_eq!(view.attribute_str("n"), None);
        seen = view.attributes().map(|(k, v)| (k.to_string(), v)).collect();
    })
    .unwrap();
    let keys: Vec<&str> = seen.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["service.name", "n", "b", "d", "arr", "second"]);
    assert_eq!(seen[2].1, AnyValueView::Bool(true));
    assert_eq!(seen[3].1, AnyValueView::Double(1.5));
    assert!(matches!(seen[4].1, AnyValueView::Other(_)));
    assert_eq!(seen[5].1, AnyValueView::Bytes(b"\x01"));
}

#[test]
fn split_by_trace_id_groups_spans() {
    let span = |t: u8, n: u8| span_with(&cat(&[&ld(1, &[t; 16]), &vi(6, n.into())]));
    let buf = Bytes::from(traces(&[span(1, 0), span(2, 1), span(1, 2)]));
    let groups = wire::split_by_trace_id(&buf).unwrap();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].0, [1; 16]);
    assert_eq!(wire::count(Signal::Traces, &groups[0].1), Ok(2));
    assert_eq!(groups[1].0, [2; 16]);
    assert_eq!(groups[1].1, Bytes::from(traces(&[span(2, 1)])));
}
