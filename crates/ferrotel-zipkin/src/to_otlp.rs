//! Zipkin → OTLP, per the OpenTelemetry specification's Zipkin mapping, with the Go
//! Collector's conventions where the specification is silent (each rule and its test are
//! listed in docs/migration.md, "Zipkin").

use std::collections::HashMap;

use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value::Value,
};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::{
    ResourceSpans, ScopeSpans, Span as OtlpSpan, Status, span, status::StatusCode,
};

use crate::model::{Endpoint, Kind, Span, parse_hex};

// Tag names shared by both directions.
pub const SERVICE_NAME: &str = "service.name";
pub const SCOPE_NAME: &str = "otel.scope.name";
pub const SCOPE_VERSION: &str = "otel.scope.version";
/// What older SDKs (and still the Python exporter, beside the new names) send.
pub const LIBRARY_NAME: &str = "otel.library.name";
pub const LIBRARY_VERSION: &str = "otel.library.version";
pub const STATUS_CODE: &str = "otel.status_code";
pub const STATUS_DESCRIPTION: &str = "otel.status_description";
pub const ERROR: &str = "error";
pub const TRACE_STATE: &str = "w3c.tracestate";
pub const SPAN_KIND: &str = "span.kind";
pub const DROPPED_ATTRIBUTES: &str = "otel.dropped_attributes_count";
pub const DROPPED_EVENTS: &str = "otel.dropped_events_count";
pub const DROPPED_LINKS: &str = "otel.dropped_links_count";
/// The Go translator's encoding of links: `otlp.link.<i>` = `trace|span|state|attrs|dropped`.
pub const LINK_PREFIX: &str = "otlp.link.";
/// The Go translator marks a span whose Zipkin timestamp was absent (start time 0).
pub const START_TIME_ABSENT: &str = "otel.zipkin.absentField.startTime";
/// Zipkin's `shared` flag (a server span reusing its client's id) has no OTLP field.
pub const SHARED: &str = "zipkin.shared";
/// Names the resource attribute the local service name came from when it was not
/// `service.name` (the Go translator's tag; see `from_otlp::service_name`).
pub const SERVICE_NAME_SOURCE: &str = "otlp.service.name.source";
pub const PEER_SERVICE: &str = "peer.service";
pub const SERVER_ADDRESS: &str = "server.address";
pub const PEER_ADDRESS: &str = "network.peer.address";
pub const PEER_PORT: &str = "network.peer.port";
pub const LOCAL_ADDRESS: &str = "network.local.address";
pub const LOCAL_PORT: &str = "network.local.port";

/// Tag prefixes of the resource semantic conventions: such tags (SDK exporters copy resource
/// attributes onto every span) go back to the resource, as the Go receiver does with its list
/// of resource attribute names.
const RESOURCE_PREFIXES: &[&str] = &[
    "service.",
    "telemetry.sdk.",
    "telemetry.distro.",
    "telemetry.auto.",
    "host.",
    "os.",
    "process.",
    "container.",
    "k8s.",
    "cloud.",
    "faas.",
    "deployment.",
    "device.",
    "webengine.",
];

/// For each byte, a bit per [`RESOURCE_PREFIXES`] entry starting with it.
const PREFIXES_BY_FIRST: [u16; 256] = {
    assert!(RESOURCE_PREFIXES.len() <= 16);
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < RESOURCE_PREFIXES.len() {
        t[RESOURCE_PREFIXES[i].as_bytes()[0] as usize] |= 1 << i;
        i += 1;
    }
    t
};

pub fn is_resource_tag(key: &str) -> bool {
    // The first byte picks the candidates: most keys have none, and no prefix compare runs.
    let Some(&first) = key.as_bytes().first() else {
        return false;
    };
    let mut candidates = PREFIXES_BY_FIRST[first as usize];
    while candidates != 0 {
        if key.starts_with(RESOURCE_PREFIXES[candidates.trailing_zeros() as usize]) {
            return true;
        }
        candidates &= candidates - 1;
    }
    false
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Tags that read as an integer, a float or a boolean become attributes of that type.
    pub parse_string_tags: bool,
}

pub(crate) fn kv(key: impl Into<String>, v: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

/// What a tag value becomes under the Go receiver's `parse_string_tags`: integer, then float,
/// then boolean, else the string itself. Shared with the direct path (`crate::direct`).
#[derive(Clone, Copy)]
pub(crate) enum Typed {
    Int(i64),
    Double(f64),
    Bool(bool),
    Str,
}

pub(crate) fn classify(v: &str, parse: bool) -> Typed {
    if parse {
        if let Ok(i) = v.parse::<i64>() {
            return Typed::Int(i);
        }
        // Rust also reads "inf"/"nan"; Go's ParseFloat reads them too.
        if let Ok(f) = v.parse::<f64>() {
            return Typed::Double(f);
        }
        // Go's strconv.ParseBool spellings (1 and 0 were taken as integers above).
        match v {
            "t" | "T" | "true" | "TRUE" | "True" => return Typed::Bool(true),
            "f" | "F" | "false" | "FALSE" | "False" => return Typed::Bool(false),
            _ => {}
        }
    }
    Typed::Str
}

fn typed(v: String, parse: bool) -> Value {
    match classify(&v, parse) {
        Typed::Int(i) => Value::IntValue(i),
        Typed::Double(f) => Value::DoubleValue(f),
        Typed::Bool(b) => Value::BoolValue(b),
        Typed::Str => Value::StringValue(v),
    }
}

/// A JSON value from an event or link attribute map: whole numbers are integers.
fn json_value(v: serde_json::Value) -> Option<Value> {
    Some(match v {
        serde_json::Value::String(s) => Value::StringValue(s),
        serde_json::Value::Bool(b) => Value::BoolValue(b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::IntValue(i),
            None => Value::DoubleValue(n.as_f64()?),
        },
        serde_json::Value::Array(a) => Value::ArrayValue(ArrayValue {
            values: a
                .into_iter()
                .filter_map(json_value)
                .map(|v| AnyValue { value: Some(v) })
                .collect(),
        }),
        serde_json::Value::Object(o) => Value::KvlistValue(KeyValueList {
            values: json_attrs(o),
        }),
        serde_json::Value::Null => return None,
    })
}

fn json_attrs(o: serde_json::Map<String, serde_json::Value>) -> Vec<KeyValue> {
    o.into_iter()
        .filter_map(|(k, v)| Some(kv(k, json_value(v)?)))
        .collect()
}

/// An annotation as an event: the specification's `{"name": {attributes}}`, the Go
/// translator's `name|{attributes}|dropped`, or a plain name.
pub(crate) fn event(timestamp: u64, value: String) -> span::Event {
    let mut e = span::Event {
        time_unix_nano: timestamp.saturating_mul(1000),
        ..Default::default()
    };
    if value.starts_with('{')
        && let Ok(serde_json::Value::Object(o)) = serde_json::from_str(&value)
        && o.len() == 1
    {
        let (name, attrs) = o.into_iter().next().unwrap_or_default();
        if let serde_json::Value::Object(attrs) = attrs {
            e.name = name;
            e.attributes = json_attrs(attrs);
            return e;
        }
        e.name = value;
        return e;
    }
    let parts: Vec<&str> = value.split('|').collect();
    if parts.len() >= 3
        && let Ok(dropped) = parts[parts.len() - 1].parse::<u32>()
        && let Ok(serde_json::Value::Object(attrs)) =
            serde_json::from_str(&parts[1..parts.len() - 1].join("|"))
    {
        e.name = parts[0].to_owned();
        e.attributes = json_attrs(attrs);
        e.dropped_attributes_count = dropped;
        return e;
    }
    e.name = value;
    e
}

/// A link from the Go translator's `otlp.link.<i>` tag; `None` if it does not read as one.
pub(crate) fn link(value: &str) -> Option<span::Link> {
    let parts: Vec<&str> = value.split('|').collect();
    if parts.len() < 5 {
        return None;
    }
    let trace_id = parse_hex::<16>(parts[0], "link trace id").ok()?;
    let span_id = parse_hex::<8>(parts[1], "link span id").ok()?;
    let dropped = parts[parts.len() - 1].parse::<u32>().ok()?;
    let serde_json::Value::Object(attrs) =
        serde_json::from_str(&parts[3..parts.len() - 1].join("|")).ok()?
    else {
        return None;
    };
    Some(span::Link {
        trace_id: trace_id.to_vec().into(),
        span_id: span_id.to_vec().into(),
        trace_state: parts[2].to_owned(),
        attributes: json_attrs(attrs),
        dropped_attributes_count: dropped,
        ..Default::default()
    })
}

fn ip_of(e: &Endpoint) -> Option<String> {
    e.ipv6
        .map(|a| a.to_string())
        .or_else(|| e.ipv4.map(|a| a.to_string()))
}

/// Where a span goes: its resource and scope.
#[derive(PartialEq, Eq, Hash)]
struct Group {
    resource: Vec<(String, String)>,
    scope: (String, String),
}

/// Converts decoded Zipkin spans into one OTLP request, grouped by resource (local service
/// name plus resource tags) and instrumentation scope, in the order first seen.
pub fn to_otlp(spans: Vec<Span>, opts: &Options) -> ExportTraceServiceRequest {
    let mut groups: HashMap<Group, (usize, usize)> = HashMap::new();
    let mut resources: HashMap<Vec<(String, String)>, usize> = HashMap::new();
    let mut out: Vec<ResourceSpans> = Vec::new();
    for s in spans {
        let (group, span) = convert(s, opts);
        let (ri, si) = match groups.get(&group) {
            Some(&at) => at,
            None => {
                let ri = *resources.entry(group.resource.clone()).or_insert_with(|| {
                    out.push(ResourceSpans {
                        resource: Some(Resource {
                            attributes: group
                                .resource
                                .iter()
                                .map(|(k, v)| kv(k.clone(), Value::StringValue(v.clone())))
                                .collect(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    });
                    out.len() - 1
                });
                let scope = (!group.scope.0.is_empty() || !group.scope.1.is_empty()).then(|| {
                    InstrumentationScope {
                        name: group.scope.0.clone(),
                        version: group.scope.1.clone(),
                        ..Default::default()
                    }
                });
                out[ri].scope_spans.push(ScopeSpans {
                    scope,
                    ..Default::default()
                });
                let at = (ri, out[ri].scope_spans.len() - 1);
                groups.insert(group, at);
                at
            }
        };
        out[ri].scope_spans[si].spans.push(span);
    }
    ExportTraceServiceRequest {
        resource_spans: out,
    }
}

fn convert(s: Span, opts: &Options) -> (Group, OtlpSpan) {
    let mut tags = s.tags;
    fn take_from(tags: &mut Vec<(String, String)>, key: &str) -> Option<String> {
        let i = tags.iter().position(|(k, _)| k == key)?;
        Some(tags.swap_remove(i).1)
    }
    // Scope: the current names win over the older ones (the Python exporter sends both).
    let scope_name = take_from(&mut tags, SCOPE_NAME);
    let scope_version = take_from(&mut tags, SCOPE_VERSION);
    let lib_name = take_from(&mut tags, LIBRARY_NAME);
    let lib_version = take_from(&mut tags, LIBRARY_VERSION);
    let scope = (
        scope_name.or(lib_name).unwrap_or_default(),
        scope_version.or(lib_version).unwrap_or_default(),
    );
    let code = take_from(&mut tags, STATUS_CODE);
    let description = take_from(&mut tags, STATUS_DESCRIPTION);
    let error = take_from(&mut tags, ERROR);
    let trace_state = take_from(&mut tags, TRACE_STATE).unwrap_or_default();
    let span_kind_tag = take_from(&mut tags, SPAN_KIND);
    let mut counts = [0u32; 3];
    for (i, key) in [DROPPED_ATTRIBUTES, DROPPED_EVENTS, DROPPED_LINKS]
        .into_iter()
        .enumerate()
    {
        if let Some(v) = take_from(&mut tags, key) {
            match v.parse::<u32>() {
                Ok(n) => counts[i] = n,
                // Not a count: keep it as the attribute it was sent as.
                Err(_) => tags.push((key.to_owned(), v)),
            }
        }
    }
    let mut links = Vec::new();
    for i in 0.. {
        let Some(v) = take_from(&mut tags, &format!("{LINK_PREFIX}{i}")) else {
            break;
        };
        match link(&v) {
            Some(l) => links.push(l),
            None => tags.push((format!("{LINK_PREFIX}{i}"), v)),
        }
    }
    // Status: otel.status_code first; an `error` tag (Zipkin's failure marker, whose value
    // the specification makes the description) makes it ERROR unless it says "false".
    let mut status = Status::default();
    match code.as_deref() {
        Some("OK") | Some("STATUS_CODE_OK") => status.code = StatusCode::Ok as i32,
        Some("ERROR") | Some("STATUS_CODE_ERROR") => status.code = StatusCode::Error as i32,
        Some("UNSET") | Some("STATUS_CODE_UNSET") | None => {}
        Some(other) => tags.push((STATUS_CODE.to_owned(), other.to_owned())),
    }
    if let Some(e) = error
        && e != "false"
    {
        status.code = StatusCode::Error as i32;
        if e != "true" {
            status.message = e;
        }
    }
    if let Some(d) = description {
        status.message = d;
    }
    let kind = match s.kind {
        Some(Kind::Client) => span::SpanKind::Client,
        Some(Kind::Server) => span::SpanKind::Server,
        Some(Kind::Producer) => span::SpanKind::Producer,
        Some(Kind::Consumer) => span::SpanKind::Consumer,
        None if span_kind_tag.as_deref() == Some("internal") => span::SpanKind::Internal,
        None => {
            if let Some(v) = span_kind_tag {
                tags.push((SPAN_KIND.to_owned(), v));
            }
            span::SpanKind::Unspecified
        }
    };
    // Resource: the local service name, then the resource-convention tags, sorted so that
    // spans of one process share one resource whatever order their tags came in.
    let mut resource: Vec<(String, String)> = Vec::new();
    let service = s
        .local_endpoint
        .as_ref()
        .map(|e| e.service_name.clone())
        .filter(|n| !n.is_empty());
    let service_key = match tags.iter().position(|(k, _)| k == SERVICE_NAME_SOURCE) {
        Some(at) => tags.swap_remove(at).1,
        None => SERVICE_NAME.to_owned(),
    };
    let mut i = 0;
    while i < tags.len() {
        if is_resource_tag(&tags[i].0) {
            let (k, v) = tags.swap_remove(i);
            // The endpoint's service name wins over a tag of the same key.
            if !(k == service_key && service.is_some()) {
                resource.push((k, v));
            }
        } else {
            i += 1;
        }
    }
    if let Some(n) = service {
        resource.push((service_key, n));
    }
    resource.sort();
    let has = |tags: &[(String, String)], key: &str| tags.iter().any(|(k, _)| k == key);
    let mut extra: Vec<KeyValue> = Vec::new();
    if let Some(l) = &s.local_endpoint {
        if let Some(ip) = ip_of(l)
            && !has(&tags, LOCAL_ADDRESS)
        {
            extra.push(kv(LOCAL_ADDRESS, Value::StringValue(ip)));
        }
        if l.port != 0 && !has(&tags, LOCAL_PORT) {
            extra.push(kv(LOCAL_PORT, Value::IntValue(i64::from(l.port))));
        }
    }
    if let Some(r) = &s.remote_endpoint {
        // The specification: peer.service from the remote endpoint unless a tag sets it; a
        // name that is the server.address tag's (our exporter's fallback) is not a service.
        let from_address = tags
            .iter()
            .any(|(k, v)| k == SERVER_ADDRESS && *v == r.service_name);
        if !r.service_name.is_empty() && !has(&tags, PEER_SERVICE) && !from_address {
            extra.push(kv(PEER_SERVICE, Value::StringValue(r.service_name.clone())));
        }
        if let Some(ip) = ip_of(r)
            && !has(&tags, PEER_ADDRESS)
        {
            extra.push(kv(PEER_ADDRESS, Value::StringValue(ip)));
        }
        if r.port != 0 && !has(&tags, PEER_PORT) {
            extra.push(kv(PEER_PORT, Value::IntValue(i64::from(r.port))));
        }
    }
    if s.shared {
        extra.push(kv(SHARED, Value::BoolValue(true)));
    }
    let (start, end) = match s.timestamp {
        Some(t) => {
            let start = t.saturating_mul(1000);
            (
                start,
                start.saturating_add(s.duration.unwrap_or(0).saturating_mul(1000)),
            )
        }
        None => {
            extra.push(kv(START_TIME_ABSENT, Value::BoolValue(true)));
            (0, s.duration.unwrap_or(0).saturating_mul(1000))
        }
    };
    // Sorted by key so that one span's attributes come out the same whatever order the
    // sender's map produced.
    tags.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let mut attributes: Vec<KeyValue> = tags
        .into_iter()
        .map(|(k, v)| {
            let v = typed(v, opts.parse_string_tags);
            kv(k, v)
        })
        .collect();
    attributes.extend(extra);
    let parent = s.parent_id.filter(|p| *p != s.id);
    let span = OtlpSpan {
        trace_id: s.trace_id.to_vec().into(),
        span_id: s.id.to_vec().into(),
        parent_span_id: parent.map(|p| p.to_vec().into()).unwrap_or_default(),
        trace_state,
        name: s.name,
        kind: kind as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        attributes,
        dropped_attributes_count: counts[0],
        events: s
            .annotations
            .into_iter()
            .map(|a| event(a.timestamp, a.value))
            .collect(),
        dropped_events_count: counts[1],
        links,
        dropped_links_count: counts[2],
        status: (status != Status::default()).then_some(status),
        ..Default::default()
    };
    (Group { resource, scope }, span)
}

#[cfg(test)]
mod tests {
    use super::{RESOURCE_PREFIXES, is_resource_tag};

    /// The first-byte table picks exactly the keys a scan of every prefix would.
    #[test]
    fn resource_tags_by_first_byte_are_the_prefix_list() {
        let mut keys = vec![
            "",
            "s",
            "service",
            "servicE.name",
            "cloudy",
            "hosts.x",
            "x.service.",
        ];
        for p in RESOURCE_PREFIXES {
            keys.push(p);
            keys.push(&p[..p.len() - 1]);
        }
        let longer: Vec<String> = RESOURCE_PREFIXES
            .iter()
            .map(|p| format!("{p}name"))
            .collect();
        keys.extend(longer.iter().map(String::as_str));
        for k in keys {
            let want = RESOURCE_PREFIXES.iter().any(|p| k.starts_with(p));
            assert_eq!(is_resource_tag(k), want, "{k:?}");
        }
    }
}
