//! v1 Thrift: the same spans as v1 JSON, typed binary annotations as text, bad bodies named.
//! (py_zipkin's real Thrift bytes are checked in crates/ferrotel/tests/zipkin.rs.)

use std::net::{Ipv4Addr, Ipv6Addr};

use ferrotel_thrift::write::Writer;
use ferrotel_thrift::{Protocol, Type};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::{V1Span, thrift};
use crate::model::{Annotation, Endpoint, Kind, hex};

fn ep(service: &str, ipv4: [u8; 4], port: u16) -> Option<Endpoint> {
    Some(Endpoint {
        service_name: service.into(),
        ipv4: Some(Ipv4Addr::from(ipv4)),
        ipv6: None,
        port,
    })
}

/// The same span as v1 JSON (zipkin-api.yaml's field names), for comparing the two formats.
fn to_json(spans: &[V1Span]) -> Vec<u8> {
    let endpoint = |e: &Option<Endpoint>| {
        e.as_ref().map(|e| {
            let mut o = json!({"serviceName": e.service_name, "port": e.port});
            if let Some(ip) = e.ipv4 {
                o["ipv4"] = json!(ip.to_string());
            }
            if let Some(ip) = e.ipv6 {
                o["ipv6"] = json!(ip.to_string());
            }
            o
        })
    };
    let list: Vec<Value> = spans
        .iter()
        .map(|s| {
            let mut o = json!({
                "traceId": hex(&s.trace_id),
                "id": hex(&s.id),
                "name": s.name,
                "debug": s.debug,
                "annotations": s.annotations.iter().map(|(a, e)| json!({
                    "timestamp": a.timestamp, "value": a.value, "endpoint": endpoint(e)
                })).collect::<Vec<_>>(),
                "binaryAnnotations": s.binary_annotations.iter().map(|(k, v, e)| json!({
                    "key": k, "value": v, "endpoint": endpoint(e)
                })).collect::<Vec<_>>(),
            });
            if let Some(p) = s.parent_id {
                o["parentId"] = json!(hex(&p));
            }
            if let Some(t) = s.timestamp {
                o["timestamp"] = json!(t);
            }
            if let Some(d) = s.duration {
                o["duration"] = json!(d);
            }
            o
        })
        .collect();
    serde_json::to_vec(&list).unwrap()
}

fn rpc_span() -> V1Span {
    let note = |t, v: &str| Annotation {
        timestamp: t,
        value: v.into(),
    };
    let front = ep("front", [10, 0, 0, 1], 0);
    let back = ep("back", [10, 0, 0, 2], 9000);
    V1Span {
        trace_id: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
        id: [0x35, 0x2b, 0xff, 0x9a, 0x74, 0xca, 0x9a, 0xd2],
        parent_id: Some([0, 0, 0, 0, 0, 0, 0, 7]),
        name: "get".into(),
        timestamp: Some(100),
        duration: Some(60),
        annotations: vec![
            (note(100, "cs"), front.clone()),
            (note(110, "sr"), back.clone()),
            (note(150, "ss"), back.clone()),
            (note(160, "cr"), front.clone()),
            (note(120, "cache miss"), back.clone()),
        ],
        binary_annotations: vec![
            ("http.path".into(), "/a".into(), front),
            ("sa".into(), "true".into(), back),
        ],
        debug: true,
    }
}

#[test]
fn thrift_and_json_give_the_same_spans() {
    let s = rpc_span();
    let from_thrift = thrift::decode(&thrift::encode(std::slice::from_ref(&s))).unwrap();
    let from_json = super::decode(&to_json(&[s])).unwrap();
    assert_eq!(from_thrift, from_json);
    let (c, srv) = (&from_thrift[0], &from_thrift[1]);
    assert_eq!(
        (c.kind, c.timestamp, c.duration, c.shared, c.debug),
        (Some(Kind::Client), Some(100), Some(60), false, true)
    );
    // trace_id_high carries the upper half of a 128-bit id.
    assert_eq!(hex(&c.trace_id), "0102030405060708090a0b0c0d0e0f10");
    assert_eq!(c.parent_id, Some([0, 0, 0, 0, 0, 0, 0, 7]));
    assert_eq!(c.remote_endpoint, ep("back", [10, 0, 0, 2], 9000));
    assert_eq!(c.tags, [("http.path".to_string(), "/a".to_string())]);
    assert_eq!(
        (srv.kind, srv.timestamp, srv.duration, srv.shared),
        (Some(Kind::Server), Some(110), Some(40), true)
    );
}

/// A binary annotation of each `AnnotationType`, as Go's thrift translator reads the bytes.
#[test]
fn typed_binary_annotations_as_text() {
    let cases: &[(i32, &[u8], &str)] = &[
        (0, &[1], "true"),
        (0, &[0], "false"),
        (0, &[2], "false"),
        (1, &[0, 1, 255], "AAH/"),
        (2, &(-2i16).to_be_bytes(), "-2"),
        (3, &70_000i32.to_be_bytes(), "70000"),
        (4, &(-5_000_000_000i64).to_be_bytes(), "-5000000000"),
        (5, &1.5f64.to_be_bytes(), "1.5"),
        (5, &1e300f64.to_be_bytes(), "1e300"),
        (5, &3f64.to_be_bytes(), "3.0"),
        (6, "héllo".as_bytes(), "héllo"),
        (6, &[0xff, b'a'], "\u{fffd}a"),
        (3, &[0, 1], "<not enough bytes representing the number>"),
        (4, &[], "<not enough bytes representing the number>"),
        (9, b"x", "<unknown zipkin v1 binary annotation type (9)>"),
    ];
    for (kind, value, want) in cases {
        let mut w = Writer::new(Protocol::Binary);
        w.list_begin(Type::Struct, 1);
        w.struct_begin();
        w.i64_field(1, 1);
        w.i64_field(4, 2);
        w.field(Type::List, 8);
        w.list_begin(Type::Struct, 1);
        w.struct_begin();
        w.bytes_field(1, b"k");
        w.bytes_field(2, value);
        w.i32_field(3, *kind);
        w.struct_end();
        w.struct_end();
        let spans = thrift::decode(&w.out).unwrap();
        assert_eq!(
            spans[0].tags,
            [("k".to_string(), want.to_string())],
            "{kind} {value:?}"
        );
    }
}

#[test]
fn endpoints_ids_and_unknown_fields() {
    let mut w = Writer::new(Protocol::Binary);
    w.list_begin(Type::Struct, 1);
    w.struct_begin();
    w.i64_field(1, -1); // all ones: ids are unsigned on the wire
    w.bytes_field(3, b"op");
    w.i64_field(4, 5);
    w.i64_field(5, 0); // no parent
    w.field(Type::Struct, 7); // not in zipkincore.thrift: skipped
    w.struct_begin();
    w.i32_field(1, 1);
    w.struct_end();
    w.field(Type::List, 6);
    w.list_begin(Type::Struct, 1);
    w.struct_begin();
    w.i64_field(1, 10);
    w.bytes_field(2, b"sr");
    w.field(Type::Struct, 3);
    w.struct_begin();
    w.i32_field(1, 0x7f00_0001);
    w.i16_field(2, -1); // port 65535 in an i16
    w.bytes_field(3, b"svc");
    w.bytes_field(4, &Ipv6Addr::LOCALHOST.octets());
    w.struct_end();
    w.struct_end();
    w.struct_end();
    let s = &thrift::decode(&w.out).unwrap()[0];
    assert_eq!(hex(&s.trace_id), "0000000000000000ffffffffffffffff");
    assert_eq!((s.parent_id, s.kind), (None, Some(Kind::Server)));
    assert_eq!(
        s.local_endpoint,
        Some(Endpoint {
            service_name: "svc".into(),
            ipv4: Some(Ipv4Addr::LOCALHOST),
            ipv6: Some(Ipv6Addr::LOCALHOST),
            port: 65535,
        })
    );
}

/// Bad bodies: each refused with a message naming where and why, never a panic.
#[test]
fn bad_thrift_is_named() {
    let msg = |b: &[u8]| thrift::decode(b).unwrap_err().to_string();
    // A list declaring a billion spans in 5 bytes: refused before allocating.
    let mut b = vec![12];
    b.extend_from_slice(&1_000_000_000i32.to_be_bytes());
    assert!(
        msg(&b).contains("declared list size 1000000000 is past the end"),
        "{}",
        msg(&b)
    );
    // A name declaring 2 GiB.
    let mut b = vec![12, 0, 0, 0, 1, 11, 0, 3];
    b.extend_from_slice(&i32::MAX.to_be_bytes());
    let e = msg(&b);
    assert!(
        e.starts_with("invalid Zipkin Thrift: span[0]: declared length 2147483647"),
        "{e}"
    );
    assert!(msg(&[8, 0, 0, 0, 1, 0, 0, 0, 1]).contains("a list of I32, not of Span structs"));
    assert!(msg(&[]).contains("truncated"));
    // A span without ids, as zipkincore.thrift allows and Zipkin refuses.
    assert_eq!(msg(&[12, 0, 0, 0, 1, 0]), "span[0]: traceId is all zeros");
    let mut one = thrift::encode(&[rpc_span()]);
    one.push(0);
    assert!(msg(&one).contains("1 bytes after the list of 1 spans"));
    let mut neg = rpc_span();
    neg.timestamp = Some(u64::MAX);
    assert!(msg(&thrift::encode(&[neg])).contains("span[0]: timestamp -1 is negative"));
    // Every proper prefix of a good body is an error.
    let good = thrift::encode(&[rpc_span(), rpc_span()]);
    for n in 0..good.len() {
        assert!(thrift::decode(&good[..n]).is_err(), "prefix {n}");
    }
    // A bad ipv6 deep inside names its place.
    let mut w = Writer::new(Protocol::Binary);
    w.list_begin(Type::Struct, 1);
    w.struct_begin();
    w.field(Type::List, 6);
    w.list_begin(Type::Struct, 1);
    w.struct_begin();
    w.field(Type::Struct, 3);
    w.struct_begin();
    w.bytes_field(4, &[1, 2, 3]);
    w.struct_end();
    w.struct_end();
    w.struct_end();
    assert_eq!(
        msg(&w.out),
        "invalid Zipkin Thrift: span[0].annotations[0].host: ipv6 has 3 bytes, not 16"
    );
}

fn endpoint() -> impl Strategy<Value = Option<Endpoint>> {
    let ep = (
        prop::sample::select(vec!["", "svc", "other"]),
        prop::option::of(1..u32::MAX),
        prop::option::of(any::<u128>()),
        any::<u16>(),
    )
        .prop_map(|(n, v4, v6, port)| Endpoint {
            service_name: n.to_owned(),
            ipv4: v4.map(Ipv4Addr::from),
            ipv6: v6.map(Ipv6Addr::from),
            port,
        });
    prop::option::of(ep).prop_map(|e| e.filter(|e| !e.is_empty()))
}

fn v1_span() -> impl Strategy<Value = V1Span> {
    let note = (
        0..1u64 << 53,
        prop::sample::select(vec![
            "cs",
            "cr",
            "sr",
            "ss",
            "ms",
            "mr",
            "retry",
            "cache miss",
        ]),
        endpoint(),
    )
        .prop_map(|(t, v, e)| {
            (
                Annotation {
                    timestamp: t,
                    value: v.into(),
                },
                e,
            )
        });
    let binary = (
        prop::sample::select(vec!["ca", "sa", "ma", "lc", "http.path", "error"]),
        "\\PC{0,6}",
        endpoint(),
    )
        .prop_map(|(k, v, e)| (k.to_owned(), v, e));
    (
        (
            any::<u64>(),
            1..u64::MAX,
            1..u64::MAX,
            prop::option::of(1..u64::MAX),
        ),
        "\\PC{0,8}",
        prop::option::of(0..1u64 << 53),
        prop::option::of(0..1u64 << 40),
        prop::collection::vec(note, 0..5),
        prop::collection::vec(binary, 0..4),
        any::<bool>(),
    )
        .prop_map(
            |((high, low, id, parent), name, timestamp, duration, a, b, debug)| {
                let mut trace_id = [0; 16];
                trace_id[..8].copy_from_slice(&high.to_be_bytes());
                trace_id[8..].copy_from_slice(&low.to_be_bytes());
                V1Span {
                    trace_id,
                    id: id.to_be_bytes(),
                    parent_id: parent.map(u64::to_be_bytes),
                    name,
                    timestamp,
                    duration,
                    annotations: a,
                    binary_annotations: b,
                    debug,
                }
            },
        )
}

proptest! {
    /// Any v1 spans give the same v2 spans from Thrift as from JSON.
    #[test]
    fn thrift_agrees_with_json(spans in prop::collection::vec(v1_span(), 0..4)) {
        let t = thrift::decode(&thrift::encode(&spans)).unwrap();
        let j = super::decode(&to_json(&spans)).unwrap();
        prop_assert_eq!(t, j);
    }

    /// A byte of a good body changed: an error or spans, never a panic (and through the
    /// fuzz entry point's translation both ways).
    #[test]
    fn mutated_thrift_never_panics(at in 0usize..400, byte in any::<u8>()) {
        let mut b = thrift::encode(&[rpc_span(), rpc_span()]);
        let at = at % b.len();
        b[at] = byte;
        crate::fuzz_decode(&b);
    }
}
