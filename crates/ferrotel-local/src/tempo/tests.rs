use std::sync::Arc;

use http_body_util::BodyExt;
use serde_json::{Value, json};

use ferrotel_store::TelemetryStore;
use ferrotel_store::reference::ReferenceStore;

use crate::server::{Handler, Request};
use crate::testing;

fn get(h: &Handler, path: &str, accept: &str) -> (u16, Vec<u8>) {
    let mut req = Request::get(path);
    req.accept = accept.into();
    let r = h.handle(&req);
    let status = r.status().as_u16();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let body = rt
        .block_on(r.into_body().collect())
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, body)
}

fn get_json(h: &Handler, path: &str) -> (u16, Value) {
    let (s, b) = get(h, path, "");
    (
        s,
        serde_json::from_slice(&b).unwrap_or(Value::String(String::from_utf8_lossy(&b).into())),
    )
}

fn handler() -> Handler {
    let store = Arc::new(ReferenceStore::new(Default::default()));
    store.append(&testing::traces()).unwrap();
    Handler::new(store)
}

#[test]
fn grafana_tempo_sequence() {
    let h = handler();
    assert_eq!(get(&h, "/tempo/api/echo", ""), (200, b"echo".to_vec()));
    let (code, v) = get_json(&h, "/tempo/api/search/tags");
    assert_eq!(code, 200);
    assert!(
        v["tagNames"]
            .as_array()
            .unwrap()
            .contains(&json!("http.route")),
        "{v}"
    );
    let (_, v) = get_json(&h, "/tempo/api/search/tag/service.name/values");
    assert_eq!(v, json!({"tagValues": ["frontend", "payment"]}));
    let (_, v) = get_json(&h, "/tempo/api/v2/search/tag/resource.service.name/values");
    assert_eq!(
        v["tagValues"][0],
        json!({"type": "string", "value": "frontend"})
    );
    let (code, v) = get_json(
        &h,
        "/tempo/api/search?tags=service.name%3Dpayment%20error%3Dtrue&minDuration=1ms&limit=5&start=1706678900&end=1706678999",
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        v["traces"],
        json!([{
            "traceID": "83a9efd15c1c98a977e0711cc93ee28b",
            "rootServiceName": "frontend",
            "rootTraceName": "GET /checkout",
            "startTimeUnixNano": "1706678909209712000",
            "durationMs": 5
        }])
    );
    let (_, v) = get_json(
        &h,
        "/tempo/api/search?q=%7Bresource.service.name%3D%22payment%22%20%26%26%20status%3Derror%7D",
    );
    assert_eq!(v["traces"].as_array().unwrap().len(), 1, "{v}");
    let (code, v) = get_json(&h, "/tempo/api/traces/83a9efd15c1c98a977e0711cc93ee28b");
    assert_eq!(code, 200);
    assert_eq!(v["batches"].as_array().unwrap().len(), 2);
    let (code, body) = get(
        &h,
        "/tempo/api/traces/83a9efd15c1c98a977e0711cc93ee28b",
        "application/protobuf",
    );
    assert_eq!(code, 200);
    let decoded =
        ferrotel_pdata::Request::decode_proto(ferrotel_pdata::Signal::Traces, body.into()).unwrap();
    assert_eq!(decoded.item_count(), 3);
    let (_, v) = get_json(&h, "/tempo/api/v2/traces/83a9efd15c1c98a977e0711cc93ee28b");
    assert_eq!(v["trace"]["resourceSpans"].as_array().unwrap().len(), 2);
}

#[test]
fn malformed_parameters_and_unknown_traces() {
    let h = handler();
    for (query, param) in [
        ("limit=0", "limit"),
        ("minDuration=fast", "minDuration"),
        ("maxDuration=1", "maxDuration"),
        ("start=now", "start"),
        ("end=1.5", "end"),
        ("start=10&end=5", "end"),
        ("tags=a%3D%22open", "tags"),
        ("q=%7Bname%3D~%22x%22%7D", "q"),
    ] {
        let (code, body) = get(&h, &format!("/tempo/api/search?{query}"), "");
        let body = String::from_utf8(body).unwrap();
        assert_eq!(code, 400, "{query}: {body}");
        assert!(
            body.starts_with(&format!("invalid {param}:")),
            "{query}: {body}"
        );
    }
    assert_eq!(get(&h, "/tempo/api/traces/0123", "").0, 404);
    assert_eq!(get(&h, "/tempo/api/traces/xyz", "").0, 400);
}
