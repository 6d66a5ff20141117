//! Test data: a small two-service trace with an error, an event and a link, and a log record.

use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use ferrotel_pdata::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::span::{Event, Link};
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use ferrotel_pdata::{Payload, Request};

pub const TRACE_ID: [u8; 16] = [
    0x83, 0xa9, 0xef, 0xd1, 0x5c, 0x1c, 0x98, 0xa9, 0x77, 0xe0, 0x71, 0x1c, 0xc9, 0x3e, 0xe2, 0x8b,
];
pub const START: u64 = 1_706_678_909_209_712_000;

pub fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

pub fn s(key: &str, v: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(v.into()))
}

fn resource(service: &str, extra: Vec<KeyValue>) -> Resource {
    let mut attributes = vec![s("service.name", service)];
    attributes.extend(extra);
    Resource {
        attributes,
        ..Default::default()
    }
}

fn span(id: u8, parent: Option<u8>, name: &str, kind: i32, start_us: u64, dur_us: u64) -> Span {
    Span {
        trace_id: TRACE_ID.to_vec().into(),
        span_id: vec![0, 0, 0, 0, 0, 0, 0, id].into(),
        parent_span_id: parent
            .map(|p| vec![0, 0, 0, 0, 0, 0, 0, p].into())
            .unwrap_or_default(),
        name: name.into(),
        kind,
        start_time_unix_nano: START + start_us * 1000,
        end_time_unix_nano: START + (start_us + dur_us) * 1000,
        ..Default::default()
    }
}

/// frontend `GET /checkout` (server, root) → frontend `charge` (client) → payment `POST /charge`
/// (server, error, with an event, linked to an outside span).
pub fn trace_request() -> ExportTraceServiceRequest {
    let mut root = span(1, None, "GET /checkout", 2, 0, 5000);
    root.attributes = vec![
        s("http.route", "/checkout"),
        kv("http.status_code", any_value::Value::IntValue(500)),
    ];
    let client = span(2, Some(1), "charge", 3, 100, 4000);
    let mut server = span(3, Some(2), "POST /charge", 2, 200, 3500);
    server.attributes = vec![
        kv("retry", any_value::Value::BoolValue(false)),
        kv("amount", any_value::Value::DoubleValue(12.5)),
    ];
    server.status = Some(Status {
        code: 2,
        message: "card declined".into(),
    });
    server.events = vec![Event {
        time_unix_nano: START + 300_000,
        name: "exception".into(),
        attributes: vec![s("exception.type", "Declined")],
        ..Default::default()
    }];
    server.links = vec![Link {
        trace_id: [7u8; 16].to_vec().into(),
        span_id: [9u8; 8].to_vec().into(),
        ..Default::default()
    }];
    let scope = |name: &str| InstrumentationScope {
        name: name.into(),
        version: "1.0".into(),
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans {
                resource: Some(resource("frontend", vec![s("host.name", "h1")])),
                scope_spans: vec![ScopeSpans {
                    scope: Some(scope("web")),
                    spans: vec![root, client],
                    ..Default::default()
                }],
                ..Default::default()
            },
            ResourceSpans {
                resource: Some(resource("payment", vec![])),
                scope_spans: vec![ScopeSpans {
                    scope: Some(scope("pay")),
                    spans: vec![server],
                    ..Default::default()
                }],
                ..Default::default()
            },
        ],
    }
}

pub fn traces() -> Payload {
    Payload::from_request(Request::Traces(trace_request()))
}

pub fn logs() -> Payload {
    Payload::from_request(Request::Logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource("payment", vec![])),
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    time_unix_nano: START + 300_000,
                    severity_number: 17,
                    severity_text: "ERROR".into(),
                    body: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("card declined".into())),
                    }),
                    trace_id: TRACE_ID.to_vec().into(),
                    span_id: vec![0u8, 0, 0, 0, 0, 0, 0, 3].into(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }))
}
