//! The receiver's tests: configs (testdata/), parser, conversion with start times over several
//! scrapes, and property tests of the parser.

use std::path::Path;

use ferrotel_pdata::proto::metrics::v1::{Metric, NumberDataPoint, metric, number_data_point};
use ferrotel_runtime::config::{ConfigError, decode, node::parse_yaml};
use proptest::prelude::*;

use super::config::PrometheusReceiverConfig;
use super::convert::{SeriesTracker, TargetContext, convert, kv};
use super::parse::{Format, MetricType, parse, render};
use super::relabel::{Labels, RelabelConfig};

fn load(text: &str) -> Result<PrometheusReceiverConfig, ConfigError> {
    ferrotel_runtime::config::testdata::load(text)
}

fn testdata(kind: &str) -> Vec<(String, String)> {
    ferrotel_runtime::config::testdata::files(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/scrape/testdata")
            .join(kind),
    )
}

#[test]
fn valid_configs_load() {
    for (path, text) in testdata("valid") {
        let cfg = load(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(!cfg.config.scrape_configs.is_empty());
    }
    let cfg = load(&testdata("valid")[0].1).unwrap();
    let sc = &cfg.config.scrape_configs[0];
    assert!(cfg.trim_metric_suffixes);
    assert_eq!(
        sc.interval_timeout(&cfg.config.global),
        (
            std::time::Duration::from_secs(15),
            std::time::Duration::from_secs(5)
        )
    );
    assert_eq!(sc.body_size_limit.unwrap().0, 10 << 20);
    assert!(!sc.honor_timestamps);
    // The second job inherits the global interval.
    let sc = &cfg.config.scrape_configs[1];
    assert_eq!(sc.interval_timeout(&cfg.config.global).0.as_secs(), 30);
}

#[test]
fn invalid_configs_say_what_and_where() {
    for (path, text) in testdata("invalid") {
        let want = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# error: "))
            .unwrap_or_else(|| panic!("{path}: first line must be `# error: ...`"));
        let err = load(&text).expect_err(&path).to_string();
        assert!(err.contains(want), "{path}:\n got: {err}\nwant: {want}");
    }
}

#[test]
fn dollar_dollar_reaches_relabeling_as_one_dollar() {
    // The whole loader: YAML → env expansion (`$$` → `$`) → the receiver's typed config.
    let yaml = r#"
receivers:
  prometheus:
    config:
      scrape_configs:
        - job_name: a
          relabel_configs:
            - {source_labels: [__address__], regex: "(.*):(.*)", target_label: port, replacement: "$$2"}
"#;
    let mut node = parse_yaml(yaml, "t.yaml").unwrap();
    ferrotel_runtime::config::expand::expand_node(&mut node, &|_| None, &mut Vec::new()).unwrap();
    let recv = node.get("receivers").unwrap().get("prometheus").unwrap();
    let cfg: PrometheusReceiverConfig = decode(recv).unwrap();
    let r = &cfg.config.scrape_configs[0].relabel_configs[0];
    assert_eq!(r.replacement.as_deref(), Some("$2"));
    let rule = r.compile().unwrap();
    let mut l = Labels::from_pairs([("__address__", "h:9100")]);
    super::relabel::relabel(&[rule], &mut l);
    assert_eq!(l.get("port"), Some("9100"));
}

// ---- parser ----

#[test]
fn text_format() {
    let body = b"# HELP http_requests_total Requests.\\n2nd line\n\
# TYPE http_requests_total counter\n\
http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n\
http_requests_total{method=\"post\",code=\"400\",} 3\n\
# A free comment\n\
\n\
# TYPE rpc histogram\n\
rpc_bucket{le=\"0.1\"} 1\n\
rpc_bucket{le=\"+Inf\"} 4\n\
rpc_sum 1.5\n\
rpc_count 4\n\
weird{path=\"a\\\\b\\\"c\\nd\"} NaN\n\
no_newline -Inf";
    let exp = parse(body, Format::Text).unwrap();
    assert_eq!(exp.families.len(), 4);
    let f = &exp.families[0];
    assert_eq!(
        (f.name, f.kind),
        ("http_requests_total", MetricType::Counter)
    );
    assert_eq!(f.help.as_deref(), Some("Requests.\n2nd line"));
    assert_eq!(f.samples.len(), 2);
    assert_eq!(exp.samples[0].timestamp_ms, Some(1395066363000));
    assert_eq!(exp.families[1].samples.len(), 4);
    // Untyped samples become their own families.
    assert_eq!(exp.families[3].kind, MetricType::Unknown);
    let weird = exp.samples.iter().find(|s| s.name == "weird").unwrap();
    assert!(weird.value.is_nan());
    assert_eq!(exp.labels_of(&weird.labels)[0].value, "a\\b\"c\nd");
    assert_eq!(exp.samples.last().unwrap().value, f64::NEG_INFINITY);
    // Zero-copy: an unescaped label value borrows from the body.
    assert!(matches!(
        exp.labels_of(&exp.samples[0].labels)[0].value,
        std::borrow::Cow::Borrowed(_)
    ));
}

#[test]
fn openmetrics_format() {
    let body = b"# TYPE foo_seconds counter\n\
# UNIT foo_seconds seconds\n\
# HELP foo_seconds Foo \\\"quoted\\\".\n\
foo_seconds_total{a=\"1\"} 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67\n\
foo_seconds_created{a=\"1\"} 1520430000.123\n\
# TYPE build info\n\
build_info{version=\"1.2\"} 1\n\
# TYPE state stateset\n\
state{state=\"a\"} 1\n\
state{state=\"b\"} 0\n\
# TYPE h histogram\n\
h_bucket{le=\"1\"} 0 # {trace_id=\"0123456789abcdef0123456789abcdef\",span_id=\"0123456789abcdef\"} 0.5 1.5\n\
h_bucket{le=\"+Inf\"} 2\n\
h_count 2\n\
h_sum 3\n\
# EOF\n";
    let exp = parse(body, Format::OpenMetrics).unwrap();
    let names: Vec<_> = exp.families.iter().map(|f| (f.name, f.kind)).collect();
    assert_eq!(
        names,
        [
            ("foo_seconds", MetricType::Counter),
            ("build", MetricType::Info),
            ("state", MetricType::StateSet),
            ("h", MetricType::Histogram)
        ]
    );
    let foo = &exp.samples[0];
    assert_eq!(foo.timestamp_ms, Some(1520879607789));
    let ex = foo.exemplar.as_ref().unwrap();
    assert_eq!(ex.value, 0.67);
    assert_eq!(exp.families[0].help.as_deref(), Some("Foo \"quoted\"."));
    assert_eq!(exp.families[0].samples.len(), 2);
    assert_eq!(exp.families[0].unit, Some("seconds"));
}

#[test]
fn errors_name_the_line() {
    let cases: &[(&[u8], Format, usize, &str)] = &[
        (b"a 1\nb{x=\"1} 2\n", Format::Text, 2, "unterminated"),
        (
            b"a 1\nb{x=\"1\"} 2\n",
            Format::OpenMetrics,
            2,
            "missing # EOF",
        ),
        (b"a 1\n# EOF\nb 2\n", Format::OpenMetrics, 3, "after # EOF"),
        (b"a x\n", Format::Text, 1, "invalid value"),
        (
            b"a{b=\"1\",b=\"2\"} 1\n",
            Format::Text,
            1,
            "duplicate label",
        ),
        (b"# TYPE a wat\n", Format::Text, 1, "unknown metric type"),
        (b"a 1 # {t=\"1\"} 1\n", Format::Text, 1, "OpenMetrics"),
        (b"ok 1\n\xff 1\n", Format::Text, 2, "UTF-8"),
        (b"1a 1\n", Format::Text, 1, "invalid metric name"),
        (b"a{b=\"\\q\"} 1\n", Format::Text, 1, "escape"),
    ];
    for (body, format, line, msg) in cases {
        let e = parse(body, *format).unwrap_err();
        assert_eq!(e.line, *line, "{e} for {:?}", String::from_utf8_lossy(body));
        assert!(e.message.contains(msg), "{e}");
    }
}

#[test]
fn content_negotiation() {
    assert_eq!(
        Format::from_content_type(Some(
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        )),
        Format::OpenMetrics
    );
    assert_eq!(
        Format::from_content_type(Some("text/plain; version=0.0.4; charset=utf-8")),
        Format::Text
    );
    assert_eq!(Format::from_content_type(None), Format::Text);
    assert!(super::parse::ACCEPT.starts_with("application/openmetrics-text;version=1.0.0"));
}

// ---- conversion over several scrapes ----

fn target() -> TargetContext {
    TargetContext {
        labels: Labels::from_pairs([("job", "j"), ("instance", "h:1"), ("env", "p")]),
        honor_labels: false,
        honor_timestamps: true,
        trim_metric_suffixes: false,
        sample_limit: 0,
        metric_relabel: Vec::new(),
    }
}

fn scrape(body: &str, t: &TargetContext, tracker: &mut SeriesTracker, ms: i64) -> Vec<Metric> {
    let exp = parse(body.as_bytes(), Format::Text).unwrap();
    convert(&exp, t, tracker, ms).unwrap().metrics
}

fn points(m: &[Metric], name: &str) -> Vec<NumberDataPoint> {
    m.iter()
        .filter(|x| x.name == name)
        .flat_map(|x| match &x.data {
            Some(metric::Data::Sum(s)) => s.data_points.clone(),
            Some(metric::Data::Gauge(g)) => g.data_points.clone(),
            _ => vec![],
        })
        .collect()
}

fn value(p: &NumberDataPoint) -> f64 {
    match p.value {
        Some(number_data_point::Value::AsDouble(v)) => v,
        _ => f64::NAN,
    }
}

const S: u64 = 1_000_000_000;

#[test]
fn counter_start_times_and_resets() {
    let t = target();
    let mut tr = SeriesTracker::default();
    let c = "# TYPE c_total counter\nc_total ";
    // First point: start = its time.
    let m = scrape(&format!("{c}5\n"), &t, &mut tr, 10_000);
    let p = &points(&m, "c_total")[0];
    assert_eq!(
        (p.start_time_unix_nano, p.time_unix_nano, value(p)),
        (10 * S, 10 * S, 5.0)
    );
    match &m[0].data {
        Some(metric::Data::Sum(s)) => assert!(s.is_monotonic && s.aggregation_temporality == 2),
        other => panic!("{other:?}"),
    }
    // Kept after.
    let m = scrape(&format!("{c}7\n"), &t, &mut tr, 20_000);
    assert_eq!(points(&m, "c_total")[0].start_time_unix_nano, 10 * S);
    // A decrease is a reset: a new start at the point's time, kept after.
    let m = scrape(&format!("{c}2\n"), &t, &mut tr, 30_000);
    assert_eq!(points(&m, "c_total")[0].start_time_unix_nano, 30 * S);
    let m = scrape(&format!("{c}3\n"), &t, &mut tr, 40_000);
    assert_eq!(points(&m, "c_total")[0].start_time_unix_nano, 30 * S);
    // Attributes: the target's other labels; job/instance are the resource's.
    let keys: Vec<_> = points(&m, "c_total")[0]
        .attributes
        .iter()
        .map(|k| k.key.clone())
        .collect();
    assert_eq!(keys, ["env"]);
}

#[test]
fn created_gives_the_start_time() {
    let t = target();
    let mut tr = SeriesTracker::default();
    let body = "# TYPE c counter\nc_total 5 100.0\nc_created 50.5\n# EOF\n";
    let exp = parse(body.as_bytes(), Format::OpenMetrics).unwrap();
    let m = convert(&exp, &t, &mut tr, 200_000).unwrap().metrics;
    // The OpenMetrics family is `c`; its metric keeps the exposed `c_total`, as the Go
    // receiver names it (the spec: the name is not altered by default).
    let p = &points(&m, "c_total")[0];
    assert_eq!(p.start_time_unix_nano, 50_500_000_000);
    assert_eq!(p.time_unix_nano, 100 * S);
}

#[test]
fn staleness_when_a_series_disappears() {
    let t = target();
    let mut tr = SeriesTracker::default();
    scrape("g{a=\"1\"} 1\ng{a=\"2\"} 2\n", &t, &mut tr, 1000);
    let m = scrape("g{a=\"1\"} 1\n", &t, &mut tr, 2000);
    let ps = points(&m, "g");
    assert_eq!(ps.len(), 2);
    let stale = ps.iter().find(|p| p.flags == 1).unwrap();
    assert_eq!(stale.attributes[0].key, "a");
    assert!(stale.value.is_none());
    assert_eq!(tr.len(), 1);
    // A failed scrape marks everything stale.
    let (all, _) = tr.all_stale(3 * S);
    assert_eq!(points(&all, "g")[0].flags, 1);
    assert!(tr.is_empty());
}

/// The spec: `otel_scope_name`/`otel_scope_version` labels name the instrumentation scope and
/// leave the attributes; series of different scopes stay apart, also when they go stale.
#[test]
fn otel_scope_labels_become_the_scope() {
    let t = target();
    let mut tr = SeriesTracker::default();
    let body = "# TYPE r_total counter\n\
        r_total{otel_scope_name=\"lib.a\",otel_scope_version=\"1.2\",k=\"x\"} 1\n\
        r_total{otel_scope_name=\"lib.b\",k=\"x\"} 2\n\
        r_total{k=\"x\"} 3\n";
    let exp = parse(body.as_bytes(), Format::Text).unwrap();
    let c = convert(&exp, &t, &mut tr, 1000).unwrap();
    assert_eq!(value(&points(&c.metrics, "r_total")[0]), 3.0);
    let scopes: Vec<_> = c
        .scoped
        .iter()
        .map(|((n, v), m)| (n.as_str(), v.as_str(), value(&points(m, "r_total")[0])))
        .collect();
    assert_eq!(scopes, [("lib.a", "1.2", 1.0), ("lib.b", "", 2.0)]);
    for (_, m) in &c.scoped {
        let keys: Vec<_> = points(m, "r_total")[0]
            .attributes
            .iter()
            .map(|a| a.key.clone())
            .collect();
        assert_eq!(keys, ["k", "env"]);
    }
    // lib.a's series disappears: its staleness point is in lib.a's scope.
    let body = "# TYPE r_total counter\nr_total{otel_scope_name=\"lib.b\",k=\"x\"} 2\nr_total{k=\"x\"} 3\n";
    let exp = parse(body.as_bytes(), Format::Text).unwrap();
    let c = convert(&exp, &t, &mut tr, 2000).unwrap();
    let (scope, m) = c
        .scoped
        .iter()
        .find(|(s, _)| s.0 == "lib.a")
        .expect("lib.a's staleness marker");
    assert_eq!(scope.1, "1.2");
    assert_eq!(points(m, "r_total")[0].flags, 1);
}

#[test]
fn histogram_summary_and_target_info() {
    let t = target();
    let mut tr = SeriesTracker::default();
    let body = "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"5\"} 3\nh_bucket{le=\"+Inf\"} 4\nh_sum 9\nh_count 4\n\
# TYPE s summary\ns{quantile=\"0.5\"} 2\ns{quantile=\"0.9\"} 3\ns_sum 10\ns_count 5\n\
# TYPE target_info gauge\ntarget_info{region=\"eu\"} 1\nuntyped_one 3\n";
    let exp = parse(body.as_bytes(), Format::Text).unwrap();
    let out = convert(&exp, &t, &mut tr, 1000).unwrap();
    let h = out.metrics.iter().find(|m| m.name == "h").unwrap();
    let Some(metric::Data::Histogram(h)) = &h.data else {
        panic!()
    };
    let p = &h.data_points[0];
    assert_eq!((p.count, p.sum), (4, Some(9.0)));
    assert_eq!(p.explicit_bounds, [1.0, 5.0]);
    assert_eq!(p.bucket_counts, [1, 2, 1]);
    assert_eq!(p.start_time_unix_nano, S);
    let s = out.metrics.iter().find(|m| m.name == "s").unwrap();
    let Some(metric::Data::Summary(s)) = &s.data else {
        panic!()
    };
    assert_eq!(s.data_points[0].count, 5);
    assert_eq!(s.data_points[0].quantile_values.len(), 2);
    assert_eq!(out.resource_attrs[0].key, "region");
    assert!(out.metrics.iter().all(|m| m.name != "target_info"));
    assert!(matches!(
        out.metrics
            .iter()
            .find(|m| m.name == "untyped_one")
            .unwrap()
            .data,
        Some(metric::Data::Gauge(_))
    ));
    assert_eq!(out.samples_scraped, 11);
    assert_eq!(out.series_added, 10);
    // Histogram reset: the count went down.
    let body2 = body.replace("h_count 4", "h_count 1");
    let exp = parse(body2.as_bytes(), Format::Text).unwrap();
    let out = convert(&exp, &t, &mut tr, 5000).unwrap();
    let h = out.metrics.iter().find(|m| m.name == "h").unwrap();
    let Some(metric::Data::Histogram(h)) = &h.data else {
        panic!()
    };
    assert_eq!(h.data_points[0].start_time_unix_nano, 5 * S);
    assert_eq!(out.series_added, 0);
}

#[test]
fn metric_relabeling_honor_labels_sample_limit_and_trimming() {
    let mut t = target();
    t.metric_relabel = serde_json::from_value::<Vec<RelabelConfig>>(serde_json::json!([
        {"source_labels": ["__name__"], "regex": "drop_.*", "action": "drop"},
        {"source_labels": ["__name__"], "regex": "old_(.*)", "target_label": "__name__", "replacement": "new_$1"}
    ]))
    .unwrap()
    .iter()
    .map(|r| r.compile().unwrap())
    .collect();
    t.trim_metric_suffixes = true;
    let mut tr = SeriesTracker::default();
    let body = "# TYPE old_requests_total counter\nold_requests_total{env=\"x\"} 1\ndrop_me 1\n";
    let exp = parse(body.as_bytes(), Format::Text).unwrap();
    let out = convert(&exp, &t, &mut tr, 1000).unwrap();
    assert_eq!(out.samples_post_relabel, 1);
    assert_eq!(out.metrics.len(), 1);
    assert_eq!(out.metrics[0].name, "new_requests");
    let attrs: Vec<_> = points(&out.metrics, "new_requests")[0]
        .attributes
        .iter()
        .map(|k| k.key.clone())
        .collect();
    // honor_labels false: the scraped env is kept as exported_env, the target's env wins.
    assert_eq!(attrs, ["env", "exported_env"]);
    t.sample_limit = 1;
    t.metric_relabel.clear();
    let err = convert(&exp, &t, &mut tr, 2000).unwrap_err();
    assert!(err.to_string().contains("sample_limit"));
}

// ---- properties ----

fn arb_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_]{0,8}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..512), om in any::<bool>()) {
        let format = if om { Format::OpenMetrics } else { Format::Text };
        let _ = parse(&body, format);
    }

    #[test]
    fn never_panics_on_near_valid(lines in proptest::collection::vec(
        prop_oneof![
            Just("# TYPE a counter".to_string()),
            Just("# HELP a x\\\\y".to_string()),
            Just("# EOF".to_string()),
            "a(_total|_bucket|_created)?(\\{[a-z]{1,3}=\"[^\"\\\\]{0,4}\"\\})? [0-9.eE+-]{1,6}( [0-9]{1,4})?",
            "[ -~]{0,30}",
        ], 0..12), om in any::<bool>()) {
        let format = if om { Format::OpenMetrics } else { Format::Text };
        let _ = parse(lines.join("\n").as_bytes(), format);
    }

    #[test]
    fn render_parse_round_trip(
        fams in proptest::collection::vec((arb_name(), 0usize..3, proptest::collection::vec(
            (proptest::collection::btree_map(arb_name(), "[ -~\\n]{0,6}", 0..3),
             prop_oneof![any::<f64>().prop_filter("finite", |v| v.is_finite()), Just(f64::INFINITY)],
             proptest::option::of(0i64..4_000_000_000_000)), 1..4)), 1..4),
        om in any::<bool>(),
    ) {
        let format = if om { Format::OpenMetrics } else { Format::Text };
        // Distinct family names so samples cannot join a neighbour's family.
        let mut text = String::new();
        let mut seen = std::collections::HashSet::new();
        for (i, (name, kind, samples)) in fams.iter().enumerate() {
            let name = format!("{name}_{i}");
            if !seen.insert(name.clone()) { continue; }
            let kind = ["gauge", "counter", if om { "unknown" } else { "untyped" }][*kind];
            let sample_name = if kind == "counter" && om { format!("{name}_total") } else { name.clone() };
            text.push_str(&format!("# TYPE {name} {kind}\n"));
            for (labels, v, ts) in samples {
                text.push_str(&sample_name);
                if !labels.is_empty() {
                    let ls: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"",
                        v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"))).collect();
                    text.push_str(&format!("{{{}}}", ls.join(",")));
                }
                text.push_str(&format!(" {v:?}"));
                if let Some(ts) = ts {
                    if om { text.push_str(&format!(" {}", *ts as f64 / 1000.0)); } else { text.push_str(&format!(" {ts}")); }
                }
                text.push('\n');
            }
        }
        if om { text.push_str("# EOF\n"); }
        let a = parse(text.as_bytes(), format).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        let rendered = render(&a, format);
        let b = parse(rendered.as_bytes(), format).map_err(|e| TestCaseError::fail(format!("{e}\n{rendered}")))?;
        prop_assert_eq!(a.families.len(), b.families.len());
        for (x, y) in a.samples.iter().zip(&b.samples) {
            prop_assert_eq!(x.name, y.name);
            prop_assert_eq!(x.value.to_bits(), y.value.to_bits());
            prop_assert_eq!(x.timestamp_ms, y.timestamp_ms);
            prop_assert_eq!(a.labels_of(&x.labels), b.labels_of(&y.labels));
        }
        prop_assert_eq!(a.samples.len(), b.samples.len());
    }
}

/// The spec's and the Go receiver's examples, as a table.
#[test]
fn trim_metric_suffixes_naming_table() {
    use MetricType::*;
    let cases: &[(&str, MetricType, Option<&str>, &str)] = &[
        ("http_requests_total", Counter, None, "http_requests"),
        ("http_requests_total", Gauge, None, "http_requests_total"),
        (
            "request_duration_seconds",
            Histogram,
            Some("seconds"),
            "request_duration",
        ),
        (
            "request_duration_seconds_total",
            Counter,
            Some("seconds"),
            "request_duration",
        ),
        ("memory_usage_bytes", Gauge, Some("bytes"), "memory_usage"),
        ("memory_usage_bytes", Gauge, None, "memory_usage_bytes"),
        ("total", MetricType::Counter, None, "total"),
        ("seconds", Gauge, Some("seconds"), "seconds"),
        ("rx_bytes_per_second", Gauge, Some("bytes_per_second"), "rx"),
        ("up", Gauge, None, "up"),
    ];
    for (name, kind, unit, want) in cases {
        assert_eq!(
            super::convert::trimmed_name(name, *kind, *unit),
            *want,
            "{name} {kind:?} {unit:?}"
        );
    }
    let units = [
        ("seconds", "s"),
        ("bytes", "By"),
        ("bytes_per_second", "By/s"),
        ("ratio", "1"),
        ("celsius", "Cel"),
        ("widgets", "widgets"),
    ];
    for (word, ucum) in units {
        assert_eq!(crate::naming::ucum_unit(word), ucum);
    }
}

/// The spec's "Dropped Types" (Stable): a GaugeHistogram gives no OTLP metric at all, while
/// its samples count as scraped and against `sample_limit`.
#[test]
fn gauge_histograms_are_dropped() {
    let body = b"# TYPE q gaugehistogram\n\
q_bucket{le=\"1\"} 3\n\
q_bucket{le=\"+Inf\"} 5\n\
q_gsum 7\n\
q_gcount 5\n\
# TYPE g gauge\n\
g 1\n\
# EOF\n";
    let exp = parse(body, Format::OpenMetrics).unwrap();
    let mut tracker = SeriesTracker::default();
    let out = convert(&exp, &target(), &mut tracker, 1_000).unwrap();
    let names: Vec<_> = out.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["g"]);
    assert_eq!(out.samples_post_relabel, 5);
    let limited = TargetContext {
        sample_limit: 4,
        ..target()
    };
    assert!(convert(&exp, &limited, &mut SeriesTracker::default(), 1_000).is_err());
}

/// "If `_count` is not present, the metric MUST be dropped" (the spec's Prometheus histograms
/// and summaries): per point, as the Go receiver does; a point that loses its `_count` later
/// ends with a staleness point, as if it had gone.
#[test]
fn histograms_and_summaries_without_count_are_dropped() {
    let body = |with_count: bool| {
        let (h_count, s_count) = if with_count {
            ("h_count{a=\"1\"} 5\n", "s_count 2\n")
        } else {
            ("", "")
        };
        format!(
            "# TYPE h histogram\n\
h_bucket{{a=\"1\",le=\"1\"}} 3\nh_bucket{{a=\"1\",le=\"+Inf\"}} 5\nh_sum{{a=\"1\"}} 7\n{h_count}\
h_bucket{{a=\"2\",le=\"1\"}} 1\nh_bucket{{a=\"2\",le=\"+Inf\"}} 1\nh_sum{{a=\"2\"}} 1\nh_count{{a=\"2\"}} 1\n\
# TYPE s summary\ns{{quantile=\"0.5\"}} 1\ns_sum 3\n{s_count}"
        )
    };
    let mut tracker = SeriesTracker::default();
    let exp_text = body(false);
    let exp = parse(exp_text.as_bytes(), Format::Text).unwrap();
    let out = convert(&exp, &target(), &mut tracker, 1_000).unwrap();
    // Only h{a="2"} has its `_count`; the summary has none, so no metric `s` at all.
    let names: Vec<_> = out.metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["h"]);
    let Some(metric::Data::Histogram(h)) = &out.metrics[0].data else {
        panic!("not a histogram: {:?}", out.metrics[0]);
    };
    assert_eq!(h.data_points.len(), 1);
    assert_eq!(h.data_points[0].attributes[0], kv("a", "2"));
    // The samples still count as scraped.
    assert_eq!(out.samples_post_relabel, 9);

    // With their counts, all three points; then without again: staleness points for the two.
    let with = body(true);
    let exp = parse(with.as_bytes(), Format::Text).unwrap();
    let out = convert(&exp, &target(), &mut tracker, 2_000).unwrap();
    assert_eq!(
        flags_by_metric(&out.metrics),
        [("h", vec![0, 0]), ("s", vec![0])]
    );
    let exp = parse(exp_text.as_bytes(), Format::Text).unwrap();
    let out = convert(&exp, &target(), &mut tracker, 3_000).unwrap();
    let mut got = flags_by_metric(&out.metrics);
    got[1..].sort();
    // h{a="2"} live; h{a="1"} and s stale (flag 1 = no recorded value).
    assert_eq!(got, [("h", vec![0]), ("h", vec![1]), ("s", vec![1])]);
}

/// Each metric's name and its points' flags.
fn flags_by_metric(metrics: &[Metric]) -> Vec<(&str, Vec<u32>)> {
    metrics
        .iter()
        .map(|m| {
            let flags = match &m.data {
                Some(metric::Data::Histogram(h)) => h.data_points.iter().map(|p| p.flags).collect(),
                Some(metric::Data::Summary(s)) => s.data_points.iter().map(|p| p.flags).collect(),
                other => panic!("unexpected data {other:?}"),
            };
            (m.name.as_str(), flags)
        })
        .collect()
}
