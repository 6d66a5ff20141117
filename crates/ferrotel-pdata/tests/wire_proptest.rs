//! Property tests of the shallow protobuf operations against prost.

#[path = "common/wire_arbitrary.rs"]
mod wire_arbitrary;

use bytes::Bytes;
use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::collector::profiles::v1development::ExportProfilesServiceRequest;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::any_value;
use ferrotel_pdata::proto::logs::v1::{ResourceLogs, ScopeLogs};
use ferrotel_pdata::proto::metrics::v1::{Metric, ResourceMetrics, ScopeMetrics, metric::Data};
use ferrotel_pdata::proto::profiles::v1development::{ResourceProfiles, ScopeProfiles};
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans};
use ferrotel_pdata::{Request, Signal, wire};
use proptest::prelude::*;
use prost::Message;
use wire_arbitrary::{arb_any_request, arb_request, arb_traces};

/// Each item of a request, encoded as a one-item request carrying the item's resource, scope
/// (and metric) context: splitting and merging must preserve this sequence exactly.
fn contextual_items(req: &Request) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    match req {
        Request::Traces(r) => {
            for rs in &r.resource_spans {
                for ss in &rs.scope_spans {
                    for span in &ss.spans {
                        let one = ExportTraceServiceRequest {
                            resource_spans: vec![ResourceSpans {
                                scope_spans: vec![ScopeSpans {
                                    spans: vec![span.clone()],
                                    ..ss.clone()
                                }],
                                ..rs.clone()
                            }],
                        };
                        out.push(one.encode_to_vec());
                    }
                }
            }
        }
        Request::Logs(r) => {
            for rl in &r.resource_logs {
                for sl in &rl.scope_logs {
                    for lr in &sl.log_records {
                        let one = ExportLogsServiceRequest {
                            resource_logs: vec![ResourceLogs {
                                scope_logs: vec![ScopeLogs {
                                    log_records: vec![lr.clone()],
                                    ..sl.clone()
                                }],
                                ..rl.clone()
                            }],
                        };
                        out.push(one.encode_to_vec());
                    }
                }
            }
        }
        Request::Metrics(r) => {
            for rm in &r.resource_metrics {
                for sm in &rm.scope_metrics {
                    for m in &sm.metrics {
                        for data in metric_singletons(m) {
                            let one = ExportMetricsServiceRequest {
                                resource_metrics: vec![ResourceMetrics {
                                    scope_metrics: vec![ScopeMetrics {
                                        metrics: vec![Metric {
                                            data: Some(data),
                                            ..m.clone()
                                        }],
                                        ..sm.clone()
                                    }],
                                    ..rm.clone()
                                }],
                            };
                            out.push(one.encode_to_vec());
                        }
                    }
                }
            }
        }
        Request::Profiles(r) => {
            for rp in &r.resource_profiles {
                for sp in &rp.scope_profiles {
                    for p in &sp.profiles {
                        let one = ExportProfilesServiceRequest {
                            resource_profiles: vec![ResourceProfiles {
                                scope_profiles: vec![ScopeProfiles {
                                    profiles: vec![p.clone()],
                                    ..sp.clone()
                                }],
                                ..rp.clone()
                            }],
                            dictionary: r.dictionary.clone(),
                        };
                        out.push(one.encode_to_vec());
                    }
                }
            }
        }
    }
    out
}

/// The metric's data, once per data point, holding only that point.
fn metric_singletons(m: &Metric) -> Vec<Data> {
    match &m.data {
        None => vec![],
        Some(Data::Gauge(g)) => g
            .data_points
            .iter()
            .map(|dp| {
                let mut g = g.clone();
                g.data_points = vec![dp.clone()];
                Data::Gauge(g)
            })
            .collect(),
        Some(Data::Sum(s)) => s
            .data_points
            .iter()
            .map(|dp| {
                let mut s = s.clone();
                s.data_points = vec![dp.clone()];
                Data::Sum(s)
            })
            .collect(),
        Some(Data::Histogram(h)) => h
            .data_points
            .iter()
            .map(|dp| {
                let mut h = h.clone();
                h.data_points = vec![dp.clone()];
                Data::Histogram(h)
            })
            .collect(),
        Some(Data::ExponentialHistogram(h)) => h
            .data_points
            .iter()
            .map(|dp| {
                let mut h = h.clone();
                h.data_points = vec![dp.clone()];
                Data::ExponentialHistogram(h)
            })
            .collect(),
        Some(Data::Summary(s)) => s
            .data_points
            .iter()
            .map(|dp| {
                let mut s = s.clone();
                s.data_points = vec![dp.clone()];
                Data::Summary(s)
            })
            .collect(),
    }
}

fn decode(signal: Signal, b: &Bytes) -> Request {
    Request::decode_proto(signal, b.clone()).expect("prost decodes")
}

/// Whether every trace and span id in the request is empty or of its exact length.
fn ids_valid(req: &Request) -> bool {
    let ok = |b: &[u8], n: usize| b.is_empty() || b.len() == n;
    match req {
        Request::Traces(r) => r
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            .all(|s| {
                ok(&s.trace_id, 16)
                    && ok(&s.span_id, 8)
                    && ok(&s.parent_span_id, 8)
                    && s.links
                        .iter()
                        .all(|l| ok(&l.trace_id, 16) && ok(&l.span_id, 8))
            }),
        Request::Logs(r) => r
            .resource_logs
            .iter()
            .flat_map(|rl| &rl.scope_logs)
            .flat_map(|sl| &sl.log_records)
            .all(|l| ok(&l.trace_id, 16) && ok(&l.span_id, 8)),
        Request::Metrics(r) => r
            .resource_metrics
            .iter()
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
            .all(|m| {
                let ex = |e: &ferrotel_pdata::proto::metrics::v1::Exemplar| {
                    ok(&e.trace_id, 16) && ok(&e.span_id, 8)
                };
                match &m.data {
                    Some(Data::Gauge(g)) => g.data_points.iter().flat_map(|d| &d.exemplars).all(ex),
                    Some(Data::Sum(g)) => g.data_points.iter().flat_map(|d| &d.exemplars).all(ex),
                    Some(Data::Histogram(g)) => {
                        g.data_points.iter().flat_map(|d| &d.exemplars).all(ex)
                    }
                    Some(Data::ExponentialHistogram(g)) => {
                        g.data_points.iter().flat_map(|d| &d.exemplars).all(ex)
                    }
                    Some(Data::Summary(_)) | None => true,
                }
            }),
        Request::Profiles(r) => r
            .dictionary
            .iter()
            .flat_map(|d| &d.link_table)
            .all(|l| ok(&l.trace_id, 16) && ok(&l.span_id, 8)),
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
    Delete(usize),
}

fn apply(buf: &mut Vec<u8>, m: &Mutation) {
    if buf.is_empty() {
        if let Mutation::Insert(_, b) = m {
            buf.push(*b);
        }
        return;
    }
    match *m {
        Mutation::Flip(i, x) => {
            let i = i % buf.len();
            buf[i] ^= x | 1;
        }
        Mutation::Truncate(i) => buf.truncate(i % buf.len()),
        Mutation::Insert(i, b) => buf.insert(i % (buf.len() + 1), b),
        Mutation::Delete(i) => {
            buf.remove(i % buf.len());
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(i, x)| Mutation::Flip(i, x)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => any::<usize>().prop_map(Mutation::Delete),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn validate_and_count_match_item_count(req in arb_any_request()) {
        let bytes = req.encode_proto();
        let n = req.item_count();
        prop_assert_eq!(wire::validate(req.signal(), &bytes), Ok(n));
        prop_assert_eq!(wire::count(req.signal(), &bytes), Ok(n));
    }

    #[test]
    fn split_preserves_items_in_order(req in arb_any_request(), max in 1usize..6) {
        let signal = req.signal();
        let bytes = req.encode_proto();
        let parts = wire::split(signal, &bytes, max).unwrap();
        let mut items = Vec::new();
        for p in &parts {
            let d = decode(signal, p);
            prop_assert!(d.item_count() <= max || parts.len() == 1);
            prop_assert_eq!(wire::validate(signal, p), Ok(d.item_count()));
            if parts.len() > 1 {
                prop_assert!(d.item_count() > 0);
            }
            if let (Request::Profiles(orig), Request::Profiles(part)) = (&req, &d) {
                prop_assert_eq!(&orig.dictionary, &part.dictionary);
            }
            items.extend(contextual_items(&d));
        }
        prop_assert_eq!(items, contextual_items(&req));
    }

    #[test]
    fn merge_is_concatenation(
        signal in prop_oneof![Just(Signal::Traces), Just(Signal::Metrics), Just(Signal::Logs)],
        seeds in proptest::collection::vec(any::<u64>(), 0..4),
    ) {
        // Build requests of one signal from seeds deterministically.
        use proptest::strategy::ValueTree;
        use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
        let reqs: Vec<Request> = seeds
            .iter()
            .map(|&s| {
                let mut seed = [0u8; 32];
                seed[..8].copy_from_slice(&s.to_le_bytes());
                let mut runner = TestRunner::new_with_rng(
                    Config::default(),
                    TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
                );
                arb_request(signal).new_tree(&mut runner).unwrap().current()
            })
            .collect();
        let parts: Vec<Bytes> = reqs.iter().map(Request::encode_proto).collect();
        let merged = wire::merge(signal, &parts).unwrap();
        let expect: Vec<Vec<u8>> = reqs.iter().flat_map(contextual_items).collect();
        prop_assert_eq!(contextual_items(&decode(signal, &merged)), expect);
        let total: usize = reqs.iter().map(Request::item_count).sum();
        prop_assert_eq!(wire::validate(signal, &merged), Ok(total));
    }

    #[test]
    fn merge_profiles_with_one_non_empty(req in arb_request(Signal::Profiles)) {
        let empty = Request::empty(Signal::Profiles).encode_proto();
        let parts = vec![empty.clone(), req.encode_proto(), empty];
        let merged = wire::merge(Signal::Profiles, &parts).unwrap();
        if req.item_count() > 0 {
            prop_assert_eq!(decode(Signal::Profiles, &merged), req);
        } else {
            prop_assert_eq!(wire::count(Signal::Profiles, &merged), Ok(0));
        }
    }

    #[test]
    fn mutated_bytes_validate_iff_prost_accepts(
        req in arb_any_request(),
        muts in proptest::collection::vec(mutation(), 1..4),
    ) {
        let signal = req.signal();
        let mut buf = req.encode_proto().to_vec();
        for m in &muts {
            apply(&mut buf, m);
        }
        let bytes = Bytes::from(buf);
        let prost = Request::decode_proto(signal, bytes.clone());
        let prost_ok = prost.as_ref().map(ids_valid).unwrap_or(false);
        match wire::validate(signal, &bytes) {
            Ok(n) => {
                let d = prost.expect("validate accepted what prost rejects");
                prop_assert_eq!(n, d.item_count());
                prop_assert_eq!(wire::count(signal, &bytes), Ok(n));
                let parts = wire::split(signal, &bytes, 3).unwrap();
                let total: usize =
                    parts.iter().map(|p| wire::count(signal, p).unwrap()).sum();
                prop_assert_eq!(total, n);
            }
            Err(e) => {
                prop_assert!(!prost_ok, "validate rejected valid input: {e}");
                prop_assert!(!e.message.is_empty());
            }
        }
    }

    #[test]
    fn trace_ids_and_regrouping(req in arb_traces()) {
        let bytes = Bytes::from(req.encode_to_vec());
        let spans: Vec<_> = req
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
            .collect();
        let id = |b: &[u8]| -> [u8; 16] { b.try_into().unwrap_or([0; 16]) };
        let mut seen = Vec::new();
        wire::for_each_trace_id(&bytes, |t| seen.push(t)).unwrap();
        let expect: Vec<[u8; 16]> = spans.iter().map(|s| id(&s.trace_id)).collect();
        prop_assert_eq!(&seen, &expect);
        let roots = spans.iter().any(|s| s.parent_span_id.is_empty());
        prop_assert_eq!(wire::has_root_span(&bytes), Ok(roots));
        // Coalescing the request with itself: every span twice, each resource and scope once.
        let twice = wire::coalesce_traces(&[bytes.clone(), bytes.clone()]).unwrap();
        let Request::Traces(c) = decode(Signal::Traces, &twice) else { unreachable!() };
        let mut want = contextual_items(&Request::Traces(req.clone()));
        want.extend(want.clone());
        want.sort();
        let mut got = contextual_items(&Request::Traces(c.clone()));
        got.sort();
        prop_assert_eq!(got, want);
        let scopes = |r: &ExportTraceServiceRequest| -> usize {
            r.resource_spans.iter().map(|rs| rs.scope_spans.iter().filter(|s| !s.spans.is_empty()).count()).sum()
        };
        prop_assert!(scopes(&c) <= scopes(&req).max(1));

        let groups = wire::split_by_trace_id(&bytes).unwrap();
        let mut ids: Vec<[u8; 16]> = expect.clone();
        ids.dedup();
        let mut firsts = Vec::new();
        for t in &expect {
            if !firsts.contains(t) {
                firsts.push(*t);
            }
        }
        prop_assert_eq!(groups.iter().map(|g| g.0).collect::<Vec<_>>(), firsts);
        let all = contextual_items(&Request::Traces(req.clone()));
        for (tid, part) in &groups {
            let d = decode(Signal::Traces, part);
            let want: Vec<Vec<u8>> = all
                .iter()
                .zip(&expect)
                .filter(|(_, t)| *t == tid)
                .map(|(i, _)| i.clone())
                .collect();
            prop_assert_eq!(contextual_items(&d), want);
        }

        // The same cut with shared envelopes: each trace's runs written as a request hold
        // what its split_by_trace_id piece holds, span counts and root flags agree, and all
        // runs together write what coalescing the pieces writes.
        let pieces = wire::split_trace_runs(&bytes).unwrap();
        prop_assert_eq!(pieces.len(), groups.len());
        let mut every_run = Vec::new();
        for (p, (tid, part)) in pieces.iter().zip(&groups) {
            prop_assert_eq!(&p.trace_id, tid);
            let encoded = wire::encode_runs(&p.runs);
            prop_assert_eq!(wire::encoded_len(&p.runs), encoded.len());
            prop_assert_eq!(wire::count(Signal::Traces, &encoded), Ok(p.spans));
            let mut got = contextual_items(&decode(Signal::Traces, &encoded));
            let mut want = contextual_items(&decode(Signal::Traces, part));
            got.sort();
            want.sort();
            prop_assert_eq!(got, want);
            prop_assert_eq!(wire::runs_have_root_span(&p.runs), wire::has_root_span(part).unwrap());
            every_run.extend(p.runs.iter().cloned());
        }
        if !groups.is_empty() {
            let parts: Vec<Bytes> = groups.iter().map(|g| g.1.clone()).collect();
            let coalesced = wire::coalesce_traces(&parts).unwrap();
            prop_assert_eq!(
                decode(Signal::Traces, &wire::encode_runs(&every_run)),
                decode(Signal::Traces, &coalesced)
            );
        }
    }

    #[test]
    fn resource_attributes_view(req in arb_any_request()) {
        let signal = req.signal();
        let bytes = req.encode_proto();
        let resources: Vec<_> = match &req {
            Request::Traces(r) => r.resource_spans.iter().map(|x| x.resource.clone()).collect(),
            Request::Metrics(r) => r.resource_metrics.iter().map(|x| x.resource.clone()).collect(),
            Request::Logs(r) => r.resource_logs.iter().map(|x| x.resource.clone()).collect(),
            Request::Profiles(r) => {
                r.resource_profiles.iter().map(|x| x.resource.clone()).collect()
            }
        };
        let mut i = 0;
        let mut mismatch = None;
        wire::for_each_resource(signal, &bytes, |view| {
            let attrs = resources[i].as_ref().map(|r| r.attributes.clone()).unwrap_or_default();
            let got: Vec<(String, Option<String>)> = view
                .attributes()
                .map(|(k, v)| (k.to_string(), v.as_str().map(str::to_string)))
                .collect();
            let want: Vec<(String, Option<String>)> = attrs
                .iter()
                .map(|kv| {
                    let s = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                        Some(any_value::Value::StringValue(s)) => Some(s.clone()),
                        _ => None,
                    };
                    (kv.key.clone(), s)
                })
                .collect();
            if got != want {
                mismatch = Some((got.clone(), want.clone()));
            }
            // attribute_str finds the first attribute with the key: the first one here.
            if let Some((k, Some(v))) = want.first() {
                assert_eq!(view.attribute_str(k), Some(v.as_str()));
            }
            i += 1;
        })
        .unwrap();
        prop_assert_eq!(i, resources.len());
        prop_assert!(mismatch.is_none(), "{:?}", mismatch);
    }
}
