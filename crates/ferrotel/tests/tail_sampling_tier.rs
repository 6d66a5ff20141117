//! The two-tier tail sampling deployment of issue 18, all real processes and clients:
//! `ferrotel-loadgen` (its corpus sender, in-process) → ferrotel (`loadbalancing`, `dns`
//! resolver) → 3 ferrotel gateways (`tail_sampling` → `file`).
//!
//! - Every trace's spans land on exactly one gateway — the owner on the Go exporter's ring —
//!   even when they arrive split over requests.
//! - The gateways keep exactly the traces the policies (status_code ERROR, string_attribute)
//!   select, each whole; their own metrics count the same decisions.
//! - One gateway stops while the load runs and then leaves the DNS answer, as a pod that is
//!   scaled down leaves a headless service: what was routed to it while it was down is
//!   re-routed to the new owners, and the final set of sampled traces is still exact.
//!
//! The DNS answer is a hosts file bind-mounted over `/etc/hosts` in a user + mount namespace
//! (`unshare -rm`) of the load balancer only, so the system resolver it uses is the real one
//! and the test changes the answer by rewriting that file. The gateways listen on 127.0.0.2-4
//! with one port, as pods behind a headless service do.

mod interop_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ferrotel_components::exporters::loadbalancing::ring::HashRing;
use ferrotel_loadgen::{LoadArgs, Report};
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue, any_value::Value};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use ferrotel_pdata::{Request, Signal};
use interop_support::*;

const HOST: &str = "gateways.ferrotel.test";
const DECISION_WAIT_S: u64 = 3;
/// Traces of phase 1 (all gateways up, each trace's spans split over two requests).
const PHASE1: u64 = 300;
/// Traces of phase 2 (one gateway stops part way), five whole traces per request.
const PHASE2: u64 = 300;

fn trace_id(i: u64) -> [u8; 16] {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&i.to_be_bytes());
    id[8..].copy_from_slice(&i.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes());
    id
}

fn spans_of(i: u64) -> u64 {
    2 + i % 3
}

/// The policies' inputs: an ERROR status on the trace's last span (so the decision needs the
/// spans of the second request), `tenant: vip` on its first.
fn is_error(i: u64) -> bool {
    i % 6 == 1
}
fn is_vip(i: u64) -> bool {
    i % 5 == 2
}

fn span(i: u64, k: u64) -> Span {
    let n = spans_of(i);
    let mut attributes = vec![KeyValue {
        key: "tenant".into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(
                if k == 0 && is_vip(i) { "vip" } else { "basic" }.into(),
            )),
        }),
        ..Default::default()
    }];
    attributes.push(KeyValue {
        key: "step".into(),
        value: Some(AnyValue {
            value: Some(Value::IntValue(k as i64)),
        }),
        ..Default::default()
    });
    Span {
        trace_id: trace_id(i).to_vec().into(),
        span_id: (i << 8 | k | 1 << 63).to_be_bytes().to_vec().into(),
        parent_span_id: if k == 0 {
            Default::default()
        } else {
            (i << 8 | 1 << 63).to_be_bytes().to_vec().into()
        },
        name: format!("op-{k}"),
        start_time_unix_nano: 1_700_000_000_000_000_000 + k * 1_000,
        end_time_unix_nano: 1_700_000_000_000_000_000 + k * 1_000 + 500_000,
        status: (k == n - 1 && is_error(i)).then(|| Status {
            code: 2,
            ..Default::default()
        }),
        attributes,
        ..Default::default()
    }
}

/// One request holding `spans`, over two services (by trace), as SDKs of two services
/// batched together by an agent would send.
fn request(spans: impl Iterator<Item = (u64, u64)>) -> Vec<u8> {
    let mut by_service: [Vec<Span>; 2] = [Vec::new(), Vec::new()];
    for (i, k) in spans {
        by_service[(i % 2) as usize].push(span(i, k));
    }
    let resource_spans = by_service
        .into_iter()
        .enumerate()
        .filter(|(_, s)| !s.is_empty())
        .map(|(svc, spans)| ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(Value::StringValue(["shop", "payments"][svc].to_string())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    Request::Traces(ExportTraceServiceRequest { resource_spans })
        .encode_proto()
        .to_vec()
}

/// Phase 1: groups of 10 traces; the first halves of group g go one request before the
/// second halves of group g−1, so a trace's two requests are never adjacent.
fn phase1_requests() -> Vec<Vec<u8>> {
    let groups = PHASE1 / 10;
    let half = |g: u64, second: bool| {
        (g * 10..g * 10 + 10).flat_map(move |i| {
            let n = spans_of(i);
            let cut = n.div_ceil(2);
            let range = if second { cut..n } else { 0..cut };
            range.map(move |k| (i, k))
        })
    };
    let mut out = Vec::new();
    for g in 0..=groups {
        if g < groups {
            out.push(request(half(g, false)));
        }
        if g > 0 {
            out.push(request(half(g - 1, true)));
        }
    }
    out
}

fn phase2_requests() -> Vec<Vec<u8>> {
    (PHASE1..PHASE1 + PHASE2)
        .step_by(5)
        .map(|first| {
            request((first..first + 5).flat_map(|i| (0..spans_of(i)).map(move |k| (i, k))))
        })
        .collect()
}

/// Sends `requests` with `ferrotel-loadgen`'s corpus sender over OTLP/gRPC, one request in
/// flight, `per_second` requests a second.
fn loadgen(dir: &Path, name: &str, port: u16, requests: Vec<Vec<u8>>, per_second: u32) -> Report {
    let corpus = dir.join(format!("{name}.corpus"));
    ferrotel_loadgen::corpus::write(&corpus, Signal::Traces, requests).unwrap();
    let (endpoint, rate) = (format!("127.0.0.1:{port}"), per_second.to_string());
    let args = LoadArgs::parse_from_strs(&[
        "--endpoint",
        endpoint.as_str(),
        "--protocol",
        "grpc",
        "--corpus",
        corpus.to_str().unwrap(),
        "--workers",
        "1",
        // With a corpus, --batch-size only paces: one "item" per request.
        "--batch-size",
        "1",
        "--rate",
        rate.as_str(),
        "--max-retries",
        "0",
    ])
    .unwrap();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(ferrotel_loadgen::send::run(Signal::Traces, &args))
        .unwrap()
}

fn gateway_config(dir: &Path, ip: &str, port: u16, metrics: u16) -> String {
    let d = dir.display();
    format!(
        r#"
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "{ip}:{port}"}}
processors:
  tail_sampling:
    decision_wait: {DECISION_WAIT_S}s
    num_traces: 10000
    policies:
      - {{name: errors, type: status_code, status_code: {{status_codes: [ERROR]}}}}
      - {{name: vip, type: string_attribute, string_attribute: {{key: tenant, values: [vip]}}}}
exporters:
  file: {{path: {d}/traces.bin, format: proto, flush_interval: 50ms}}
service:
  telemetry: {{metrics: {{address: "127.0.0.1:{metrics}"}}}}
  pipelines:
    traces: {{receivers: [otlp], processors: [tail_sampling], exporters: [file]}}
"#
    )
}

fn balancer_config(otlp: u16, gateway_port: u16, metrics: u16) -> String {
    format!(
        r#"
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{otlp}"}}
exporters:
  loadbalancing:
    protocol:
      otlp:
        tls: {{insecure: true}}
        timeout: 2s
        retry_on_failure: {{initial_interval: 100ms, max_interval: 300ms, max_elapsed_time: 0s}}
    resolver:
      dns: {{hostname: {HOST}, port: {gateway_port}, interval: 200ms, timeout: 1s}}
service:
  telemetry: {{metrics: {{address: "127.0.0.1:{metrics}"}}}}
  pipelines:
    traces: {{receivers: [otlp], exporters: [loadbalancing]}}
"#
    )
}

/// Writes the load balancer's `/etc/hosts` in place (same inode: the bind mount follows).
fn write_hosts(path: &Path, ips: &[&str]) {
    let text: String = ips.iter().map(|ip| format!("{ip} {HOST}\n")).collect();
    std::fs::write(path, text).unwrap();
}

fn accepted_spans(c: &Collector) -> f64 {
    c.metric("otelcol_receiver_accepted_spans_total", &[])
}

#[test]
fn gateways_behind_a_load_balancer_sample_whole_traces_exactly_when_one_leaves() {
    let probe = Command::new("unshare").args(["-rm", "true"]).status();
    assert!(
        probe.is_ok_and(|s| s.success()),
        "this test needs `unshare -rm` (util-linux, unprivileged user namespaces) to give the load balancer its own /etc/hosts"
    );
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let ips = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];
    let dirs: Vec<PathBuf> = (0..3).map(|g| tmp.path().join(format!("gw{g}"))).collect();
    let mut gateways: Vec<Collector> = (0..3)
        .map(|g| {
            std::fs::create_dir_all(&dirs[g]).unwrap();
            let m = free_port();
            Collector::start(
                &format!("gw{g}"),
                &dirs[g],
                &gateway_config(&dirs[g], ips[g], port, m),
                Some(m),
            )
        })
        .collect();

    let hosts = tmp.path().join("hosts");
    write_hosts(&hosts, &ips);
    let (lb_port, lb_metrics) = (free_port(), free_port());
    let hosts_arg = hosts.to_str().unwrap();
    let lb = Collector::start_wrapped(
        "lb",
        tmp.path(),
        &balancer_config(lb_port, port, lb_metrics),
        Some(lb_metrics),
        &[
            "unshare",
            "-rm",
            "sh",
            "-c",
            r#"mount --bind "$0" /etc/hosts && exec "$@""#,
            hosts_arg,
        ],
    );
    assert_eq!(lb.metric("ferrotel_loadbalancer_num_backends", &[]), 3.0);

    let endpoints = |ips: &[&str]| {
        let mut e: Vec<String> = ips.iter().map(|ip| format!("{ip}:{port}")).collect();
        e.sort();
        e
    };
    let ring3 = HashRing::new(&endpoints(&ips));
    let ring2 = HashRing::new(&endpoints(&[ips[0], ips[2]]));
    let owner = |ring: &HashRing, i: u64| {
        let ep = ring.endpoint_for(&trace_id(i)).unwrap();
        ips.iter()
            .position(|ip| ep.starts_with(&format!("{ip}:")))
            .unwrap()
    };

    // Phase 1: all up, traces split over two requests.
    let p1 = loadgen(tmp.path(), "phase1", lb_port, phase1_requests(), 30);
    let p1_spans: u64 = (0..PHASE1).map(spans_of).sum();
    assert_eq!((p1.acknowledged, p1.dropped), (p1_spans, 0), "{p1:?}");
    wait_for(Duration::from_secs(30), "phase 1 on the gateways", || {
        gateways.iter().map(accepted_spans).sum::<f64>() == p1_spans as f64
    });

    // Phase 2: gateway 1 stops a third of the way in, then leaves the DNS answer.
    let p2 = std::thread::scope(|s| {
        let sender = s.spawn(|| loadgen(tmp.path(), "phase2", lb_port, phase2_requests(), 15));
        std::thread::sleep(Duration::from_millis(1300));
        assert!(gateways[1].terminate().success(), "{}", gateways[1].log());
        std::thread::sleep(Duration::from_millis(500));
        write_hosts(&hosts, &[ips[0], ips[2]]);
        sender.join().unwrap()
    });
    let p2_spans: u64 = (PHASE1..PHASE1 + PHASE2).map(spans_of).sum();
    assert_eq!((p2.acknowledged, p2.dropped), (p2_spans, 0), "{p2:?}");
    wait_for(
        Duration::from_secs(10),
        "the ring without gateway 1",
        || lb.metric("ferrotel_loadbalancer_num_backends", &[]) == 2.0,
    );

    // What the policies keep, each trace whole.
    let all = 0..PHASE1 + PHASE2;
    let want: BTreeMap<String, usize> = all
        .clone()
        .filter(|i| is_error(*i) || is_vip(*i))
        .map(|i| (hex(&trace_id(i)), spans_of(i) as usize))
        .collect();
    let index: BTreeMap<String, u64> = all.map(|i| (hex(&trace_id(i)), i)).collect();
    let files: Vec<PathBuf> = dirs.iter().map(|d| d.join("traces.bin")).collect();
    let kept =
        || -> Vec<BTreeMap<String, usize>> { files.iter().map(|f| spans_per_trace(f)).collect() };
    let union = |per: &[BTreeMap<String, usize>]| {
        let mut u: BTreeMap<String, usize> = BTreeMap::new();
        for m in per {
            for (t, n) in m {
                *u.entry(t.clone()).or_default() += n;
            }
        }
        u
    };
    wait_for(
        Duration::from_secs(60),
        "every selected trace on a gateway",
        || union(&kept()).len() >= want.len(),
    );
    // Anything still to come (a duplicate, a split) would come within a decision wait.
    std::thread::sleep(Duration::from_secs(DECISION_WAIT_S + 1));
    let per = kept();
    assert_eq!(union(&per), want, "sampled traces, each whole and once");

    let mut rerouted = 0;
    for (g, m) in per.iter().enumerate() {
        for t in m.keys() {
            let i = index[t];
            let (o3, o2) = (owner(&ring3, i), owner(&ring2, i));
            let on_owner = g == o3 || (i >= PHASE1 && g == o2);
            assert!(on_owner, "trace {i} on gateway {g}, owners {o3} then {o2}");
            assert_eq!(
                per.iter().filter(|m| m.contains_key(t)).count(),
                1,
                "trace {i} on several gateways"
            );
            rerouted += usize::from(g != o3);
        }
    }
    eprintln!(
        "sampled per gateway {:?}, {rerouted} of them re-routed from gateway 1",
        per.iter().map(|m| m.len()).collect::<Vec<_>>()
    );
    assert!(
        rerouted > 0,
        "some of gateway 1's share of phase 2 must have been re-routed"
    );
    assert!(
        per.iter().all(|m| m.len() > 10),
        "each gateway samples a share: {:?}",
        per.iter().map(|m| m.len()).collect::<Vec<_>>()
    );

    // The surviving gateways' own metrics count the same decisions, per policy.
    for g in [0, 2] {
        let c = &gateways[g];
        let ids: Vec<u64> = per[g].keys().map(|t| index[t]).collect();
        let count = |f: fn(u64) -> bool| ids.iter().filter(|i| f(**i)).count() as f64;
        let voted = |policy: &str| {
            c.metric(
                "otelcol_processor_tail_sampling_count_traces_sampled_total",
                &[("policy", policy), ("sampled", "true")],
            )
        };
        assert_eq!(voted("errors"), count(is_error), "gateway {g}");
        assert_eq!(voted("vip"), count(is_vip), "gateway {g}");
        assert_eq!(
            c.metric(
                "otelcol_processor_tail_sampling_global_count_traces_sampled_total",
                &[("sampled", "true")],
            ),
            ids.len() as f64,
            "gateway {g}"
        );
        assert_eq!(
            c.metric(
                "otelcol_processor_tail_sampling_sampling_trace_dropped_too_early_total",
                &[]
            ),
            0.0
        );
    }
}
