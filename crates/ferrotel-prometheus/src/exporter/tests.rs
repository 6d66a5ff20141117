use ferrotel_pdata::proto::metrics::v1::{
    Exemplar, ExponentialHistogramDataPoint, SummaryDataPoint, exemplar,
    exponential_histogram_data_point::Buckets, summary_data_point::ValueAtQuantile,
};
use ferrotel_pdata::proto::metrics::v1::{ExponentialHistogram, Summary, metric::Data};

use super::*;
use crate::testing::*;

fn exporter(yaml: &str) -> PrometheusExporter {
    let mut c: PrometheusExporterConfig = serde_json::from_str(yaml).unwrap();
    c.endpoint = "127.0.0.1:0".into();
    PrometheusExporter::new("prometheus", c)
}

fn resource() -> Vec<ferrotel_pdata::proto::common::v1::KeyValue> {
    vec![
        kv("service.name", "api"),
        kv("service.instance.id", "i1"),
        kv("host.name", "h"),
    ]
}

#[test]
fn text_format_counter_gauge_histogram_target_info() {
    let e = exporter(r#"{"const_labels": {"env": "prod"}}"#);
    let req = request(
        resource(),
        vec![
            metric(
                "http.requests",
                "1",
                sum(
                    vec![number(vec![kv("method", "GET")], 5.0, T0 + 1_000_000_000)],
                    2,
                    true,
                ),
            ),
            metric(
                "cpu.utilization",
                "1",
                gauge(vec![number(vec![], 0.25, T0)]),
            ),
            metric(
                "latency",
                "s",
                histogram(vec![], vec![0.1, 1.0], vec![1, 2, 3], 7.5, T0),
            ),
        ],
    );
    e.ingest(&req);
    let out = e.scrape(false);
    let want = r#"# HELP cpu_utilization_ratio cpu.utilization help
# TYPE cpu_utilization_ratio gauge
cpu_utilization_ratio{env="prod",instance="i1",job="api",otel_scope_name="test"} 0.25
# HELP http_requests_total http.requests help
# TYPE http_requests_total counter
http_requests_total{env="prod",instance="i1",job="api",method="GET",otel_scope_name="test"} 5
# HELP latency_seconds latency help
# TYPE latency_seconds histogram
latency_seconds_bucket{env="prod",instance="i1",job="api",otel_scope_name="test",le="0.1"} 1
latency_seconds_bucket{env="prod",instance="i1",job="api",otel_scope_name="test",le="1"} 3
latency_seconds_bucket{env="prod",instance="i1",job="api",otel_scope_name="test",le="+Inf"} 6
latency_seconds_sum{env="prod",instance="i1",job="api",otel_scope_name="test"} 7.5
latency_seconds_count{env="prod",instance="i1",job="api",otel_scope_name="test"} 6
# HELP target_info Target metadata
# TYPE target_info gauge
target_info{env="prod",host_name="h",instance="i1",job="api"} 1
"#;
    assert_eq!(out, want);
}

#[test]
fn delta_sums_accumulate_and_stale_points_remove() {
    let e = exporter(r#"{"without_scope_info": true, "target_info": {"enabled": false}}"#);
    for i in 1..=3u64 {
        let mut p = number(vec![], 2.0, T0 + i * 1_000_000_000);
        p.start_time_unix_nano = T0 + (i - 1) * 1_000_000_000;
        e.ingest(&request(
            resource(),
            vec![metric("jobs", "", sum(vec![p], 1, true))],
        ));
    }
    assert!(
        e.scrape(false)
            .contains("jobs_total{instance=\"i1\",job=\"api\"} 6\n"),
        "{}",
        e.scrape(false)
    );
    // An out-of-order cumulative point does not overwrite a newer one.
    e.ingest(&request(
        resource(),
        vec![metric("g", "", gauge(vec![number(vec![], 9.0, T0 + 10)]))],
    ));
    e.ingest(&request(
        resource(),
        vec![metric("g", "", gauge(vec![number(vec![], 1.0, T0 + 5)]))],
    ));
    assert!(
        e.scrape(false)
            .contains("g{instance=\"i1\",job=\"api\"} 9\n")
    );
    let mut stale = number(vec![], 0.0, T0 + 20);
    stale.flags = 1;
    e.ingest(&request(
        resource(),
        vec![metric("g", "", gauge(vec![stale]))],
    ));
    assert!(!e.scrape(false).contains("\ng{"));
}

#[test]
fn openmetrics_units_exemplars_eof() {
    let e = exporter(
        r#"{"enable_open_metrics": true, "without_scope_info": true, "send_timestamps": true}"#,
    );
    let mut p = number(vec![], 3.0, T0 + 1_500_000_000);
    p.exemplars = vec![Exemplar {
        time_unix_nano: T0,
        trace_id: vec![1; 16].into(),
        span_id: vec![2; 8].into(),
        value: Some(exemplar::Value::AsDouble(1.0)),
        ..Default::default()
    }];
    let mut h = histogram(vec![], vec![1.0], vec![1, 1], 3.0, T0);
    if let Data::Histogram(h) = &mut h {
        h.data_points[0].exemplars = vec![Exemplar {
            trace_id: vec![3; 16].into(),
            span_id: vec![4; 8].into(),
            value: Some(exemplar::Value::AsDouble(0.5)),
            ..Default::default()
        }];
    }
    e.ingest(&request(
        resource(),
        vec![
            metric("io", "By", sum(vec![p], 2, true)),
            metric("wait", "s", h),
        ],
    ));
    let out = e.scrape(true);
    assert!(
        out.contains("# TYPE io_bytes counter\n# UNIT io_bytes bytes\n"),
        "{out}"
    );
    assert!(out.contains("io_bytes_total{instance=\"i1\",job=\"api\"} 3 1700000001.500 # {trace_id=\"01010101010101010101010101010101\",span_id=\"0202020202020202\"} 1 1700000000.000\n"), "{out}");
    assert!(out.contains("wait_seconds_bucket{instance=\"i1\",job=\"api\",le=\"1\"} 1 1700000000.000 # {trace_id=\"03030303030303030303030303030303\",span_id=\"0404040404040404\"} 0.5\n"), "{out}");
    assert!(
        out.contains(
            "# TYPE target info\ntarget_info{host_name=\"h\",instance=\"i1\",job=\"api\"} 1\n"
        ),
        "{out}"
    );
    assert!(out.ends_with("# EOF\n"));
    // The text format has no exemplars, and timestamps in milliseconds.
    let text = e.scrape(false);
    assert!(
        text.contains("io_bytes_total{instance=\"i1\",job=\"api\"} 3 1700000001500\n"),
        "{text}"
    );
    assert!(!text.contains("# EOF") && !text.contains("trace_id"));
}

#[test]
fn exponential_histograms_and_summaries() {
    let e = exporter(r#"{"without_scope_info": true, "target_info": {"enabled": false}}"#);
    let exp = Data::ExponentialHistogram(ExponentialHistogram {
        data_points: vec![ExponentialHistogramDataPoint {
            time_unix_nano: T0,
            count: 6,
            sum: Some(10.0),
            scale: 0,
            zero_count: 1,
            positive: Some(Buckets {
                offset: 0,
                bucket_counts: vec![2, 3],
            }),
            ..Default::default()
        }],
        aggregation_temporality: 2,
    });
    let summary = Data::Summary(Summary {
        data_points: vec![SummaryDataPoint {
            time_unix_nano: T0,
            count: 4,
            sum: 8.0,
            quantile_values: vec![ValueAtQuantile {
                quantile: 0.5,
                value: 2.0,
            }],
            ..Default::default()
        }],
    });
    e.ingest(&request(
        resource(),
        vec![metric("size", "By", exp), metric("rpc", "ms", summary)],
    ));
    let out = e.scrape(false);
    // Scale 0: buckets (1,2], (2,4]; the zero bucket ends at 0.
    for line in [
        "size_bytes_bucket{instance=\"i1\",job=\"api\",le=\"0\"} 1\n",
        "size_bytes_bucket{instance=\"i1\",job=\"api\",le=\"2\"} 3\n",
        "size_bytes_bucket{instance=\"i1\",job=\"api\",le=\"4\"} 6\n",
        "size_bytes_bucket{instance=\"i1\",job=\"api\",le=\"+Inf\"} 6\n",
        "rpc_milliseconds{instance=\"i1\",job=\"api\",quantile=\"0.5\"} 2\n",
        "rpc_milliseconds_count{instance=\"i1\",job=\"api\"} 4\n",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
}

#[test]
fn expiration_and_type_change() {
    let e = exporter(r#"{"metric_expiration": "1ms", "target_info": {"enabled": false}}"#);
    e.ingest(&request(
        resource(),
        vec![metric("x", "", gauge(vec![number(vec![], 1.0, T0)]))],
    ));
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(e.scrape(false), "");
    let e = exporter(r#"{"target_info": {"enabled": false}, "add_metric_suffixes": false}"#);
    e.ingest(&request(
        resource(),
        vec![metric("x", "", gauge(vec![number(vec![], 1.0, T0)]))],
    ));
    e.ingest(&request(
        resource(),
        vec![metric("x", "", sum(vec![number(vec![], 2.0, T0)], 2, true))],
    ));
    let out = e.scrape(false);
    assert!(
        out.contains("# TYPE x counter\n") && !out.contains("gauge"),
        "{out}"
    );
}

#[test]
fn config_validation() {
    use ferrotel_runtime::ComponentConfig;
    let c = PrometheusExporterConfig::default();
    assert!(c.validate().unwrap_err().to_string().contains("endpoint"));
    let c: PrometheusExporterConfig = serde_json::from_str(
        r#"{"endpoint": "0.0.0.0:8889", "translation_strategy": "NoUTF8EscapingWithSuffixes"}"#,
    )
    .unwrap();
    assert!(c.validate().is_ok());
    assert!(
        serde_json::from_str::<PrometheusExporterConfig>(r#"{"endpoint": "x:1", "bogus": 1}"#)
            .is_err()
    );
}

#[tokio::test]
async fn serves_over_http_with_negotiation() {
    let e = exporter(r#"{"enable_open_metrics": true}"#);
    e.start().await.unwrap();
    let addr = e.address().unwrap();
    e.ingest(&request(
        resource(),
        vec![metric("up.time", "s", gauge(vec![number(vec![], 1.0, T0)]))],
    ));
    let get = |accept: &'static str| async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        s.write_all(
            format!(
                "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    };
    let om = get("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5").await;
    assert!(
        om.contains("application/openmetrics-text") && om.contains("# EOF"),
        "{om}"
    );
    let text = get("text/plain").await;
    assert!(
        text.contains("text/plain; version=0.0.4") && text.contains("up_time_seconds{"),
        "{text}"
    );
    e.shutdown().await.unwrap();
}

#[test]
fn exponential_buckets_past_the_float_range_fold_into_neighbours() {
    let p = ExponentialHistogramDataPoint {
        count: 5,
        scale: -10,
        zero_count: 1,
        positive: Some(Buckets {
            offset: 0,
            bucket_counts: vec![1, 3],
        }),
        negative: Some(Buckets {
            offset: 0,
            bucket_counts: vec![1],
        }),
        ..Default::default()
    };
    let (bounds, counts) = accumulator::exponential_to_classic(&p);
    // Scale -10: base 2^1024 is infinite, so no bucket has a finite bound; the negative one
    // joins the zero bucket and the positive ones +Inf.
    assert!(bounds.iter().all(|b| b.is_finite()), "{bounds:?}");
    assert_eq!(counts.iter().sum::<u64>(), 6);
    assert_eq!(
        (bounds.len() + 1, counts.last().copied()),
        (counts.len(), Some(4))
    );
}

/// The UTF-8 strategies keep `.` in names; a scraper that did not send
/// `escaping=allow-utf-8` (Prometheus before 3.0) gets them under the `underscores` scheme,
/// one that did gets them quoted (text 1.0.0 / OpenMetrics syntax).
#[test]
fn utf8_names_escaped_unless_the_scraper_takes_them() {
    let e = exporter(
        r#"{"translation_strategy": "NoUTF8EscapingWithSuffixes", "without_scope_info": true,
            "enable_open_metrics": true, "resource_to_telemetry_conversion": {"enabled": true}}"#,
    );
    e.ingest(&request(
        resource(),
        vec![
            metric(
                "http.requests",
                "",
                sum(
                    vec![number(vec![kv("http.method", "GET")], 5.0, T0)],
                    2,
                    true,
                ),
            ),
            metric("2xx.rate", "1", gauge(vec![number(vec![], 0.5, T0)])),
        ],
    ));
    let (ct, body) = e.scrape_for("text/plain;version=0.0.4");
    let text = String::from_utf8(body).unwrap();
    assert_eq!(ct, render::TEXT_CONTENT_TYPE);
    for line in [
        "# TYPE http_requests_total counter\n",
        "http_requests_total{host_name=\"h\",http_method=\"GET\",instance=\"i1\",job=\"api\",service_instance_id=\"i1\",service_name=\"api\"} 5\n",
        "# TYPE _xx_rate_ratio gauge\n",
        "_xx_rate_ratio{host_name=\"h\",instance=\"i1\",job=\"api\",service_instance_id=\"i1\",service_name=\"api\"} 0.5\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert!(
        text.lines().filter(|l| !l.starts_with("# HELP")).all(|l| !l
            .split(' ')
            .next()
            .unwrap()
            .contains('.')),
        "{text}"
    );
    let accept = "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,*/*;q=0.1";
    let (ct, body) = e.scrape_for(accept);
    let text = String::from_utf8(body).unwrap();
    assert_eq!(ct, render::TEXT_UTF8_CONTENT_TYPE);
    for line in [
        "# HELP \"http.requests_total\" http.requests help\n",
        "# TYPE \"http.requests_total\" counter\n",
        "{\"http.requests_total\",\"host.name\"=\"h\",\"http.method\"=\"GET\",instance=\"i1\",job=\"api\",\"service.instance.id\"=\"i1\",\"service.name\"=\"api\"} 5\n",
        "# TYPE \"2xx.rate_ratio\" gauge\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    // OpenMetrics: the counter family without `_total`, its sample with it, inside the quotes.
    let (ct, body) =
        e.scrape_for("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8");
    let om = String::from_utf8(body).unwrap();
    assert_eq!(ct, render::OPENMETRICS_UTF8_CONTENT_TYPE);
    assert!(
        om.contains("# TYPE \"http.requests\" counter\n{\"http.requests_total\",\"host.name\""),
        "{om}"
    );
    // Names the escaping strategies produce never need either.
    let plain = exporter(r#"{"without_scope_info": true}"#);
    plain.ingest(&request(
        resource(),
        vec![metric(
            "http.requests",
            "",
            sum(
                vec![number(vec![kv("http.method", "GET")], 5.0, T0)],
                2,
                true,
            ),
        )],
    ));
    let (ct, body) = plain.scrape_for(accept);
    assert_eq!(ct, render::TEXT_CONTENT_TYPE);
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains("http_requests_total{http_method=\"GET\"")
    );
}

#[test]
fn no_translation_keeps_names_and_escapes_them_for_old_scrapers() {
    let e = exporter(
        r#"{"translation_strategy": "NoTranslation", "without_scope_info": true, "target_info": {"enabled": false}}"#,
    );
    e.ingest(&request(
        resource(),
        vec![metric(
            "http.server.duration",
            "s",
            histogram(vec![kv("url.path", "/")], vec![1.0], vec![1, 0], 0.5, T0),
        )],
    ));
    let text = e.scrape(false);
    assert!(
        text.contains(
            "http_server_duration_bucket{instance=\"i1\",job=\"api\",url_path=\"/\",le=\"1\"} 1\n"
        ),
        "{text}"
    );
    let (_, body) = e.scrape_for("text/plain;version=1.0.0;escaping=allow-utf-8");
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("{\"http.server.duration_bucket\",instance=\"i1\",job=\"api\",\"url.path\"=\"/\",le=\"1\"} 1\n"),
        "{text}"
    );
    // Protobuf: the same choice.
    let pb = e.scrape_protobuf();
    assert!(
        !pb.windows(4).any(|w| w == b"http.")
            && pb.windows(20).any(|w| w == b"http_server_duration"),
        "protobuf names escaped"
    );
}
