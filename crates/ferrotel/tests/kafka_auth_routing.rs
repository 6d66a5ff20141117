//! Kafka (issue 24) against the real broker, continued from tests/kafka.rs: SASL SCRAM and TLS
//! with the Go Collector's `auth` keys, refused credentials and untrusted certificates, and
//! the routing keys — `header_extraction`, `topic_from_metadata_key` with `include_metadata`,
//! `include_metadata_keys`, `topic_from_attribute`, and receiver topic patterns (`^…`).
//!
//! What tansu 0.6 cannot do, and how the tests get around it:
//! - SASL PLAIN: its SASL library is built without the PLAIN mechanism (the handshake is
//!   refused, "broker's supported mechanisms: (n/a)"), so only SCRAM-SHA-256/512 are shown;
//! - TLS: `--cert`/`--key` are accepted and ignored (it serves plaintext), so TLS is shown
//!   through a TLS-terminating proxy in front of it (kafka_support::tls_proxy), with and
//!   without client certificates (mutual TLS);
//! - with `--authentication` on, users cannot be created; they are created first and the
//!   broker restarted (Broker::secured).

mod interop_support;
mod kafka_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use ferrotel_pdata::Request;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue, any_value};
use interop_support::*;
use kafka_support::{Broker, file_exporters, names, tansu, tls_proxy};

/// The tansu binary, unless missing or the mock cluster stands in (it has no SASL, and
/// cannot take users or a different advertised port).
fn real_tansu() -> Option<std::path::PathBuf> {
    let bin = tansu()?;
    if bin.ends_with("mock_broker") {
        eprintln!("*** SKIPPED: librdkafka's mock cluster has no SASL users or TLS ***");
        return None;
    }
    Some(bin)
}

fn sasl(mechanism: &str, user: &str, password: &str) -> String {
    format!("{{sasl: {{mechanism: {mechanism}, username: {user}, password: {password}}}}}")
}

/// A traces request of `spans` whose resource has `attrs` (string values) besides
/// service.name.
fn request_with(spans: &[String], attrs: &[(&str, &str)]) -> Vec<u8> {
    let body = spans_request("svc", spans);
    let Request::Traces(mut t) =
        ferrotel_pdata::Payload::from_proto(ferrotel_pdata::Signal::Traces, body.into())
            .unwrap()
            .into_request()
            .unwrap()
    else {
        unreachable!()
    };
    let resource = t.resource_spans[0]
        .resource
        .get_or_insert_with(Default::default);
    for (k, v) in attrs {
        resource.attributes.push(KeyValue {
            key: k.to_string(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(v.to_string())),
            }),
            ..Default::default()
        });
    }
    Request::Traces(t).encode_proto().to_vec()
}

/// The sorted span names of a traces file.
fn sorted_names(file: &std::path::Path) -> Vec<String> {
    let mut n = span_names(file);
    n.sort();
    n
}

/// One exporter and one receiver per SCRAM mechanism, each as its own broker user: every
/// span goes out through both exporters and comes back through both receivers.
#[test]
fn sasl_scram_256_and_512_both_ways() {
    let Some(bin) = real_tansu() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (a512, b256) = (
        ("SCRAM-SHA-512", "alice", "alice-secret"),
        ("SCRAM-SHA-256", "bob", "bob-secret"),
    );
    let broker = Broker::secured(
        &bin,
        dir.path(),
        &[("s512", 1), ("s256", 1)],
        &[a512, b256],
        None,
    );
    let (http, m) = (free_port(), free_port());
    let b = broker.addr();
    let (auth512, auth256) = (sasl(a512.0, a512.1, a512.2), sasl(b256.0, b256.1, b256.2));
    let config = format!(
        r#"
receivers:
  otlp: {{protocols: {{http: {{endpoint: 127.0.0.1:{http}}}}}}}
  kafka/512: {{brokers: [{b}], group_id: g512, initial_offset: earliest, traces: {{topic: s512}}, auth: {auth512}}}
  kafka/256: {{brokers: [{b}], group_id: g256, initial_offset: earliest, traces: {{topic: s256}}, auth: {auth256}}}
exporters:
  kafka/512: {{brokers: [{b}], traces: {{topic: s512}}, auth: {auth512}}}
  kafka/256: {{brokers: [{b}], traces: {{topic: s256}}, auth: {auth256}}}
{files}
service:
  telemetry: {{metrics: {{address: 127.0.0.1:{m}}}}}
  pipelines:
    traces/in: {{receivers: [otlp], exporters: [kafka/512, kafka/256]}}
    traces/out: {{receivers: [kafka/512, kafka/256], exporters: [file/traces]}}
"#,
        files = file_exporters(dir.path())
    );
    let c = Collector::start("sasl", dir.path(), &config, Some(m));
    let sent = names("scram", 0, 30);
    for chunk in sent.chunks(10) {
        let body = spans_request("svc", chunk);
        assert_eq!(post_otlp(http, "/v1/traces", &body).unwrap(), 200);
    }
    let file = dir.path().join("traces.bin");
    wait_for(
        Duration::from_secs(60),
        "each span through both users",
        || span_names(&file).len() >= 60,
    );
    let mut twice: Vec<String> = sent.iter().chain(&sent).cloned().collect();
    twice.sort();
    assert_eq!(sorted_names(&file), twice);
    for id in ["kafka/512", "kafka/256"] {
        assert_eq!(
            c.metric("otelcol_receiver_accepted_spans_total", &[("receiver", id)]),
            30.0
        );
        assert_eq!(
            c.metric("otelcol_exporter_sent_spans_total", &[("exporter", id)]),
            30.0
        );
    }
}

/// A wrong password: the exporter's sends fail, are counted and logged with the broker's
/// reason; the receiver logs and counts the refusal; the same collector's correctly
/// configured pair keeps delivering; and the refusal is not logged at librdkafka's retry
/// rate (tens a second).
#[test]
fn sasl_refused_credentials_are_logged_and_counted() {
    let Some(bin) = real_tansu() else { return };
    let dir = tempfile::tempdir().unwrap();
    let user = ("SCRAM-SHA-512", "alice", "alice-secret");
    let broker = Broker::secured(&bin, dir.path(), &[("t", 1)], &[user], None);
    let (http, m) = (free_port(), free_port());
    let b = broker.addr();
    let good = sasl(user.0, user.1, user.2);
    let bad = sasl(user.0, user.1, "not-her-password");
    let config = format!(
        r#"
receivers:
  otlp: {{protocols: {{http: {{endpoint: 127.0.0.1:{http}}}}}}}
  kafka/good: {{brokers: [{b}], group_id: good, initial_offset: earliest, traces: {{topic: t}}, auth: {good}}}
  kafka/bad: {{brokers: [{b}], group_id: bad, initial_offset: earliest, traces: {{topic: t}}, auth: {bad}}}
exporters:
  kafka/good: {{brokers: [{b}], traces: {{topic: t}}, auth: {good}}}
  kafka/bad:
    brokers: [{b}]
    traces: {{topic: t}}
    auth: {bad}
    timeout: 2s
    retry_on_failure: {{enabled: false}}
{files}
service:
  telemetry: {{metrics: {{address: 127.0.0.1:{m}}}}}
  pipelines:
    traces/in: {{receivers: [otlp], exporters: [kafka/good, kafka/bad]}}
    traces/out: {{receivers: [kafka/good, kafka/bad], exporters: [file/traces]}}
"#,
        files = file_exporters(dir.path())
    );
    let c = Collector::start("sasl-bad", dir.path(), &config, Some(m));
    let body = spans_request("svc", &names("first", 0, 5));
    assert_eq!(post_otlp(http, "/v1/traces", &body).unwrap(), 200);
    let bad_exporter = [("exporter", "kafka/bad")];
    wait_for(Duration::from_secs(30), "the refused sends counted", || {
        c.metric("otelcol_exporter_send_failed_spans_total", &bad_exporter) == 5.0
    });
    let file = dir.path().join("traces.bin");
    wait_for(Duration::from_secs(60), "the good pair's spans", || {
        span_names(&file).len() == 5
    });
    assert!(
        c.metric(
            "ferrotel_kafka_receiver_consumer_errors_total",
            &[("receiver", "kafka/bad")]
        ) > 0.0
    );
    // Still running: a second request goes the good way too.
    let body = spans_request("svc", &names("second", 0, 5));
    assert_eq!(post_otlp(http, "/v1/traces", &body).unwrap(), 200);
    wait_for(Duration::from_secs(60), "the second request", || {
        span_names(&file).len() == 10
    });
    wait_for(Duration::from_secs(30), "the second refused send", || {
        c.metric("otelcol_exporter_send_failed_spans_total", &bad_exporter) == 10.0
    });
    let log = c.log();
    let dropped: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("kafka/bad") && l.contains("dropping data"))
        .collect();
    assert_eq!(dropped.len(), 2, "{log}");
    assert!(
        dropped
            .iter()
            .all(|l| l.contains("SASL SCRAM authentication failed")),
        "the send failure says why: {dropped:?}"
    );
    let refusals = log.matches("invalid-proof").count();
    assert!(
        (2..=12).contains(&refusals),
        "{refusals} lines name the refusal (once per component and line per 30 s, plus the \
         two dropped sends):\n{log}"
    );
    assert_eq!(
        c.metric(
            "otelcol_exporter_send_failed_spans_total",
            &[("exporter", "kafka/good")]
        ),
        0.0
    );
}

/// TLS with `auth::tls::ca_file` (and the newer top-level `tls`) to a broker behind a TLS
/// terminator: delivered both ways. Without the CA, the exporter's sends fail, counted and
/// logged with the certificate error, and the receiver counts its errors; the collector
/// runs on.
#[test]
fn tls_with_and_without_the_ca() {
    let Some(bin) = real_tansu() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_pki(dir.path());
    let tls_port = free_port();
    let broker = Broker::secured(&bin, dir.path(), &[("tls", 1)], &[], Some(tls_port));
    tls_proxy(tls_port, broker.port, &cert, &key, None);
    let (http, m) = (free_port(), free_port());
    let b = format!("127.0.0.1:{tls_port}");
    let ca = ca.display();
    let config = format!(
        r#"
receivers:
  otlp: {{protocols: {{http: {{endpoint: 127.0.0.1:{http}}}}}}}
  kafka: {{brokers: [{b}], initial_offset: earliest, traces: {{topic: tls}}, auth: {{tls: {{ca_file: {ca}}}}}}}
  kafka/noca: {{brokers: [{b}], group_id: noca, initial_offset: earliest, traces: {{topic: tls}}, tls: {{}}}}
exporters:
  kafka: {{brokers: [{b}], traces: {{topic: tls}}, tls: {{ca_file: {ca}}}}}
  kafka/noca:
    brokers: [{b}]
    traces: {{topic: tls}}
    auth: {{tls: {{insecure: false}}}}
    timeout: 2s
    retry_on_failure: {{enabled: false}}
{files}
service:
  telemetry: {{metrics: {{address: 127.0.0.1:{m}}}}}
  pipelines:
    traces/in: {{receivers: [otlp], exporters: [kafka, kafka/noca]}}
    traces/out: {{receivers: [kafka, kafka/noca], exporters: [file/traces]}}
"#,
        files = file_exporters(dir.path())
    );
    let c = Collector::start("tls", dir.path(), &config, Some(m));
    let dropped = one_pair_delivers_the_other_fails(&c, dir.path(), http, "tls", "noca");
    assert!(dropped.contains("certificate verify failed"), "{dropped}");
}

/// Both TLS tests: 8 spans posted to the agent side reach the file once, through `kafka`;
/// `kafka/<bad>` (exporter and receiver) fails: the sends counted, the receiver's errors
/// counted. Returns the log line of the dropped send.
fn one_pair_delivers_the_other_fails(
    c: &Collector,
    dir: &Path,
    http: u16,
    prefix: &str,
    bad: &str,
) -> String {
    let sent = names(prefix, 0, 8);
    assert_eq!(
        post_otlp(http, "/v1/traces", &spans_request("svc", &sent)).unwrap(),
        200
    );
    let file = dir.join("traces.bin");
    wait_for(
        Duration::from_secs(60),
        "the spans through the good pair",
        || span_names(&file).len() >= 8,
    );
    let exporter = format!("kafka/{bad}");
    let failed = [("exporter", exporter.as_str())];
    wait_for(Duration::from_secs(30), "the failed sends counted", || {
        c.metric("otelcol_exporter_send_failed_spans_total", &failed) == 8.0
    });
    assert_eq!(sorted_names(&file), sent, "once, through the good pair");
    assert_eq!(
        c.metric(
            "otelcol_exporter_sent_spans_total",
            &[("exporter", "kafka")]
        ),
        8.0
    );
    assert!(
        c.metric(
            "ferrotel_kafka_receiver_consumer_errors_total",
            &[("receiver", exporter.as_str())]
        ) > 0.0
    );
    let log = c.log();
    log.lines()
        .find(|l| l.contains(&exporter) && l.contains("dropping data"))
        .unwrap_or_else(|| panic!("no dropped send logged:\n{log}"))
        .to_string()
}

/// Mutual TLS: a terminator that requires a client certificate signed by the test CA (the
/// test PKI's one certificate serves as the client's too). With `cert_file`/`key_file`,
/// delivered both ways; without, the exporter's sends fail, counted and logged, and the
/// receiver counts its errors.
#[test]
fn mutual_tls_with_and_without_a_client_certificate() {
    let Some(bin) = real_tansu() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_pki(dir.path());
    let tls_port = free_port();
    let broker = Broker::secured(&bin, dir.path(), &[("mtls", 1)], &[], Some(tls_port));
    tls_proxy(tls_port, broker.port, &cert, &key, Some(&ca));
    let (http, m) = (free_port(), free_port());
    let b = format!("127.0.0.1:{tls_port}");
    let (ca, cert, key) = (ca.display(), cert.display(), key.display());
    let config = format!(
        r#"
receivers:
  otlp: {{protocols: {{http: {{endpoint: 127.0.0.1:{http}}}}}}}
  kafka: {{brokers: [{b}], initial_offset: earliest, traces: {{topic: mtls}}, tls: {{ca_file: {ca}, cert_file: {cert}, key_file: {key}}}}}
  kafka/nocert: {{brokers: [{b}], group_id: nocert, initial_offset: earliest, traces: {{topic: mtls}}, tls: {{ca_file: {ca}}}}}
exporters:
  kafka: {{brokers: [{b}], traces: {{topic: mtls}}, auth: {{tls: {{ca_file: {ca}, cert_file: {cert}, key_file: {key}}}}}}}
  kafka/nocert:
    brokers: [{b}]
    traces: {{topic: mtls}}
    tls: {{ca_file: {ca}}}
    timeout: 2s
    retry_on_failure: {{enabled: false}}
{files}
service:
  telemetry: {{metrics: {{address: 127.0.0.1:{m}}}}}
  pipelines:
    traces/in: {{receivers: [otlp], exporters: [kafka, kafka/nocert]}}
    traces/out: {{receivers: [kafka, kafka/nocert], exporters: [file/traces]}}
"#,
        files = file_exporters(dir.path())
    );
    let c = Collector::start("mtls", dir.path(), &config, Some(m));
    let dropped = one_pair_delivers_the_other_fails(&c, dir.path(), http, "mtls", "nocert");
    // librdkafka: "… tlsv13 alert certificate required …", the server's alert.
    assert!(dropped.contains("certificate required"), "{dropped}");
}

/// `header_extraction`: the listed record headers become resource attributes
/// `kafka.header.<name>` (as Go documents); others are left out.
#[test]
fn header_extraction_to_resource_attributes() {
    let Some(bin) = tansu() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::with_topics(&bin, dir.path(), &[("hdr", 1)]);
    let b = broker.addr();
    let config = format!(
        r#"
receivers:
  kafka:
    brokers: [{b}]
    initial_offset: earliest
    traces: {{topic: hdr}}
    header_extraction: {{extract_headers: true, headers: [tenant, region, absent]}}
exporters:
{files}
service:
  pipelines:
    traces: {{receivers: [kafka], exporters: [file/traces]}}
"#,
        files = file_exporters(dir.path())
    );
    let body = spans_request("svc", &names("h", 0, 3));
    broker.produce_with_headers(
        "hdr",
        &[(None, Some(&body))],
        &[("tenant", "acme"), ("region", "eu-1"), ("other", "x")],
    );
    let _c = Collector::start("hdr", dir.path(), &config, None);
    let file = dir.path().join("traces.bin");
    wait_for(Duration::from_secs(60), "the record", || {
        span_names(&file).len() == 3
    });
    let got = traces(&file);
    let attrs: BTreeMap<String, String> = got[0].resource_spans[0]
        .resource
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .map(|kv| {
            let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(any_value::Value::StringValue(s)) => s.clone(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), v)
        })
        .collect();
    let want: BTreeMap<String, String> = [
        ("kafka.header.region", "eu-1"),
        ("kafka.header.tenant", "acme"),
        ("service.name", "svc"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(attrs, want);
}

/// Where the exporter writes: the request's client metadata under `topic_from_metadata_key`
/// (the OTLP receiver's `include_metadata`), else the first resource's
/// `topic_from_attribute`, else the configured topic; `include_metadata_keys` become record
/// headers. A receiver subscribed to the pattern `^tenant-.*` reads the tenants' topics
/// only.
#[test]
fn topics_from_metadata_attributes_and_patterns() {
    let Some(bin) = tansu() else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::with_topics(
        &bin,
        dir.path(),
        &[
            ("tenant-a", 1),
            ("tenant-b", 1),
            ("from-attribute", 1),
            ("configured", 1),
        ],
    );
    let http = free_port();
    let b = broker.addr();
    let config = format!(
        r#"
receivers:
  otlp: {{protocols: {{http: {{endpoint: 127.0.0.1:{http}, include_metadata: true}}}}}}
  kafka:
    brokers: [{b}]
    initial_offset: earliest
    traces: {{topics: ["^tenant-.*"]}}
exporters:
  kafka:
    brokers: [{b}]
    traces: {{topic: configured}}
    topic_from_metadata_key: x-tenant
    topic_from_attribute: kafka.topic
    include_metadata_keys: [x-tenant, x-request-id]
{files}
service:
  pipelines:
    traces/in: {{receivers: [otlp], exporters: [kafka]}}
    traces/out: {{receivers: [kafka], exporters: [file/traces]}}
"#,
        files = file_exporters(dir.path())
    );
    let _c = Collector::start("routing", dir.path(), &config, None);
    let attr = [("kafka.topic", "from-attribute")];
    let post = |name: &str, attrs: &[(&str, &str)], headers: &[(&str, &str)]| {
        let body = request_with(&names(name, 0, 2), attrs);
        assert_eq!(
            post_otlp_with(http, "/v1/traces", &body, headers).unwrap(),
            200
        );
    };
    // The metadata wins over the attribute.
    post(
        "a",
        &attr,
        &[("X-Tenant", "tenant-a"), ("X-Request-Id", "r-1")],
    );
    post("b", &[], &[("X-Tenant", "tenant-b")]);
    post("attr", &attr, &[]);
    post("conf", &[], &[]);
    let span_names_of = |r: &kafka_support::ReadRecord| {
        let t = <ExportTraceServiceRequest as prost::Message>::decode(&r.value[..]).unwrap();
        t.resource_spans[0].scope_spans[0].spans[0].name.clone()
    };
    let headers = |h: &[(&str, &str)]| -> Vec<(String, String)> {
        h.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    for (topic, first_span, want_headers) in [
        (
            "tenant-a",
            "a-0",
            headers(&[("x-tenant", "tenant-a"), ("x-request-id", "r-1")]),
        ),
        ("tenant-b", "b-0", headers(&[("x-tenant", "tenant-b")])),
        ("from-attribute", "attr-0", vec![]),
        ("configured", "conf-0", vec![]),
    ] {
        let records = broker.read_records(topic, 1);
        assert_eq!(span_names_of(&records[0]), first_span, "topic {topic}");
        assert_eq!(records[0].headers, want_headers, "topic {topic}");
    }
    let file = dir.path().join("traces.bin");
    wait_for(Duration::from_secs(60), "the tenants' spans", || {
        span_names(&file).len() >= 4
    });
    // Give the other topics' records time to (wrongly) arrive.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(sorted_names(&file), ["a-0", "a-1", "b-0", "b-1"]);
}
