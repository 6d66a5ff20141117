//! `Store` against `ReferenceStore` (property tests), persistence, damage, locking, pruning.

mod generate;

use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;

use super::Store;
use crate::reference::ReferenceStore;
use crate::*;
use generate::{OPS, SERVICES, TAGS};

fn open(config: StoreConfig) -> Arc<Store> {
    match Store::open(config) {
        Ok(s) => s,
        Err(e) => panic!("open: {e}"),
    }
}

/// Every read of the contract, answered by `a` and `b`, must be equal.
fn assert_same(a: &dyn TelemetryStore, b: &dyn TelemetryStore, query_seeds: &[u64]) {
    let (sa, sb) = (a.stats(), b.stats());
    assert_eq!(
        (sa.spans, sa.log_records, sa.data_points),
        (sb.spans, sb.log_records, sb.data_points),
        "stats"
    );
    assert_eq!(a.services(), b.services(), "services");
    for s in SERVICES.iter().chain(&["unknown_service", "nope"]) {
        for kind in [None, Some(0), Some(2)] {
            assert_eq!(
                a.operations(s, kind),
                b.operations(s, kind),
                "operations {s}"
            );
        }
        assert_eq!(a.metrics(Some(s)), b.metrics(Some(s)), "metrics of {s}");
    }
    assert_eq!(a.metrics(None), b.metrics(None), "metrics");
    assert_eq!(a.tag_names(), b.tag_names(), "tag_names");
    for (k, _) in TAGS.iter().chain(&[("nope", "")]) {
        for limit in [0, 2] {
            assert_eq!(
                a.tag_values(k, limit),
                b.tag_values(k, limit),
                "tag_values {k}"
            );
        }
    }
    for t in 0..=7u8 {
        assert_eq!(a.trace(&[t; 16]), b.trace(&[t; 16]), "trace {t}");
    }
    let all = TraceQuery {
        limit: 1000,
        ..Default::default()
    };
    assert_eq!(a.find_traces(&all), b.find_traces(&all), "all traces");
    for &seed in query_seeds {
        let q = generate::trace_query(seed);
        assert_eq!(a.find_traces(&q), b.find_traces(&q), "find_traces {q:?}");
        let q = generate::log_query(seed);
        assert_eq!(a.find_logs(&q), b.find_logs(&q), "find_logs {q:?}");
        let q = generate::metric_query(seed);
        assert_eq!(
            a.metric_points(&q),
            b.metric_points(&q),
            "metric_points {q:?}"
        );
    }
    let q = TraceQuery {
        service: Some(SERVICES[0].into()),
        operation: Some(OPS[0].into()),
        ..Default::default()
    };
    assert_eq!(a.find_traces(&q), b.find_traces(&q));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn answers_as_the_reference(
        requests in prop::collection::vec(any::<u64>(), 1..14),
        queries in prop::collection::vec(any::<u64>(), 8),
    ) {
        let store = open(StoreConfig::default());
        let reference = ReferenceStore::new(StoreConfig::default());
        for seed in &requests {
            let p = generate::payload(*seed);
            store.append(&p).map_err(|e| TestCaseError::fail(e.to_string()))?;
            reference.append(&p).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        assert_same(&*store, &reference, &queries);
    }

    #[test]
    fn reloads_the_same_answers(
        requests in prop::collection::vec(any::<u64>(), 1..8),
        queries in prop::collection::vec(any::<u64>(), 4),
    ) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let config = StoreConfig {
            directory: Some(dir.path().join("data")),
            ..Default::default()
        };
        let reference = ReferenceStore::new(StoreConfig::default());
        {
            let store = open(config.clone());
            for seed in &requests {
                let p = generate::payload(*seed);
                store.append(&p).map_err(|e| TestCaseError::fail(e.to_string()))?;
                reference.append(&p).map_err(|e| TestCaseError::fail(e.to_string()))?;
            }
            store.close().map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        let store = open(config);
        assert_same(&*store, &reference, &queries);
    }
}

fn traces_payload(service: &str, trace: u8, spans: usize) -> ferrotel_pdata::Payload {
    use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
    use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue, any_value};
    use ferrotel_pdata::proto::resource::v1::Resource;
    use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use ferrotel_pdata::{Payload, Request, Signal};
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(service.into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: (0..spans)
                    .map(|i| Span {
                        trace_id: vec![trace; 16].into(),
                        span_id: vec![i as u8 + 1; 8].into(),
                        name: "op".into(),
                        start_time_unix_nano: 1000 + i as u64,
                        end_time_unix_nano: 2000,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    match Payload::from_proto(Signal::Traces, Request::Traces(req).encode_proto()) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

fn segment_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "fts"));
    v.sort();
    v
}

#[test]
fn a_second_open_of_the_directory_fails_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = StoreConfig {
        directory: Some(dir.path().join("data")),
        ..Default::default()
    };
    let first = open(config.clone());
    match Store::open(config.clone()) {
        Err(StoreError::Directory { message, .. }) => {
            assert!(message.contains("another ferrotel"), "{message}")
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a second open must fail"),
    }
    first.close().expect("close");
    drop(first);
    open(config);
}

#[test]
fn a_corrupt_segment_is_quarantined_and_the_rest_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let config = StoreConfig {
        directory: Some(data.clone()),
        ..Default::default()
    };
    {
        let store = open(config.clone());
        for t in 1..=3u8 {
            store.append(&traces_payload("svc", t, 3)).expect("append");
            // Force each request into its own segment.
            store.lock_disk().current = None;
        }
        store.close().expect("close");
    }
    let files = segment_files(&data);
    assert_eq!(files.len(), 3, "{files:?}");
    let mut bytes = std::fs::read(&files[1]).expect("read");
    let n = bytes.len();
    bytes[n - 5] ^= 0xff;
    std::fs::write(&files[1], bytes).expect("write");
    let store = open(config.clone());
    assert!(store.trace(&[1; 16]).is_some() && store.trace(&[3; 16]).is_some());
    assert!(store.trace(&[2; 16]).is_none());
    assert_eq!(store.stats().spans, 6);
    let quarantined = std::fs::read_dir(&data)
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".corrupt-"))
        .count();
    assert_eq!(quarantined, 1);
    // A torn last record (a crash mid-write) only loses that record.
    store.close().expect("close");
    drop(store);
    let last = segment_files(&data).pop().expect("a segment");
    let len = std::fs::metadata(&last).expect("meta").len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&last)
        .expect("open");
    f.set_len(len - 3).expect("truncate");
    let store = open(config);
    assert!(store.trace(&[3; 16]).is_none() && store.trace(&[1; 16]).is_some());
}

#[test]
fn a_foreign_directory_is_set_aside() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    std::fs::write(data.join("notes.txt"), "mine").expect("write");
    let store = open(StoreConfig {
        directory: Some(data.clone()),
        ..Default::default()
    });
    store.append(&traces_payload("svc", 1, 2)).expect("append");
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("data.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1);
    assert!(aside[0].path().join("notes.txt").exists());
}

#[test]
fn pruning_keeps_the_cap_and_counts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let max_bytes = 64 << 10;
    let store = open(StoreConfig {
        max_bytes,
        directory: Some(data.clone()),
        ..Default::default()
    });
    for i in 0..400u32 {
        store
            .append(&traces_payload("svc", (i % 250) as u8, 10))
            .expect("append");
        let st = store.stats();
        assert!(st.bytes <= max_bytes, "{st:?}");
        let disk: u64 = segment_files(&data)
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        assert!(disk <= max_bytes, "disk {disk}");
    }
    let st = store.stats();
    assert!(st.pruned_spans > 0);
    assert_eq!(st.spans + st.pruned_spans, 4000);
    // The newest is served, the oldest gone, and summaries count only what is left.
    assert!(store.trace(&[(399 % 250) as u8; 16]).is_some());
    assert!(store.trace(&[0; 16]).is_none());
    let found = store.find_traces(&TraceQuery {
        limit: 1000,
        ..Default::default()
    });
    let total: usize = found.iter().map(|t| t.span_count).sum();
    assert_eq!(total as u64, st.spans);
}

#[test]
fn retention_prunes_by_arrival() {
    let store = open(StoreConfig {
        retention: Duration::from_millis(200),
        ..Default::default()
    });
    store.append(&traces_payload("svc", 1, 2)).expect("append");
    std::thread::sleep(Duration::from_millis(450));
    store.append(&traces_payload("svc", 2, 2)).expect("append");
    assert!(store.trace(&[1; 16]).is_none());
    assert!(store.trace(&[2; 16]).is_some());
    assert_eq!(store.stats().pruned_spans, 2);
    std::thread::sleep(Duration::from_millis(450));
    // No append: the read itself expires.
    assert!(store.services().is_empty());
}

#[test]
fn damaged_requests_and_segments_never_panic() {
    use ferrotel_pdata::Signal;
    for seed in 0..40u64 {
        let p = generate::payload(seed);
        let bytes = p.to_proto();
        let mut seg = crate::segment::MAGIC.to_vec();
        seg.extend(crate::segment::encode_record(p.signal(), 1, &bytes));
        let mut rng = generate::Rng::new(seed);
        for _ in 0..40 {
            let mut b = bytes.to_vec();
            if b.is_empty() {
                break;
            }
            let at = rng.below(b.len() as u64) as usize;
            b[at] = rng.next() as u8;
            let cut = rng.below(b.len() as u64 + 1) as usize;
            for signal in [Signal::Traces, Signal::Logs, Signal::Metrics] {
                super::fuzzing::request(signal, &b[..cut]);
            }
            let mut s = seg.clone();
            let at = rng.below(s.len() as u64) as usize;
            s[at] ^= 1 << (rng.below(8) as u32);
            super::fuzzing::segment(&s);
        }
        super::fuzzing::segment(&seg);
    }
}
