//! Fixtures from the B3 and Jaeger specs, W3C Baggage, composites and `OTEL_PROPAGATORS`.

use ferrotel_propagation::{
    B3Encoding, B3Propagator, BaggagePropagator, DebugFlag, HeaderExtractor, HeaderInjector,
    JaegerPropagator, MetadataExtractor, MetadataInjector, from_names,
};
use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::baggage::{Baggage, BaggageExt};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags, TraceState};
use opentelemetry::{Context, SpanId, TraceId};

fn headers(list: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in list {
        map.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    map
}

fn extract(p: &dyn TextMapPropagator, list: &[(&str, &str)]) -> Context {
    p.extract_with_context(&Context::new(), &HeaderExtractor(&headers(list)))
}

fn inject(p: &dyn TextMapPropagator, cx: &Context) -> HeaderMap {
    let mut out = HeaderMap::new();
    p.inject_context(cx, &mut HeaderInjector(&mut out));
    out
}

fn ids(cx: &Context) -> (String, String, bool) {
    let span = cx.span();
    let sc = span.span_context();
    (
        format!("{:032x}", sc.trace_id()),
        format!("{:016x}", sc.span_id()),
        sc.is_sampled(),
    )
}

fn remote(trace: u128, span: u64, sampled: bool) -> Context {
    let flags = if sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(trace),
        SpanId::from(span),
        flags,
        true,
        TraceState::NONE,
    ))
}

const T128: &str = "80f198ee56343ba864fe8b2a57d3eff7";
const S: &str = "e457b5a2e4d86bd1";
const P: &str = "05e3ac9a4f6e3b90";

/// Header value → (trace id, sampled, debug), or invalid.
type B3Case = (&'static str, Option<(&'static str, bool, bool)>);
/// Header value → (trace id, span id, sampled, debug), or invalid.
type JaegerCase = (
    &'static str,
    Option<(&'static str, &'static str, bool, bool)>,
);

#[test]
fn b3_single_header_fixtures() {
    let p = B3Propagator::new();
    let cases: &[B3Case] = &[
        (
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
            Some((T128, true, false)),
        ),
        (
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1",
            Some((T128, true, false)),
        ),
        (
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0",
            Some((T128, false, false)),
        ),
        (
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d",
            Some((T128, true, true)),
        ),
        (
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1",
            Some((T128, false, false)),
        ),
        (
            "64fe8b2a57d3eff7-e457b5a2e4d86bd1-1",
            Some(("000000000000000064fe8b2a57d3eff7", true, false)),
        ),
        ("0", None),
        ("1", None),
        ("d", None),
        ("", None),
        ("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-x", None),
        ("80F198EE56343BA864FE8B2A57D3EFF7-e457b5a2e4d86bd1-1", None),
        ("00000000000000000000000000000000-e457b5a2e4d86bd1-1", None),
        ("80f198ee56343ba864fe8b2a57d3eff7-0000000000000000-1", None),
        ("80f198ee56343ba864fe8b2a57d3ef-e457b5a2e4d86bd1-1", None),
        (
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90-x",
            None,
        ),
        (
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3",
            None,
        ),
    ];
    for (value, want) in cases {
        let cx = extract(&p, &[("b3", value)]);
        match want {
            None => assert!(!cx.span().span_context().is_valid(), "{value}"),
            Some((trace, sampled, debug)) => {
                assert_eq!(
                    ids(&cx),
                    ((*trace).to_owned(), S.to_owned(), *sampled),
                    "{value}"
                );
                let tid = cx.span().span_context().trace_id();
                assert_eq!(DebugFlag::is_set(&cx, tid), *debug, "{value}");
            }
        }
    }
}

#[test]
fn b3_multi_header_fixtures() {
    let p = B3Propagator::with_encoding(B3Encoding::MultipleHeader);
    let base = [
        ("X-B3-TraceId", T128),
        ("X-B3-SpanId", S),
        ("X-B3-ParentSpanId", P),
    ];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        base.iter().chain(extra).copied().collect()
    };
    assert_eq!(
        ids(&extract(&p, &with(&[("X-B3-Sampled", "1")]))),
        (T128.into(), S.into(), true)
    );
    assert_eq!(
        ids(&extract(&p, &with(&[("X-B3-Sampled", "true")]))),
        (T128.into(), S.into(), true)
    );
    assert_eq!(
        ids(&extract(&p, &with(&[("X-B3-Sampled", "0")]))),
        (T128.into(), S.into(), false)
    );
    assert_eq!(
        ids(&extract(&p, &with(&[]))),
        (T128.into(), S.into(), false)
    );
    let debug = extract(&p, &with(&[("X-B3-Flags", "1")]));
    assert_eq!(ids(&debug), (T128.into(), S.into(), true));
    assert!(DebugFlag::is_set(&debug, TraceId::from_hex(T128).unwrap()));
    assert!(
        !extract(&p, &with(&[("X-B3-Sampled", "yes")]))
            .span()
            .span_context()
            .is_valid()
    );
    assert!(
        !extract(&p, &[("X-B3-TraceId", T128)])
            .span()
            .span_context()
            .is_valid()
    );
    let short = extract(
        &p,
        &[
            ("X-B3-TraceId", "64fe8b2a57d3eff7"),
            ("X-B3-SpanId", S),
            ("X-B3-Sampled", "1"),
        ],
    );
    assert_eq!(ids(&short).0, "000000000000000064fe8b2a57d3eff7");
    // The single header wins over the multi headers.
    let both = extract(
        &p,
        &[
            ("b3", "80f198ee56343ba864fe8b2a57d3eff7-05e3ac9a4f6e3b90-0"),
            ("X-B3-TraceId", T128),
            ("X-B3-SpanId", S),
            ("X-B3-Sampled", "1"),
        ],
    );
    assert_eq!(ids(&both), (T128.into(), P.into(), false));
    // An invalid single header falls back to the multi headers.
    let fallback = extract(
        &p,
        &[
            ("b3", "garbage"),
            ("X-B3-TraceId", T128),
            ("X-B3-SpanId", S),
            ("X-B3-Sampled", "1"),
        ],
    );
    assert_eq!(ids(&fallback), (T128.into(), S.into(), true));
}

#[test]
fn b3_injection() {
    let cx = remote(
        0x80f1_98ee_5634_3ba8_64fe_8b2a_57d3_eff7,
        0xe457_b5a2_e4d8_6bd1,
        true,
    );
    let single = inject(&B3Propagator::new(), &cx);
    assert_eq!(
        single.get("b3").unwrap(),
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"
    );
    assert_eq!(single.len(), 1);
    let multi = inject(
        &B3Propagator::with_encoding(B3Encoding::MultipleHeader),
        &cx,
    );
    assert_eq!(multi.get("x-b3-traceid").unwrap(), T128);
    assert_eq!(multi.get("x-b3-spanid").unwrap(), S);
    assert_eq!(multi.get("x-b3-sampled").unwrap(), "1");
    assert!(multi.get("x-b3-parentspanid").is_none() && multi.get("b3").is_none());
    // Debug is preserved: `d`, or X-B3-Flags: 1 without X-B3-Sampled.
    let debug = extract(
        &B3Propagator::new(),
        &[("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d")],
    );
    let both = inject(
        &B3Propagator::with_encoding(B3Encoding::SingleAndMultiHeader),
        &debug,
    );
    assert_eq!(
        both.get("b3").unwrap(),
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d"
    );
    assert_eq!(both.get("x-b3-flags").unwrap(), "1");
    assert!(both.get("x-b3-sampled").is_none());
    let unsampled = inject(&B3Propagator::new(), &remote(1, 2, false));
    assert_eq!(
        unsampled.get("b3").unwrap(),
        "00000000000000000000000000000001-0000000000000002-0"
    );
}

#[test]
fn jaeger_fixtures() {
    let p = JaegerPropagator::new();
    let cases: &[JaegerCase] = &[
        (
            "80f198ee56343ba864fe8b2a57d3eff7:e457b5a2e4d86bd1:0:1",
            Some((T128, S, true, false)),
        ),
        (
            "80f198ee56343ba864fe8b2a57d3eff7:e457b5a2e4d86bd1:05e3ac9a4f6e3b90:0",
            Some((T128, S, false, false)),
        ),
        (
            "80f198ee56343ba864fe8b2a57d3eff7:e457b5a2e4d86bd1:0:3",
            Some((T128, S, true, true)),
        ),
        (
            "80f198ee56343ba864fe8b2a57d3eff7:e457b5a2e4d86bd1:0:2",
            Some((T128, S, true, true)),
        ),
        (
            "80f198ee56343ba864fe8b2a57d3eff7%3Ae457b5a2e4d86bd1%3A0%3A1",
            Some((T128, S, true, false)),
        ),
        (
            "64fe8b2a57d3eff7:e457b5a2e4d86bd1:0:1",
            Some(("000000000000000064fe8b2a57d3eff7", S, true, false)),
        ),
        (
            "abc:def:0:1",
            Some((
                "00000000000000000000000000000abc",
                "0000000000000def",
                true,
                false,
            )),
        ),
        (
            "80F198EE56343BA864FE8B2A57D3EFF7:E457B5A2E4D86BD1:0:1",
            Some((T128, S, true, false)),
        ),
        ("0:e457b5a2e4d86bd1:0:1", None),
        ("80f198ee56343ba864fe8b2a57d3eff7:0:0:1", None),
        ("80f198ee56343ba864fe8b2a57d3eff7:e457b5a2e4d86bd1:0", None),
        (
            "80f198ee56343ba864fe8b2a57d3eff7:e457b5a2e4d86bd1:0:1:9",
            None,
        ),
        (
            "80f198ee56343ba864fe8b2a57d3eff7:e457b5a2e4d86bd1:x:1",
            None,
        ),
        (
            "80f198ee56343ba864fe8b2a57d3eff7:e457b5a2e4d86bd1:0:100",
            None,
        ),
        (
            "180f198ee56343ba864fe8b2a57d3eff7:e457b5a2e4d86bd1:0:1",
            None,
        ),
    ];
    for (value, want) in cases {
        let cx = extract(&p, &[("uber-trace-id", value)]);
        match want {
            None => assert!(!cx.span().span_context().is_valid(), "{value}"),
            Some((trace, span, sampled, debug)) => {
                assert_eq!(
                    ids(&cx),
                    ((*trace).to_owned(), (*span).to_owned(), *sampled),
                    "{value}"
                );
                let tid = cx.span().span_context().trace_id();
                assert_eq!(DebugFlag::is_set(&cx, tid), *debug, "{value}");
            }
        }
    }
    let cx = extract(
        &p,
        &[
            (
                "uber-trace-id",
                "80f198ee56343ba864fe8b2a57d3eff7:e457b5a2e4d86bd1:0:3",
            ),
            ("uberctx-user", "jo%20e"),
            ("Uberctx-Tenant", "acme"),
        ],
    );
    assert_eq!(cx.baggage().get("user").map(|v| v.as_str()), Some("jo e"));
    assert_eq!(cx.baggage().get("tenant").map(|v| v.as_str()), Some("acme"));
    let out = inject(&p, &cx);
    assert_eq!(
        out.get("uber-trace-id").unwrap(),
        "80f198ee56343ba864fe8b2a57d3eff7:e457b5a2e4d86bd1:0:3"
    );
    assert_eq!(out.get("uberctx-user").unwrap(), "jo%20e");
    let plain = inject(&p, &remote(1, 2, false));
    assert_eq!(
        plain.get("uber-trace-id").unwrap(),
        "00000000000000000000000000000001:0000000000000002:0:0"
    );
}

#[test]
fn baggage_fixtures() {
    let p = BaggagePropagator::new();
    let cx = extract(
        &p,
        &[(
            "baggage",
            "userId=alice, serverNode = DF%2028 ,isProduction=false;p1;p2=v2, bad key=1, =x, k=v\"q, ok=%E2%9C%93",
        )],
    );
    let b = cx.baggage();
    assert_eq!(b.get("userId").map(|v| v.as_str()), Some("alice"));
    assert_eq!(b.get("serverNode").map(|v| v.as_str()), Some("DF 28"));
    assert_eq!(
        b.get_with_metadata("isProduction")
            .map(|(v, m)| (v.as_str(), m.as_str())),
        Some(("false", "p1;p2=v2"))
    );
    assert_eq!(b.get("ok").map(|v| v.as_str()), Some("✓"));
    assert_eq!(b.len(), 4, "invalid members skipped: {b:?}");
    // Several headers combine.
    let two = extract(&p, &[("baggage", "a=1"), ("baggage", "b=2")]);
    assert_eq!(two.baggage().len(), 2);
    // 64 members at most.
    let many: Vec<String> = (0..100).map(|i| format!("k{i}=v")).collect();
    let big = extract(&p, &[("baggage", &many.join(","))]);
    assert_eq!(big.baggage().len(), 64);
    // Injection percent-encodes what is not a baggage-octet.
    let mut bag = Baggage::new();
    bag.insert_with_metadata("user", "jo e,\"x\";%", "p1;p2=v2");
    let out = inject(&p, &Context::new().with_baggage(bag));
    assert_eq!(
        out.get("baggage").unwrap(),
        "user=jo%20e%2C%22x%22%3B%25;p1;p2=v2"
    );
    assert!(inject(&p, &Context::new()).is_empty());
    assert!(
        extract(&p, &[("baggage", "nothing valid")])
            .baggage()
            .is_empty()
    );
}

#[test]
fn composite_and_env_names() {
    let names = |p: &ferrotel_propagation::CompositePropagator| {
        p.fields().map(str::to_owned).collect::<Vec<_>>()
    };
    assert_eq!(
        names(&from_names("tracecontext,baggage")),
        ["traceparent", "tracestate", "baggage"]
    );
    assert_eq!(
        names(&from_names(" B3 , b3multi,unknown,,b3")),
        [
            "b3",
            "x-b3-traceid",
            "x-b3-spanid",
            "x-b3-sampled",
            "x-b3-flags"
        ]
    );
    assert_eq!(from_names("b3,b3multi,unknown").len(), 2);
    assert!(from_names("none").is_empty());
    assert!(from_names("tracecontext,none").is_empty());
    assert_eq!(names(&from_names("jaeger")), ["uber-trace-id"]);
    // Extraction runs in order; the later propagator's span context wins, baggage accumulates.
    let p = from_names("b3,tracecontext,baggage");
    let cx = extract(
        &p,
        &[
            ("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"),
            (
                "traceparent",
                "00-12345678901234567890123456789012-1234567890123456-01",
            ),
            ("baggage", "k=v"),
        ],
    );
    assert_eq!(ids(&cx).0, "12345678901234567890123456789012");
    assert_eq!(cx.baggage().get("k").map(|v| v.as_str()), Some("v"));
    let out = inject(&p, &cx);
    assert!(
        out.contains_key("b3") && out.contains_key("traceparent") && out.contains_key("baggage")
    );
    let none = from_names("none");
    assert!(inject(&none, &cx).is_empty());
    assert!(
        !extract(
            &none,
            &[(
                "traceparent",
                "00-12345678901234567890123456789012-1234567890123456-01"
            )]
        )
        .span()
        .span_context()
        .is_valid()
    );
}

#[test]
fn tonic_metadata_carrier() {
    let p = from_names("tracecontext,baggage");
    let cx = remote(0x1234, 0x5678, true).with_baggage([opentelemetry::KeyValue::new("k", "v")]);
    let mut md = tonic::metadata::MetadataMap::new();
    p.inject_context(&cx, &mut MetadataInjector(&mut md));
    assert_eq!(
        md.get("traceparent").unwrap(),
        "00-00000000000000000000000000001234-0000000000005678-01"
    );
    let back = p.extract_with_context(&Context::new(), &MetadataExtractor(&md));
    assert_eq!(back.span().span_context().span_id(), SpanId::from(0x5678));
    assert_eq!(back.baggage().get("k").map(|v| v.as_str()), Some("v"));
}
