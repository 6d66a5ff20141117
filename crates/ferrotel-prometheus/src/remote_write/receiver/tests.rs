use std::sync::Mutex as StdMutex;

use ferrotel_pdata::proto::metrics::v1::{
    ExponentialHistogramDataPoint, exponential_histogram_data_point::Buckets, metric::Data,
};
use prost::Message;

use super::decode::{Version, decode_body};
use super::to_otlp::to_otlp;
use super::*;
use crate::remote_write::proto::{
    self, Label, MetricMetadata, MetricType, Sample, TimeSeries, WriteRequest,
};

fn ts(labels: &[(&str, &str)], samples: &[(f64, i64)]) -> TimeSeries {
    TimeSeries {
        labels: labels
            .iter()
            .map(|(n, v)| Label {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect(),
        samples: samples
            .iter()
            .map(|(value, timestamp)| Sample {
                value: *value,
                timestamp: *timestamp,
            })
            .collect(),
        ..Default::default()
    }
}

fn snappy(b: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(b).unwrap()
}

fn meta(name: &str, t: MetricType) -> MetricMetadata {
    MetricMetadata {
        r#type: t as i32,
        metric_family_name: name.into(),
        help: format!("{name} help"),
        unit: String::new(),
    }
}

fn v1_request() -> WriteRequest {
    WriteRequest {
        timeseries: vec![
            ts(
                &[
                    ("__name__", "http_requests_total"),
                    ("job", "shop/api"),
                    ("instance", "h:1"),
                    ("code", "200"),
                ],
                &[(5.0, 1000), (7.0, 2000)],
            ),
            ts(
                &[
                    ("__name__", "temperature"),
                    ("job", "shop/api"),
                    ("instance", "h:1"),
                ],
                &[(21.5, 1000)],
            ),
            ts(
                &[
                    ("__name__", "lat_bucket"),
                    ("job", "shop/api"),
                    ("instance", "h:1"),
                    ("le", "0.5"),
                ],
                &[(2.0, 1000)],
            ),
            ts(
                &[
                    ("__name__", "lat_bucket"),
                    ("job", "shop/api"),
                    ("instance", "h:1"),
                    ("le", "+Inf"),
                ],
                &[(3.0, 1000)],
            ),
            ts(
                &[
                    ("__name__", "lat_sum"),
                    ("job", "shop/api"),
                    ("instance", "h:1"),
                ],
                &[(1.25, 1000)],
            ),
            ts(
                &[
                    ("__name__", "lat_count"),
                    ("job", "shop/api"),
                    ("instance", "h:1"),
                ],
                &[(3.0, 1000)],
            ),
            ts(
                &[
                    ("__name__", "target_info"),
                    ("job", "shop/api"),
                    ("instance", "h:1"),
                    ("region", "eu"),
                ],
                &[(1.0, 1000)],
            ),
            ts(
                &[
                    ("__name__", "gone"),
                    ("job", "shop/api"),
                    ("instance", "h:1"),
                ],
                &[(f64::from_bits(crate::series::STALE_NAN), 3000)],
            ),
        ],
        metadata: vec![
            meta("http_requests", MetricType::Counter),
            meta("lat", MetricType::Histogram),
        ],
    }
}

fn attr(kvs: &[ferrotel_pdata::proto::common::v1::KeyValue], k: &str) -> Option<String> {
    kvs.iter()
        .find(|kv| kv.key == k)
        .map(|kv| crate::series::value_text(kv.value.as_ref()))
}

#[test]
fn v1_to_otlp() {
    let body = snappy(&v1_request().encode_to_vec());
    let d = decode_body(&body, Version::V1, 1 << 20).unwrap();
    let req = to_otlp(&d.series, &d.metadata);
    assert_eq!(req.resource_metrics.len(), 1);
    let rm = &req.resource_metrics[0];
    let ra = &rm.resource.as_ref().unwrap().attributes;
    assert_eq!(attr(ra, "service.name").as_deref(), Some("api"));
    assert_eq!(attr(ra, "service.namespace").as_deref(), Some("shop"));
    assert_eq!(attr(ra, "service.instance.id").as_deref(), Some("h:1"));
    assert_eq!(attr(ra, "region").as_deref(), Some("eu"));
    let metrics = &rm.scope_metrics[0].metrics;
    let by = |n: &str| {
        metrics
            .iter()
            .find(|m| m.name == n)
            .unwrap_or_else(|| panic!("no {n} in {metrics:#?}"))
    };
    match &by("http_requests_total").data {
        Some(Data::Sum(s)) => {
            assert!(s.is_monotonic && s.aggregation_temporality == 2);
            assert_eq!(s.data_points.len(), 2);
            assert_eq!(
                attr(&s.data_points[0].attributes, "code").as_deref(),
                Some("200")
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&by("temperature").data, Some(Data::Gauge(_))));
    match &by("lat").data {
        Some(Data::Histogram(h)) => {
            let p = &h.data_points[0];
            assert_eq!(
                (
                    p.count,
                    p.sum,
                    p.explicit_bounds.clone(),
                    p.bucket_counts.clone()
                ),
                (3, Some(1.25), vec![0.5], vec![2, 1])
            );
            assert_eq!(p.time_unix_nano, 1_000_000_000);
        }
        other => panic!("{other:?}"),
    }
    match &by("gone").data {
        Some(Data::Gauge(g)) => assert_eq!(g.data_points[0].flags, 1),
        other => panic!("{other:?}"),
    }
    assert!(metrics.iter().all(|m| m.name != "target_info"));
}

#[test]
fn v2_with_symbols_and_native_histograms() {
    let p = ExponentialHistogramDataPoint {
        time_unix_nano: 5_000_000_000,
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
    let nh = crate::remote_write::exporter::convert::native_histogram(&p).unwrap();
    let req = proto::v2::Request {
        symbols: vec![
            "".into(),
            "__name__".into(),
            "reqs".into(),
            "job".into(),
            "j".into(),
            "help!".into(),
            "size".into(),
        ],
        timeseries: vec![
            proto::v2::TimeSeries {
                labels_refs: vec![1, 2, 3, 4],
                samples: vec![Sample {
                    value: 3.0,
                    timestamp: 1000,
                }],
                metadata: Some(proto::v2::Metadata {
                    r#type: MetricType::Counter as i32,
                    help_ref: 5,
                    unit_ref: 0,
                }),
                created_timestamp: 500,
                ..Default::default()
            },
            proto::v2::TimeSeries {
                labels_refs: vec![1, 6, 3, 4],
                histograms: vec![nh],
                ..Default::default()
            },
        ],
    };
    let d = decode_body(&snappy(&req.encode_to_vec()), Version::V2, 1 << 20).unwrap();
    let out = to_otlp(&d.series, &d.metadata);
    let metrics = &out.resource_metrics[0].scope_metrics[0].metrics;
    match &metrics[0].data {
        Some(Data::Sum(s)) => {
            assert_eq!(metrics[0].description, "help!");
            assert_eq!(s.data_points[0].start_time_unix_nano, 500_000_000);
        }
        other => panic!("{other:?}"),
    }
    match &metrics[1].data {
        Some(Data::ExponentialHistogram(h)) => {
            let back = &h.data_points[0];
            assert_eq!(
                (back.scale, back.count, back.zero_count, back.sum),
                (2, 6, 1, Some(12.0))
            );
            assert_eq!(
                back.positive, p.positive,
                "round trip through the native form"
            );
        }
        other => panic!("{other:?}"),
    }
    // A reference past the symbol table is an error naming the series.
    let mut bad = req.clone();
    bad.timeseries[1].labels_refs = vec![1, 99];
    let e = decode_body(&snappy(&bad.encode_to_vec()), Version::V2, 1 << 20).unwrap_err();
    assert!(
        e.to_string().contains("timeseries[1]") && e.to_string().contains("symbol 99"),
        "{e}"
    );
}

#[test]
fn content_types() {
    assert_eq!(
        Version::from_content_type(Some("application/x-protobuf")),
        Some(Version::V1)
    );
    assert_eq!(
        Version::from_content_type(Some("application/x-protobuf;proto=prometheus.WriteRequest")),
        Some(Version::V1)
    );
    assert_eq!(
        Version::from_content_type(Some(
            "application/x-protobuf; proto=io.prometheus.write.v2.Request"
        )),
        Some(Version::V2)
    );
    assert_eq!(Version::from_content_type(Some("application/json")), None);
    assert_eq!(
        Version::from_content_type(Some("application/x-protobuf;proto=foo")),
        None
    );
}

#[test]
fn hostile_bodies_are_errors() {
    assert!(decode_body(b"garbage", Version::V1, 1 << 20).is_err());
    let full = snappy(&v1_request().encode_to_vec());
    assert!(decode_body(&full[..full.len() / 2], Version::V1, 1 << 20).is_err());
    assert!(matches!(
        decode_body(&full, Version::V1, 10),
        Err(DecodeError::TooLarge(..))
    ));
    // Spans claiming four billion buckets with no counts: no histogram, no allocation.
    let h = proto::Histogram {
        schema: 0,
        positive_spans: vec![proto::BucketSpan {
            offset: 0,
            length: u32::MAX,
        }],
        ..Default::default()
    };
    let s = decode::Series {
        labels: vec![("__name__".into(), "h".into())],
        histograms: vec![h],
        ..Default::default()
    };
    let out = to_otlp(&[s], &HashMap::new());
    match &out.resource_metrics[0].scope_metrics[0].metrics[0].data {
        Some(Data::ExponentialHistogram(e)) => assert!(e.data_points[0].positive.is_none()),
        other => panic!("{other:?}"),
    }
    fuzz_decode(&full);
    fuzz_decode(b"\x0a\xff\xff\xff\xff\x0f");
}

struct Capture(StdMutex<Vec<Payload>>);

impl Consumer for Capture {
    fn consume(&self, payload: Payload, _ctx: Context) -> BoxFuture<'_, Result<(), ConsumeError>> {
        self.0.lock().unwrap().push(payload);
        Box::pin(async { Ok(()) })
    }
}

async fn post(addr: SocketAddr, content_type: &str, body: Vec<u8>) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /api/v1/write HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Encoding: snappy\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&body).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out.split(' ').nth(1).unwrap().parse().unwrap();
    (status, out)
}

#[tokio::test]
async fn serves_bad_bodies_with_400_and_keeps_serving() {
    let capture = Arc::new(Capture(StdMutex::new(Vec::new())));
    let config: RemoteWriteReceiverConfig =
        serde_json::from_str(r#"{"endpoint": "127.0.0.1:0", "max_request_body_size": 100000}"#)
            .unwrap();
    let ctx = CreateContext {
        id: "prometheusremotewrite".parse().unwrap(),
        kind: Kind::Receiver,
        pipeline: None,
        telemetry: Telemetry::default(),
        extensions: Arc::new(Vec::new()),
    };
    let r = RemoteWriteReceiver::new(&ctx, config, capture.clone());
    r.start().await.unwrap();
    let addr = r.address().unwrap();
    let (status, text) = post(
        addr,
        "application/x-protobuf",
        b"not snappy at all".to_vec(),
    )
    .await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("snappy"), "{text}");
    let (status, _) = post(addr, "application/x-protobuf", vec![0; 200_000]).await;
    assert_eq!(status, 413);
    let (status, _) = post(addr, "text/plain", Vec::new()).await;
    assert_eq!(status, 415);
    let (status, text) = post(
        addr,
        "application/x-protobuf",
        snappy(&v1_request().encode_to_vec()),
    )
    .await;
    assert_eq!(status, 204, "{text}");
    let got = capture.0.lock().unwrap().len();
    assert_eq!(got, 1);
    r.shutdown().await.unwrap();
}
