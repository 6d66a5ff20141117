use super::*;
use ferrotel_runtime::config::testdata;

#[test]
fn config_testdata() {
    testdata::check::<KafkaReceiverConfig>(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/receiver/testdata"),
    );
    let c: KafkaReceiverConfig = testdata::load("{}\n").unwrap();
    assert_eq!(c.group_id, "otel-collector");
    assert_eq!(c.initial_offset, "latest");
    assert!(c.message_marking.after, "at least once by default");
    assert_eq!(c.topics(Signal::Traces), ["otlp_spans"]);
    assert_eq!(c.topics(Signal::Logs), ["otlp_logs"]);
    // The old keys: defaults for every signal; zipkin applies to traces only.
    let c: KafkaReceiverConfig =
        testdata::load("topic: t\nencoding: zipkin_json\nlogs: {topic: l}\n").unwrap();
    assert_eq!(c.encoding(Signal::Traces).unwrap(), Encoding::ZipkinJson);
    assert_eq!(c.encoding(Signal::Logs).unwrap(), Encoding::OtlpProto);
    assert_eq!(c.topics(Signal::Logs), ["l"]);
    let c: KafkaReceiverConfig = testdata::load("encoding: jaeger_proto\n").unwrap();
    assert_eq!(c.encoding(Signal::Traces).unwrap(), Encoding::JaegerProto);
    assert_eq!(c.encoding(Signal::Metrics).unwrap(), Encoding::OtlpProto);
    // One topic for two signals fails once both pipelines use the receiver.
    struct Nothing;
    impl ferrotel_runtime::Consumer for Nothing {
        fn consume(&self, _: Payload, _: Context) -> BoxFuture<'_, Result<(), ConsumeError>> {
            Box::pin(async { Ok(()) })
        }
    }
    let c: KafkaReceiverConfig = testdata::load("topic: x\n").unwrap();
    let out = |s: &[Signal]| -> SignalOutputs {
        s.iter()
            .map(|s| (*s, Arc::new(Nothing) as ConsumerRef))
            .collect()
    };
    assert!(routes(&c, out(&[Signal::Traces])).is_ok());
    let e = routes(&c, out(&[Signal::Traces, Signal::Metrics]))
        .err()
        .unwrap();
    assert!(
        e.contains("is both the traces and the metrics topic"),
        "{e}"
    );
}

/// What a record holds when it does not decode: each named, none a panic.
#[test]
fn undecodable_records_are_named() {
    let cases: &[(Encoding, Option<&[u8]>, &str)] = &[
        (Encoding::OtlpProto, None, "null"),
        (Encoding::OtlpProto, Some(b""), "empty"),
        (
            Encoding::OtlpProto,
            Some(b"\xff\xff\xff"),
            "invalid OTLP protobuf traces",
        ),
        (
            Encoding::OtlpProto,
            Some(b"\x0a\x10\x12\x05"),
            "invalid OTLP protobuf traces",
        ),
        (
            Encoding::OtlpJson,
            Some(b"{\"resourceSpans\":["),
            "invalid OTLP/JSON traces",
        ),
        (
            Encoding::OtlpJson,
            Some(b"garbage"),
            "invalid OTLP/JSON traces",
        ),
        (Encoding::ZipkinJson, Some(b"[{"), "invalid Zipkin JSON"),
        (
            Encoding::ZipkinThrift,
            Some(b"\x0c\x00\x00\x00\x05"),
            "Thrift",
        ),
        (
            Encoding::JaegerProto,
            Some(b"\x0a\x03abc"),
            "invalid Jaeger span: span.trace_id has 3 bytes, not 16",
        ),
        (
            Encoding::JaegerJson,
            Some(b"{\"spanId\":1}"),
            "invalid Jaeger span",
        ),
    ];
    for (enc, value, want) in cases {
        let e = decode(Signal::Traces, *enc, *value).unwrap_err();
        assert!(e.contains(want), "{enc:?} {value:?}: {e}");
    }
    let p = decode(
        Signal::Traces,
        Encoding::OtlpJson,
        Some(br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"s"}]}]}]}"#),
    )
    .unwrap();
    assert_eq!(p.items(), 1);
}

/// `zipkin_thrift` (Go's kafka receiver reads it): a v1 Thrift span list per record, translated
/// as the zipkin receiver's `/api/v1/spans` does.
#[test]
fn zipkin_thrift_records_decode() {
    use ferrotel_zipkin::v1::{V1Span, thrift};
    let span = V1Span {
        trace_id: [1; 16],
        id: [2; 8],
        name: "get".into(),
        timestamp: Some(1_700_000_000_000_000),
        duration: Some(1500),
        binary_annotations: vec![("http.path".into(), "/a".into(), None)],
        ..Default::default()
    };
    let body = thrift::encode(&[span.clone(), V1Span { id: [3; 8], ..span }]);
    let p = super::decode(Signal::Traces, Encoding::ZipkinThrift, Some(&body)).unwrap();
    let Ok(ferrotel_pdata::Request::Traces(r)) = p.into_request() else {
        panic!("not traces");
    };
    let spans: Vec<_> = r
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .collect();
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0].trace_id.as_ref(), [1; 16]);
    assert_eq!(spans[0].name, "get");
    assert_eq!(spans[0].start_time_unix_nano, 1_700_000_000_000_000_000);
    assert_eq!(
        spans[0].end_time_unix_nano - spans[0].start_time_unix_nano,
        1_500_000
    );
    assert!(spans[0].attributes.iter().any(|a| a.key == "http.path"));
}

/// The one log record a raw, text or json record becomes.
fn only_log(p: Payload) -> ferrotel_pdata::proto::logs::v1::LogRecord {
    let Ok(ferrotel_pdata::Request::Logs(r)) = p.into_request() else {
        panic!("not logs");
    };
    assert_eq!(r.resource_logs.len(), 1);
    let records: Vec<_> = r.resource_logs[0]
        .scope_logs
        .iter()
        .flat_map(|s| &s.log_records)
        .cloned()
        .collect();
    assert_eq!(records.len(), 1);
    records.into_iter().next().unwrap()
}

fn body(l: &ferrotel_pdata::proto::logs::v1::LogRecord) -> any_value::Value {
    l.body.clone().unwrap().value.unwrap()
}

/// Go's `raw`, `text[_<encoding>]` and `json` log encodings: one record, one log, the value
/// as the body (bytes, text, a map); text and json stamp the observed time, raw does not.
#[test]
fn raw_text_and_json_log_records() {
    use any_value::Value as V;
    let decode = |e, v: &[u8]| super::decode(Signal::Logs, e, Some(v));
    let raw = only_log(decode(Encoding::Raw, b"\x00\xffbin").unwrap());
    assert_eq!(
        body(&raw),
        V::BytesValue(Bytes::from_static(b"\x00\xffbin"))
    );
    assert_eq!(raw.observed_time_unix_nano, 0);
    // An empty value is an empty line, not an undecodable record.
    let empty = only_log(decode(Encoding::Raw, b"").unwrap());
    assert_eq!(body(&empty), V::BytesValue(Bytes::new()));

    let text = only_log(decode(Encoding::Text(encoding_rs::UTF_8), b"GET /a 200").unwrap());
    assert_eq!(body(&text), V::StringValue("GET /a 200".into()));
    assert!(text.observed_time_unix_nano > 1_700_000_000_000_000_000);
    let bad = only_log(decode(Encoding::Text(encoding_rs::UTF_8), b"a\xffb").unwrap());
    assert_eq!(body(&bad), V::StringValue("a\u{fffd}b".into()));
    let c: KafkaReceiverConfig = testdata::load("logs: {encoding: text_utf-16le}\n").unwrap();
    let utf16 = c.encoding(Signal::Logs).unwrap();
    let le: Vec<u8> = "hé".encode_utf16().flat_map(u16::to_le_bytes).collect();
    assert_eq!(
        body(&only_log(decode(utf16, &le).unwrap())),
        V::StringValue("hé".into())
    );

    let json = only_log(
        decode(
            Encoding::Json,
            br#"{"msg":"hi","n":3,"ok":true,"none":null,"tags":["a",1.5],"m":{"k":"v"}}"#,
        )
        .unwrap(),
    );
    assert!(json.observed_time_unix_nano > 0);
    let V::KvlistValue(kv) = body(&json) else {
        panic!("a map body")
    };
    let get = |k: &str| {
        kv.values
            .iter()
            .find(|e| e.key == k)
            .unwrap_or_else(|| panic!("{k}"))
            .value
            .clone()
            .unwrap()
            .value
    };
    assert_eq!(get("msg"), Some(V::StringValue("hi".into())));
    assert_eq!(
        get("n"),
        Some(V::DoubleValue(3.0)),
        "numbers are doubles, as Go's"
    );
    assert_eq!(get("ok"), Some(V::BoolValue(true)));
    assert_eq!(get("none"), None);
    let Some(V::ArrayValue(a)) = get("tags") else {
        panic!("an array")
    };
    assert_eq!(a.values.len(), 2);
    assert_eq!(a.values[1].value, Some(V::DoubleValue(1.5)));
    assert!(matches!(get("m"), Some(V::KvlistValue(_))));
    for (v, want) in [
        (&b"[1,2]"[..], "a JSON object is expected, not an array"),
        (b"\"s\"", "not a string"),
        (b"{\"a\":", "invalid JSON log: EOF"),
        (b"", "the record's value is empty"),
    ] {
        let e = decode(Encoding::Json, v).err().unwrap();
        assert!(e.contains(want), "{e}");
    }
}

#[test]
fn log_encodings_belong_to_logs() {
    let c: KafkaReceiverConfig = testdata::load("logs: {encoding: raw}\n").unwrap();
    assert_eq!(c.encoding(Signal::Logs).unwrap(), Encoding::Raw);
    let e = testdata::load::<KafkaReceiverConfig>("traces: {encoding: json}\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("traces::encoding"), "{e}");
    assert!(e.contains("\"json\" is not an encoding of traces"), "{e}");
    let e = testdata::load::<KafkaReceiverConfig>("logs: {encoding: text_klingon}\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown text encoding \"klingon\""), "{e}");
    // The old top-level key applies where it fits, as for the trace encodings.
    let c: KafkaReceiverConfig = testdata::load("encoding: text\n").unwrap();
    assert_eq!(
        c.encoding(Signal::Logs).unwrap(),
        Encoding::Text(encoding_rs::UTF_8)
    );
    assert_eq!(c.encoding(Signal::Traces).unwrap(), Encoding::OtlpProto);
}
