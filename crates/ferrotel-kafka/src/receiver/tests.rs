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
