//! Span trees: a SERVER root per trace with CLIENT/INTERNAL/PRODUCER/CONSUMER descendants,
//! statuses, events and links.

use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::trace::v1::span::{Event, Link, SpanKind};
use ferrotel_pdata::proto::trace::v1::status::StatusCode;
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use rand::Rng;
use rand::rngs::StdRng;

use super::template::{span_placeholder, trace_placeholder, ts};
use super::{Shape, extra_attributes, i, random_id, resource, s, scope};

const CHILD_OPS: [(&str, SpanKind); 4] = [
    ("SELECT items", SpanKind::Client),
    ("render", SpanKind::Internal),
    ("publish orders", SpanKind::Producer),
    ("process orders", SpanKind::Consumer),
];

/// A request of `items` spans in traces of 1 to 8 spans.
pub fn request(
    shape: &Shape,
    service: usize,
    items: usize,
    rng: &mut StdRng,
) -> ExportTraceServiceRequest {
    let mut spans = Vec::with_capacity(items);
    while spans.len() < items {
        let root = spans.len();
        let size = rng.random_range(1..=8).min(items - root);
        for k in root..root + size {
            spans.push(span(shape, rng, root, k, &spans));
        }
    }
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource(service)),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope()),
                spans,
                schema_url: "https://opentelemetry.io/schemas/1.26.0".into(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn span(shape: &Shape, rng: &mut StdRng, root: usize, k: usize, earlier: &[Span]) -> Span {
    let mut attributes = extra_attributes(shape, rng);
    let (name, kind, parent, start) = if k == root {
        attributes.push(s("http.request.method", "GET"));
        attributes.push(s(
            "url.path",
            format!("/api/v1/items/{}", rng.random_range(1..10_000)),
        ));
        attributes.push(i("http.response.status_code", 200));
        (
            "GET /api/v1/items/{id}".to_owned(),
            SpanKind::Server,
            None,
            0,
        )
    } else {
        let p = root + rng.random_range(0..k - root);
        let (op, kind) = CHILD_OPS[k % CHILD_OPS.len()];
        if kind == SpanKind::Client {
            attributes.push(s("db.system.name", "postgresql"));
        }
        (op.to_owned(), kind, Some(p), 20_000 * (k - root) as u64)
    };
    let duration = if parent.is_none() {
        5_000_000
    } else {
        rng.random_range(10_000..2_000_000)
    };
    let error = rng.random_range(0..16) == 0;
    let status = if error {
        Some(Status {
            message: "upstream returned 503".into(),
            code: StatusCode::Error as i32,
        })
    } else if parent.is_none() {
        Some(Status {
            message: String::new(),
            code: StatusCode::Ok as i32,
        })
    } else {
        None
    };
    let mut events = Vec::new();
    if error {
        events.push(Event {
            time_unix_nano: ts(start + duration / 2),
            name: "exception".into(),
            attributes: vec![
                s("exception.type", "UpstreamError"),
                s("exception.message", "upstream returned 503"),
            ],
            dropped_attributes_count: 0,
        });
    } else if k.is_multiple_of(5) {
        events.push(Event {
            time_unix_nano: ts(start + duration / 3),
            name: "cache miss".into(),
            attributes: vec![i("cache.entries", rng.random_range(0..1000))],
            dropped_attributes_count: 0,
        });
    }
    let mut links = Vec::new();
    if k % 10 == 3 {
        links.push(Link {
            trace_id: random_id(rng, 16).into(),
            span_id: random_id(rng, 8).into(),
            attributes: vec![s("link.reason", "batch")],
            flags: 0x100,
            ..Default::default()
        });
    }
    Span {
        trace_id: trace_placeholder(root).into(),
        span_id: span_placeholder(k).into(),
        parent_span_id: parent
            .map(|p| earlier[p].span_id.clone())
            .unwrap_or_default(),
        flags: 0x101,
        name,
        kind: kind as i32,
        start_time_unix_nano: ts(start),
        end_time_unix_nano: ts(start + duration),
        attributes,
        events,
        links,
        status,
        ..Default::default()
    }
}
