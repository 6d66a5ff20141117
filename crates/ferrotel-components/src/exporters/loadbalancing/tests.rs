use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_pdata::proto::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric, number_data_point,
};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_runtime::*;
use proptest::prelude::*;

use super::config::{LoadBalancingConfig, RoutingKey};
use super::resolver::{Resolver, with_default_port};
use super::ring::HashRing;
use super::routing::route;
use super::{LoadBalancer, LoadBalancingExporterFactory};
use crate::receivers::otlp::OtlpReceiverFactory;
use crate::testing::{Recorder, config, config_error, ctx, kv_str};

fn eps(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

// --- the ring, against the Go exporter's own test vectors ---

#[test]
fn ring_positions_match_go() {
    let one = HashRing::with_points(&eps(&["endpoint-1"]), 5);
    let got: Vec<u32> = one.positions().map(|(p, _)| p).collect();
    assert_eq!(got, [1401, 4175, 14133, 17836, 21667]);

    // A duplicate endpoint takes no extra positions.
    let dup = HashRing::with_points(&eps(&["endpoint-1", "endpoint-1"]), 5);
    assert_eq!(dup.positions().count(), 5);

    let two = HashRing::with_points(&eps(&["endpoint-1", "endpoint-2"]), 5);
    let got: Vec<(u32, &str)> = two.positions().collect();
    let e1 = "endpoint-1";
    let e2 = "endpoint-2";
    assert_eq!(
        got,
        [
            (1401, e1),
            (4175, e1),
            (10240, e2),
            (14133, e1),
            (15002, e2),
            (17836, e1),
            (21263, e2),
            (21667, e1),
            (26806, e2),
            (27020, e2)
        ]
    );
}

#[test]
fn ring_lookup_matches_go() {
    let ring = HashRing::new(&eps(&["endpoint-1", "endpoint-2"]));
    assert_eq!(ring.positions().count(), 200);
    assert_eq!(ring.endpoint_for(&[1, 2, 0, 0]), Some("endpoint-1"));
    assert_eq!(ring.endpoint_for(&[128, 128, 0, 0]), Some("endpoint-2"));
    assert_eq!(ring.endpoint_for(b"ad-service-7"), Some("endpoint-1"));
    assert_eq!(
        ring.endpoint_for(b"get-recommendations-1"),
        Some("endpoint-2")
    );
    assert_eq!(HashRing::new(&[]).endpoint_for(b"x"), None);
}

#[test]
fn ring_spreads_keys_evenly() {
    let ring = HashRing::new(&eps(&["10.0.0.1:4317", "10.0.0.2:4317", "10.0.0.3:4317"]));
    let mut counts = BTreeMap::new();
    for i in 0u64..30_000 {
        *counts
            .entry(ring.endpoint_for(&i.to_le_bytes()).unwrap())
            .or_insert(0) += 1;
    }
    assert_eq!(counts.len(), 3);
    for (ep, n) in counts {
        assert!((5_000..15_000).contains(&n), "{ep}: {n} of 30000");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Removing one of N backends moves only the keys it owned; adding it back moves only
    /// keys to it.
    #[test]
    fn removing_a_backend_moves_only_its_keys(
        n in 2usize..8,
        removed in 0usize..8,
        keys in proptest::collection::vec(any::<[u8; 16]>(), 200),
    ) {
        let all: Vec<String> = (0..n).map(|i| format!("10.1.0.{i}:4317")).collect();
        let removed = &all[removed % n];
        let rest: Vec<String> = all.iter().filter(|e| *e != removed).cloned().collect();
        let before = HashRing::new(&all);
        let after = HashRing::new(&rest);
        for k in &keys {
            let b = before.endpoint_for(k).unwrap();
            let a = after.endpoint_for(k).unwrap();
            prop_assert_ne!(a, removed.as_str());
            if b != removed.as_str() {
                prop_assert_eq!(a, b, "a key of a remaining backend moved");
            }
        }
    }
}

// --- routing ---

fn span(trace: u8, name: &str) -> Span {
    Span {
        trace_id: vec![trace; 16].into(),
        span_id: vec![trace, 1, 2, 3, 4, 5, 6, 7].into(),
        name: name.into(),
        ..Default::default()
    }
}

fn resource(service: Option<&str>) -> Option<Resource> {
    Some(Resource {
        attributes: service
            .map(|s| vec![kv_str("service.name", s)])
            .unwrap_or_default(),
        ..Default::default()
    })
}

/// Traces 1..=40 spread over two resources, three spans each.
fn many_traces() -> Payload {
    let mut rss = Vec::new();
    for (svc, traces) in [("a", 1u8..=20), ("b", 21u8..=40)] {
        let spans = traces
            .flat_map(|t| (0..3).map(move |i| span(t, &format!("t{t}-s{i}"))))
            .collect();
        rss.push(ResourceSpans {
            resource: resource(Some(svc)),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        });
    }
    let req = ExportTraceServiceRequest {
        resource_spans: rss,
    };
    Payload::from_proto(Signal::Traces, Request::Traces(req).encode_proto()).unwrap()
}

fn spans_of(p: &Payload) -> Vec<(String, Span)> {
    let Request::Traces(r) = p.to_request().unwrap() else {
        panic!("not traces")
    };
    let mut out = Vec::new();
    for rs in r.resource_spans {
        let svc = super::routing::tests_service_name(&rs.resource);
        for ss in rs.scope_spans {
            for s in ss.spans {
                out.push((svc.clone(), s));
            }
        }
    }
    out
}

fn three() -> HashRing {
    HashRing::new(&eps(&["b1:4317", "b2:4317", "b3:4317"]))
}

#[test]
fn traces_split_by_trace_id_keep_each_trace_on_its_owner() {
    let ring = three();
    let parts = route(many_traces(), RoutingKey::TraceId, &ring, &mut || 0).unwrap();
    assert!(parts.len() > 1, "40 traces should spread over backends");
    let mut seen: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    let mut total = 0;
    for (idx, p) in &parts {
        for (svc, s) in spans_of(p) {
            total += 1;
            let owner = ring.endpoint_index(&s.trace_id).unwrap();
            assert_eq!(owner, *idx, "span {} sent off its owner", s.name);
            // Resource copied with the span.
            let t = s.trace_id[0];
            assert_eq!(svc, if t <= 20 { "a" } else { "b" });
            assert_eq!(*seen.entry(s.trace_id.to_vec()).or_insert(*idx), *idx);
        }
    }
    assert_eq!(total, 120);
    assert_eq!(seen.len(), 40);
}

#[test]
fn a_request_for_one_backend_is_passed_as_it_came() {
    let ring = HashRing::new(&eps(&["only:4317"]));
    let p = many_traces();
    let bytes = p.to_proto();
    let parts = route(p, RoutingKey::TraceId, &ring, &mut || 0).unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].1.as_encoded(), Some(&bytes));
}

#[test]
fn traces_split_by_service() {
    let ring = three();
    let parts = route(many_traces(), RoutingKey::Service, &ring, &mut || 0).unwrap();
    let mut total = 0;
    for (idx, p) in &parts {
        for (svc, _) in spans_of(p) {
            total += 1;
            assert_eq!(ring.endpoint_index(svc.as_bytes()).unwrap(), *idx);
        }
    }
    assert_eq!(total, 120);
}

#[test]
fn service_routing_refuses_traces_without_service_name() {
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(None),
            scope_spans: vec![ScopeSpans {
                spans: vec![span(1, "x")],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let err = route(
        Payload::from_request(Request::Traces(req)),
        RoutingKey::Service,
        &three(),
        &mut || 0,
    )
    .unwrap_err();
    assert!(!err.is_retryable());
    assert!(err.message.contains("service name"), "{err}");
}

fn gauge(name: &str, hosts: &[&str]) -> Metric {
    Metric {
        name: name.into(),
        data: Some(metric::Data::Gauge(Gauge {
            data_points: hosts
                .iter()
                .map(|h| NumberDataPoint {
                    attributes: vec![kv_str("host", h)],
                    value: Some(number_data_point::Value::AsInt(1)),
                    ..Default::default()
                })
                .collect(),
        })),
        ..Default::default()
    }
}

fn metrics_payload(services: &[Option<&str>]) -> Payload {
    let hosts: Vec<String> = (0..30).map(|i| format!("h{i}")).collect();
    let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let rms = services
        .iter()
        .map(|svc| ResourceMetrics {
            resource: resource(*svc),
            scope_metrics: vec![ScopeMetrics {
                metrics: (0..10).map(|i| gauge(&format!("m{i}"), &hosts)).collect(),
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    Payload::from_request(Request::Metrics(ExportMetricsServiceRequest {
        resource_metrics: rms,
    }))
}

/// (service, metric name, host) of every data point, with its backend.
fn points(parts: &[(usize, Payload)]) -> Vec<(usize, String, String, String)> {
    let mut out = Vec::new();
    for (idx, p) in parts {
        let Request::Metrics(r) = p.to_request().unwrap() else {
            panic!()
        };
        for rm in r.resource_metrics {
            let svc = super::routing::tests_service_name(&rm.resource);
            for sm in rm.scope_metrics {
                for m in sm.metrics {
                    let Some(metric::Data::Gauge(g)) = m.data else {
                        panic!()
                    };
                    for dp in g.data_points {
                        let host = match dp.attributes[0].value.as_ref().unwrap().value.as_ref() {
                            Some(
                                ferrotel_pdata::proto::common::v1::any_value::Value::StringValue(s),
                            ) => s.clone(),
                            _ => panic!(),
                        };
                        out.push((*idx, svc.clone(), m.name.clone(), host));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn metrics_by_service_resource_metric_and_stream() {
    let ring = three();
    for key in [
        RoutingKey::Service,
        RoutingKey::Resource,
        RoutingKey::Metric,
        RoutingKey::StreamId,
    ] {
        let parts = route(
            metrics_payload(&[Some("a"), Some("b"), Some("c")]),
            key,
            &ring,
            &mut || 0,
        )
        .unwrap();
        let pts = points(&parts);
        assert_eq!(
            pts.len(),
            3 * 10 * 30,
            "{key:?}: every point delivered once"
        );
        let unique: BTreeSet<_> = pts.iter().map(|(_, s, m, h)| (s, m, h)).collect();
        assert_eq!(unique.len(), pts.len(), "{key:?}: no point duplicated");
        // The same key always lands on one backend.
        let mut owner: BTreeMap<String, usize> = BTreeMap::new();
        for (idx, svc, name, host) in &pts {
            let k = match key {
                RoutingKey::Service | RoutingKey::Resource => svc.clone(),
                RoutingKey::Metric => name.clone(),
                _ => format!("{svc}/{name}/{host}"),
            };
            assert_eq!(*owner.entry(k.clone()).or_insert(*idx), *idx, "{key:?} {k}");
        }
        if key == RoutingKey::Service {
            for (idx, svc, _, _) in &pts {
                assert_eq!(ring.endpoint_index(svc.as_bytes()).unwrap(), *idx);
            }
        }
        if key == RoutingKey::Metric {
            for (idx, _, name, _) in &pts {
                assert_eq!(ring.endpoint_index(name.as_bytes()).unwrap(), *idx);
            }
        }
        if key == RoutingKey::StreamId {
            let used: BTreeSet<usize> = pts.iter().map(|p| p.0).collect();
            assert_eq!(used.len(), 3, "900 streams should reach all backends");
        }
    }
}

#[test]
fn metrics_without_service_name_are_dropped_as_go_does() {
    let ring = three();
    let parts = route(
        metrics_payload(&[Some("a"), None]),
        RoutingKey::Service,
        &ring,
        &mut || 0,
    )
    .unwrap();
    assert_eq!(points(&parts).len(), 300);
    let err = route(
        metrics_payload(&[None]),
        RoutingKey::Service,
        &ring,
        &mut || 0,
    )
    .unwrap_err();
    assert!(err.message.contains("service name"), "{err}");
}

#[test]
fn logs_follow_their_trace_id_and_the_rest_stays_together() {
    let ring = three();
    let mut records: Vec<LogRecord> = (1u8..=30)
        .map(|t| LogRecord {
            trace_id: vec![t; 16].into(),
            severity_text: format!("t{t}"),
            ..Default::default()
        })
        .collect();
    records.extend((0..10).map(|i| LogRecord {
        severity_text: format!("none{i}"),
        ..Default::default()
    }));
    let req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(Some("svc")),
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let parts = route(
        Payload::from_request(Request::Logs(req)),
        RoutingKey::TraceId,
        &ring,
        &mut || 7,
    )
    .unwrap();
    let fallback = ring.endpoint_index(&7u64.to_le_bytes()).unwrap();
    let mut n = 0;
    for (idx, p) in &parts {
        let Request::Logs(r) = p.to_request().unwrap() else {
            panic!()
        };
        for rl in r.resource_logs {
            assert_eq!(super::routing::tests_service_name(&rl.resource), "svc");
            for sl in rl.scope_logs {
                for rec in sl.log_records {
                    n += 1;
                    let want = if rec.trace_id.is_empty() {
                        fallback
                    } else {
                        ring.endpoint_index(&rec.trace_id).unwrap()
                    };
                    assert_eq!(*idx, want, "{}", rec.severity_text);
                }
            }
        }
    }
    assert_eq!(n, 40);
}

// --- config ---

#[test]
fn testdata_valid_configs_decode_with_go_defaults() {
    let c: LoadBalancingConfig = config(include_str!("testdata/config.yaml"));
    c_validate(&c);
    let dns = c.resolver.dns.as_ref().unwrap();
    assert_eq!(
        dns.hostname,
        "otelcol-headless.observability.svc.cluster.local"
    );
    assert_eq!(dns.port, "4317");
    assert_eq!(dns.interval, Duration::from_secs(5));
    assert_eq!(dns.timeout, Duration::from_secs(1));
    assert_eq!(c.protocol.otlp.timeout, Duration::from_secs(1));

    let c: LoadBalancingConfig = config(include_str!("testdata/static.yaml"));
    c_validate(&c);
    assert_eq!(c.routing_key, "service");
    let r = Resolver::from_config(&c.resolver).unwrap();
    let Resolver::Static(list) = r else { panic!() };
    assert_eq!(
        list,
        ["backend-1:4317", "backend-2:4317", "backend-3:55690"]
    );
}

fn c_validate(c: &LoadBalancingConfig) {
    use ferrotel_runtime::ComponentConfig;
    c.validate().unwrap();
}

#[test]
fn testdata_invalid_configs_fail_with_the_field() {
    let cases = [
        (
            "invalid-no-resolver.yaml",
            "resolver",
            "no resolvers specified",
        ),
        (
            "invalid-two-resolvers.yaml",
            "resolver",
            "only one resolver",
        ),
        (
            "invalid-routing-key.yaml",
            "routing_key",
            "unsupported routing_key: \"span\"",
        ),
        ("invalid-k8s.yaml", "resolver::k8s", "not supported"),
        (
            "invalid-empty-static.yaml",
            "resolver::static::hostnames",
            "no endpoints",
        ),
        (
            "invalid-dns-no-hostname.yaml",
            "resolver::dns::hostname",
            "no hostname",
        ),
        (
            "invalid-otlp-compression.yaml",
            "protocol::otlp::compression",
            "unsupported compression",
        ),
    ];
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/exporters/loadbalancing/testdata"
    );
    for (file, path, msg) in cases {
        let yaml = std::fs::read_to_string(format!("{dir}/{file}")).unwrap();
        let err = config_error::<LoadBalancingConfig>(&yaml);
        assert!(err.contains(path) && err.contains(msg), "{file}: {err}");
    }
    let err = config_error::<LoadBalancingConfig>("resolver: {static: {hostnames: [a]}}\nfoo: 1");
    assert!(err.contains("foo"), "{err}");
}

#[test]
fn default_port_is_added_as_go_does() {
    assert_eq!(with_default_port("backend"), "backend:4317");
    assert_eq!(with_default_port("backend:1234"), "backend:1234");
    assert_eq!(with_default_port("[::1]:99"), "[::1]:99");
    assert_eq!(with_default_port("[::1]"), "[::1]:4317");
}

#[test]
fn routing_keys_are_checked_per_signal() {
    let mk = |key: &str, signals: &[Signal]| {
        let c: LoadBalancingConfig = config(&format!(
            "routing_key: {key}\nresolver: {{static: {{hostnames: [a]}}}}"
        ));
        LoadBalancingExporterFactory
            .create(ctx("loadbalancing", Kind::Exporter), c, signals)
            .err()
            .map(|e| e.to_string())
    };
    assert_eq!(mk("service", &[Signal::Traces, Signal::Metrics]), None);
    assert!(
        mk("metric", &[Signal::Traces])
            .unwrap()
            .contains("for traces")
    );
    assert!(
        mk("traceID", &[Signal::Metrics])
            .unwrap()
            .contains("for metrics")
    );
    assert_eq!(mk("streamID", &[Signal::Metrics, Signal::Logs]), None);
}

#[tokio::test]
async fn dns_resolver_resolves_localhost_with_the_port() {
    let r = Resolver::from_config(
        &config::<LoadBalancingConfig>("resolver: {dns: {hostname: localhost, port: 5555}}")
            .resolver,
    )
    .unwrap();
    let got = r.resolve().await.unwrap();
    assert!(got.contains(&"127.0.0.1:5555".to_string()), "{got:?}");
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(got, sorted);

    let bad = Resolver::from_config(
        &config::<LoadBalancingConfig>("resolver: {dns: {hostname: no-such-host.invalid}}")
            .resolver,
    )
    .unwrap();
    assert!(bad.resolve().await.is_err());
}

// --- with real OTLP/gRPC backends (ferrotel's own receiver) ---

struct Backend {
    addr: String,
    got: Arc<Recorder>,
    receiver: Arc<dyn Receiver>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn backend() -> Backend {
    let port = free_port();
    let got = Recorder::new();
    let c = config(&format!(
        "protocols: {{grpc: {{endpoint: '127.0.0.1:{port}'}}}}"
    ));
    let receiver = ReceiverFactory::create(
        &OtlpReceiverFactory,
        ctx("otlp", Kind::Receiver),
        c,
        vec![
            (Signal::Traces, got.clone() as ConsumerRef),
            (Signal::Logs, got.clone() as ConsumerRef),
        ],
    )
    .unwrap();
    receiver.start().await.unwrap();
    Backend {
        addr: format!("127.0.0.1:{port}"),
        got,
        receiver,
    }
}

fn balancer(hostnames: &[&String]) -> Arc<LoadBalancer> {
    let list: Vec<String> = hostnames.iter().map(|h| format!("'{h}'")).collect();
    let c: LoadBalancingConfig = config(&format!(
        "protocol: {{otlp: {{tls: {{insecure: true}}, timeout: 1s, compression: none, retry_on_failure: {{initial_interval: 50ms, max_interval: 100ms, max_elapsed_time: 60s}}}}}}\nresolver: {{static: {{hostnames: [{}]}}}}",
        list.join(", ")
    ));
    LoadBalancer::build(
        ctx("loadbalancing", Kind::Exporter),
        c,
        &[Signal::Traces, Signal::Logs],
    )
    .unwrap()
}

/// trace id (first byte) → backends that got spans of it.
fn owners(backends: &[&Backend]) -> BTreeMap<u8, BTreeSet<usize>> {
    let mut out: BTreeMap<u8, BTreeSet<usize>> = BTreeMap::new();
    for (i, b) in backends.iter().enumerate() {
        for p in b.got.got.lock().unwrap().iter() {
            for (_, s) in spans_of(p) {
                out.entry(s.trace_id[0]).or_default().insert(i);
            }
        }
    }
    out
}

async fn wait_for(mut f: impl FnMut() -> bool, what: &str) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_trace_reaches_exactly_one_real_backend() {
    let bs = [backend().await, backend().await, backend().await];
    let addrs: Vec<&String> = bs.iter().map(|b| &b.addr).collect();
    let lb = balancer(&addrs);
    lb.start().await.unwrap();
    lb.consume(many_traces(), Context::default()).await.unwrap();
    let refs: Vec<&Backend> = bs.iter().collect();
    wait_for(
        || bs.iter().map(|b| b.got.items()).sum::<usize>() == 120,
        "120 spans",
    )
    .await;
    let own = owners(&refs);
    assert_eq!(own.len(), 40);
    let ring = HashRing::new(&{
        let mut v: Vec<String> = addrs.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    });
    for (t, set) in &own {
        assert_eq!(set.len(), 1, "trace {t} split over {set:?}");
        let owner = ring.endpoint_for(&[*t; 16]).unwrap();
        assert_eq!(&bs[*set.iter().next().unwrap()].addr, owner);
    }
    assert!(
        own.values()
            .map(|s| s.iter().next())
            .collect::<BTreeSet<_>>()
            .len()
            > 1
    );
    lb.shutdown().await.unwrap();
    for b in &bs {
        b.receiver.shutdown().await.unwrap();
    }
}

/// A backend goes down: its share waits in its queue, retrying; when the resolver drops it,
/// that share is re-routed to the ring's new owners and nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_backends_queue_is_rerouted_to_the_new_owners() {
    let bs = [backend().await, backend().await, backend().await];
    let addrs: Vec<&String> = bs.iter().map(|b| &b.addr).collect();
    let lb = balancer(&addrs);
    lb.start().await.unwrap();

    // Backend 1 goes down.
    bs[1].receiver.shutdown().await.unwrap();
    lb.consume(many_traces(), Context::default()).await.unwrap();
    let refs: Vec<&Backend> = bs.iter().collect();
    let ring = HashRing::new(&lb.endpoints());
    let on_down = (1u8..=40)
        .filter(|t| ring.endpoint_for(&[*t; 16]) == Some(bs[1].addr.as_str()))
        .count();
    assert!(
        on_down > 0,
        "some traces must belong to the stopped backend"
    );
    wait_for(
        || bs[0].got.items() + bs[2].got.items() == (40 - on_down) * 3,
        "the live backends' share",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(bs[1].got.items(), 0);
    assert_eq!(
        bs[0].got.items() + bs[2].got.items(),
        (40 - on_down) * 3,
        "held while in the ring"
    );

    // The resolver drops it.
    lb.set_endpoints(vec![bs[0].addr.clone(), bs[2].addr.clone()])
        .await
        .unwrap();
    wait_for(
        || bs[0].got.items() + bs[2].got.items() == 120,
        "the stopped backend's share, re-routed",
    )
    .await;
    let own = owners(&refs);
    assert_eq!(own.len(), 40);
    let new_ring = HashRing::new(&lb.endpoints());
    for (t, set) in &own {
        assert_eq!(set.len(), 1, "trace {t} split over {set:?}");
        let i = *set.iter().next().unwrap();
        assert_ne!(i, 1);
        assert_eq!(Some(bs[i].addr.as_str()), new_ring.endpoint_for(&[*t; 16]));
    }
    lb.shutdown().await.unwrap();
    for b in [&bs[0], &bs[2]] {
        b.receiver.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn no_backends_is_a_retryable_refusal() {
    let lb = balancer(&[&"127.0.0.1:1".to_string()]);
    // Not started: the ring is empty.
    let err = lb
        .consume(many_traces(), Context::default())
        .await
        .unwrap_err();
    assert!(err.is_retryable());
    assert!(err.message.contains("no backends"), "{err}");
    lb.shutdown().await.unwrap();
}
