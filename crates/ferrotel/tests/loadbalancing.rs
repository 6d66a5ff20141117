//! Trace-aware load balancing across real processes: an OTLP/HTTP client → ferrotel
//! (`loadbalancing`, static resolver, 3 backends) → 3 ferrotel gateways (otlp → file).
//!
//! Every trace's spans land on exactly one gateway, the one the Go exporter's ring names. A
//! gateway that stops keeps its share in the load balancer's per-backend queue (a static
//! resolver keeps it in the ring, as in Go) and receives it when it comes back. Re-routing when
//! a resolver drops a backend is tested in the component's unit tests, with real OTLP
//! receivers, and across processes with the `dns` resolver in `tail_sampling_tier.rs`.

mod interop_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use ferrotel_components::exporters::loadbalancing::ring::HashRing;
use ferrotel_pdata::Request;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue, any_value};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use interop_support::*;

const SPANS_PER_TRACE: u32 = 3;

fn front(http: u16, backends: &[String]) -> String {
    let hosts: Vec<String> = backends.iter().map(|b| format!("'{b}'")).collect();
    format!(
        r#"
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{http}
exporters:
  loadbalancing:
    protocol:
      otlp:
        tls: {{insecure: true}}
        timeout: 2s
        retry_on_failure:
          initial_interval: 100ms
          max_interval: 300ms
          max_elapsed_time: 0s
    resolver:
      static:
        hostnames: [{}]
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [loadbalancing]
"#,
        hosts.join(", ")
    )
}

fn trace_id(n: u32) -> [u8; 16] {
    let mut id = [0u8; 16];
    id[..4].copy_from_slice(&n.to_be_bytes());
    id[15] = 1;
    id
}

/// One request with traces `first..first+count`, their spans interleaved over two resources,
/// so a request always mixes traces of several backends.
fn request(first: u32, count: u32) -> Vec<u8> {
    let mut per_service: [Vec<Span>; 2] = [Vec::new(), Vec::new()];
    for s in 0..SPANS_PER_TRACE {
        for t in first..first + count {
            per_service[((t + s) % 2) as usize].push(Span {
                trace_id: trace_id(t).to_vec().into(),
                span_id: (u64::from(t) << 8 | u64::from(s) | 1 << 63)
                    .to_be_bytes()
                    .to_vec()
                    .into(),
                name: format!("t{t}-s{s}"),
                start_time_unix_nano: 1_000,
                end_time_unix_nano: 2_000,
                ..Default::default()
            });
        }
    }
    let resource_spans = per_service
        .into_iter()
        .enumerate()
        .map(|(i, spans)| ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(format!("svc-{i}"))),
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

fn send(port: u16, first: u32, requests: u32, per_request: u32) {
    for r in 0..requests {
        let body = request(first + r * per_request, per_request);
        assert_eq!(post_otlp(port, "/v1/traces", &body).unwrap(), 200);
    }
}

/// trace number → (gateway index → span names it got).
fn received(files: &[&Path]) -> BTreeMap<u32, BTreeMap<usize, Vec<String>>> {
    let mut out: BTreeMap<u32, BTreeMap<usize, Vec<String>>> = BTreeMap::new();
    for (g, f) in files.iter().enumerate() {
        for req in traces(f) {
            for rs in req.resource_spans {
                for ss in rs.scope_spans {
                    for s in ss.spans {
                        let n = u32::from_be_bytes(s.trace_id[..4].try_into().unwrap());
                        out.entry(n).or_default().entry(g).or_default().push(s.name);
                    }
                }
            }
        }
    }
    out
}

fn span_count(files: &[&Path]) -> usize {
    files.iter().map(|f| span_names(f).len()).sum()
}

struct Gateway {
    addr: String,
    grpc: u16,
    http: u16,
    metrics: u16,
}

impl Gateway {
    fn new() -> Gateway {
        let grpc = free_port();
        Gateway {
            addr: format!("127.0.0.1:{grpc}"),
            grpc,
            http: free_port(),
            metrics: free_port(),
        }
    }

    fn start(&self, name: &str, dir: &Path) -> Collector {
        std::fs::create_dir_all(dir).unwrap();
        Collector::start(
            name,
            dir,
            &file_sink_config(dir, self.grpc, self.http, self.metrics),
            None,
        )
    }
}

#[test]
fn every_trace_lands_on_one_gateway_and_a_stopped_gateway_gets_its_share_back() {
    let tmp = tempfile::tempdir().unwrap();
    let gws = [Gateway::new(), Gateway::new(), Gateway::new()];
    let dirs: Vec<_> = (0..3).map(|i| tmp.path().join(format!("gw{i}"))).collect();
    let mut running: Vec<Collector> = gws
        .iter()
        .zip(&dirs)
        .enumerate()
        .map(|(i, (g, d))| g.start(&format!("gw{i}"), d))
        .collect();
    let files: Vec<_> = dirs.iter().map(|d| d.join("traces.bin")).collect();
    let file_refs: Vec<&Path> = files.iter().map(|f| f.as_path()).collect();

    let http = free_port();
    let addrs: Vec<String> = gws.iter().map(|g| g.addr.clone()).collect();
    let _lb = Collector::start("lb", tmp.path(), &front(http, &addrs), None);

    // Phase 1: 20 requests of 15 traces, all gateways up.
    send(http, 0, 20, 15);
    let phase1 = 300 * SPANS_PER_TRACE as usize;
    wait_for(
        Duration::from_secs(30),
        "phase 1 spans on the gateways",
        || span_count(&file_refs) == phase1,
    );

    let mut sorted = addrs.clone();
    sorted.sort();
    let ring = HashRing::new(&sorted);
    let owner = |t: u32| {
        let ep = ring.endpoint_for(&trace_id(t)).unwrap();
        addrs.iter().position(|a| a == ep).unwrap()
    };
    let check = |got: &BTreeMap<u32, BTreeMap<usize, Vec<String>>>, traces: u32| {
        assert_eq!(got.len(), traces as usize);
        let mut per_gateway = [0usize; 3];
        for (t, by_gw) in got {
            assert_eq!(by_gw.len(), 1, "trace {t} split over gateways {by_gw:?}");
            let (g, names) = by_gw.iter().next().unwrap();
            assert_eq!(*g, owner(*t), "trace {t} not on the ring's owner");
            let unique: BTreeSet<_> = names.iter().collect();
            assert_eq!(
                unique.len(),
                SPANS_PER_TRACE as usize,
                "trace {t}: {names:?}"
            );
            assert_eq!(
                names.len(),
                SPANS_PER_TRACE as usize,
                "trace {t} duplicated"
            );
            per_gateway[*g] += 1;
        }
        per_gateway
    };
    let per_gateway = check(&received(&file_refs), 300);
    assert!(
        per_gateway.iter().all(|n| *n > 40),
        "300 traces should spread over 3 gateways: {per_gateway:?}"
    );

    // Phase 2: gateway 1 stops; its share waits in the load balancer's queue.
    running[1].terminate();
    send(http, 300, 20, 15);
    let down_share = (300..600).filter(|t| owner(*t) == 1).count();
    assert!(down_share > 0);
    let live = (300 - down_share) * SPANS_PER_TRACE as usize;
    wait_for(Duration::from_secs(30), "the live gateways' share", || {
        span_count(&[file_refs[0], file_refs[2]]) == phase1 - per_gateway[1] * 3 + live
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        span_count(&[file_refs[0], file_refs[2]]),
        phase1 - per_gateway[1] * 3 + live,
        "nothing of the stopped gateway's share went elsewhere"
    );

    // It comes back on the same address and gets its share from the retrying queue.
    running[1] = gws[1].start("gw1-again", &dirs[1].join("again"));
    let again = dirs[1].join("again/traces.bin");
    let all_files = [file_refs[0], file_refs[1], file_refs[2], again.as_path()];
    wait_for(
        Duration::from_secs(30),
        "the held share after restart",
        || span_count(&all_files) == 600 * SPANS_PER_TRACE as usize,
    );
    // The restarted gateway's file counts as gateway 1.
    let mut got = received(&all_files);
    for by_gw in got.values_mut() {
        if let Some(names) = by_gw.remove(&3) {
            by_gw.entry(1).or_default().extend(names);
        }
    }
    check(&got, 600);
}
