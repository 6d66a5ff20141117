//! The OTLP example payloads from opentelemetry-proto decode as expected and survive
//! JSON → protobuf → JSON round trips.
//!
//! The files are copied from `/work/shared/otlp-examples/` into `tests/data/otlp-examples/`
//! so the suite does not depend on anything outside the repository.

use ferrotel_pdata::proto::common::v1::any_value::Value;
use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue};
use ferrotel_pdata::proto::metrics::v1::{metric::Data, number_data_point};
use ferrotel_pdata::{Request, Signal, json};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/otlp-examples");
const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/otlp-examples");

const FILES: [(&str, Signal); 4] = [
    ("trace.json", Signal::Traces),
    ("metrics.json", Signal::Metrics),
    ("logs.json", Signal::Logs),
    ("events.json", Signal::Logs),
];

fn load(name: &str, signal: Signal) -> Request {
    let buf = std::fs::read(format!("{DIR}/{name}")).unwrap();
    json::decode(signal, &buf).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn string_value(v: &Option<AnyValue>) -> &str {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s,
        other => panic!("expected a string value, got {other:?}"),
    }
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> &'a Option<AnyValue> {
    &attrs
        .iter()
        .find(|kv| kv.key == key)
        .unwrap_or_else(|| panic!("no attribute {key}"))
        .value
}

#[test]
fn copies_match_the_shared_examples() {
    // The copy is what the tests use; when the shared folder is present, make sure the copy
    // has not drifted from it.
    for (name, _) in FILES {
        let copy = std::fs::read(format!("{DIR}/{name}")).unwrap();
        if let Ok(shared) = std::fs::read(format!("{SHARED}/{name}")) {
            assert_eq!(copy, shared, "{name} differs from the shared example");
        }
    }
}

#[test]
fn every_example_round_trips_through_protobuf_and_json() {
    for (name, signal) in FILES {
        let first = load(name, signal);
        assert!(first.item_count() > 0, "{name} decoded to nothing");
        let proto = first.encode_proto();
        let from_proto = Request::decode_proto(signal, proto).unwrap();
        assert_eq!(
            from_proto, first,
            "{name}: JSON → protobuf → Request changed it"
        );
        let json_again = json::encode(&from_proto);
        let second = json::decode(signal, &json_again)
            .unwrap_or_else(|e| panic!("{name}: re-encoded JSON does not decode: {e}"));
        assert_eq!(second, first, "{name}: Request → JSON → Request changed it");
        // And our encoding is stable.
        assert_eq!(json::encode(&second), json_again);
    }
}

#[test]
fn trace_example_fields() {
    let Request::Traces(req) = load("trace.json", Signal::Traces) else {
        unreachable!()
    };
    let rs = &req.resource_spans[0];
    let resource = rs.resource.as_ref().unwrap();
    assert_eq!(
        string_value(attr(&resource.attributes, "service.name")),
        "my.service"
    );
    let ss = &rs.scope_spans[0];
    let scope = ss.scope.as_ref().unwrap();
    assert_eq!(scope.name, "my.library");
    assert_eq!(scope.version, "1.0.0");
    assert_eq!(
        string_value(attr(&scope.attributes, "my.scope.attribute")),
        "some scope attribute"
    );
    assert_eq!(ss.spans.len(), 1);
    let span = &ss.spans[0];
    assert_eq!(&span.trace_id[..], hex("5B8EFFF798038103D269B633813FC60C"));
    assert_eq!(&span.span_id[..], hex("EEE19B7EC3C1B174"));
    assert_eq!(&span.parent_span_id[..], hex("EEE19B7EC3C1B173"));
    assert_eq!(span.name, "I'm a server span");
    assert_eq!(span.start_time_unix_nano, 1_544_712_660_000_000_000);
    assert_eq!(span.end_time_unix_nano, 1_544_712_661_000_000_000);
    assert_eq!(span.kind, 2);
    assert_eq!(
        string_value(attr(&span.attributes, "my.span.attr")),
        "some value"
    );
    // Ids are written back in lowercase hex.
    let out = String::from_utf8(json::encode(&Request::Traces(req))).unwrap();
    assert!(
        out.contains(r#""traceId":"5b8efff798038103d269b633813fc60c""#),
        "{out}"
    );
    assert!(
        out.contains(r#""startTimeUnixNano":"1544712660000000000""#),
        "{out}"
    );
    assert!(out.contains(r#""kind":2"#), "{out}");
}

#[test]
fn metrics_example_fields() {
    let Request::Metrics(req) = load("metrics.json", Signal::Metrics) else {
        unreachable!()
    };
    let metrics = &req.resource_metrics[0].scope_metrics[0].metrics;
    assert_eq!(metrics.len(), 4);

    assert_eq!(metrics[0].name, "my.counter");
    assert_eq!(metrics[0].unit, "1");
    assert_eq!(metrics[0].description, "I am a Counter");
    let Some(Data::Sum(sum)) = &metrics[0].data else {
        panic!("{:?}", metrics[0].data)
    };
    assert_eq!(sum.aggregation_temporality, 1);
    assert!(sum.is_monotonic);
    let p = &sum.data_points[0];
    assert_eq!(p.value, Some(number_data_point::Value::AsDouble(5.0)));
    assert_eq!(p.start_time_unix_nano, 1_544_712_660_300_000_000);
    assert_eq!(p.time_unix_nano, 1_544_712_660_300_000_000);
    assert_eq!(
        string_value(attr(&p.attributes, "my.counter.attr")),
        "some value"
    );

    let Some(Data::Gauge(gauge)) = &metrics[1].data else {
        panic!("{:?}", metrics[1].data)
    };
    assert_eq!(metrics[1].name, "my.gauge");
    assert_eq!(
        gauge.data_points[0].value,
        Some(number_data_point::Value::AsDouble(10.0))
    );
    assert_eq!(gauge.data_points[0].start_time_unix_nano, 0);

    let Some(Data::Histogram(h)) = &metrics[2].data else {
        panic!("{:?}", metrics[2].data)
    };
    assert_eq!(h.aggregation_temporality, 1);
    let p = &h.data_points[0];
    assert_eq!(p.count, 2);
    assert_eq!(p.sum, Some(2.0));
    assert_eq!(p.bucket_counts, vec![1, 1]);
    assert_eq!(p.explicit_bounds, vec![1.0]);
    assert_eq!(p.min, Some(0.0));
    assert_eq!(p.max, Some(2.0));

    let Some(Data::ExponentialHistogram(e)) = &metrics[3].data else {
        panic!("{:?}", metrics[3].data)
    };
    assert_eq!(metrics[3].name, "my.exponential.histogram");
    let p = &e.data_points[0];
    assert_eq!(p.count, 3);
    assert_eq!(p.sum, Some(10.0));
    assert_eq!(p.scale, 0);
    assert_eq!(p.zero_count, 1);
    let positive = p.positive.as_ref().unwrap();
    assert_eq!(positive.offset, 1);
    assert_eq!(positive.bucket_counts, vec![0, 2]);
    assert!(p.negative.is_none());
    assert_eq!(p.min, Some(0.0));
    assert_eq!(p.max, Some(5.0));
    assert_eq!(p.zero_threshold, 0.0);
}

#[test]
fn logs_example_fields() {
    let Request::Logs(req) = load("logs.json", Signal::Logs) else {
        unreachable!()
    };
    let records = &req.resource_logs[0].scope_logs[0].log_records;
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.time_unix_nano, 1_544_712_660_300_000_000);
    assert_eq!(r.observed_time_unix_nano, 1_544_712_660_300_000_000);
    assert_eq!(r.severity_number, 10);
    assert_eq!(r.severity_text, "Information");
    assert_eq!(&r.trace_id[..], hex("5B8EFFF798038103D269B633813FC60C"));
    assert_eq!(&r.span_id[..], hex("EEE19B7EC3C1B174"));
    assert_eq!(string_value(&r.body), "Example log record");
    assert_eq!(
        string_value(attr(&r.attributes, "string.attribute")),
        "some string"
    );
    let value = |key| {
        attr(&r.attributes, key)
            .as_ref()
            .unwrap()
            .value
            .clone()
            .unwrap()
    };
    assert_eq!(value("boolean.attribute"), Value::BoolValue(true));
    assert_eq!(value("int.attribute"), Value::IntValue(10));
    assert_eq!(value("double.attribute"), Value::DoubleValue(637.704));
    let Value::ArrayValue(array) = value("array.attribute") else {
        panic!()
    };
    let items: Vec<&str> = array
        .values
        .iter()
        .map(|v| match &v.value {
            Some(Value::StringValue(s)) => s.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(items, ["many", "values"]);
    let Value::KvlistValue(map) = value("map.attribute") else {
        panic!()
    };
    assert_eq!(map.values.len(), 1);
    assert_eq!(map.values[0].key, "some.map.key");
    assert_eq!(string_value(&map.values[0].value), "some value");
}

#[test]
fn events_example_fields() {
    let Request::Logs(req) = load("events.json", Signal::Logs) else {
        unreachable!()
    };
    let r = &req.resource_logs[0].scope_logs[0].log_records[0];
    assert_eq!(r.event_name, "browser.page_view");
    assert_eq!(r.severity_number, 9);
    assert_eq!(r.severity_text, "test severity text");
    assert!(r.trace_id.is_empty());
    assert_eq!(
        string_value(attr(&r.attributes, "event.attribute")),
        "some event attribute"
    );
    let Some(Value::KvlistValue(body)) = r.body.as_ref().and_then(|b| b.value.clone()) else {
        panic!("{:?}", r.body)
    };
    let keys: Vec<&str> = body.values.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["type", "url", "referrer", "title"]);
    // `"intValue": "0"` is present, so it must stay a set oneof even though it is zero.
    assert_eq!(
        body.values[0].value.as_ref().unwrap().value,
        Some(Value::IntValue(0))
    );
    assert_eq!(
        string_value(&body.values[3].value),
        "Free Online GUID Generator"
    );
    let out = String::from_utf8(json::encode(&Request::Logs(req))).unwrap();
    assert!(
        out.contains(r#"{"key":"type","value":{"intValue":"0"}}"#),
        "{out}"
    );
}

#[test]
fn every_example_transcodes_to_the_decoded_request() {
    for (name, signal) in FILES {
        let buf = std::fs::read(format!("{DIR}/{name}")).unwrap();
        let decoded = load(name, signal);
        let fast = json::transcode_fast(signal, &buf)
            .unwrap_or_else(|| panic!("{name}: the transcoder fell back to decode + encode"));
        assert_eq!(json::transcode(signal, &buf).unwrap(), fast);
        let from_proto = Request::decode_proto(signal, fast).unwrap();
        assert_eq!(from_proto, decoded, "{name}: transcoded protobuf differs");
    }
}
