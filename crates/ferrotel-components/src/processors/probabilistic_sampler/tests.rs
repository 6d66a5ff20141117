//! Decisions with known trace ids (hash mode checked against an independent FNV-1a and
//! hard-coded vectors), consistent-sampling thresholds and tracestate, priorities, logs, and
//! config errors.

use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{KeyValue, any_value::Value};
use ferrotel_pdata::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_runtime::*;

use super::*;
use crate::testing::{Recorder, config, config_error, ctx, kv, kv_str};

fn sampler(yaml: &str) -> Sampler {
    let cfg: ProbabilisticSamplerConfig = config(yaml);
    cfg.validate().unwrap();
    Sampler::new(&cfg).unwrap()
}

fn span(trace_id: &[u8], trace_state: &str) -> Span {
    Span {
        trace_id: trace_id.to_vec().into(),
        span_id: vec![1; 8].into(),
        trace_state: trace_state.into(),
        ..Default::default()
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// FNV-1a 32 written from the FNV spec (offset basis 0x811c9dc5, prime 0x01000193), for
/// checking the production code against something it does not share.
fn fnv1a(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c9dc5;
    for b in bytes {
        h = (h ^ *b as u32).wrapping_mul(0x01000193);
    }
    h
}

/// The Go Collector's hash-mode rule from its source: `computeHash(seed LE ‖ id) & 0x3fff <
/// uint32(float32(pct) * 0x4000/100)`.
fn go_hash_decision(trace_id: &[u8], seed: u32, pct: f32) -> bool {
    let mut b = seed.to_le_bytes().to_vec();
    b.extend_from_slice(trace_id);
    (fnv1a(&b) & 0x3fff) < (pct * (16384.0f32 / 100.0)) as u32
}

fn trace_id(i: u64) -> Vec<u8> {
    // Varied, deterministic ids.
    let a = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let b = (i ^ 0xdead_beef).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    [a.to_be_bytes(), b.to_be_bytes()].concat()
}

#[test]
fn reference_fnv_matches_published_vectors() {
    // From the FNV test suite (draft-eastlake-fnv): FNV-1a 32 of "", "a", "foobar".
    assert_eq!(fnv1a(b""), 0x811c9dc5);
    assert_eq!(fnv1a(b"a"), 0xe40c292c);
    assert_eq!(fnv1a(b"foobar"), 0xbf9cf968);
}

#[test]
fn hash_mode_hard_coded_vectors() {
    // (trace id, seed, FNV-1a of seed‖id, decision at 25 %), derived with an independent
    // Python FNV-1a; 25 % is 4096 buckets of 16384.
    let vectors = [
        ("0102030405060708090a0b0c0d0e0f10", 0, 0xdf241a25u32, false),
        ("0102030405060708090a0b0c0d0e0f10", 22, 0xd863b443, false),
        ("00000000000000000000000000000000", 0, 0xb9fee455, false),
        ("4bf92f3577b34da6a3ce929d0e0e4736", 0, 0x3420408d, true),
        ("4bf92f3577b34da6a3ce929d0e0e4736", 22, 0x5610306b, false),
        ("0af7651916cd43dd8448eb211c80319c", 0, 0x810d5de4, false),
        ("0af7651916cd43dd8448eb211c80319c", 22, 0x1032c19e, true),
        ("ffffffffffffffffffffffffffffffff", 22, 0x03b425b3, false),
    ];
    for (id, seed, hash, keep) in vectors {
        let id = hex(id);
        assert_eq!(fnv1a_seeded(&id, seed), hash);
        let s = sampler(&format!("sampling_percentage: 25\nhash_seed: {seed}\n"));
        assert_eq!(
            s.sample_span(&mut span(&id, "")),
            keep,
            "{id:?} seed {seed}"
        );
    }
    assert_eq!(hash_threshold(25.0), Some(Threshold(0x3000 << 42)));
    assert_eq!(hash_threshold(10.0), Some(Threshold((16384 - 1638) << 42)));
}

#[test]
fn hash_mode_matches_the_go_rule_on_many_ids() {
    for (seed, pct) in [
        (0u32, 25.0f32),
        (22, 10.0),
        (12345, 33.3),
        (7, 0.5),
        (1, 99.9),
    ] {
        let s = sampler(&format!("sampling_percentage: {pct}\nhash_seed: {seed}\n"));
        let mut kept = 0;
        for i in 0..4000 {
            let id = trace_id(i);
            let want = go_hash_decision(&id, seed, pct);
            assert_eq!(
                s.sample_span(&mut span(&id, "")),
                want,
                "id {i} seed {seed}"
            );
            kept += usize::from(want);
        }
        let rate = kept as f32 / 4000.0 * 100.0;
        assert!((rate - pct).abs() < 3.0, "{rate}% kept for {pct}%");
    }
}

#[test]
fn same_seed_same_traces_different_seed_different() {
    let a = sampler("sampling_percentage: 30\nhash_seed: 99\n");
    let b = sampler("sampling_percentage: 30\nhash_seed: 99\n");
    let c = sampler("sampling_percentage: 30\nhash_seed: 100\n");
    let ids: Vec<Vec<u8>> = (0..500).map(trace_id).collect();
    let run = |s: &Sampler| -> Vec<bool> {
        ids.iter()
            .map(|id| s.sample_span(&mut span(id, "")))
            .collect()
    };
    assert_eq!(run(&a), run(&b));
    assert_ne!(run(&a), run(&c));
}

#[test]
fn hash_mode_writes_randomness_and_threshold() {
    let id = hex("4bf92f3577b34da6a3ce929d0e0e4736");
    let s = sampler("sampling_percentage: 25\n");
    let mut sp = span(&id, "vendor=x");
    assert!(s.sample_span(&mut sp));
    // R' = 0x3fff - 141 in the top 14 bits; the threshold 25 % is `c`.
    let h = 0x3420408du32;
    let bucket = u64::from(h & 0x3fff);
    let unused = u64::from(h >> 14);
    let rv = ((0x3fff - bucket) << 42) | ((unused ^ (unused << 10)) << 14) | bucket;
    assert_eq!(sp.trace_state, format!("ot=rv:{rv:014x};th:c,vendor=x"));
}

#[test]
fn proportional_uses_the_trace_id_low_56_bits() {
    let s = sampler("mode: proportional\nsampling_percentage: 25\n");
    // Low 7 bytes c0000000000000 = exactly the 25 % threshold: kept (R >= T).
    let mut at = span(
        &hex("0000000000000000 00c0000000000000"
            .replace(' ', "")
            .as_str()),
        "",
    );
    assert!(s.sample_span(&mut at));
    assert_eq!(at.trace_state, "ot=th:c");
    let mut below = span(&hex("ffffffffffffffffffbfffffffffffff"), "");
    assert!(!s.sample_span(&mut below), "high bytes do not count");
    assert_eq!(
        Randomness::from_trace_id(&hex("0102030405060708090a0b0c0d0e0f10")),
        Some(Randomness(0x0a0b0c0d0e0f10))
    );
}

#[test]
fn readme_tracestate_example() {
    // README: rv 9b8233f7e3a151 at 100 %, sampled at 50 % → th:8, kept.
    for mode in ["proportional", "equalizing"] {
        let s = sampler(&format!("mode: {mode}\nsampling_percentage: 50\n"));
        let mut sp = span(&[1; 16], "ot=th:0;rv:9b8233f7e3a151");
        assert!(s.sample_span(&mut sp), "{mode}");
        assert_eq!(sp.trace_state, "ot=rv:9b8233f7e3a151;th:8", "{mode}");
    }
    // Below the threshold: dropped.
    let s = sampler("mode: proportional\nsampling_percentage: 50\n");
    assert!(!s.sample_span(&mut span(&[1; 16], "ot=rv:7fffffffffffff")));
}

#[test]
fn proportional_multiplies_equalizing_does_not_raise() {
    // Arrived at 50 % (th:8), rv high enough: proportional 50 % makes it 25 %.
    let p = sampler("mode: proportional\nsampling_percentage: 50\n");
    let mut sp = span(&[1; 16], "ot=th:8;rv:f0000000000000");
    assert!(p.sample_span(&mut sp));
    assert_eq!(sp.trace_state, "ot=rv:f0000000000000;th:c");
    // Arrived at 12.5 % (th:e): equalizing to 50 % keeps it, and its lower probability.
    let e = sampler("mode: equalizing\nsampling_percentage: 50\n");
    let mut sp = span(&[1; 16], "ot=th:e;rv:f0000000000000");
    assert!(e.sample_span(&mut sp));
    assert_eq!(sp.trace_state, "ot=rv:f0000000000000;th:e");
}

#[test]
fn inconsistent_or_missing_information_fails_closed_by_default() {
    let closed = sampler("mode: proportional\nsampling_percentage: 100\n");
    let open = sampler("mode: proportional\nsampling_percentage: 100\nfail_closed: false\n");
    // th:8 says "sampled at 50 %" but rv 10... is below it: a lie.
    let lie = "ot=th:8;rv:10000000000000";
    assert!(!closed.sample_span(&mut span(&[1; 16], lie)));
    let mut sp = span(&[1; 16], lie);
    assert!(open.sample_span(&mut sp));
    assert_eq!(sp.trace_state, "ot=rv:10000000000000;th:0", "lie cleared");
    // All-zero trace id: no randomness.
    assert!(!closed.sample_span(&mut span(&[0; 16], "")));
    assert!(open.sample_span(&mut span(&[0; 16], "")));
    // Unparseable tracestate.
    assert!(!closed.sample_span(&mut span(&[1; 16], "ot=th:xyz")));
    assert!(open.sample_span(&mut span(&[1; 16], "ot=th:xyz")));
}

#[test]
fn sampling_priority_overrides() {
    let none = sampler("sampling_percentage: 0\n");
    let all = sampler("sampling_percentage: 100\n");
    let mut keep = span(&[1; 16], "");
    keep.attributes = vec![kv("sampling.priority", Value::IntValue(1))];
    assert!(none.sample_span(&mut keep.clone()));
    let mut drop = span(&[1; 16], "");
    drop.attributes = vec![kv_str("sampling.priority", "0")];
    assert!(!all.sample_span(&mut drop));
    keep.attributes = vec![kv("sampling.priority", Value::DoubleValue(0.0))];
    assert!(!all.sample_span(&mut keep));
    // Without priority: 0 % drops all, 100 % (and more) keeps all.
    let over = sampler("sampling_percentage: 250\nmode: proportional\n");
    for i in 0..50 {
        assert!(!none.sample_span(&mut span(&trace_id(i), "")));
        assert!(all.sample_span(&mut span(&trace_id(i), "")));
        let mut sp = span(&trace_id(i), "");
        assert!(over.sample_span(&mut sp));
        assert_eq!(sp.trace_state, "ot=th:0");
    }
}

#[test]
fn thresholds_with_precision() {
    let t = |p: f64, prec| {
        Threshold::from_probability(p, prec)
            .unwrap()
            .tvalue()
            .unwrap()
    };
    assert_eq!(t(0.25, 4), "c");
    assert_eq!(t(0.5, 4), "8");
    assert_eq!(t(1.0 / 3.0, 4), "aaab");
    assert_eq!(t(0.1, 4), "e666");
    assert_eq!(t(0.01, 4), "fd71");
    assert_eq!(t(0.999, 4), "004189", "precision grows near 1");
    assert_eq!(t(1.0, 4), "0");
    assert_eq!(Threshold::parse("c"), Some(Threshold(0xc << 52)));
    assert_eq!(Threshold::parse("c").unwrap().probability(), 0.25);
    assert_eq!(Threshold::NEVER_SAMPLE.tvalue(), None);
    assert_eq!(
        Threshold::from_probability(0.0, 4),
        Err(ProbabilityError::Range)
    );
}

fn log(trace_id: &[u8], attrs: Vec<KeyValue>) -> LogRecord {
    LogRecord {
        trace_id: trace_id.to_vec().into(),
        attributes: attrs,
        ..Default::default()
    }
}

#[test]
fn logs_hash_by_record_attribute() {
    let s = sampler(
        "sampling_percentage: 25\nhash_seed: 22\nattribute_source: record\nfrom_attribute: log.id\n",
    );
    for i in 0..200 {
        let id = format!("record-{i}");
        let mut b = 22u32.to_le_bytes().to_vec();
        b.extend_from_slice(id.as_bytes());
        let want = (fnv1a(&b) & 0x3fff) < 4096;
        let mut rec = log(&[], vec![kv_str("log.id", &id)]);
        assert_eq!(s.sample_log(&mut rec), want, "{id}");
        if want {
            let th = rec
                .attributes
                .iter()
                .find(|a| a.key == "sampling.threshold");
            assert_eq!(
                th.unwrap().value.as_ref().unwrap().value,
                Some(Value::StringValue("c".into()))
            );
        }
    }
    // No attribute: no randomness, dropped (fail_closed).
    assert!(!s.sample_log(&mut log(&[], vec![])));
}

#[test]
fn logs_by_trace_id_and_priority() {
    let s = sampler("mode: proportional\nsampling_percentage: 25\nsampling_priority: prio\n");
    let mut rec = log(&hex("000000000000000000c0000000000000"), vec![]);
    assert!(s.sample_log(&mut rec));
    assert_eq!(rec.attributes, vec![kv_str("sampling.threshold", "c")]);
    let low = hex("00000000000000000010000000000000");
    assert!(!s.sample_log(&mut log(&low, vec![])));
    // Priority 100 (%) raises the probability; 0 drops.
    let mut rec = log(&low, vec![kv("prio", Value::IntValue(100))]);
    assert!(s.sample_log(&mut rec));
    let mut rec = log(
        &hex("000000000000000000ffffffffffffff"),
        vec![kv("prio", Value::IntValue(0))],
    );
    assert!(!s.sample_log(&mut rec));
}

fn traces_request(ids: &[Vec<u8>]) -> Payload {
    Payload::from_request(Request::Traces(ExportTraceServiceRequest {
        resource_spans: ids
            .iter()
            .map(|id| ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![span(id, "")],
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }))
}

#[tokio::test]
async fn consume_drops_unsampled_and_empty_groups() {
    let rec = Recorder::new();
    let c = ctx("probabilistic_sampler", Kind::Processor);
    let telemetry = c.telemetry.clone();
    let p = ProbabilisticSamplerFactory
        .create(
            c,
            config("sampling_percentage: 25\nhash_seed: 22\n"),
            Signal::Traces,
            rec.clone(),
        )
        .unwrap();
    let ids = [
        hex("4bf92f3577b34da6a3ce929d0e0e4736"), // dropped with seed 22
        hex("0af7651916cd43dd8448eb211c80319c"), // kept with seed 22
    ];
    p.consume(traces_request(&ids), Context::default())
        .await
        .unwrap();
    assert_eq!(rec.items(), 1);
    let got = rec.got.lock().unwrap()[0].to_request().unwrap();
    let Request::Traces(t) = got else { panic!() };
    assert_eq!(t.resource_spans.len(), 1, "empty resource removed");
    assert_eq!(
        telemetry.sum(
            "otelcol_processor_probabilistic_sampler_count_traces_sampled",
            &[("sampled", "false")]
        ),
        1
    );
    // All dropped: nothing is passed on.
    p.consume(traces_request(&ids[..1]), Context::default())
        .await
        .unwrap();
    assert_eq!(rec.got.lock().unwrap().len(), 1);
    // Logs pipelines too.
    let logs = ProbabilisticSamplerFactory
        .create(
            ctx("probabilistic_sampler", Kind::Processor),
            config("sampling_percentage: 100\n"),
            Signal::Logs,
            rec.clone(),
        )
        .unwrap();
    let req = Request::Logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![log(&ids[0], vec![])],
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    logs.consume(Payload::from_request(req), Context::default())
        .await
        .unwrap();
    assert_eq!(rec.items(), 2);
}

#[test]
fn defaults_and_config_errors() {
    let d = ProbabilisticSamplerConfig::default();
    assert!(d.fail_closed);
    assert_eq!(d.sampling_precision, 4);
    assert_eq!(d.attribute_source, "traceID");
    assert_eq!(d.mode().unwrap(), Mode::HashSeed);
    let err = config_error::<ProbabilisticSamplerConfig>;
    assert_eq!(
        err("sampling_percentage: -5\n"),
        "sampling_percentage: sampling rate is negative: -5.000000%"
    );
    // YAML `.nan`/`.inf` cannot reach `validate` (the config tree goes through JSON, which has
    // no NaN: decoding fails first), so check the rule on the struct.
    let nan = ProbabilisticSamplerConfig {
        sampling_percentage: f32::INFINITY,
        ..Default::default()
    };
    assert_eq!(
        nan.validate().unwrap_err().to_string(),
        "sampling_percentage: sampling rate is invalid: +Inf%"
    );
    assert!(err("sampling_percentage: .nan\n").contains("sampling_percentage"));
    assert_eq!(
        err("sampling_percentage: 1e-20\n"),
        "sampling_percentage: sampling rate is too small: 1e-20%"
    );
    assert_eq!(
        err("sampling_percentage: 10\nattribute_source: span\n"),
        "attribute_source: invalid attribute source: span. Expected: traceID or record"
    );
    assert_eq!(
        err("sampling_percentage: 10\nsampling_precision: 0\n"),
        "sampling_precision: invalid sampling precision: 0"
    );
    assert_eq!(
        err("sampling_percentage: 10\nsampling_precision: 15\n"),
        "sampling_precision: sampling precision is too great, should be <= 14: 15"
    );
    assert_eq!(
        err("sampling_percentage: 10\nmode: random\n"),
        "mode: unsupported sampler mode \"random\""
    );
    assert!(err("sampling_pct: 10\n").contains("unknown field `sampling_pct`"));
}

/// Spans with varied trace ids, tracestates (empty, arriving thresholds and randomness,
/// malformed, other vendors) and `sampling.priority` values, over several resources and
/// scopes (some left empty by sampling).
fn varied_traces() -> Request {
    let states = [
        "",
        "ot=th:8",
        "ot=th:c",
        "ot=rv:00112233445566",
        "ot=th:zz",
        "vendor=a,ot=th:4",
        "other=1",
    ];
    let priorities: [Option<Value>; 5] = [
        None,
        Some(Value::IntValue(0)),
        Some(Value::IntValue(1)),
        Some(Value::StringValue("0".into())),
        Some(Value::DoubleValue(2.5)),
    ];
    let mut n = 0u64;
    let resource_spans = (0..6)
        .map(|r| ResourceSpans {
            scope_spans: (0..3)
                .map(|_| ScopeSpans {
                    spans: (0..12)
                        .map(|_| {
                            n += 1;
                            let mut s = span(&trace_id(n * 7919), states[n as usize % 7]);
                            s.name = format!("span-{n}");
                            if let Some(p) = &priorities[n as usize % 5]
                                && n.is_multiple_of(3)
                            {
                                s.attributes.push(kv("sampling.priority", p.clone()));
                            }
                            s.attributes.push(kv_str("k", "v"));
                            s
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            schema_url: format!("r{r}"),
            ..Default::default()
        })
        .collect();
    Request::Traces(ExportTraceServiceRequest { resource_spans })
}

/// The wire path (payload still encoded) and the decoded path decide, rewrite tracestates,
/// drop empty groups and count exactly alike, in every mode.
#[tokio::test]
async fn wire_and_decoded_paths_agree() {
    for cfg in [
        "sampling_percentage: 25\nhash_seed: 22\n",
        "sampling_percentage: 60\nhash_seed: 7\nfail_closed: false\n",
        "sampling_percentage: 50\nmode: proportional\n",
        "sampling_percentage: 30\nmode: equalizing\nfail_closed: false\n",
        "sampling_percentage: 0\n",
        "sampling_percentage: 100\nmode: proportional\n",
    ] {
        let req = varied_traces();
        let mut outputs = Vec::new();
        for encoded in [false, true] {
            let rec = Recorder::new();
            let c = ctx("probabilistic_sampler", Kind::Processor);
            let telemetry = c.telemetry.clone();
            let p = ProbabilisticSamplerFactory
                .create(c, config(cfg), Signal::Traces, rec.clone())
                .unwrap();
            let payload = if encoded {
                Payload::from_proto(Signal::Traces, req.encode_proto()).unwrap()
            } else {
                Payload::from_request(req.clone())
            };
            p.consume(payload, Context::default()).await.unwrap();
            let got = rec.got.lock().unwrap().clone();
            if encoded {
                assert!(
                    got.iter().all(Payload::is_encoded),
                    "{cfg}: decoded on the way"
                );
            }
            let requests: Vec<Request> = got.iter().map(|p| p.to_request().unwrap()).collect();
            let counts: Vec<usize> = got.iter().map(Payload::items).collect();
            let sampled = |v: &str| {
                telemetry.sum(
                    "otelcol_processor_probabilistic_sampler_count_traces_sampled",
                    &[("sampled", v)],
                )
            };
            outputs.push((requests, counts, sampled("true"), sampled("false")));
        }
        assert_eq!(outputs[0], outputs[1], "{cfg}");
        let (_, _, kept, dropped) = &outputs[0];
        assert_eq!(kept + dropped, 6 * 3 * 12, "{cfg}");
    }
}
