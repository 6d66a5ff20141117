//! The OTLP → Jaeger mapping against fixtures written from Jaeger's documented mapping (its
//! OTLP translator and `uimodel`), and the API's envelope and errors.

use std::sync::Arc;

use serde_json::{Value, json};

use ferrotel_pdata::proto::common::v1::{AnyValue, ArrayValue, KeyValueList, any_value};
use ferrotel_store::TelemetryStore;
use ferrotel_store::reference::ReferenceStore;

use super::model::{to_jaeger, trace_id_text};
use crate::server::{Handler, Request};
use crate::testing::{self, kv, s};

fn tag(key: &str, kind: &str, value: Value) -> Value {
    json!({"key": key, "type": kind, "value": value})
}

#[test]
fn maps_a_two_service_trace_as_jaegers_translator_does() {
    let t = to_jaeger(&testing::trace_request()).unwrap();
    let got = serde_json::to_value(&t).unwrap();
    let tid = "83a9efd15c1c98a977e0711cc93ee28b";
    let expected = json!({
        "traceID": tid,
        "spans": [
            {
                "traceID": tid, "spanID": "0000000000000001", "operationName": "GET /checkout",
                "references": [],
                "startTime": 1_706_678_909_209_712u64, "duration": 5000,
                "tags": [
                    tag("otel.scope.name", "string", json!("web")),
                    tag("otel.scope.version", "string", json!("1.0")),
                    tag("http.route", "string", json!("/checkout")),
                    tag("http.status_code", "int64", json!(500)),
                    tag("span.kind", "string", json!("server")),
                ],
                "logs": [], "processID": "p1", "warnings": null
            },
            {
                "traceID": tid, "spanID": "0000000000000002", "operationName": "charge",
                "references": [{"refType": "CHILD_OF", "traceID": tid, "spanID": "0000000000000001"}],
                "startTime": 1_706_678_909_209_812u64, "duration": 4000,
                "tags": [
                    tag("otel.scope.name", "string", json!("web")),
                    tag("otel.scope.version", "string", json!("1.0")),
                    tag("span.kind", "string", json!("client")),
                ],
                "logs": [], "processID": "p1", "warnings": null
            },
            {
                "traceID": tid, "spanID": "0000000000000003", "operationName": "POST /charge",
                "references": [
                    {"refType": "CHILD_OF", "traceID": tid, "spanID": "0000000000000002"},
                    {"refType": "FOLLOWS_FROM", "traceID": "07070707070707070707070707070707", "spanID": "0909090909090909"}
                ],
                "startTime": 1_706_678_909_209_912u64, "duration": 3500,
                "tags": [
                    tag("otel.scope.name", "string", json!("pay")),
                    tag("otel.scope.version", "string", json!("1.0")),
                    tag("amount", "float64", json!(12.5)),
                    tag("retry", "bool", json!(false)),
                    tag("span.kind", "string", json!("server")),
                    tag("otel.status_code", "string", json!("ERROR")),
                    tag("error", "bool", json!(true)),
                    tag("otel.status_description", "string", json!("card declined")),
                ],
                "logs": [{"timestamp": 1_706_678_909_210_012u64, "fields": [
                    tag("event", "string", json!("exception")),
                    tag("exception.type", "string", json!("Declined")),
                ]}],
                "processID": "p2", "warnings": null
            }
        ],
        "processes": {
            "p1": {"serviceName": "frontend", "tags": [tag("host.name", "string", json!("h1"))]},
            "p2": {"serviceName": "payment", "tags": []}
        },
        "warnings": null
    });
    assert_eq!(
        got,
        expected,
        "{}",
        serde_json::to_string_pretty(&got).unwrap()
    );
}

#[test]
fn value_types_follow_jaegers_json() {
    let mut req = testing::trace_request();
    let span = &mut req.resource_spans[0].scope_spans[0].spans[0];
    span.attributes = vec![
        kv("big", any_value::Value::IntValue(1 << 60)),
        kv("bytes", any_value::Value::BytesValue(vec![1, 2, 3].into())),
        kv(
            "list",
            any_value::Value::ArrayValue(ArrayValue {
                values: vec![AnyValue {
                    value: Some(any_value::Value::StringValue("a".into())),
                }],
            }),
        ),
        kv(
            "map",
            any_value::Value::KvlistValue(KeyValueList {
                values: vec![s("k", "v")],
            }),
        ),
    ];
    span.kind = 0;
    span.trace_state = "a=b".into();
    span.status = Some(Default::default());
    let t = to_jaeger(&req).unwrap();
    let tags = serde_json::to_value(&t.spans[0].tags).unwrap();
    assert_eq!(
        tags,
        json!([
            tag("otel.scope.name", "string", json!("web")),
            tag("otel.scope.version", "string", json!("1.0")),
            tag("big", "int64", json!("1152921504606846976")),
            tag("bytes", "binary", json!("AQID")),
            tag("list", "string", json!("[\"a\"]")),
            tag("map", "string", json!("{\"k\":\"v\"}")),
            tag("w3c.tracestate", "string", json!("a=b")),
        ])
    );
}

#[test]
fn identical_resources_share_a_process_and_64_bit_ids_are_short() {
    let mut req = testing::trace_request();
    let mut copy = req.resource_spans[0].clone();
    copy.scope_spans[0].spans.truncate(1);
    copy.scope_spans[0].spans[0].span_id = vec![0, 0, 0, 0, 0, 0, 0, 9].into();
    req.resource_spans.push(copy);
    let t = to_jaeger(&req).unwrap();
    assert_eq!(t.processes.len(), 2);
    assert_eq!(t.spans[3].process_id, "p1");
    assert_eq!(
        trace_id_text(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        "0000000000000001"
    );
}

fn handler() -> Handler {
    let store = Arc::new(ReferenceStore::new(Default::default()));
    store.append(&testing::traces()).unwrap();
    Handler::new(store)
}

fn get(h: &Handler, path: &str) -> (u16, Value) {
    let r = h.handle(&Request::get(path));
    let status = r.status().as_u16();
    let body = futures_body(r);
    (status, serde_json::from_slice(&body).unwrap())
}

fn futures_body(r: crate::server::Response) -> Vec<u8> {
    use http_body_util::BodyExt;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(r.into_body().collect())
        .unwrap()
        .to_bytes()
        .to_vec()
}

#[test]
fn envelope_and_errors() {
    let h = handler();
    let (code, v) = get(&h, "/api/services");
    assert_eq!(code, 200);
    assert_eq!(
        v,
        json!({"data": ["frontend", "payment"], "total": 2, "limit": 0, "offset": 0, "errors": null})
    );
    let (_, v) = get(&h, "/api/operations?service=frontend&spanKind=server");
    assert_eq!(
        v["data"],
        json!([{"name": "GET /checkout", "spanKind": "server"}])
    );
    let (_, v) = get(&h, "/api/services/frontend/operations");
    assert_eq!(v["data"], json!(["GET /checkout", "charge"]));
    let (code, v) = get(
        &h,
        "/api/traces?service=payment&tags=%7B%22error%22%3A%22true%22%7D&start=0&limit=5",
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["total"], 1);
    assert_eq!(v["data"][0]["spans"].as_array().unwrap().len(), 3);
    let (_, v) = get(&h, "/api/traces?service=payment&tag=error:false&start=0");
    assert_eq!(v["total"], 0);
    for (query, param) in [
        ("limit=abc", "limit"),
        ("minDuration=5x", "minDuration"),
        ("maxDuration=1y", "maxDuration"),
        ("start=yesterday", "start"),
        ("end=-5", "end"),
        ("tags=%7Bbad", "tags"),
        ("tag=nocolon", "tag"),
        ("lookback=forever", "lookback"),
        ("spanKind=sideways", "spanKind"),
        ("traceID=zz", "traceID"),
        ("minDuration=2s&maxDuration=1s", "maxDuration"),
    ] {
        let (code, v) = get(&h, &format!("/api/traces?service=payment&{query}"));
        assert_eq!(code, 400, "{query}");
        assert_eq!(v["errors"][0]["code"], 400);
        let msg = v["errors"][0]["msg"].as_str().unwrap();
        assert!(msg.contains(&format!("'{param}'")), "{query}: {msg}");
    }
    let (code, v) = get(&h, "/api/traces");
    assert_eq!(code, 400);
    assert!(
        v["errors"][0]["msg"]
            .as_str()
            .unwrap()
            .contains("'service'")
    );
    let (code, v) = get(&h, "/api/traces/0123456789abcdef0123456789abcdef");
    assert_eq!(code, 404);
    assert_eq!(
        v,
        json!({"data": null, "total": 0, "limit": 0, "offset": 0, "errors": [{"code": 404, "msg": "trace not found"}]})
    );
    let (code, v) = get(&h, "/api/traces/83a9efd15c1c98a977e0711cc93ee28b");
    assert_eq!(code, 200);
    assert_eq!(v["data"][0]["traceID"], "83a9efd15c1c98a977e0711cc93ee28b");
}
