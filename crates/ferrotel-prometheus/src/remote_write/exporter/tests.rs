use std::sync::Mutex;

use ferrotel_pdata::proto::metrics::v1::{
    ExponentialHistogram, ExponentialHistogramDataPoint, exponential_histogram_data_point::Buckets,
    metric::Data,
};

use super::convert::{batches, convert, native_histogram};
use super::*;
use crate::remote_write::proto::{Label, WriteRequest};
use crate::testing::*;

fn settings(json: &str) -> Settings {
    let c: RemoteWriteExporterConfig = serde_json::from_str(json).unwrap();
    let strategy = TranslationStrategy::resolve(c.translation_strategy, c.add_metric_suffixes);
    Settings {
        namer: MetricNamer::new(&c.namespace, strategy),
        labels: LabelOptions {
            strategy,
            resource_to_telemetry: c.resource_to_telemetry_conversion.enabled,
            scope_info: false,
        },
        external_labels: c.external_labels.into_iter().collect(),
        target_info: c.target_info.enabled,
    }
}

fn labels(ts: &crate::remote_write::proto::TimeSeries) -> String {
    ts.labels
        .iter()
        .map(|Label { name, value }| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn resource() -> Vec<ferrotel_pdata::proto::common::v1::KeyValue> {
    vec![
        kv("service.name", "api"),
        kv("service.instance.id", "i1"),
        kv("host.name", "h"),
    ]
}

#[test]
fn counters_gauges_histograms_target_info() {
    let s = settings(r#"{"external_labels": {"cluster": "c1"}}"#);
    let req = request(
        resource(),
        vec![
            metric(
                "http.requests",
                "",
                sum(
                    vec![
                        number(vec![kv("m", "GET")], 5.0, T0 + 2_000_000),
                        number(vec![kv("m", "GET")], 4.0, T0 + 1_000_000),
                    ],
                    2,
                    true,
                ),
            ),
            metric("temp", "Cel", gauge(vec![number(vec![], 21.5, T0)])),
            metric(
                "lat",
                "s",
                histogram(vec![], vec![0.5], vec![2, 1], 1.25, T0),
            ),
            metric("deltas", "", sum(vec![number(vec![], 1.0, T0)], 1, true)),
        ],
    );
    let c = convert(&req, &s);
    assert_eq!(c.dropped, 1);
    let got: Vec<String> = c
        .series
        .iter()
        .map(|ts| {
            format!(
                "{} {:?}",
                labels(ts),
                ts.samples
                    .iter()
                    .map(|s| (s.value, s.timestamp))
                    .collect::<Vec<_>>()
            )
        })
        .collect();
    let t = (T0 / 1_000_000) as i64;
    assert_eq!(
        got,
        vec![
            format!(
                "__name__=http_requests_total,cluster=c1,instance=i1,job=api,m=GET [(4.0, {}), (5.0, {})]",
                t + 1,
                t + 2
            ),
            format!("__name__=temp_celsius,cluster=c1,instance=i1,job=api [(21.5, {t})]"),
            format!(
                "__name__=lat_seconds_bucket,cluster=c1,instance=i1,job=api,le=0.5 [(2.0, {t})]"
            ),
            format!(
                "__name__=lat_seconds_bucket,cluster=c1,instance=i1,job=api,le=+Inf [(3.0, {t})]"
            ),
            format!("__name__=lat_seconds_sum,cluster=c1,instance=i1,job=api [(1.25, {t})]"),
            format!("__name__=lat_seconds_count,cluster=c1,instance=i1,job=api [(3.0, {t})]"),
            format!(
                "__name__=target_info,cluster=c1,host_name=h,instance=i1,job=api [(1.0, {})]",
                t + 2
            ),
        ]
    );
}

#[test]
fn stale_points_and_resource_to_telemetry() {
    let s = settings(
        r#"{"resource_to_telemetry_conversion": {"enabled": true}, "target_info": {"enabled": false}}"#,
    );
    let mut p = number(vec![], 1.0, T0);
    p.flags = 1;
    let c = convert(
        &request(resource(), vec![metric("g", "", gauge(vec![p]))]),
        &s,
    );
    assert_eq!(c.series.len(), 1);
    assert_eq!(
        labels(&c.series[0]),
        "__name__=g,host_name=h,instance=i1,job=api,service_instance_id=i1,service_name=api"
    );
    assert_eq!(
        c.series[0].samples[0].value.to_bits(),
        crate::series::STALE_NAN
    );
}

#[test]
fn exponential_to_native() {
    let p = ExponentialHistogramDataPoint {
        time_unix_nano: T0,
        count: 6,
        sum: Some(12.0),
        scale: 2,
        zero_count: 1,
        positive: Some(Buckets {
            offset: -1,
            bucket_counts: vec![2, 0, 3],
        }),
        ..Default::default()
    };
    let h = native_histogram(&p).unwrap();
    assert_eq!(h.schema, 2);
    assert_eq!(
        h.positive_spans,
        vec![crate::remote_write::proto::BucketSpan {
            offset: 0,
            length: 3
        }]
    );
    assert_eq!(h.positive_deltas, vec![2, -2, 3]);
    // Scale 10 merges 4:1 down to schema 8.
    let p10 = ExponentialHistogramDataPoint {
        scale: 10,
        positive: Some(Buckets {
            offset: 0,
            bucket_counts: vec![1, 1, 1, 1, 5],
        }),
        ..p.clone()
    };
    let h = native_histogram(&p10).unwrap();
    assert_eq!(
        (
            h.schema,
            h.positive_spans[0].offset,
            h.positive_deltas.clone()
        ),
        (8, 1, vec![4, 1])
    );
    assert!(
        native_histogram(&ExponentialHistogramDataPoint {
            scale: -5,
            ..p.clone()
        })
        .is_err()
    );
    let s = settings("{}");
    let m = metric(
        "size",
        "By",
        Data::ExponentialHistogram(ExponentialHistogram {
            data_points: vec![p],
            aggregation_temporality: 2,
        }),
    );
    let c = convert(&request(vec![], vec![m]), &s);
    assert_eq!(labels(&c.series[0]), "__name__=size_bytes");
    assert_eq!(c.series[0].histograms.len(), 1);
}

#[test]
fn batches_respect_the_size_limit() {
    let s = settings("{}");
    let points: Vec<_> = (0..1000)
        .map(|i| number(vec![kv("i", &i.to_string())], 1.0, T0))
        .collect();
    let c = convert(
        &request(resource(), vec![metric("g", "", gauge(points))]),
        &s,
    );
    let n = c.series.len();
    let b = batches(c.series, 4096);
    assert!(b.len() > 5);
    assert_eq!(b.iter().map(|r| r.timeseries.len()).sum::<usize>(), n);
    for r in &b {
        assert!(r.encoded_len() <= 4096);
    }
}

/// A remote-write endpoint that answers with the queued statuses and records what it got.
async fn mock(
    statuses: Vec<u16>,
) -> (
    ferrotel_otlp::server::PlainHttpServer,
    String,
    Arc<Mutex<Vec<(http::HeaderMap, WriteRequest)>>>,
) {
    use http_body_util::BodyExt;
    let got = Arc::new(Mutex::new(Vec::new()));
    let statuses = Arc::new(Mutex::new(statuses));
    let server = ferrotel_otlp::server::PlainHttpServer::default();
    let g = got.clone();
    let handler = move |req: ferrotel_otlp::server::PlainRequest| {
        let g = g.clone();
        let statuses = statuses.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let body = body.collect().await.unwrap().to_bytes();
            let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
            g.lock()
                .unwrap()
                .push((parts.headers, WriteRequest::decode(&raw[..]).unwrap()));
            let s = {
                let mut s = statuses.lock().unwrap();
                if s.is_empty() { 204 } else { s.remove(0) }
            };
            ferrotel_otlp::server::text_response(http::StatusCode::from_u16(s).unwrap(), "nope")
        })
    };
    let addr = server
        .start("mock", "127.0.0.1:0".parse().unwrap(), None, handler)
        .await
        .unwrap();
    (server, format!("http://{addr}/api/v1/write"), got)
}

#[tokio::test]
async fn sends_with_protocol_headers_and_classifies_failures() {
    let (_server, url, got) = mock(vec![500, 429, 400]).await;
    let c: RemoteWriteExporterConfig = serde_json::from_str(&format!(
        r#"{{"endpoint": "{url}", "headers": {{"X-Scope-OrgID": "t1"}}}}"#
    ))
    .unwrap();
    let client = PostClient::new(PostSettings {
        url: url.clone(),
        headers: c.headers.clone().into_iter().collect(),
        timeout: c.timeout,
        ..Default::default()
    })
    .unwrap();
    let sender = RemoteWriteSender::new("prw", &c, client);
    let payload = || {
        Payload::from_request(Request::Metrics(request(
            resource(),
            vec![metric("g", "", gauge(vec![number(vec![], 1.0, T0)]))],
        )))
    };
    let e = sender
        .send(payload(), Context::default())
        .await
        .unwrap_err();
    assert!(
        e.retryable && e.message.contains("HTTP 500"),
        "{}",
        e.message
    );
    let e = sender
        .send(payload(), Context::default())
        .await
        .unwrap_err();
    assert!(e.retryable && e.message.contains("HTTP 429"));
    let e = sender
        .send(payload(), Context::default())
        .await
        .unwrap_err();
    assert!(
        !e.retryable && e.message.contains("HTTP 400") && e.message.contains("nope"),
        "{}",
        e.message
    );
    sender.send(payload(), Context::default()).await.unwrap();
    let got = got.lock().unwrap();
    assert_eq!(got.len(), 4);
    let (h, w) = &got[3];
    assert_eq!(h["content-encoding"], "snappy");
    assert_eq!(h["content-type"], "application/x-protobuf");
    assert_eq!(h["x-prometheus-remote-write-version"], "0.1.0");
    assert_eq!(h["x-scope-orgid"], "t1");
    assert_eq!(w.timeseries.len(), 2, "g and target_info");
}

#[test]
fn config_defaults_and_validation() {
    use ferrotel_runtime::ComponentConfig;
    let c = RemoteWriteExporterConfig::default();
    assert_eq!(c.max_batch_size_bytes, 3_000_000);
    assert!(c.validate().unwrap_err().to_string().contains("endpoint"));
    let c: RemoteWriteExporterConfig = serde_json::from_str(
        r#"{"endpoint": "http://p:9090/api/v1/write", "wal": {"directory": "/x"}}"#,
    )
    .unwrap();
    assert!(c.validate().unwrap_err().to_string().contains("wal"));
    let c: RemoteWriteExporterConfig = serde_json::from_str(r#"{"endpoint": "p:9090"}"#).unwrap();
    assert!(c.validate().is_err());
    let c: RemoteWriteExporterConfig = serde_json::from_str(
        r#"{"endpoint": "http://p/api/v1/write", "protobuf_message": "io.prometheus.write.v2.Request"}"#,
    )
    .unwrap();
    assert!(c.validate().unwrap_err().to_string().contains("1.0"));
    // Go keys accepted without effect.
    let c: RemoteWriteExporterConfig = serde_json::from_str(
        r#"{"endpoint": "http://p/api/v1/write", "send_metadata": true,
            "export_created_metric": {"enabled": true}, "max_batch_request_parallelism": 4}"#,
    )
    .unwrap();
    assert!(c.validate().is_ok());
}

fn build(json: &str) -> Arc<dyn Exporter> {
    let c: RemoteWriteExporterConfig = serde_json::from_str(json).unwrap();
    ferrotel_runtime::ComponentConfig::validate(&c).unwrap();
    let ctx = CreateContext {
        id: "prometheusremotewrite".parse().unwrap(),
        kind: Kind::Exporter,
        pipeline: None,
        telemetry: Telemetry::default(),
        extensions: Arc::new(Vec::new()),
    };
    RemoteWriteExporterFactory
        .create(ctx, c, &[Signal::Metrics])
        .unwrap()
}

fn gauge_payload() -> Payload {
    Payload::from_request(Request::Metrics(request(
        resource(),
        vec![metric("g", "", gauge(vec![number(vec![], 1.0, T0)]))],
    )))
}

/// Go's `remote_write_queue` on the shared sending queue, built through the factory:
/// `num_consumers` requests in flight at once, `queue_size` more waiting, the next refused.
/// The peer accepts connections and never answers, so every send stays in flight.
#[tokio::test]
async fn remote_write_queue_sizes_the_sending_queue() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let conns = Arc::new(AtomicUsize::new(0));
    let counted = conns.clone();
    tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            open.push(s);
        }
    });
    let e = build(&format!(
        r#"{{"endpoint": "http://{addr}/api/v1/write", "timeout": "60s",
            "retry_on_failure": {{"enabled": false}},
            "remote_write_queue": {{"queue_size": 1, "num_consumers": 2}}}}"#
    ));
    e.start().await.unwrap();
    // One at a time: each leaves the one-request queue once a consumer has taken it.
    for in_flight in 1..=2 {
        e.consume(gauge_payload(), Context::default())
            .await
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while conns.load(Ordering::SeqCst) < in_flight {
            assert!(
                std::time::Instant::now() < deadline,
                "{in_flight} consumers should each have a request in flight"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    e.consume(gauge_payload(), Context::default())
        .await
        .expect("one request fits the queue");
    let full = e
        .consume(gauge_payload(), Context::default())
        .await
        .unwrap_err();
    assert!(full.to_string().contains("full"), "{full}");
    // Still two in flight: the third waits in the queue.
    assert_eq!(conns.load(Ordering::SeqCst), 2);
}

/// `remote_write_queue: {enabled: false}`: no queue, the caller gets the peer's verdict.
#[tokio::test]
async fn remote_write_queue_disabled_sends_synchronously() {
    let (_server, url, got) = mock(vec![400]).await;
    let e = build(&format!(
        r#"{{"endpoint": "{url}", "remote_write_queue": {{"enabled": false}}}}"#
    ));
    e.start().await.unwrap();
    let err = e
        .consume(gauge_payload(), Context::default())
        .await
        .unwrap_err();
    assert!(
        !err.is_retryable() && err.to_string().contains("HTTP 400"),
        "{err}"
    );
    e.consume(gauge_payload(), Context::default())
        .await
        .unwrap();
    // Sent before consume returned, not later by a queue consumer.
    assert_eq!(got.lock().unwrap().len(), 2);
    // The same peer behind the default queue: accepted at once, the 400 only logged.
    let (_server, url, got) = mock(vec![400]).await;
    let e = build(&format!(r#"{{"endpoint": "{url}"}}"#));
    e.start().await.unwrap();
    e.consume(gauge_payload(), Context::default())
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while got.lock().unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
