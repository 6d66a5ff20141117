//! Bad OTLP/JSON input: each case must fail with exactly the expected message, naming the
//! field in JSON spelling. Also checks the documented leniencies (unknown fields, null,
//! case-insensitive hex, numbers for 64-bit ints, ...).

use ferrotel_pdata::{Request, Signal, json};

/// Wraps `span` (an object's members) into a one-span traces request.
fn with_span(span: &str) -> String {
    format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{{span}}}]}}]}}]}}"#)
}

fn with_attr(value: &str) -> String {
    with_span(&format!(
        r#""attributes":[{{"key":"a","value":{{"stringValue":"x"}}}},{{"key":"b","value":{value}}}]"#
    ))
}

const SPAN: &str = "resourceSpans[0].scopeSpans[0].spans[0]";

/// The decoder's error for `input`; `json::transcode` must fail with the very same one.
fn err(signal: Signal, input: &str) -> String {
    let transcoded = json::transcode(signal, input.as_bytes());
    match json::decode(signal, input.as_bytes()) {
        Ok(r) => panic!("decoded {input:?} into {r:?}, expected an error"),
        Err(e) => {
            assert_eq!(transcoded, Err(e.clone()), "transcode of {input:?}");
            e.to_string()
        }
    }
}

/// Both accept `input`, and the transcoded protobuf decodes to the decoded request.
fn accepted_by_both(signal: Signal, input: &[u8]) -> Request {
    let decoded = json::decode(signal, input).unwrap();
    let transcoded = json::transcode(signal, input).unwrap();
    // Compared as prost encodings, so NaNs compare by bits.
    let again = Request::decode_proto(signal, transcoded).unwrap();
    assert_eq!(again.encode_proto(), decoded.encode_proto());
    decoded
}

/// `depth` AnyValues nested in one another through arrayValue.
fn nested(depth: usize) -> String {
    let open = r#"{"arrayValue":{"values":["#.repeat(depth - 1);
    let close = "]}}".repeat(depth - 1);
    format!(r#"{open}{{"intValue":"1"}}{close}"#)
}

#[test]
fn error_table() {
    let t = Signal::Traces;
    let cases: Vec<(Signal, String, String)> = vec![
        // ids
        (t, with_span(r#""traceId":"5B8EFFF798038103D269B633813FC60""#),
            format!("{SPAN}.traceId: expected 32 hex characters, got 31")),
        (t, with_span(r#""spanId":"EEE19B7EC3C1B1740""#),
            format!("{SPAN}.spanId: expected 16 hex characters, got 17")),
        (t, with_span(r#""parentSpanId":"EEE19B7EC3C1B17G""#),
            format!("{SPAN}.parentSpanId: invalid hex character \"G\" at position 15")),
        // base64 (the standard protobuf mapping) is not accepted for ids
        (t, with_span(r#""traceId":"W47/95gDgQPSabYzgT/GDA==""#),
            format!("{SPAN}.traceId: expected 32 hex characters, got 24")),
        (t, with_span(r#""traceId":16"#),
            format!("{SPAN}.traceId: expected a string, got 16")),
        (t, with_span(r#""spanId":"EEE19B7EC3C1B17é""#),
            format!("{SPAN}.spanId: invalid hex character \"é\" at position 15")),
        (t, "{\"resourceSpans\":[{\"schemaUrl\":\"abcdefghij\tk\"}]}".into(),
            "resourceSpans[0].schemaUrl: invalid JSON at line 1 column 43 (byte 42): control character in string".into()),
        // wrong JSON types
        (t, r#"{"resourceSpans":{}}"#.into(),
            "resourceSpans: expected an array, got an object".into()),
        (t, r#"{"resourceSpans":"spans"}"#.into(),
            "resourceSpans: expected an array, got \"spans\"".into()),
        (t, r#"{"resourceSpans":[[]]}"#.into(),
            "resourceSpans[0]: expected an object, got an array".into()),
        (t, r#"{"resourceSpans":[null]}"#.into(),
            "resourceSpans[0]: expected an object, got null".into()),
        (t, with_span(r#""name":7"#), format!("{SPAN}.name: expected a string, got 7")),
        // integers
        (t, with_attr(r#"{"intValue":"abc"}"#),
            format!("{SPAN}.attributes[1].value.intValue: expected an integer, got \"abc\"")),
        (t, with_attr(r#"{"intValue":1.5}"#),
            format!("{SPAN}.attributes[1].value.intValue: expected an integer, got 1.5")),
        (t, with_attr(r#"{"intValue":"9223372036854775808"}"#),
            format!("{SPAN}.attributes[1].value.intValue: value out of range for int64: 9223372036854775808")),
        (t, with_span(r#""startTimeUnixNano":"-1""#),
            format!("{SPAN}.startTimeUnixNano: value out of range for uint64: -1")),
        (t, with_span(r#""droppedAttributesCount":4294967296"#),
            format!("{SPAN}.droppedAttributesCount: value out of range for uint32: 4294967296")),
        (t, with_span(r#""startTimeUnixNano":true"#),
            format!("{SPAN}.startTimeUnixNano: expected an integer, got true")),
        // enums must be integers (OTLP forbids names)
        (t, with_span(r#""kind":"SPAN_KIND_SERVER""#),
            format!("{SPAN}.kind: expected an integer enum value, got \"SPAN_KIND_SERVER\" (OTLP/JSON does not allow enum names)")),
        (t, with_span(r#""status":{"code":"STATUS_CODE_ERROR"}"#),
            format!("{SPAN}.status.code: expected an integer enum value, got \"STATUS_CODE_ERROR\" (OTLP/JSON does not allow enum names)")),
        // doubles and bools
        (t, with_attr(r#"{"doubleValue":"fast"}"#),
            format!("{SPAN}.attributes[1].value.doubleValue: expected a number, got \"fast\"")),
        (t, with_attr(r#"{"boolValue":"true"}"#),
            format!("{SPAN}.attributes[1].value.boolValue: expected true or false, got \"true\"")),
        (t, with_attr(r#"{"bytesValue":"not base64!"}"#),
            format!("{SPAN}.attributes[1].value.bytesValue: invalid base64: Invalid symbol 32, offset 3.")),
        // nesting bound
        (Signal::Logs,
            format!(r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{}}}]}}]}}]}}"#, nested(33)),
            format!("resourceLogs[0].scopeLogs[0].logRecords[0].body{}: AnyValue nesting exceeds the maximum depth of 32",
                ".arrayValue.values[0]".repeat(32))),
        // syntax
        (t, r#"{"resourceSpans":[}"#.into(),
            "resourceSpans[0]: invalid JSON at line 1 column 19 (byte 18): unexpected character '}', expected a value".into()),
        (t, "{\n  \"resourceSpans\": [\n    {\"schemaUrl\": \"x\",}\n  ]\n}".into(),
            "resourceSpans[0]: invalid JSON at line 3 column 23 (byte 45): unexpected character '}', expected a string key".into()),
        (t, r#"{"resourceSpans":[]"#.into(),
            "invalid JSON at line 1 column 20 (byte 19): unexpected end of input, expected ',' or '}'".into()),
        (t, r#"{"resourceSpans":[]} x"#.into(),
            "invalid JSON at line 1 column 22 (byte 21): trailing characters after the top-level value".into()),
        (t, "".into(), "invalid JSON at line 1 column 1 (byte 0): unexpected end of input, expected a value".into()),
        (t, "[]".into(), "expected an object, got an array".into()),
        (t, r#"{"resourceSpans":[{"schemaUrl":"a\qb"}]}"#.into(),
            "resourceSpans[0].schemaUrl: invalid JSON at line 1 column 35 (byte 34): invalid escape in string".into()),
        (t, with_span(r#""name":"x","unknown":[1,2,{"a":tru}]"#),
            format!("{SPAN}.unknown[2].a: invalid JSON at line 1 column 76 (byte 75): unexpected character 't', expected a value")),
        (t, r#"{"resourceSpans":[{"schemaUrl":01}]}"#.into(),
            "resourceSpans[0].schemaUrl: invalid JSON at line 1 column 32 (byte 31): invalid number".into()),
        // other signals
        (Signal::Metrics,
            r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"dataPoints":[{"exemplars":[{"spanId":"abc"}]}]}}]}]}]}"#.into(),
            "resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[0].exemplars[0].spanId: expected 16 hex characters, got 3".into()),
        (Signal::Metrics,
            r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"histogram":{"dataPoints":[{"bucketCounts":["1","x"]}]}}]}]}]}"#.into(),
            "resourceMetrics[0].scopeMetrics[0].metrics[0].histogram.dataPoints[0].bucketCounts[1]: expected an integer, got \"x\"".into()),
        (Signal::Logs,
            r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":"SEVERITY_NUMBER_INFO"}]}]}]}"#.into(),
            "resourceLogs[0].scopeLogs[0].logRecords[0].severityNumber: expected an integer enum value, got \"SEVERITY_NUMBER_INFO\" (OTLP/JSON does not allow enum names)".into()),
        (Signal::Profiles,
            r#"{"resourceProfiles":[{"scopeProfiles":[{"profiles":[{"profileId":"0011"}]}]}]}"#.into(),
            "resourceProfiles[0].scopeProfiles[0].profiles[0].profileId: expected 32 hex characters, got 4".into()),
        (Signal::Profiles,
            r#"{"dictionary":{"stringTable":["",5]}}"#.into(),
            "dictionary.stringTable[1]: expected a string, got 5".into()),
    ];
    assert!(cases.len() >= 20);
    let mut failures = Vec::new();
    for (signal, input, expected) in &cases {
        let got = err(*signal, input);
        if &got != expected {
            failures.push(format!(
                "input:    {input}\nexpected: {expected}\ngot:      {got}\n"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn error_path_and_message_are_separate_fields() {
    let e = json::decode(Signal::Traces, with_span(r#""traceId":"abc""#).as_bytes()).unwrap_err();
    let t = json::transcode(Signal::Traces, with_span(r#""traceId":"abc""#).as_bytes());
    assert_eq!(t, Err(e.clone()));
    assert_eq!(e.path, format!("{SPAN}.traceId"));
    assert_eq!(e.message, "expected 32 hex characters, got 3");
    // Invalid UTF-8 inside a string (which the &str table above cannot hold).
    let bad_utf8 = b"{\"resourceSpans\":[{\"schemaUrl\":\"abcdefghij\xff\"}]}";
    let e = json::decode(Signal::Traces, bad_utf8).unwrap_err();
    assert_eq!(json::transcode(Signal::Traces, bad_utf8), Err(e.clone()));
    assert_eq!(
        e.to_string(),
        "resourceSpans[0].schemaUrl: invalid JSON at line 1 column 43 (byte 42): invalid UTF-8"
    );
}

#[test]
fn nesting_at_the_limit_is_accepted_and_far_beyond_is_an_error_not_a_crash() {
    let ok = format!(
        r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{}}}]}}]}}]}}"#,
        nested(32)
    );
    accepted_by_both(Signal::Logs, ok.as_bytes());
    // A hundred thousand levels, in a known field and in an unknown one.
    let deep = format!(
        r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{}}}]}}]}}]}}"#,
        nested(100_000)
    );
    let e = json::decode(Signal::Logs, deep.as_bytes()).unwrap_err();
    assert_eq!(json::transcode(Signal::Logs, deep.as_bytes()), Err(e));
    let deep_unknown = format!(r#"{{"x":{}{}}}"#, "[".repeat(100_000), "]".repeat(100_000));
    let e = json::decode(Signal::Logs, deep_unknown.as_bytes()).unwrap_err();
    assert_eq!(
        json::transcode(Signal::Logs, deep_unknown.as_bytes()),
        Err(e.clone())
    );
    assert!(e.message.contains("nesting deeper than 128 levels"), "{e}");
}

fn span_of(input: &str) -> ferrotel_pdata::proto::trace::v1::Span {
    match accepted_by_both(Signal::Traces, with_span(input).as_bytes()) {
        Request::Traces(mut r) => r
            .resource_spans
            .remove(0)
            .scope_spans
            .remove(0)
            .spans
            .remove(0),
        _ => unreachable!(),
    }
}

#[test]
fn leniencies() {
    // Hex of either case; empty id = no id.
    let s = span_of(r#""traceId":"5b8EFFF798038103d269b633813fc60c","spanId":"""#);
    assert_eq!(s.trace_id[0], 0x5b);
    assert!(s.span_id.is_empty());
    // 64-bit ints as numbers, 32-bit ints as strings, exponents that are integral.
    let s = span_of(
        r#""startTimeUnixNano":1544712660000000000,"droppedAttributesCount":"7","endTimeUnixNano":1e3"#,
    );
    assert_eq!(s.start_time_unix_nano, 1_544_712_660_000_000_000);
    assert_eq!(s.dropped_attributes_count, 7);
    assert_eq!(s.end_time_unix_nano, 1000);
    // Unknown fields of every shape are skipped; null is absent; snake_case keys are unknown.
    let s = span_of(
        r#""x":{"y":[1,"2",{"z":null}],"w":-0.5e-3},"name":"n","status":null,"kind":null,"trace_id":"zz","start_time_unix_nano":"5""#,
    );
    assert_eq!(s.name, "n");
    assert!(s.status.is_none());
    assert!(s.trace_id.is_empty());
    assert_eq!(s.start_time_unix_nano, 0);
    // Escapes, including a surrogate pair.
    let s = span_of(r#""name":"a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00""#);
    assert_eq!(s.name, "a\"\\/\u{8}\u{c}\n\r\té😀");
    // Non-finite doubles as strings, numbers as strings.
    let req = accepted_by_both(
        Signal::Traces,
        with_attr(r#"{"arrayValue":{"values":[{"doubleValue":"NaN"},{"doubleValue":"-Infinity"},{"doubleValue":"2.5"}]}}"#).as_bytes(),
    );
    let out = String::from_utf8(json::encode(&req)).unwrap();
    assert!(
        out.contains(r#"[{"doubleValue":"NaN"},{"doubleValue":"-Infinity"},{"doubleValue":2.5}]"#),
        "{out}"
    );
    // A UTF-8 byte order mark is tolerated.
    accepted_by_both(Signal::Traces, b"\xEF\xBB\xBF{}");
}

#[test]
fn encoding_omits_defaults_and_writes_otlp_forms() {
    use ferrotel_pdata::proto::trace::v1::Span;
    let span = Span {
        trace_id: vec![0xAB; 16].into(),
        name: "s".into(),
        kind: 3,
        start_time_unix_nano: u64::MAX,
        ..Default::default()
    };
    let req = json::decode(Signal::Traces, b"{}").unwrap();
    assert_eq!(json::encode(&req), b"{}");
    let mut req = match req {
        Request::Traces(r) => r,
        _ => unreachable!(),
    };
    req.resource_spans.push(Default::default());
    req.resource_spans[0].scope_spans.push(Default::default());
    req.resource_spans[0].scope_spans[0].spans.push(span);
    let out = String::from_utf8(json::encode(&Request::Traces(req))).unwrap();
    assert_eq!(
        out,
        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"abababababababababababababababab","name":"s","kind":3,"startTimeUnixNano":"18446744073709551615"}]}]}]}"#
    );
}

#[test]
fn export_responses() {
    assert_eq!(json::encode_export_response(Signal::Traces, 0, ""), b"{}");
    assert_eq!(
        String::from_utf8(json::encode_export_response(
            Signal::Traces,
            3,
            "bad \"spans\""
        ))
        .unwrap(),
        r#"{"partialSuccess":{"rejectedSpans":"3","errorMessage":"bad \"spans\""}}"#
    );
    assert_eq!(
        String::from_utf8(json::encode_export_response(Signal::Metrics, 0, "warning")).unwrap(),
        r#"{"partialSuccess":{"errorMessage":"warning"}}"#
    );
    for (signal, key) in [
        (Signal::Traces, "rejectedSpans"),
        (Signal::Metrics, "rejectedDataPoints"),
        (Signal::Logs, "rejectedLogRecords"),
        (Signal::Profiles, "rejectedProfiles"),
    ] {
        let out = json::encode_export_response(signal, 5, "m");
        assert!(String::from_utf8_lossy(&out).contains(key));
        assert_eq!(
            json::decode_export_response(signal, &out).unwrap(),
            (5, "m".to_string())
        );
        let body = format!(r#"{{"partialSuccess":{{"{key}":7,"other":[1]}},"x":null}}"#);
        assert_eq!(
            json::decode_export_response(signal, body.as_bytes()).unwrap(),
            (7, String::new())
        );
    }
    assert_eq!(
        json::decode_export_response(Signal::Logs, b"{}").unwrap(),
        (0, String::new())
    );
    let e = json::decode_export_response(
        Signal::Logs,
        br#"{"partialSuccess":{"rejectedLogRecords":"x"}}"#,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "partialSuccess.rejectedLogRecords: expected an integer, got \"x\""
    );
}
