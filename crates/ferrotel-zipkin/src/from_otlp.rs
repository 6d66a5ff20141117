//! OTLP → Zipkin v2, per the OpenTelemetry specification's Zipkin mapping (service name,
//! kind, status, events, dropped counts, units of time) and the Go exporter's conventions
//! for what it leaves open (trace state, links, internal kind, remote endpoint attributes).

use std::net::IpAddr;

use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue, any_value::Value};
use ferrotel_pdata::proto::trace::v1::{Span as OtlpSpan, span, status::StatusCode};

use crate::model::{Annotation, Endpoint, Kind, Span, hex};
use crate::to_otlp::*;

/// An attribute value as Zipkin tag text: booleans lower-case, arrays and maps as JSON,
/// bytes as base64 (the Go translator's `AsString`).
pub fn value_string(v: &Option<AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(Value::StringValue(s)) => s.clone(),
        Some(other) => match json_of(other) {
            serde_json::Value::String(s) => s,
            j => j.to_string(),
        },
    }
}

fn json_of(v: &Value) -> serde_json::Value {
    use base64::Engine;
    match v {
        Value::StringValue(s) => serde_json::Value::String(s.clone()),
        Value::BoolValue(b) => serde_json::Value::Bool(*b),
        Value::IntValue(i) => serde_json::Value::from(*i),
        Value::DoubleValue(d) => serde_json::Number::from_f64(*d)
            .map(serde_json::Value::Number)
            .unwrap_or_else(|| serde_json::Value::String(d.to_string())),
        Value::ArrayValue(a) => serde_json::Value::Array(
            a.values
                .iter()
                .map(|v| v.value.as_ref().map_or(serde_json::Value::Null, json_of))
                .collect(),
        ),
        Value::KvlistValue(l) => serde_json::Value::Object(attrs_json(&l.values)),
        // An index into a profiles string table: meaningless without it.
        Value::StringValueStrindex(i) => serde_json::Value::from(*i),
        Value::BytesValue(b) => {
            serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
    }
}

fn attrs_json(kvs: &[KeyValue]) -> serde_json::Map<String, serde_json::Value> {
    kvs.iter()
        .map(|kv| {
            (
                kv.key.clone(),
                kv.value
                    .as_ref()
                    .and_then(|v| v.value.as_ref())
                    .map_or(serde_json::Value::Null, json_of),
            )
        })
        .collect()
}

fn id8(b: &[u8]) -> Option<[u8; 8]> {
    <[u8; 8]>::try_from(b).ok().filter(|i| *i != [0; 8])
}

/// Where the local service name comes from, in the Go translator's order: `service.name`,
/// else `faas.name`, `k8s.deployment.name` or `process.executable.name`, which is then named
/// in an `otlp.service.name.source` tag so the receiver puts it back under its key; else
/// `default`. The attribute used (and an empty `service.name`) is taken out of the tags.
fn service_name(tags: &mut Vec<(String, String)>, default: &str) -> String {
    const FALLBACKS: [&str; 3] = [
        "faas.name",
        "k8s.deployment.name",
        "process.executable.name",
    ];
    if let Some(at) = tags.iter().position(|(k, _)| k == SERVICE_NAME) {
        let name = tags.remove(at).1;
        if !name.is_empty() {
            return name;
        }
    }
    for key in FALLBACKS {
        if let Some(at) = tags.iter().position(|(k, _)| k == key) {
            let name = tags.remove(at).1;
            tags.push((SERVICE_NAME_SOURCE.to_owned(), key.to_owned()));
            return name;
        }
    }
    default.to_owned()
}

/// Converts an OTLP request into Zipkin spans. Spans with invalid (empty or zero) ids, which
/// Zipkin cannot carry, are left out.
pub fn from_otlp(req: &ExportTraceServiceRequest, default_service_name: &str) -> Vec<Span> {
    let mut out = Vec::new();
    for rs in &req.resource_spans {
        let mut resource_tags: Vec<(String, String)> = rs
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .map(|kv| (kv.key.clone(), value_string(&kv.value)))
            .collect();
        let service = service_name(&mut resource_tags, default_service_name);
        for ss in &rs.scope_spans {
            let mut base_tags = resource_tags.clone();
            if let Some(sc) = &ss.scope {
                if !sc.name.is_empty() {
                    base_tags.push((SCOPE_NAME.to_owned(), sc.name.clone()));
                }
                if !sc.version.is_empty() {
                    base_tags.push((SCOPE_VERSION.to_owned(), sc.version.clone()));
                }
            }
            for s in &ss.spans {
                if let Some(z) = span(s, &service, &base_tags) {
                    out.push(z);
                }
            }
        }
    }
    out
}

fn span(s: &OtlpSpan, service: &str, base_tags: &[(String, String)]) -> Option<Span> {
    let trace_id = <[u8; 16]>::try_from(s.trace_id.as_ref())
        .ok()
        .filter(|t| *t != [0; 16])?;
    let id = id8(&s.span_id)?;
    let mut tags: Vec<(String, String)> = base_tags.to_vec();
    let mut shared = false;
    let mut start_absent = false;
    for kv in &s.attributes {
        match kv.key.as_str() {
            SHARED => {
                shared = matches!(
                    kv.value.as_ref().and_then(|v| v.value.as_ref()),
                    Some(Value::BoolValue(true))
                )
            }
            START_TIME_ABSENT => start_absent = true,
            _ => {
                // A span attribute overrides a resource tag of the same name.
                let v = value_string(&kv.value);
                match tags.iter_mut().find(|(k, _)| *k == kv.key) {
                    Some(t) => t.1 = v,
                    None => tags.push((kv.key.clone(), v)),
                }
            }
        }
    }
    fn take(tags: &mut Vec<(String, String)>, keys: &[&str]) -> Option<String> {
        keys.iter().find_map(|key| {
            let i = tags.iter().position(|(k, _)| k == key)?;
            Some(tags.remove(i).1)
        })
    }
    // Local endpoint: the service, and the local socket when the span says it.
    let local_ip = take(&mut tags, &[LOCAL_ADDRESS, "net.host.ip"]);
    let local_port = take(&mut tags, &[LOCAL_PORT, "net.host.port"]);
    let mut local = Endpoint {
        service_name: service.to_owned(),
        ..Endpoint::default()
    };
    let mut leftovers = Vec::new();
    set_address(
        &mut local,
        local_ip,
        local_port,
        LOCAL_ADDRESS,
        LOCAL_PORT,
        &mut leftovers,
    );
    // Remote endpoint (the specification's ranking): peer.service names the remote service
    // (and is then carried by the endpoint alone); server.address and net.peer.name stand in
    // for it but stay tags; the socket address is network.peer.* or an older name for it.
    let peer_service = take(&mut tags, &[PEER_SERVICE]);
    let remote_ip = take(
        &mut tags,
        &[
            PEER_ADDRESS,
            "net.peer.ip",
            "net.sock.peer.addr",
            "server.socket.address",
        ],
    );
    let remote_port = take(
        &mut tags,
        &[
            PEER_PORT,
            "net.peer.port",
            "net.sock.peer.port",
            "server.socket.port",
        ],
    );
    tags.extend(leftovers);
    let mut remote = Endpoint {
        service_name: peer_service.unwrap_or_else(|| {
            [SERVER_ADDRESS, "net.peer.name"]
                .iter()
                .find_map(|key| tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
                .unwrap_or_default()
        }),
        ..Endpoint::default()
    };
    let mut leftovers = Vec::new();
    set_address(
        &mut remote,
        remote_ip,
        remote_port,
        PEER_ADDRESS,
        PEER_PORT,
        &mut leftovers,
    );
    tags.extend(leftovers);
    // Status (the specification): otel.status_code unless UNSET; `error` = the description
    // for ERROR only, and an `error` attribute is removed otherwise.
    tags.retain(|(k, _)| k != ERROR);
    if let Some(st) = &s.status {
        if st.code == StatusCode::Ok as i32 {
            tags.push((STATUS_CODE.to_owned(), "OK".to_owned()));
        } else if st.code == StatusCode::Error as i32 {
            tags.push((STATUS_CODE.to_owned(), "ERROR".to_owned()));
            tags.push((ERROR.to_owned(), st.message.clone()));
        }
    }
    if !s.trace_state.is_empty() {
        tags.push((TRACE_STATE.to_owned(), s.trace_state.clone()));
    }
    let kind = match span::SpanKind::try_from(s.kind).unwrap_or(span::SpanKind::Unspecified) {
        span::SpanKind::Client => Some(Kind::Client),
        span::SpanKind::Server => Some(Kind::Server),
        span::SpanKind::Producer => Some(Kind::Producer),
        span::SpanKind::Consumer => Some(Kind::Consumer),
        span::SpanKind::Internal => {
            // Zipkin has no internal kind (the specification: omit it); the Go exporter's
            // tag lets a Zipkin receiver restore it.
            tags.push((SPAN_KIND.to_owned(), "internal".to_owned()));
            None
        }
        span::SpanKind::Unspecified => None,
    };
    for (key, n) in [
        (DROPPED_ATTRIBUTES, s.dropped_attributes_count),
        (DROPPED_EVENTS, s.dropped_events_count),
        (DROPPED_LINKS, s.dropped_links_count),
    ] {
        if n > 0 {
            tags.push((key.to_owned(), n.to_string()));
        }
    }
    for (i, l) in s.links.iter().enumerate() {
        tags.push((
            format!("{LINK_PREFIX}{i}"),
            format!(
                "{}|{}|{}|{}|{}",
                hex(&l.trace_id),
                hex(&l.span_id),
                l.trace_state,
                serde_json::Value::Object(attrs_json(&l.attributes)),
                l.dropped_attributes_count
            ),
        ));
    }
    // Units of time (the specification): whole microseconds; a span that ended after it
    // started lasts at least 1 µs (Zipkin reads 0 as "unknown").
    let timestamp =
        (!start_absent && s.start_time_unix_nano != 0).then_some(s.start_time_unix_nano / 1000);
    let duration = (s.end_time_unix_nano > s.start_time_unix_nano)
        .then(|| ((s.end_time_unix_nano - s.start_time_unix_nano) / 1000).max(1));
    Some(Span {
        trace_id,
        id,
        parent_id: id8(&s.parent_span_id),
        kind,
        name: s.name.clone(),
        timestamp,
        duration,
        local_endpoint: Some(local),
        remote_endpoint: (!remote.is_empty()).then_some(remote),
        annotations: s.events.iter().map(annotation).collect(),
        tags,
        debug: false,
        shared,
    })
}

/// Puts an address and port on `e`; values that are not an IP address or a port stay tags.
fn set_address(
    e: &mut Endpoint,
    ip: Option<String>,
    port: Option<String>,
    ip_key: &str,
    port_key: &str,
    leftovers: &mut Vec<(String, String)>,
) {
    if let Some(ip) = ip {
        match ip.parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) => e.ipv4 = Some(a),
            Ok(IpAddr::V6(a)) => e.ipv6 = Some(a),
            Err(_) => leftovers.push((ip_key.to_owned(), ip)),
        }
    }
    if let Some(p) = port {
        match p.parse::<u16>() {
            Ok(n) if n != 0 => e.port = n,
            _ => leftovers.push((port_key.to_owned(), p)),
        }
    }
}

/// An event as an annotation: its name, or with attributes the specification's
/// `{"name": {attributes}}` (what the OpenTelemetry SDK exporters send).
fn annotation(e: &span::Event) -> Annotation {
    let value = if e.attributes.is_empty() {
        e.name.clone()
    } else {
        let mut o = serde_json::Map::new();
        o.insert(
            e.name.clone(),
            serde_json::Value::Object(attrs_json(&e.attributes)),
        );
        serde_json::Value::Object(o).to_string()
    };
    Annotation {
        timestamp: e.time_unix_nano / 1000,
        value,
    }
}
