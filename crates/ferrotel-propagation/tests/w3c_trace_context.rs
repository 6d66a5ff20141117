//! The W3C trace-context test suite's cases (github.com/w3c/trace-context, test/test.py), as
//! table tests: headers in → what is extracted and what a child span injects again.

use ferrotel_propagation::{HeaderExtractor, HeaderInjector, TraceContextPropagator};
use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags};
use opentelemetry::{Context, SpanId};

const TP: &str = "00-12345678901234567890123456789012-1234567890123456-01";
const TP0: &str = "00-12345678901234567890123456789012-1234567890123456-00";
const TRACE: &str = "12345678901234567890123456789012";

#[derive(Debug)]
enum Expect {
    /// The traceparent is invalid: no remote parent, the service restarts the trace.
    Restart,
    /// Continued with this trace id, re-injecting this tracestate (None: no tracestate header).
    Continue(Option<&'static str>),
}
use Expect::*;

type Header = (&'static str, &'static str);
type Headers = &'static [Header];

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

/// Extracts, then injects for a child span (new span id) of the extracted context, as a service
/// calling downstream does.
fn round(list: &[(&str, &str)]) -> (Context, HeaderMap) {
    let p = TraceContextPropagator::new();
    let map = headers(list);
    let cx = p.extract_with_context(&Context::new(), &HeaderExtractor(&map));
    let parent = cx.span().span_context().clone();
    let mut out = HeaderMap::new();
    if parent.is_valid() {
        let child = SpanContext::new(
            parent.trace_id(),
            SpanId::from(0xabcdef),
            parent.trace_flags(),
            false,
            parent.trace_state().clone(),
        );
        let child_cx = cx.with_remote_span_context(child);
        p.inject_context(&child_cx, &mut HeaderInjector(&mut out));
    }
    (cx, out)
}

fn check(name: &str, list: &[(&str, &str)], expect: Expect) {
    let (cx, out) = round(list);
    let sc = cx.span().span_context().clone();
    match expect {
        Restart => assert!(!sc.is_valid(), "{name}: expected restart, got {sc:?}"),
        Continue(ts) => {
            assert!(
                sc.is_valid() && sc.is_remote(),
                "{name}: expected continuation"
            );
            assert_eq!(format!("{:032x}", sc.trace_id()), TRACE, "{name}");
            let tp = out.get("traceparent").unwrap().to_str().unwrap();
            assert_eq!(&tp[3..35], TRACE, "{name}");
            assert_eq!(&tp[36..52], "0000000000abcdef", "{name}");
            assert_eq!(
                out.get("tracestate").map(|v| v.to_str().unwrap()),
                ts,
                "{name}: tracestate"
            );
        }
    }
}

#[test]
fn traceparent_cases() {
    let cases: &[(&str, Headers, Expect)] = &[
        ("both missing", &[], Restart),
        ("traceparent only", &[("traceparent", TP)], Continue(None)),
        (
            "duplicated traceparent",
            &[
                (
                    "traceparent",
                    "00-12345678901234567890123456789011-1234567890123456-01",
                ),
                ("traceparent", TP),
            ],
            Restart,
        ),
        (
            "combined by a proxy",
            &[(
                "traceparent",
                "00-12345678901234567890123456789011-1234567890123456-01,00-12345678901234567890123456789012-1234567890123456-01",
            )],
            Restart,
        ),
        ("wrong name trace-parent", &[("trace-parent", TP)], Restart),
        ("wrong name trace.parent", &[("trace.parent", TP)], Restart),
        ("casing TraceParent", &[("TraceParent", TP)], Continue(None)),
        ("casing TRACEPARENT", &[("TRACEPARENT", TP)], Continue(None)),
        (
            "00 trailing dot",
            &[(
                "traceparent",
                "00-12345678901234567890123456789012-1234567890123456-01.",
            )],
            Restart,
        ),
        (
            "00 with future fields",
            &[(
                "traceparent",
                "00-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like",
            )],
            Restart,
        ),
        (
            "future version cc",
            &[(
                "traceparent",
                "cc-12345678901234567890123456789012-1234567890123456-01",
            )],
            Continue(None),
        ),
        (
            "future version with fields",
            &[(
                "traceparent",
                "cc-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like",
            )],
            Continue(None),
        ),
        (
            "future version, no dash after flags",
            &[(
                "traceparent",
                "cc-12345678901234567890123456789012-1234567890123456-01.what-the-future-will-be-like",
            )],
            Restart,
        ),
        (
            "version ff",
            &[(
                "traceparent",
                "ff-12345678901234567890123456789012-1234567890123456-01",
            )],
            Restart,
        ),
        (
            "version .0",
            &[(
                "traceparent",
                ".0-12345678901234567890123456789012-1234567890123456-01",
            )],
            Restart,
        ),
        (
            "version 0.",
            &[(
                "traceparent",
                "0.-12345678901234567890123456789012-1234567890123456-01",
            )],
            Restart,
        ),
        (
            "version 000",
            &[(
                "traceparent",
                "000-12345678901234567890123456789012-1234567890123456-01",
            )],
            Restart,
        ),
        (
            "version 0000",
            &[(
                "traceparent",
                "0000-12345678901234567890123456789012-1234567890123456-01",
            )],
            Restart,
        ),
        (
            "version 0",
            &[(
                "traceparent",
                "0-12345678901234567890123456789012-1234567890123456-01",
            )],
            Restart,
        ),
        (
            "uppercase version",
            &[(
                "traceparent",
                "0A-12345678901234567890123456789012-1234567890123456-01",
            )],
            Restart,
        ),
        (
            "trace id zero",
            &[(
                "traceparent",
                "00-00000000000000000000000000000000-1234567890123456-01",
            )],
            Restart,
        ),
        (
            "trace id .",
            &[(
                "traceparent",
                "00-.2345678901234567890123456789012-1234567890123456-01",
            )],
            Restart,
        ),
        (
            "trace id trailing .",
            &[(
                "traceparent",
                "00-1234567890123456789012345678901.-1234567890123456-01",
            )],
            Restart,
        ),
        (
            "trace id uppercase",
            &[(
                "traceparent",
                "00-1234567890123456789012345678901A-1234567890123456-01",
            )],
            Restart,
        ),
        (
            "trace id 33",
            &[(
                "traceparent",
                "00-123456789012345678901234567890123-1234567890123456-01",
            )],
            Restart,
        ),
        (
            "trace id 31",
            &[(
                "traceparent",
                "00-1234567890123456789012345678901-1234567890123456-01",
            )],
            Restart,
        ),
        (
            "parent id zero",
            &[(
                "traceparent",
                "00-12345678901234567890123456789012-0000000000000000-01",
            )],
            Restart,
        ),
        (
            "parent id .",
            &[(
                "traceparent",
                "00-12345678901234567890123456789012-.234567890123456-01",
            )],
            Restart,
        ),
        (
            "parent id trailing .",
            &[(
                "traceparent",
                "00-12345678901234567890123456789012-123456789012345.-01",
            )],
            Restart,
        ),
        (
            "parent id uppercase",
            &[(
                "traceparent",
                "00-12345678901234567890123456789012-123456789012345A-01",
            )],
            Restart,
        ),
        (
            "parent id 17",
            &[(
                "traceparent",
                "00-12345678901234567890123456789012-12345678901234567-01",
            )],
            Restart,
        ),
        (
            "parent id 15",
            &[(
                "traceparent",
                "00-12345678901234567890123456789012-123456789012345-01",
            )],
            Restart,
        ),
        (
            "flags .0",
            &[(
                "traceparent",
                "00-12345678901234567890123456789012-1234567890123456-.0",
            )],
            Restart,
        ),
        (
            "flags 0.",
            &[(
                "traceparent",
                "00-12345678901234567890123456789012-1234567890123456-0.",
            )],
            Restart,
        ),
        (
            "flags 001",
            &[(
                "traceparent",
                "00-12345678901234567890123456789012-1234567890123456-001",
            )],
            Restart,
        ),
        (
            "flags 1",
            &[(
                "traceparent",
                "00-12345678901234567890123456789012-1234567890123456-1",
            )],
            Restart,
        ),
        (
            "flags uppercase",
            &[(
                "traceparent",
                "00-12345678901234567890123456789012-1234567890123456-0A",
            )],
            Restart,
        ),
        (
            "OWS leading space",
            &[(
                "traceparent",
                " 00-12345678901234567890123456789012-1234567890123456-01",
            )],
            Continue(None),
        ),
        (
            "OWS leading tab",
            &[(
                "traceparent",
                "\t00-12345678901234567890123456789012-1234567890123456-01",
            )],
            Continue(None),
        ),
        (
            "OWS trailing space",
            &[(
                "traceparent",
                "00-12345678901234567890123456789012-1234567890123456-01 ",
            )],
            Continue(None),
        ),
        (
            "OWS trailing tab",
            &[(
                "traceparent",
                "00-12345678901234567890123456789012-1234567890123456-01\t",
            )],
            Continue(None),
        ),
        (
            "OWS both",
            &[(
                "traceparent",
                "\t 00-12345678901234567890123456789012-1234567890123456-01 \t",
            )],
            Continue(None),
        ),
        (
            "tracestate without traceparent",
            &[("tracestate", "foo=1,bar=2")],
            Restart,
        ),
        (
            "invalid traceparent drops tracestate",
            &[
                (
                    "traceparent",
                    "ff-12345678901234567890123456789012-1234567890123456-01",
                ),
                ("tracestate", "foo=1"),
            ],
            Restart,
        ),
    ];
    for (name, list, expect) in cases {
        let expect = match expect {
            Restart => Restart,
            Continue(t) => Continue(*t),
        };
        check(name, list, expect);
    }
}

#[test]
fn flags_sampled_and_random() {
    for (flags, want) in [
        ("00", 0u8),
        ("01", 1),
        ("02", 2),
        ("03", 3),
        ("ff", 3),
        ("09", 1),
    ] {
        let tp = format!("00-{TRACE}-1234567890123456-{flags}");
        let (cx, out) = round(&[("traceparent", &tp)]);
        assert_eq!(
            cx.span().span_context().trace_flags(),
            TraceFlags::new(want),
            "{flags}"
        );
        // Level 2: the random flag travels with the trace id; unknown bits go out as zero.
        let sent = out.get("traceparent").unwrap().to_str().unwrap();
        assert_eq!(&sent[53..], format!("{want:02x}"), "{flags}");
    }
}

#[test]
fn tracestate_cases() {
    let key256 = "z".repeat(256);
    let key257 = "z".repeat(257);
    let multi_tenant = format!("{}@{}", "t".repeat(241), "v".repeat(14));
    let tenant242 = format!("{}@v", "t".repeat(242));
    let system15 = format!("t@{}", "v".repeat(15));
    let key_all: String = ('a'..='z').chain('0'..='9').chain("_-*/".chars()).collect();
    let key_all_vendor = format!("{key_all}@a-z0-9_-*/");
    let value_all: String = (0x20u8..=0x7e)
        .filter(|&b| b != b',' && b != b'=')
        .map(char::from)
        .collect();
    let ok_all = format!("{key_all}={value_all}");
    let ok_all_vendor = format!("{key_all_vendor}={value_all}");
    let leaked = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let members32: Vec<String> = (1..=32).map(|i| format!("bar{i:02}={i:02}")).collect();
    let joined32 = leaked(members32.join(","));
    let cases: Vec<(&str, Vec<Header>, Option<&str>)> = vec![
        (
            "inherited",
            vec![("tracestate", "foo=1,bar=2")],
            Some("foo=1,bar=2"),
        ),
        (
            "wrong name trace-state",
            vec![("trace-state", "foo=1")],
            None,
        ),
        (
            "wrong name trace.state",
            vec![("trace.state", "foo=1")],
            None,
        ),
        (
            "casing TraceState",
            vec![("TraceState", "foo=1")],
            Some("foo=1"),
        ),
        (
            "casing TRACESTATE",
            vec![("TRACESTATE", "foo=1")],
            Some("foo=1"),
        ),
        ("empty header", vec![("tracestate", "")], None),
        (
            "empty then foo",
            vec![("tracestate", ""), ("tracestate", "foo=1")],
            Some("foo=1"),
        ),
        (
            "foo then empty",
            vec![("tracestate", "foo=1"), ("tracestate", "")],
            Some("foo=1"),
        ),
        (
            "several headers combine in order",
            vec![
                ("tracestate", "foo=1,bar=2"),
                ("tracestate", "rojo=1,congo=2"),
                ("tracestate", "baz=3"),
            ],
            Some("foo=1,bar=2,rojo=1,congo=2,baz=3"),
        ),
        (
            "duplicate key same value",
            vec![("tracestate", "foo=1,foo=1")],
            Some("foo=1"),
        ),
        (
            "duplicate key kept first",
            vec![("tracestate", "foo=1,foo=2")],
            Some("foo=1"),
        ),
        (
            "duplicate across headers",
            vec![("tracestate", "foo=1"), ("tracestate", "foo=2")],
            Some("foo=1"),
        ),
        (
            "all allowed characters",
            vec![("tracestate", leaked(ok_all.clone()))],
            Some(leaked(ok_all)),
        ),
        (
            "all allowed with vendor",
            vec![("tracestate", leaked(ok_all_vendor.clone()))],
            Some(leaked(ok_all_vendor)),
        ),
        (
            "OWS around members",
            vec![("tracestate", "foo=1 \t , \t bar=2, \t baz=3")],
            Some("foo=1,bar=2,baz=3"),
        ),
        (
            "OWS tabs",
            vec![("tracestate", "foo=1\t \t,\t \tbar=2,\t \tbaz=3")],
            Some("foo=1,bar=2,baz=3"),
        ),
        ("OWS leading", vec![("tracestate", " foo=1")], Some("foo=1")),
        (
            "OWS trailing",
            vec![("tracestate", "foo=1\t")],
            Some("foo=1"),
        ),
        (
            "empty members",
            vec![("tracestate", ",, ,foo=1,\t,")],
            Some("foo=1"),
        ),
        ("key with space", vec![("tracestate", "foo =1")], None),
        ("uppercase key", vec![("tracestate", "FOO=1")], None),
        ("dot in key", vec![("tracestate", "foo.bar=1")], None),
        (
            "key ends with @",
            vec![("tracestate", "foo@=1,bar=2")],
            Some("foo@=1,bar=2"),
        ),
        (
            "key starts with @",
            vec![("tracestate", "@foo=1,bar=2")],
            None,
        ),
        (
            "key with @@",
            vec![("tracestate", "foo@@bar=1,bar=2")],
            Some("foo@@bar=1,bar=2"),
        ),
        (
            "key with two @",
            vec![("tracestate", "foo@bar@baz=1,bar=2")],
            Some("foo@bar@baz=1,bar=2"),
        ),
        (
            "key starting with a digit",
            vec![("tracestate", "1foo=1")],
            Some("1foo=1"),
        ),
        ("value with =", vec![("tracestate", "foo=bar=baz")], None),
        ("empty value", vec![("tracestate", "foo=,bar=3")], None),
        ("no =", vec![("tracestate", "foo,bar=3")], None),
        (
            "value with leading space kept",
            vec![("tracestate", "foo= x")],
            Some("foo= x"),
        ),
        ("value with tab", vec![("tracestate", "foo=a\tb")], None),
        ("32 members", vec![("tracestate", joined32)], Some(joined32)),
        (
            "32 members over 4 headers",
            vec![
                ("tracestate", leaked(members32[..10].join(","))),
                ("tracestate", leaked(members32[10..20].join(","))),
                ("tracestate", leaked(members32[20..30].join(","))),
                ("tracestate", leaked(members32[30..].join(","))),
            ],
            Some(joined32),
        ),
        (
            "33 members",
            vec![("tracestate", leaked(format!("{joined32},bar33=33")))],
            None,
        ),
        (
            "key of 256",
            vec![
                ("tracestate", "foo=1"),
                ("tracestate", leaked(format!("{key256}=1"))),
            ],
            Some(leaked(format!("foo=1,{key256}=1"))),
        ),
        (
            "key of 257",
            vec![
                ("tracestate", "foo=1"),
                ("tracestate", leaked(format!("{key257}=1"))),
            ],
            None,
        ),
        (
            "tenant 241 @ system 14",
            vec![
                ("tracestate", "foo=1"),
                ("tracestate", leaked(format!("{multi_tenant}=1"))),
            ],
            Some(leaked(format!("foo=1,{multi_tenant}=1"))),
        ),
        (
            "tenant 242 @ v",
            vec![
                ("tracestate", "foo=1"),
                ("tracestate", leaked(format!("{tenant242}=1"))),
            ],
            Some(leaked(format!("foo=1,{tenant242}=1"))),
        ),
        (
            "t @ system 15",
            vec![
                ("tracestate", "foo=1"),
                ("tracestate", leaked(format!("{system15}=1"))),
            ],
            Some(leaked(format!("foo=1,{system15}=1"))),
        ),
        (
            "value of 256",
            vec![("tracestate", leaked(format!("foo={}", "v".repeat(256))))],
            Some(leaked(format!("foo={}", "v".repeat(256)))),
        ),
        (
            "value of 257",
            vec![("tracestate", leaked(format!("foo={}", "v".repeat(257))))],
            None,
        ),
    ];
    for (name, mut list, want) in cases {
        list.insert(0, ("traceparent", TP0));
        check(name, &list, Continue(want));
    }
}

#[test]
fn tracestate_mutation_keeps_members_the_api_type_cannot_hold() {
    // `foo@@bar` is valid W3C but not representable in opentelemetry's TraceState: when a
    // sampler adds its own key, the outgoing list has it first, then what came in.
    let p = TraceContextPropagator::new();
    let map = headers(&[("traceparent", TP0), ("tracestate", "foo@@bar=1,bar=2")]);
    let cx = p.extract_with_context(&Context::new(), &HeaderExtractor(&map));
    let parent = cx.span().span_context().clone();
    assert_eq!(parent.trace_state().get("bar"), Some("2"));
    let state = parent.trace_state().insert("ot", "th:8").unwrap();
    let child = SpanContext::new(
        parent.trace_id(),
        SpanId::from(7),
        parent.trace_flags(),
        false,
        state,
    );
    let mut out = HeaderMap::new();
    p.inject_context(
        &cx.with_remote_span_context(child),
        &mut HeaderInjector(&mut out),
    );
    assert_eq!(out.get("tracestate").unwrap(), "ot=th:8,bar=2,foo@@bar=1");
}

#[test]
fn fields_and_nothing_to_inject() {
    let p = TraceContextPropagator::new();
    assert_eq!(
        p.fields().collect::<Vec<_>>(),
        ["traceparent", "tracestate"]
    );
    let mut out = HeaderMap::new();
    p.inject_context(&Context::new(), &mut HeaderInjector(&mut out));
    assert!(out.is_empty());
}
