//! The direct path against the reference (`json`/`proto` + `to_otlp` + prost): generated
//! spans whose tags hit every translation rule, mutated bodies, and the bodies under
//! `testdata/` (the translation tests run every body of theirs through `check_agrees` too).

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use super::check_agrees;
use crate::model::{Annotation, Endpoint, Kind, Span};
use crate::receiver::{Format, decode, decode_payload};
use crate::to_otlp::Options;
use crate::{json, proto};

const LINK: &str =
    r#"5af7183fb1d4cf5f5af7183fb1d4cf5f|352bff9a74ca9ad2|k=v|{"a":1,"b":[true,"x"]}|2"#;

fn tag_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "otel.scope.name", "otel.scope.version", "otel.library.name", "otel.library.version",
            "otel.status_code", "otel.status_description", "error", "w3c.tracestate", "span.kind",
            "otel.dropped_attributes_count", "otel.dropped_events_count",
            "otel.dropped_links_count", "otlp.link.0", "otlp.link.1", "otlp.link.3",
            "otlp.service.name.source", "service.name", "service.namespace", "host.name",
            "telemetry.sdk.language", "peer.service", "server.address", "network.peer.address",
            "network.peer.port", "network.local.address", "network.local.port", "http.method",
        ])
        .prop_map(String::from),
        1 => "[a-z.]{1,10}",
    ]
}

fn tag_value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "OK", "ERROR", "STATUS_CODE_ERROR", "UNSET", "bogus", "true", "false", "internal",
            "3", "-7", "1.5", "inf", "T", "", r#"{"x":1}"#, LINK, "a|{\"b\":true}|1",
            "host.name", "svc", "net.peer.name", "1e400",
        ])
        .prop_map(String::from),
        1 => "\\PC{0,8}",
        1 => "[\"\\\\/\n\tä€😀]{0,4}",
    ]
}

fn endpoint() -> impl Strategy<Value = Option<Endpoint>> {
    let ep = (
        prop::sample::select(vec!["", "svc", "other", "server.address"]),
        prop::option::of(any::<u32>()),
        prop::option::of(any::<u128>()),
        prop::sample::select(vec![0u16, 80, 65535]),
    )
        .prop_map(|(n, v4, v6, port)| Endpoint {
            service_name: n.to_owned(),
            ipv4: v4.map(Ipv4Addr::from),
            ipv6: v6.map(Ipv6Addr::from),
            port,
        });
    prop::option::of(ep).prop_map(|e| e.filter(|e| !e.is_empty()))
}

fn span() -> impl Strategy<Value = Span> {
    let ids = (
        any::<u64>(),
        1..u64::MAX,
        1..u64::MAX,
        prop::option::of(1..4u64),
    );
    let annotation = (
        1..u64::MAX,
        prop_oneof![
            2 => tag_value(),
            2 => prop::sample::select(vec![
                r#"{"ev":{"a":"b","n":2}}"#,
                r#"{"ev":{"b":1,"a":2}}"#,
                r#"{"ev":{"a":null,"b":1}}"#,
                r#"{"ev":{"a":18446744073709551615,"b":-1,"c":1.5e300,"d":"x\"y","e":true,"f":-0}}"#,
                r#"{"":{}}"#,
                r#" {"ev":{"a":1,"a":2}} "#,
                r#"{"a":{},"b":{}}"#,
                r#"{"ev":"not attributes"}"#,
                r#"{"ev":{"a":[1,{"b":"c"}]}}"#,
                r#"{"ev":{"a":1}"#,
            ])
            .prop_map(String::from),
            1 => Just(r#"ev|{"a":1.5}|3"#.to_owned()),
        ],
    )
        .prop_map(|(timestamp, value)| Annotation { timestamp, value });
    (
        ids,
        prop::option::of(prop::sample::select(vec![
            Kind::Client,
            Kind::Server,
            Kind::Producer,
            Kind::Consumer,
        ])),
        "[a-z /]{0,8}",
        (
            prop::option::of(prop_oneof![1..u64::MAX, Just(u64::MAX)]),
            prop::option::of(1..u64::MAX),
        ),
        (endpoint(), endpoint()),
        prop::collection::vec(annotation, 0..3),
        prop::collection::vec((tag_key(), tag_value()), 0..8),
        any::<bool>(),
    )
        .prop_map(
            |(
                (hi, lo, id, parent),
                kind,
                name,
                (ts, dur),
                (local, remote),
                annotations,
                tags,
                shared,
            )| {
                let mut trace_id = [0u8; 16];
                trace_id[..8].copy_from_slice(&hi.to_be_bytes());
                trace_id[8..].copy_from_slice(&lo.to_be_bytes());
                Span {
                    trace_id,
                    id: id.to_be_bytes(),
                    // Sometimes the span's own id: the reference drops such a parent.
                    parent_id: parent.map(|p| {
                        if p == 1 {
                            id.to_be_bytes()
                        } else {
                            p.to_be_bytes()
                        }
                    }),
                    kind,
                    name,
                    timestamp: ts,
                    duration: dur,
                    local_endpoint: local,
                    remote_endpoint: remote,
                    annotations,
                    tags,
                    debug: false,
                    shared,
                }
            },
        )
}

fn both(spans: &[Span]) -> [(Format, Vec<u8>); 2] {
    [
        (Format::V2Json, json::encode(spans)),
        (Format::V2Proto, proto::encode(spans)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Generated requests: the direct path answers, with the reference's exact bytes.
    #[test]
    fn generated_spans_agree(spans in prop::collection::vec(span(), 0..6), parse in any::<bool>()) {
        let opts = Options { parse_string_tags: parse };
        for (format, body) in both(&spans) {
            prop_assert_eq!(check_agrees(format, &body, &opts), Ok(true), "{:?}", format);
        }
    }

    /// Mutated bodies: wherever the direct path still answers it agrees, and the receiver's
    /// answer (payload or error) is the reference's.
    #[test]
    fn mutated_bodies_agree(spans in prop::collection::vec(span(), 1..3), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        for (format, mut body) in both(&spans) {
            let i = at.index(body.len());
            body[i] = byte;
            let opts = Options::default();
            prop_assert!(check_agrees(format, &body, &opts).is_ok());
            prop_assert_eq!(decode_payload(format, &body, &opts).err(), decode(format, &body, &opts).err());
        }
    }
}

/// Every body under `src/direct/testdata/` (as real senders write them: the Python exporter,
/// py_zipkin, escapes, number tags the direct path leaves to the reference, several services).
#[test]
fn testdata_agrees() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/direct/testdata");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("testdata") {
        let path = entry.unwrap().path();
        let body = std::fs::read(&path).unwrap();
        let format = match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Format::V2Json,
            Some("pb") => Format::V2Proto,
            _ => continue,
        };
        for parse in [false, true] {
            let opts = Options {
                parse_string_tags: parse,
            };
            let answered =
                check_agrees(format, &body, &opts).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            // Files named fallback-* hold what the direct path leaves to the reference.
            let fallback = path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("fallback-");
            assert_eq!(answered, !fallback, "{path:?}");
            assert_eq!(
                decode_payload(format, &body, &opts).err(),
                decode(format, &body, &opts).err()
            );
        }
        // The same spans as protobuf: the direct protobuf reader agrees too.
        if format == Format::V2Json
            && let Ok(spans) = json::decode(&body)
        {
            assert_eq!(
                check_agrees(Format::V2Proto, &proto::encode(&spans), &Options::default()),
                Ok(true)
            );
        }
        n += 1;
    }
    assert!(n >= 4, "testdata has {n} bodies");
}

/// The receiver's bad-input cases: the same error by either path.
#[test]
fn errors_are_the_reference_errors() {
    let bodies: &[&[u8]] = &[
        b"{",
        b"[{\"id\":\"352bff9a74ca9ad2\"}]",
        br#"[{"traceId":"xyz","id":"352bff9a74ca9ad2"}]"#,
        br#"[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","traceId":"5af7183fb1d4cf5f"}]"#,
        br#"[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","tags":{"a":null}}]"#,
        br#"[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","localEndpoint":{"ipv4":"300.1.1.1"}}]"#,
        b"\x0a\x05\x0a\x03abc",
        b"\x0a\xff\xff\xff\xff\x0f",
    ];
    for body in bodies {
        for format in [Format::V2Json, Format::V2Proto] {
            let want = decode(format, body, &Options::default()).err();
            assert!(want.is_some(), "{format:?} {body:?} is bad");
            assert_eq!(
                decode_payload(format, body, &Options::default()).err(),
                want
            );
        }
    }
}

/// JSON where serde_json's reading (the reference) and the scanner's could part: each body is
/// answered by the direct path only with the reference's bytes, and otherwise the receiver's
/// answer is the reference's. `direct` says whether the direct path should answer at all.
#[test]
fn json_edges_agree() {
    const IDS: &str = r#""traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2""#;
    let cases: &[(&str, bool)] = &[
        // Nulls are absent values, but a key given twice is refused even if one was null.
        (
            r#"{IDS,"parentId":null,"kind":null,"name":null,"timestamp":null}"#,
            true,
        ),
        (
            r#"{IDS,"parentId":null,"parentId":"0000000000000001"}"#,
            false,
        ),
        (
            r#"{IDS,"tags":null,"annotations":null,"localEndpoint":null}"#,
            true,
        ),
        (
            r#"{IDS,"localEndpoint":{"serviceName":null,"port":null}}"#,
            true,
        ),
        (r#"{IDS,"localEndpoint":{"port":80,"port":81}}"#, false),
        // Integers: plain digits only; the full u64 range; no sign, fraction or exponent.
        (r#"{IDS,"timestamp":18446744073709551615}"#, true),
        (r#"{IDS,"timestamp":18446744073709551616}"#, false),
        (r#"{IDS,"timestamp":1e3}"#, false),
        (r#"{IDS,"timestamp":1.0}"#, false),
        (r#"{IDS,"timestamp":-1}"#, false),
        (r#"{IDS,"timestamp":"5"}"#, false),
        (r#"{IDS,"timestamp":01}"#, false),
        (r#"{IDS,"localEndpoint":{"port":-1}}"#, false),
        (r#"{IDS,"localEndpoint":{"port":65536}}"#, false),
        // Structs written as arrays (serde takes them), annotations missing a field.
        (r#"{IDS,"localEndpoint":["svc"]}"#, false),
        (r#"{IDS,"annotations":[{"value":"x"}]}"#, false),
        (
            r#"{IDS,"annotations":[{"timestamp":1,"value":"x","extra":[1,{"a":null}]}]}"#,
            true,
        ),
        // Escaped keys and values are the same keys and values.
        (
            r#"{"trace\u0049d":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","name":"a\nb\u00e9"}"#,
            true,
        ),
        (r#"{IDS,"tags":{"k\"ey":"v\\al"}}"#, true),
        // Unknown fields of any shape are skipped; non-string tag values go to the reference.
        (r#"{IDS,"x":{"y":[true,false,null,-1.5e-3,"z"]}}"#, true),
        (r#"{IDS,"tags":{"n":5}}"#, false),
        (r#"{IDS,"debug":true,"shared":false}"#, true),
        (r#"{IDS,"debug":"yes"}"#, false),
        // Whitespace anywhere JSON allows it.
        (
            "\t{ \"traceId\" : \"5af7183fb1d4cf5f\" ,\r\n \"id\":\"352bff9a74ca9ad2\" } ",
            true,
        ),
    ];
    let bodies = cases
        .iter()
        .map(|(span, direct)| {
            (
                format!("[{}]", span.replace("IDS", IDS)).into_bytes(),
                *direct,
            )
        })
        .chain([
            // A byte order mark: serde_json refuses it, the scanner alone would skip it.
            (format!("\u{feff}[{{{IDS}}}]").into_bytes(), false),
            (format!("[{{{IDS}}}] x").into_bytes(), false),
            (format!("[{{{IDS}}},]").into_bytes(), false),
            (b"null".to_vec(), false),
            (b"[]".to_vec(), true),
        ]);
    for (body, direct) in bodies {
        let shown = String::from_utf8_lossy(&body).into_owned();
        let opts = Options::default();
        let answered =
            check_agrees(Format::V2Json, &body, &opts).unwrap_or_else(|e| panic!("{shown}: {e}"));
        assert_eq!(answered, direct, "{shown}");
        assert_eq!(
            decode_payload(Format::V2Json, &body, &opts).err(),
            decode(Format::V2Json, &body, &opts).err(),
            "{shown}"
        );
    }
}
