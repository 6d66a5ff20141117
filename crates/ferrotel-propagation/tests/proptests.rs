//! Properties: extract ∘ inject is the identity for every propagator, and no header value, however
//! malformed, makes extraction panic.

use ferrotel_propagation::{
    B3Encoding, B3Propagator, BaggagePropagator, DebugFlag, HeaderExtractor, HeaderInjector,
    JaegerPropagator, TraceContextPropagator, from_names,
};
use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::baggage::{Baggage, BaggageExt};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags, TraceState};
use opentelemetry::{Context, SpanId, TraceId};
use proptest::prelude::*;
use std::collections::HashMap;

fn span_context() -> impl Strategy<Value = SpanContext> {
    (1..=u128::MAX, 1..=u64::MAX, 0u8..4, tracestate()).prop_map(|(t, s, f, ts)| {
        SpanContext::new(
            TraceId::from(t),
            SpanId::from(s),
            TraceFlags::new(f),
            true,
            ts,
        )
    })
}

fn tracestate() -> impl Strategy<Value = TraceState> {
    let key = "[a-z][a-z0-9_*/-]{0,20}(@[a-z][a-z0-9_*/-]{0,10})?";
    let value = "[!-+\\--<>-~]([ -+\\--<>-~]{0,30}[!-+\\--<>-~])?";
    proptest::collection::vec((key, value), 0..32).prop_map(|kvs| {
        let mut seen = Vec::new();
        let kvs: Vec<_> = kvs
            .into_iter()
            .filter(|(k, _)| {
                if seen.contains(k) {
                    false
                } else {
                    seen.push(k.clone());
                    true
                }
            })
            .collect();
        TraceState::from_key_value(kvs).unwrap()
    })
}

fn round_trip(p: &dyn TextMapPropagator, cx: &Context) -> Context {
    let mut headers = HeaderMap::new();
    p.inject_context(cx, &mut HeaderInjector(&mut headers));
    p.extract_with_context(&Context::new(), &HeaderExtractor(&headers))
}

fn baggage() -> impl Strategy<Value = Vec<(String, String, String)>> {
    let key = "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,16}";
    // Any text: values are percent-encoded, so anything survives.
    let value = ".{0,24}";
    let meta = prop_oneof![
        Just(String::new()),
        Just("p1".to_owned()),
        Just("p1;p2=v2".to_owned())
    ];
    proptest::collection::vec((key, value, meta), 0..20)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn w3c_trace_context_round_trip(sc in span_context()) {
        let back = round_trip(&TraceContextPropagator::new(), &Context::new().with_remote_span_context(sc.clone()));
        prop_assert_eq!(back.span().span_context().clone(), sc);
    }

    #[test]
    fn b3_round_trip(sc in span_context(), debug in any::<bool>(), enc in 0..3usize) {
        let enc = [B3Encoding::SingleHeader, B3Encoding::MultipleHeader, B3Encoding::SingleAndMultiHeader][enc];
        let mut cx = Context::new().with_remote_span_context(sc.clone());
        if debug {
            cx = cx.with_value(DebugFlag { trace_id: sc.trace_id() });
        }
        let back = round_trip(&B3Propagator::with_encoding(enc), &cx);
        let got = back.span().span_context().clone();
        prop_assert_eq!(got.trace_id(), sc.trace_id());
        prop_assert_eq!(got.span_id(), sc.span_id());
        prop_assert_eq!(got.is_sampled(), sc.is_sampled() || debug);
        prop_assert_eq!(DebugFlag::is_set(&back, sc.trace_id()), debug);
    }

    #[test]
    fn jaeger_round_trip(sc in span_context(), debug in any::<bool>(), bag in baggage()) {
        let mut cx = Context::new().with_remote_span_context(sc.clone());
        if debug {
            cx = cx.with_value(DebugFlag { trace_id: sc.trace_id() });
        }
        // uberctx- keys travel as header names: lowercase, header-safe.
        let mut b = Baggage::new();
        for (k, v, _) in &bag {
            let k = k.to_ascii_lowercase();
            if HeaderName::from_bytes(format!("uberctx-{k}").as_bytes()).is_ok() {
                b.insert(k, v.clone());
            }
        }
        let cx = cx.with_baggage(b);
        let back = round_trip(&JaegerPropagator::new(), &cx);
        let got = back.span().span_context().clone();
        prop_assert_eq!((got.trace_id(), got.span_id()), (sc.trace_id(), sc.span_id()));
        prop_assert_eq!(got.is_sampled(), sc.is_sampled() || debug);
        prop_assert_eq!(DebugFlag::is_set(&back, sc.trace_id()), debug);
        let want: HashMap<_, _> = cx.baggage().iter().map(|(k, (v, _))| (k.to_string(), v.to_string())).collect();
        let have: HashMap<_, _> = back.baggage().iter().map(|(k, (v, _))| (k.to_string(), v.to_string())).collect();
        prop_assert_eq!(have, want);
    }

    #[test]
    fn baggage_round_trip(bag in baggage()) {
        let mut b = Baggage::new();
        for (k, v, m) in &bag {
            b.insert_with_metadata(k.clone(), v.clone(), m.clone());
        }
        let cx = Context::new().with_baggage(b);
        let back = round_trip(&BaggagePropagator::new(), &cx);
        let norm = |cx: &Context| -> HashMap<String, (String, String)> {
            cx.baggage().iter().map(|(k, (v, m))| (k.to_string(), (v.to_string(), m.as_str().to_owned()))).collect()
        };
        prop_assert_eq!(norm(&back), norm(&cx));
    }

    #[test]
    fn composite_round_trip(sc in span_context(), bag in baggage()) {
        let p = from_names("tracecontext,baggage,b3multi,jaeger");
        let mut b = Baggage::new();
        // Jaeger's `uberctx-{key}` headers are case-insensitive names: keys differing only in
        // case (`R`, `r`) share one header, and Jaeger, extracting last, sets that one value
        // under the lowercase key. Such pairs cannot survive this composite, so one is kept.
        let mut seen = std::collections::HashSet::new();
        for (k, v, _) in &bag {
            if seen.insert(k.to_ascii_lowercase()) {
                b.insert(k.clone(), v.clone());
            }
        }
        let cx = Context::new().with_remote_span_context(sc.clone()).with_baggage(b);
        let back = round_trip(&p, &cx);
        // Jaeger runs last and carries no tracestate; ids and sampling survive every hop.
        let got = back.span().span_context().clone();
        prop_assert_eq!((got.trace_id(), got.span_id(), got.is_sampled()), (sc.trace_id(), sc.span_id(), sc.is_sampled()));
        prop_assert!(cx.baggage().iter().all(|(k, (v, _))| back.baggage().get(k.as_str()) == Some(v)));
    }

    #[test]
    fn any_header_value_never_panics(values in proptest::collection::vec(any::<String>(), 1..4), pick in 0..9usize) {
        let names = ["traceparent", "tracestate", "baggage", "b3", "x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "uber-trace-id", "uberctx-k"];
        let mut headers = HeaderMap::new();
        for (i, v) in values.iter().enumerate() {
            // Bytes, not only valid strings: obs-text survives HeaderValue and reads as absent.
            if let Ok(v) = HeaderValue::from_bytes(v.as_bytes()) {
                headers.append(HeaderName::from_static(names[(pick + i) % names.len()]), v);
            }
        }
        let p = from_names("tracecontext,baggage,b3,b3multi,jaeger");
        let cx = p.extract_with_context(&Context::new(), &HeaderExtractor(&headers));
        let mut out = HeaderMap::new();
        p.inject_context(&cx, &mut HeaderInjector(&mut out));
        // Through a HashMap carrier too (no multi-value support, case-insensitive get).
        let map: HashMap<String, String> = values.iter().enumerate().map(|(i, v)| (names[(pick + i) % names.len()].to_owned(), v.clone())).collect();
        let _ = p.extract_with_context(&Context::new(), &map);
    }

    #[test]
    fn near_valid_traceparent_never_panics(s in "[0-9a-fA-F.\\- \t]{50,60}") {
        let p = TraceContextPropagator::new();
        let map: HashMap<String, String> = [("traceparent".to_owned(), s.clone()), ("tracestate".to_owned(), s)].into();
        let cx = p.extract_with_context(&Context::new(), &map);
        let sc = cx.span().span_context().clone();
        if sc.is_valid() {
            // Whatever was accepted re-injects as a valid, lowercase version-00 header.
            let mut out: HashMap<String, String> = HashMap::new();
            p.inject_context(&cx, &mut out);
            let tp = &out["traceparent"];
            prop_assert!(ferrotel_propagation::parse_traceparent(tp).is_some());
        }
    }
}
