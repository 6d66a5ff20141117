//! Kafka between collector tiers (issue 24), against a real Kafka-protocol broker: tansu 0.6
//! (sqlite engine), started per test on loopback (kafka_support). The collector's kafka
//! exporter and receiver, a plain client beside them (rdkafka, and Python confluent-kafka with
//! the official protos), at-least-once across a kill -9 of the consumer and a broker restart.
//!
//! tansu's known limits, worked around: its sqlite engine cannot serve snappy batches back
//! (no test uses snappy), and its memory engine answers ListOffsets(latest) one past the last
//! batch (tests use sqlite and `initial_offset: earliest`).

mod interop_support;
mod kafka_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue, any_value};
use ferrotel_pdata::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_pdata::proto::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric, number_data_point,
};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::{Payload, Request, Signal};
use interop_support::*;
use kafka_support::{Broker, file_exporters, names, tansu};

fn service(name: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![KeyValue {
            key: "service.name".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(name.into())),
            }),
            ..Default::default()
        }],
        ..Default::default()
    })
}

fn metrics_request(n: usize) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: service("m"),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "queue.depth".into(),
                    data: Some(metric::Data::Gauge(Gauge {
                        data_points: (0..n)
                            .map(|i| NumberDataPoint {
                                time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
                                value: Some(number_data_point::Value::AsInt(i as i64)),
                                ..Default::default()
                            })
                            .collect(),
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn logs_request(n: usize) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: service("l"),
            scope_logs: vec![ScopeLogs {
                log_records: (0..n)
                    .map(|i| LogRecord {
                        time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
                        body: Some(AnyValue {
                            value: Some(any_value::Value::StringValue(format!("line {i}"))),
                        }),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// OTLP/HTTP in → kafka exporter → broker → kafka receiver → file, for the three signals in
/// one collector; what the files hold equals what was sent, request for request.
/// Requests as a sorted list of their encodings.
fn unordered<M: prost::Message>(requests: &[M]) -> Vec<Vec<u8>> {
    let mut encoded: Vec<_> = requests.iter().map(|m| m.encode_to_vec()).collect();
    encoded.sort();
    encoded
}

fn round_trip(encoding: &str, compression: &str) {
    let Some(bin) = tansu() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut broker = Broker::start(&bin, dir.path());
    let t = |s: &str| format!("{encoding}_{s}");
    broker.create_topics(&[(&t("spans"), 1), (&t("metrics"), 1), (&t("logs"), 1)]);
    let (http, m) = (free_port(), free_port());
    let b = broker.addr();
    let topics = format!(
        "traces: {{topic: {}, encoding: {encoding}}}\n    metrics: {{topic: {}, encoding: {encoding}}}\n    logs: {{topic: {}, encoding: {encoding}}}",
        t("spans"),
        t("metrics"),
        t("logs")
    );
    let config = format!(
        r#"
receivers:
  otlp:
    protocols:
      http: {{endpoint: 127.0.0.1:{http}}}
  kafka:
    brokers: [{b}]
    group_id: round-trip
    initial_offset: earliest
    {topics}
exporters:
  kafka:
    brokers: [{b}]
    {topics}
    producer: {{compression: {compression}}}
    retry_on_failure: {{initial_interval: 100ms}}
{files}
service:
  telemetry: {{metrics: {{address: 127.0.0.1:{m}}}}}
  pipelines:
    traces/in: {{receivers: [otlp], exporters: [kafka]}}
    metrics/in: {{receivers: [otlp], exporters: [kafka]}}
    logs/in: {{receivers: [otlp], exporters: [kafka]}}
    traces/out: {{receivers: [kafka], exporters: [file/traces]}}
    metrics/out: {{receivers: [kafka], exporters: [file/metrics]}}
    logs/out: {{receivers: [kafka], exporters: [file/logs]}}
"#,
        files = file_exporters(dir.path())
    );
    let c = Collector::start("rt", dir.path(), &config, Some(m));
    let traces: Vec<Vec<u8>> = (0..3)
        .map(|r| spans_request("svc", &names("span", r * 100, 100)))
        .collect();
    let metrics: Vec<ExportMetricsServiceRequest> =
        (1..=3).map(|n| metrics_request(n * 7)).collect();
    let logs: Vec<ExportLogsServiceRequest> = (1..=3).map(|n| logs_request(n * 11)).collect();
    for (i, body) in traces.iter().enumerate() {
        assert_eq!(post_otlp(http, "/v1/traces", body).unwrap(), 200);
        let m = Request::Metrics(metrics[i].clone()).encode_proto();
        assert_eq!(post_otlp(http, "/v1/metrics", &m).unwrap(), 200);
        let l = Request::Logs(logs[i].clone()).encode_proto();
        assert_eq!(post_otlp(http, "/v1/logs", &l).unwrap(), 200);
    }
    let d = dir.path();
    wait_for(
        Duration::from_secs(60),
        "the three signals back from Kafka",
        || {
            interop_support::traces(&d.join("traces.bin")).len() == 3
                && interop_support::metrics(&d.join("metrics.bin")).len() == 3
                && interop_support::logs(&d.join("logs.bin")).len() == 3
        },
    );
    let sent_traces: Vec<_> = traces
        .iter()
        .map(|b| {
            match Payload::from_proto(Signal::Traces, b.clone().into())
                .unwrap()
                .into_request()
                .unwrap()
            {
                Request::Traces(t) => t,
                _ => unreachable!(),
            }
        })
        .collect();
    // Compared as multisets: the exporter's queue has several consumers, so requests may
    // reach the topic in another order than they were sent.
    assert_eq!(
        unordered(&interop_support::traces(&d.join("traces.bin"))),
        unordered(&sent_traces)
    );
    assert_eq!(
        unordered(&interop_support::metrics(&d.join("metrics.bin"))),
        unordered(&metrics)
    );
    assert_eq!(
        unordered(&interop_support::logs(&d.join("logs.bin"))),
        unordered(&logs)
    );
    std::thread::sleep(Duration::from_millis(300));
    let rcv = [("receiver", "kafka")];
    assert_eq!(
        c.metric("otelcol_receiver_accepted_spans_total", &rcv),
        300.0
    );
    assert_eq!(
        c.metric("otelcol_receiver_accepted_metric_points_total", &rcv),
        42.0
    );
    assert_eq!(
        c.metric("otelcol_receiver_accepted_log_records_total", &rcv),
        66.0
    );
    assert_eq!(c.metric("otelcol_kafka_receiver_messages_total", &rcv), 9.0);
    assert_eq!(
        c.metric(
            "otelcol_exporter_sent_spans_total",
            &[("exporter", "kafka")]
        ),
        300.0
    );
}

#[test]
fn round_trip_otlp_proto_each_signal() {
    round_trip("otlp_proto", "zstd");
}

#[test]
fn round_trip_otlp_json_each_signal() {
    round_trip("otlp_json", "gzip");
}

/// With `partition_traces_by_id`, a plain consumer sees one message per trace, keyed by the
/// trace id in lowercase hex, on one partition per key; with
/// `partition_logs_by_resource_attributes`, one message per resource, equal resources keyed
/// alike.
#[test]
fn partition_keys_seen_by_a_plain_client() {
    let Some(bin) = tansu() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::with_topics(&bin, dir.path(), &[("by_trace", 3), ("by_resource", 3)]);
    let http = free_port();
    let b = broker.addr();
    let config = format!(
        r#"
receivers:
  otlp: {{protocols: {{http: {{endpoint: 127.0.0.1:{http}}}}}}}
exporters:
  kafka:
    brokers: [{b}]
    traces: {{topic: by_trace}}
    logs: {{topic: by_resource}}
    partition_traces_by_id: true
    partition_logs_by_resource_attributes: true
service:
  pipelines:
    traces: {{receivers: [otlp], exporters: [kafka]}}
    logs: {{receivers: [otlp], exporters: [kafka]}}
"#
    );
    let _c = Collector::start("parts", dir.path(), &config, None);
    // 20 traces of 5 spans, interleaved over 4 requests.
    use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
    for r in 0..4u8 {
        let spans = (0..25u8)
            .map(|i| Span {
                trace_id: vec![(i % 20) + 1; 16].into(),
                span_id: vec![r * 25 + i + 1; 8].into(),
                name: format!("r{r}-s{i}"),
                ..Default::default()
            })
            .collect();
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: service("t"),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let body = Request::Traces(req).encode_proto();
        assert_eq!(post_otlp(http, "/v1/traces", &body).unwrap(), 200);
    }
    let records = broker.read("by_trace", 4 * 20);
    let mut partition_of: BTreeMap<String, i32> = BTreeMap::new();
    let mut spans = 0;
    for (partition, key, value) in &records {
        let key = String::from_utf8(key.clone().expect("a key")).unwrap();
        assert_eq!(key.len(), 32);
        let Request::Traces(t) = Payload::from_proto(Signal::Traces, value.clone().into())
            .unwrap()
            .into_request()
            .unwrap()
        else {
            unreachable!()
        };
        for s in t
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .flat_map(|s| &s.spans)
        {
            assert_eq!(
                hex(&s.trace_id),
                key,
                "every span of the message is of its key's trace"
            );
            spans += 1;
        }
        assert_eq!(*partition_of.entry(key).or_insert(*partition), *partition);
    }
    assert_eq!(spans, 100);
    assert_eq!(partition_of.len(), 20);
    assert!(
        partition_of
            .values()
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            > 1,
        "20 keys over 3 partitions use more than one"
    );
    // Logs: two resources alike (attribute order aside) and one different.
    let res = |attrs: &[(&str, &str)]| ResourceLogs {
        resource: Some(Resource {
            attributes: attrs
                .iter()
                .map(|(k, v)| KeyValue {
                    key: k.to_string(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(v.to_string())),
                    }),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        scope_logs: logs_request(2).resource_logs[0].scope_logs.clone(),
        ..Default::default()
    };
    let req = ExportLogsServiceRequest {
        resource_logs: vec![
            res(&[("host", "a"), ("svc", "x")]),
            res(&[("svc", "x"), ("host", "a")]),
            res(&[("host", "b"), ("svc", "x")]),
        ],
    };
    let body = Request::Logs(req).encode_proto();
    assert_eq!(post_otlp(http, "/v1/logs", &body).unwrap(), 200);
    // Partitions interleave on reading: group the keys by the resource's host.
    let mut key_of_host: BTreeMap<String, std::collections::BTreeSet<Vec<u8>>> = BTreeMap::new();
    for (_, key, value) in broker.read("by_resource", 3) {
        let Request::Logs(l) = Payload::from_proto(Signal::Logs, value.into())
            .unwrap()
            .into_request()
            .unwrap()
        else {
            unreachable!()
        };
        assert_eq!(l.resource_logs.len(), 1, "one resource per message");
        let attrs = &l.resource_logs[0].resource.as_ref().unwrap().attributes;
        let host = attrs.iter().find(|a| a.key == "host").unwrap();
        key_of_host
            .entry(format!("{:?}", host.value))
            .or_default()
            .insert(key.expect("a key"));
    }
    assert_eq!(key_of_host.len(), 2);
    assert!(
        key_of_host.values().all(|k| k.len() == 1),
        "{key_of_host:?}"
    );
    let keys: std::collections::BTreeSet<_> = key_of_host.values().flatten().collect();
    assert_eq!(keys.len(), 2, "the two hosts are keyed apart");
}

/// Spans of two traces (one with a 64-bit id), with kind, status, attributes, an event and a
/// parent: what the jaeger encodings carry.
fn jaeger_request() -> ExportTraceServiceRequest {
    use ferrotel_pdata::proto::common::v1::InstrumentationScope;
    use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
    let attr = |k: &str, v: any_value::Value| KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    };
    let spans = (0..6u8)
        .map(|i| Span {
            trace_id: if i.is_multiple_of(2) {
                vec![0xab; 16]
            } else {
                [[0; 8], [0x0c; 8]].concat()
            }
            .into(),
            span_id: vec![i + 1; 8].into(),
            parent_span_id: if i > 1 {
                vec![i - 1; 8].into()
            } else {
                Default::default()
            },
            name: format!("op-{i}"),
            kind: span::SpanKind::Server as i32,
            start_time_unix_nano: 1_700_000_000_000_000_000 + u64::from(i),
            end_time_unix_nano: 1_700_000_000_250_000_000,
            attributes: vec![
                attr("http.route", any_value::Value::StringValue("/a".into())),
                attr("n", any_value::Value::IntValue(i64::from(i))),
            ],
            events: vec![span::Event {
                time_unix_nano: 1_700_000_000_100_000_000,
                name: "retry".into(),
                attributes: vec![attr("attempt", any_value::Value::IntValue(2))],
                ..Default::default()
            }],
            status: Some(Status {
                code: 2,
                message: "boom".into(),
            }),
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: service("jsvc"),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "lib".into(),
                    version: "1.0".into(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Each span of a request in its own one-span request, attributes sorted (the translation
/// does not keep their order), for comparing what came back with what was sent.
fn one_span_requests(reqs: &[ExportTraceServiceRequest]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for req in reqs {
        for rs in &req.resource_spans {
            for ss in &rs.scope_spans {
                for s in &ss.spans {
                    let mut s = s.clone();
                    s.attributes.sort_by(|a, b| a.key.cmp(&b.key));
                    let mut one = rs.clone();
                    one.scope_spans = vec![ss.clone()];
                    one.scope_spans[0].spans = vec![s];
                    out.push(prost::Message::encode_to_vec(&one));
                }
            }
        }
    }
    out.sort();
    out
}

/// jaeger_proto and jaeger_json as the Go exporter writes them: one record per span, keyed by
/// the trace id as Jaeger prints it, read by a plain consumer and decoded with the IDL's
/// messages (protobuf) or as plain JSON; and read back by ferrotel's receiver, which gets
/// every span as it was sent.
#[test]
fn jaeger_encodings_seen_by_a_plain_client_and_read_back() {
    let Some(bin) = tansu() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::with_topics(&bin, dir.path(), &[("jaeger_p", 1), ("jaeger_j", 1)]);
    let http = free_port();
    let (b, d) = (broker.addr(), dir.path().display());
    let config = format!(
        r#"
receivers:
  otlp: {{protocols: {{http: {{endpoint: 127.0.0.1:{http}}}}}}}
  kafka/p: {{brokers: [{b}], group_id: jp, initial_offset: earliest, traces: {{topic: jaeger_p, encoding: jaeger_proto}}}}
  kafka/j: {{brokers: [{b}], group_id: jj, initial_offset: earliest, traces: {{topic: jaeger_j, encoding: jaeger_json}}}}
exporters:
  kafka/p: {{brokers: [{b}], traces: {{topic: jaeger_p, encoding: jaeger_proto}}}}
  kafka/j: {{brokers: [{b}], traces: {{topic: jaeger_j, encoding: jaeger_json}}}}
  file/p: {{path: {d}/p.bin, format: proto, flush_interval: 50ms}}
  file/j: {{path: {d}/j.bin, format: proto, flush_interval: 50ms}}
service:
  pipelines:
    traces/in: {{receivers: [otlp], exporters: [kafka/p, kafka/j]}}
    traces/p: {{receivers: [kafka/p], exporters: [file/p]}}
    traces/j: {{receivers: [kafka/j], exporters: [file/j]}}
"#
    );
    let _c = Collector::start("jaeger", dir.path(), &config, None);
    let sent = jaeger_request();
    let body = Request::Traces(sent.clone()).encode_proto();
    assert_eq!(post_otlp(http, "/v1/traces", &body).unwrap(), 200);
    let key = |i: usize| {
        if i.is_multiple_of(2) {
            "ab".repeat(16)
        } else {
            "0c".repeat(8)
        }
    };
    // A plain consumer: protobuf records decode as jaeger.api_v2.Span with the process.
    let records = broker.read("jaeger_p", 6);
    assert_eq!(records.len(), 6);
    for (_, k, value) in &records {
        let s = <ferrotel_jaeger::proto::PSpan as prost::Message>::decode(&value[..]).unwrap();
        let i: usize = s
            .operation_name
            .strip_prefix("op-")
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(String::from_utf8(k.clone().unwrap()).unwrap(), key(i));
        assert_eq!(s.span_id, vec![i as u8 + 1; 8]);
        assert_eq!(s.process.as_ref().unwrap().service_name, "jsvc");
        let tag = |key: &str| s.tags.iter().find(|t| t.key == key).cloned().unwrap();
        assert_eq!(tag("span.kind").v_str, "server");
        assert_eq!(tag("otel.scope.name").v_str, "lib");
        assert!(tag("error").v_bool);
        assert_eq!(tag("n").v_int64, i as i64);
        assert_eq!(s.logs[0].fields[0].v_str, "retry");
        // The parent: the first reference, CHILD_OF (0).
        if i > 1 {
            assert_eq!(s.references[0].span_id, vec![i as u8 - 1; 8]);
            assert_eq!(s.references[0].ref_type, 0);
        }
    }
    // JSON records are protobuf JSON: camelCase, base64 ids, RFC 3339 times, 64-bit as text.
    let records = broker.read("jaeger_j", 6);
    assert_eq!(records.len(), 6);
    for (_, k, value) in &records {
        let j: serde_json::Value = serde_json::from_slice(value).unwrap();
        let i: usize = j["operationName"].as_str().unwrap()[3..].parse().unwrap();
        assert_eq!(String::from_utf8(k.clone().unwrap()).unwrap(), key(i));
        assert_eq!(j["process"]["serviceName"], "jsvc");
        // 0, 3, 6 or 9 fraction digits, as protobuf JSON writes them.
        let (start, duration) = match i {
            0 => ("2023-11-14T22:13:20Z".to_string(), "0.250s".to_string()),
            i => (
                format!("2023-11-14T22:13:20.00000000{i}Z"),
                format!("0.{}s", 250_000_000 - i),
            ),
        };
        assert_eq!(
            (&j["startTime"], &j["duration"]),
            (&start.into(), &duration.into())
        );
        let tid = if i.is_multiple_of(2) {
            "q6urq6urq6urq6urq6urqw=="
        } else {
            "AAAAAAAAAAAMDAwMDAwMDA=="
        };
        assert_eq!(j["traceId"], tid);
        let n = j["tags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["key"] == "n")
            .unwrap();
        if i > 0 {
            assert_eq!(n["vInt64"], i.to_string());
        }
    }
    // ferrotel's receiver: every span back as sent.
    let (p, jf) = (dir.path().join("p.bin"), dir.path().join("j.bin"));
    let spans = |f: &Path| one_span_requests(&interop_support::traces(f)).len();
    wait_for(
        Duration::from_secs(60),
        "six spans back per encoding",
        || spans(&p) == 6 && spans(&jf) == 6,
    );
    let want = one_span_requests(std::slice::from_ref(&sent));
    assert_eq!(one_span_requests(&interop_support::traces(&p)), want);
    assert_eq!(one_span_requests(&interop_support::traces(&jf)), want);
}

/// `zipkin_thrift` through the broker: records holding Zipkin v1 Thrift span lists (the body
/// py_zipkin's Thrift encoding posts to `/api/v1/spans`, tests/zipkin.rs) reach the pipeline
/// span by span.
#[test]
fn zipkin_thrift_records_through_the_broker() {
    use ferrotel_zipkin::v1::{V1Span, thrift};
    let Some(bin) = tansu() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::with_topics(&bin, dir.path(), &[("zipkin_t", 1)]);
    let b = broker.addr();
    let config = format!(
        r#"
receivers:
  kafka: {{brokers: [{b}], initial_offset: earliest, traces: {{topic: zipkin_t, encoding: zipkin_thrift}}}}
exporters:
{files}
service:
  pipelines:
    traces: {{receivers: [kafka], exporters: [file/traces]}}
"#,
        files = file_exporters(dir.path())
    );
    let span = |i: u8| V1Span {
        trace_id: [7; 16],
        id: [i + 1; 8],
        name: format!("z{i}"),
        timestamp: Some(1_700_000_000_000_000 + u64::from(i)),
        duration: Some(100),
        ..Default::default()
    };
    let (two, one) = (
        thrift::encode(&[span(0), span(1)]),
        thrift::encode(&[span(2)]),
    );
    broker.produce("zipkin_t", &[(None, Some(&two)), (None, Some(&one))]);
    let _c = Collector::start("zipkin_thrift", dir.path(), &config, None);
    let file = dir.path().join("traces.bin");
    wait_for(Duration::from_secs(60), "three spans", || {
        span_names(&file).len() == 3
    });
    let mut got = span_names(&file);
    got.sort();
    assert_eq!(got, ["z0", "z1", "z2"]);
}

/// Garbage, truncated, empty and null records are logged, counted and skipped; the receiver
/// consumes on to the good records around them.
#[test]
fn undecodable_records_are_skipped_and_counted() {
    let Some(bin) = tansu() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::with_topics(&bin, dir.path(), &[("dirty", 1)]);
    let m = free_port();
    let b = broker.addr();
    let config = format!(
        r#"
receivers:
  kafka:
    brokers: [{b}]
    initial_offset: earliest
    traces: {{topic: dirty}}
exporters:
{files}
service:
  telemetry: {{metrics: {{address: 127.0.0.1:{m}}}}}
  pipelines:
    traces: {{receivers: [kafka], exporters: [file/traces]}}
"#,
        files = file_exporters(dir.path())
    );
    let good = |from| spans_request("svc", &names("good", from, 10));
    let first = good(0);
    let truncated = &first[..first.len() / 2];
    broker.produce(
        "dirty",
        &[
            (None, Some(&first)),
            (None, Some(b"\xde\xad\xbe\xef garbage")),
            (None, Some(truncated)),
            (None, Some(b"")),
            (Some(b"k"), None),
            (None, Some(&good(10))),
        ],
    );
    let c = Collector::start("dirty", dir.path(), &config, Some(m));
    let file = dir.path().join("traces.bin");
    wait_for(Duration::from_secs(60), "the good records", || {
        span_names(&file).len() == 20
    });
    broker.produce("dirty", &[(None, Some(&good(20)))]);
    wait_for(Duration::from_secs(30), "a good record after them", || {
        span_names(&file).len() == 30
    });
    assert_eq!(span_names(&file), names("good", 0, 30));
    let rcv = [("receiver", "kafka")];
    assert_eq!(
        c.metric("ferrotel_kafka_receiver_undecodable_records_total", &rcv),
        4.0
    );
    assert_eq!(c.metric("otelcol_kafka_receiver_messages_total", &rcv), 7.0);
    let log = c.log();
    assert!(log.contains("has no value (null)"), "{log}");
    assert!(log.contains("value is empty"), "{log}");
    assert_eq!(
        log.matches("invalid OTLP protobuf traces").count(),
        2,
        "{log}"
    );
}

/// The gateway tier: kafka receiver → OTLP (no queue: the pipeline accepts a record only once
/// the sink has it) → a sink collector writing a file. A static group member
/// (`group_instance_id`, as gateways run in a StatefulSet): a restarted gateway takes its old
/// assignment at once. A dynamic member would wait for the dead one to leave the group, which
/// tansu 0.6 holds until the rebalance timeout (librdkafka's max.poll.interval.ms, 300 s)
/// where Kafka evicts it at the session timeout.
fn gateway_config(b: &str, sink_grpc: u16, m: u16) -> String {
    format!(
        r#"
receivers:
  kafka:
    brokers: [{b}]
    group_id: gateways
    group_instance_id: gateway-0
    initial_offset: earliest
    traces: {{topic: tier}}
    autocommit: {{enable: true, interval: 1s}}
    error_backoff: {{enabled: true, initial_interval: 50ms, max_interval: 500ms}}
exporters:
  otlp_grpc/sink:
    endpoint: 127.0.0.1:{sink_grpc}
    tls: {{insecure: true}}
    sending_queue: {{enabled: false}}
    retry_on_failure: {{initial_interval: 50ms, max_interval: 200ms, max_elapsed_time: 0s}}
service:
  telemetry: {{metrics: {{address: 127.0.0.1:{m}}}}}
  pipelines:
    traces: {{receivers: [kafka], exporters: [otlp_grpc/sink]}}
"#
    )
}

/// The agent tier: OTLP/HTTP → kafka exporter with its in-memory queue, retrying forever.
fn agent_config(b: &str, http: u16, m: u16) -> String {
    format!(
        r#"
receivers:
  otlp: {{protocols: {{http: {{endpoint: 127.0.0.1:{http}}}}}}}
exporters:
  kafka:
    brokers: [{b}]
    traces: {{topic: tier}}
    timeout: 2s
    producer: {{required_acks: -1, compression: lz4}}
    sending_queue: {{queue_size: 100000, num_consumers: 4}}
    retry_on_failure: {{initial_interval: 100ms, max_interval: 500ms, max_elapsed_time: 0s}}
service:
  telemetry: {{metrics: {{address: 127.0.0.1:{m}}}}}
  pipelines:
    traces: {{receivers: [otlp], exporters: [kafka]}}
"#
    )
}

/// agent (OTLP/HTTP → kafka exporter) → broker topic `tier` (3 partitions) → gateway (kafka
/// receiver) → sink (a collector writing `sink/traces.bin`), each on loopback.
struct Tier {
    dir: tempfile::TempDir,
    broker: Broker,
    sink: Collector,
    agent: Collector,
    gateway: Collector,
    /// The agent's OTLP/HTTP port.
    http: u16,
    sink_grpc: u16,
    gateway_metrics: u16,
}

impl Tier {
    fn start(bin: &Path) -> Tier {
        let dir = tempfile::tempdir().unwrap();
        let broker = Broker::with_topics(bin, dir.path(), &[("tier", 3)]);
        let b = broker.addr();
        let (sink_grpc, sink_http, sink_m) = (free_port(), free_port(), free_port());
        let sink_dir = dir.path().join("sink");
        std::fs::create_dir_all(&sink_dir).unwrap();
        let sink = Collector::start(
            "sink",
            &sink_dir,
            &file_sink_config(&sink_dir, sink_grpc, sink_http, sink_m),
            Some(sink_m),
        );
        let (http, agent_m, gateway_metrics) = (free_port(), free_port(), free_port());
        let agent = Collector::start(
            "agent",
            dir.path(),
            &agent_config(&b, http, agent_m),
            Some(agent_m),
        );
        let gateway = Tier::start_gateway(dir.path(), &b, sink_grpc, gateway_metrics, "gateway");
        Tier {
            dir,
            broker,
            sink,
            agent,
            gateway,
            http,
            sink_grpc,
            gateway_metrics,
        }
    }

    fn start_gateway(dir: &Path, b: &str, sink_grpc: u16, m: u16, name: &str) -> Collector {
        Collector::start(name, dir, &gateway_config(b, sink_grpc, m), Some(m))
    }

    /// A gateway in the same group as the first (after that one was killed).
    fn restart_gateway(&self) -> Collector {
        let b = self.broker.addr();
        Tier::start_gateway(
            self.dir.path(),
            &b,
            self.sink_grpc,
            self.gateway_metrics,
            "gateway2",
        )
    }

    fn sink_file(&self) -> std::path::PathBuf {
        self.dir.path().join("sink").join("traces.bin")
    }
}

const REQUESTS: usize = 100;
const PER_REQUEST: usize = 500;

/// Posts `requests` requests of PER_REQUEST spans named `s-<i>`, counting those acknowledged;
/// a refused request is sent again (the agent's own clients do that).
fn load(
    http: u16,
    sent: Arc<AtomicUsize>,
    pause: Duration,
    requests: usize,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for r in 0..requests {
            let body = spans_request("load", &names("s", r * PER_REQUEST, PER_REQUEST));
            let mut tries = 0;
            while post_otlp(http, "/v1/traces", &body).ok() != Some(200) {
                tries += 1;
                assert!(tries < 200, "request {r} not acknowledged after 200 tries");
                std::thread::sleep(Duration::from_millis(50));
            }
            sent.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(pause);
        }
    })
}

/// Every one of `total` spans at the sink at least once; returns the duplicates. On a timeout
/// the panic carries each tier's counters and log tail (CI shows nothing else).
fn all_delivered(t: &Tier, gateway: &Collector, total: usize) -> usize {
    let file = t.sink_file();
    // The sink's count first (cheap), then the file (which duplicates also grow).
    let deadline = Duration::from_secs(180 + total as u64 / 2000);
    wait_or_explain(
        deadline,
        "as many spans at the sink as sent",
        t,
        gateway,
        || t.sink.metric("otelcol_receiver_accepted_spans_total", &[]) as usize >= total,
    );
    wait_or_explain(deadline, "every span at the sink", t, gateway, || {
        span_names(&file)
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            == total
    });
    settled(&file, Duration::from_secs(2), Duration::from_secs(60));
    let got = span_names(&file);
    let unique: std::collections::BTreeSet<_> = got.iter().collect();
    assert_eq!(unique.len(), total);
    got.len() - total
}

/// [`wait_for`], but a timeout panics with what each tier reports.
fn wait_or_explain(
    timeout: Duration,
    what: &str,
    t: &Tier,
    gateway: &Collector,
    mut f: impl FnMut() -> bool,
) {
    let start = std::time::Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let counters = |c: &Collector| -> String {
        c.metrics_text()
            .lines()
            .filter(|l| {
                !l.starts_with('#')
                    && (l.contains("_spans") || l.contains("queue_size") || l.contains("kafka"))
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let tail = |log: String| -> String {
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    };
    panic!(
        "timed out after {timeout:?} waiting for {what}\n\
         --- agent counters\n{}\n--- gateway counters\n{}\n--- sink counters\n{}\n\
         --- agent log\n{}\n--- gateway log\n{}\n--- tansu log\n{}",
        counters(&t.agent),
        counters(gateway),
        counters(&t.sink),
        tail(t.agent.log()),
        tail(gateway.log()),
        tail(t.broker.log()),
    );
}

/// agent → Kafka → gateway with `requests` requests of PER_REQUEST spans, `pause` apart;
/// the gateway is killed (-9) once a third is at the sink and restarted with the same group:
/// every span arrives, and the duplicates stay within what the gateway forwarded after its
/// group's last commit. Returns the requests acknowledged by the kill.
fn kill9_run(requests: usize, pause: Duration) -> usize {
    let Some(bin) = tansu() else { return 0 };
    let mut t = Tier::start(&bin);
    let total = requests * PER_REQUEST;
    let sent = Arc::new(AtomicUsize::new(0));
    let started = std::time::Instant::now();
    let load = load(t.http, sent.clone(), pause, requests);
    let at_sink = || t.sink.metric("otelcol_receiver_accepted_spans_total", &[]) as usize;
    wait_for(
        Duration::from_secs(120 + total as u64 / 2000),
        "a third at the sink",
        || at_sink() >= total / 3,
    );
    // The group's join delays the first records, which then come as a burst: the kill waits
    // past one autocommit interval (1 s), so what had arrived by `committed` is committed.
    let committed = at_sink();
    std::thread::sleep(Duration::from_millis(1500));
    t.gateway.kill9();
    let at_kill = at_sink();
    let sent_at_kill = sent.load(Ordering::SeqCst);
    assert!(
        at_kill < total,
        "the gateway had forwarded everything before the kill"
    );
    std::thread::sleep(Duration::from_millis(500));
    let gateway2 = t.restart_gateway();
    load.join().unwrap();
    let dups = all_delivered(&t, &gateway2, total);
    eprintln!(
        "kill -9 of the gateway after {at_kill} spans at the sink ({committed} 1.5 s before, \
         {sent_at_kill} of {requests} requests acknowledged): {total} spans delivered in {:.0} s, \
         {dups} duplicates",
        started.elapsed().as_secs_f64()
    );
    // Redelivered: at most what the gateway forwarded after its group's last commit, i.e.
    // after `committed`; a commit that never happened would redeliver everything.
    assert!(
        dups <= at_kill - committed,
        "{dups} duplicates: more than the {} spans forwarded in the 1.5 s before the kill",
        at_kill - committed
    );
    sent_at_kill
}

/// 50 000 spans over about 10 s, the gateway killed mid-run (see [`kill9_run`]).
#[test]
fn gateway_kill9_loses_nothing() {
    let sent_at_kill = kill9_run(REQUESTS, Duration::from_millis(100));
    assert!(
        sent_at_kill < REQUESTS,
        "the load had ended before the kill: lengthen it"
    );
}

/// The issue's full run: 1 M spans (2000 requests of 500, one every 5 ms: ≈ 100 k spans/s),
/// the gateway killed mid-run. Unpaced, a release build delivered all 1 M within the 1.5 s
/// the kill waits after a third arrived, so nothing was left to kill mid-run. A benchmark,
/// not for CI: `cargo test --release -p ferrotel --test kafka -- --ignored --nocapture
/// kafka_bench_kill9`.
#[test]
#[ignore]
fn kafka_bench_kill9_one_million_spans() {
    kill9_run(2000, Duration::from_millis(5));
}

/// The broker stops under load and comes back: the agent keeps acknowledging (its queue holds
/// the data), and every acknowledged span reaches the sink through the gateway.
#[test]
fn broker_restart_under_load_loses_nothing() {
    let Some(bin) = tansu() else { return };
    let mut t = Tier::start(&bin);
    if t.broker.is_mock() {
        eprintln!("*** SKIPPED: librdkafka's mock cluster cannot restart ***");
        return;
    }
    // The load starts once the gateway consumes. tansu 0.6 corrupts a consumer group that is
    // still forming when it stops (its storage task ends first, the JoinGroup in flight
    // panics, and the group is left waiting for a leader that is no member), so the gateway
    // would never be assigned a partition again; Kafka does not, and the subject here is a
    // restart under steady load (seen on CI, where the first join can take seconds).
    const WARM: usize = 10;
    let warm = spans_request("load", &names("warm", 0, WARM));
    assert_eq!(post_otlp(t.http, "/v1/traces", &warm).unwrap(), 200);
    wait_for(
        Duration::from_secs(120),
        "the gateway's first spans at the sink",
        || t.sink.metric("otelcol_receiver_accepted_spans_total", &[]) as usize >= WARM,
    );
    let sent = Arc::new(AtomicUsize::new(0));
    // About 10 s of load, so that it goes on through the 3 s outage.
    let load = load(t.http, sent.clone(), Duration::from_millis(100), REQUESTS);
    wait_for(
        Duration::from_secs(60),
        "a fifth of the requests acknowledged",
        || sent.load(Ordering::SeqCst) >= REQUESTS / 5,
    );
    t.broker.stop();
    let before = sent.load(Ordering::SeqCst);
    assert!(
        before + 20 < REQUESTS,
        "the load was nearly over ({before} requests) when the broker stopped: lengthen it"
    );
    std::thread::sleep(Duration::from_secs(3));
    let during = sent.load(Ordering::SeqCst) - before;
    assert!(
        during > 10,
        "the agent acknowledged {during} requests while the broker was down"
    );
    let queued = t
        .agent
        .metric("otelcol_exporter_queue_size", &[("exporter", "kafka")]);
    t.broker.restart();
    load.join().unwrap();
    let dups = all_delivered(&t, &t.gateway, WARM + REQUESTS * PER_REQUEST);
    eprintln!(
        "broker down 3 s: the agent acknowledged {during} requests meanwhile (queue {queued}); {dups} duplicates"
    );
}

/// Interop with a plain client: Python confluent-kafka consumes what ferrotel produced and
/// decodes it with the official protos (TracesData); what it produces, ferrotel consumes.
#[test]
fn python_confluent_kafka_both_ways() {
    let Some(bin) = tansu() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::with_topics(&bin, dir.path(), &[("to_python", 1), ("from_python", 1)]);
    let http = free_port();
    let b = broker.addr();
    let config = format!(
        r#"
receivers:
  otlp: {{protocols: {{http: {{endpoint: 127.0.0.1:{http}}}}}}}
  kafka:
    brokers: [{b}]
    initial_offset: earliest
    traces: {{topic: from_python}}
exporters:
  kafka:
    brokers: [{b}]
    traces: {{topic: to_python}}
    partition_traces_by_id: true
{files}
service:
  pipelines:
    traces/out: {{receivers: [otlp], exporters: [kafka]}}
    traces/in: {{receivers: [kafka], exporters: [file/traces]}}
"#,
        files = file_exporters(dir.path())
    );
    let _c = Collector::start("py", dir.path(), &config, None);
    let sent = names("to-py", 0, 5);
    assert_eq!(
        post_otlp(http, "/v1/traces", &spans_request("ferrotel", &sent)).unwrap(),
        200
    );
    let script = repo_root().join("tests/interop/kafka_client.py");
    let got = run_client(
        Command::new("python3")
            .arg(&script)
            .args(["consume", &b, "to_python", "1"]),
        PIP_HINT,
    );
    assert_eq!(got[0]["key"], "07".repeat(16));
    assert_eq!(got[0]["service"], serde_json::json!(["ferrotel"]));
    assert_eq!(got[0]["spans"], serde_json::json!(sent));
    let from_py = names("from-py", 0, 4);
    run_client(
        Command::new("python3")
            .arg(&script)
            .args(["produce", &b, "from_python"])
            .args(&from_py),
        PIP_HINT,
    );
    let file = dir.path().join("traces.bin");
    wait_for(Duration::from_secs(60), "the Python client's spans", || {
        span_names(&file) == from_py
    });
}

/// CPU seconds (user + system) a process used so far, from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0 // USER_HZ is 100 on Linux
}

/// The benchmark (docs/benchmarks.md): spans per CPU-second of the agent (OTLP/HTTP in, kafka
/// exporter out) and of the gateway (kafka receiver in, OTLP/gRPC out), 400 requests of 500
/// spans. Run on a release build:
/// `cargo test --release -p ferrotel --test kafka -- --ignored --nocapture kafka_bench`.
#[test]
#[ignore]
fn kafka_bench_spans_per_cpu_second() {
    let Some(bin) = tansu() else { return };
    let t = Tier::start(&bin);
    let (agent, gw, sink, http) = (&t.agent, &t.gateway, &t.sink, t.http);
    let (requests, per) = (400, 500);
    let bodies: Vec<Vec<u8>> = (0..requests)
        .map(|r| spans_request("bench", &names("b", r * per, per)))
        .collect();
    let (a0, g0) = (cpu_seconds(agent.pid()), cpu_seconds(gw.pid()));
    let start = std::time::Instant::now();
    for body in &bodies {
        assert_eq!(post_otlp(http, "/v1/traces", body).unwrap(), 200);
    }
    let total = (requests * per) as f64;
    wait_for(Duration::from_secs(600), "every span at the sink", || {
        sink.metric("otelcol_receiver_accepted_spans_total", &[]) >= total
    });
    let (a, g) = (cpu_seconds(agent.pid()) - a0, cpu_seconds(gw.pid()) - g0);
    eprintln!(
        "kafka bench: {total} spans in {:.1} s; agent (otlp → kafka exporter) {a:.2} CPU-s = {:.0} spans/CPU-s; gateway (kafka receiver → otlp) {g:.2} CPU-s = {:.0} spans/CPU-s",
        start.elapsed().as_secs_f64(),
        total / a,
        total / g
    );
}

/// Go's log encodings beside OTLP's: records a plain client produced read as `raw` (bytes
/// body), `text_utf-16le` (decoded text) and `json` (a map body), one receiver each.
#[test]
fn raw_text_and_json_log_records_through_the_broker() {
    use ferrotel_pdata::proto::common::v1::any_value::Value as V;
    let Some(bin) = tansu() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::with_topics(&bin, dir.path(), &[("raw", 1), ("text", 1), ("json", 1)]);
    let b = broker.addr();
    let config = format!(
        r#"
receivers:
  kafka/raw: {{brokers: [{b}], initial_offset: earliest, group_id: r, logs: {{topic: raw, encoding: raw}}}}
  kafka/text: {{brokers: [{b}], initial_offset: earliest, group_id: t, logs: {{topic: text, encoding: text_utf-16le}}}}
  kafka/json: {{brokers: [{b}], initial_offset: earliest, group_id: j, logs: {{topic: json, encoding: json}}}}
exporters:
{files}
service:
  pipelines:
    logs: {{receivers: [kafka/raw, kafka/text, kafka/json], exporters: [file/logs]}}
"#,
        files = file_exporters(dir.path())
    );
    let utf16: Vec<u8> = "état: ok"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    broker.produce("raw", &[(None, Some(b"\x00raw\xff"))]);
    broker.produce("text", &[(None, Some(&utf16))]);
    broker.produce(
        "json",
        &[
            (None, Some(br#"{"level":"warn","n":7}"#)),
            // Not an object: skipped and counted, as Go refuses it.
            (None, Some(b"[1]")),
        ],
    );
    let _c = Collector::start("logs", dir.path(), &config, None);
    let file = dir.path().join("logs.bin");
    let bodies = || -> Vec<V> {
        logs(&file)
            .iter()
            .flat_map(|r| &r.resource_logs)
            .flat_map(|r| &r.scope_logs)
            .flat_map(|s| &s.log_records)
            .filter_map(|l| l.body.clone()?.value)
            .collect()
    };
    wait_for(Duration::from_secs(60), "three log records", || {
        bodies().len() >= 3
    });
    settled(&file, Duration::from_secs(1), Duration::from_secs(30));
    let got = bodies();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.contains(&V::BytesValue(bytes::Bytes::from_static(b"\x00raw\xff"))));
    assert!(got.contains(&V::StringValue("état: ok".into())));
    let map = got
        .iter()
        .find_map(|v| match v {
            V::KvlistValue(m) => Some(m),
            _ => None,
        })
        .expect("the json record's map");
    let n = map.values.iter().find(|kv| kv.key == "n").unwrap();
    assert_eq!(n.value.as_ref().unwrap().value, Some(V::DoubleValue(7.0)));
}
