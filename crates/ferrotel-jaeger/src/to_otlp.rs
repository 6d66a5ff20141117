//! Jaeger → OTLP, per the OpenTelemetry specification's Jaeger mapping and the Go Collector's
//! `pkg/translator/jaeger` where the specification is silent. Each rule and its test are listed
//! in docs/migration.md, "Jaeger"; the few places ferrotel goes further than Go are marked
//! there and below.

use std::collections::HashMap;

use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::{
    ResourceSpans, ScopeSpans, Span as OtlpSpan, Status, span, status::StatusCode,
};

use crate::model::{Batch, CHILD_OF, FOLLOWS_FROM, Log, Process, Span, SpanRef, Tag, TagValue};

pub const SERVICE_NAME: &str = "service.name";
/// What the Go translator's `ProtoToTraces` treats as "no process".
pub const NO_SERVICE_NAME: &str = "OTLPResourceNoServiceName";
pub const HOSTNAME: &str = "hostname";
pub const HOST_NAME: &str = "host.name";
pub const JAEGER_VERSION: &str = "jaeger.version";
pub const EXPORTER_VERSION: &str = "opencensus.exporterversion";
pub const SCOPE_NAME: &str = "otel.scope.name";
pub const SCOPE_VERSION: &str = "otel.scope.version";
pub const LIBRARY_NAME: &str = "otel.library.name";
pub const LIBRARY_VERSION: &str = "otel.library.version";
pub const SPAN_KIND: &str = "span.kind";
pub const ERROR: &str = "error";
pub const STATUS_CODE: &str = "otel.status_code";
pub const STATUS_DESCRIPTION: &str = "otel.status_description";
pub const HTTP_STATUS_CODE: &str = "http.status_code";
pub const HTTP_STATUS_MESSAGE: &str = "http.status_message";
pub const TRACE_STATE: &str = "w3c.tracestate";
pub const DROPPED_ATTRIBUTES: &str = "otel.dropped_attributes_count";
pub const DROPPED_EVENTS: &str = "otel.dropped_events_count";
pub const DROPPED_LINKS: &str = "otel.dropped_links_count";
pub const EVENT_NAME: &str = "event";
/// Where the OpenTelemetry SDKs' Jaeger exporters put an event's name.
pub const EVENT_MESSAGE: &str = "message";
pub const REF_TYPE: &str = "opentracing.ref_type";

/// Translates decoded batches. Spans carrying their own process (protobuf) and batches with the
/// same process share one resource, as the Go translator's regrouping does (in first-seen order
/// rather than Go's map order).
pub fn to_otlp(batches: Vec<Batch>) -> ExportTraceServiceRequest {
    let mut groups: Vec<(Option<Process>, Vec<Span>)> = Vec::new();
    fn slot(groups: &mut Vec<(Option<Process>, Vec<Span>)>, p: Option<Process>) -> usize {
        match groups.iter().position(|(q, _)| *q == p) {
            Some(i) => i,
            None => {
                groups.push((p, Vec::new()));
                groups.len() - 1
            }
        }
    }
    for batch in batches {
        if batch.process.is_none() && batch.spans.is_empty() {
            continue;
        }
        let own = slot(&mut groups, batch.process);
        for mut s in batch.spans {
            let i = match s.process.take() {
                Some(p) => slot(&mut groups, Some(p)),
                None => own,
            };
            groups[i].1.push(s);
        }
    }
    ExportTraceServiceRequest {
        resource_spans: groups
            .into_iter()
            .map(|(process, spans)| resource_spans(process, spans))
            .collect(),
    }
}

fn resource_spans(process: Option<Process>, spans: Vec<Span>) -> ResourceSpans {
    let mut by_scope: Vec<ScopeSpans> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    for mut s in spans {
        if s.is_blank() {
            continue;
        }
        let scope = take_scope(&mut s.tags);
        let i = *index.entry(scope.clone()).or_insert_with(|| {
            by_scope.push(ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: scope.0,
                    version: scope.1,
                    ..Default::default()
                }),
                ..Default::default()
            });
            by_scope.len() - 1
        });
        by_scope[i].spans.push(span_to_otlp(s));
    }
    ResourceSpans {
        resource: Some(Resource {
            attributes: process.map(resource_attributes).unwrap_or_default(),
            ..Default::default()
        }),
        scope_spans: by_scope,
        ..Default::default()
    }
}

pub(crate) fn resource_attributes(p: Process) -> Vec<KeyValue> {
    if p.service_name == NO_SERVICE_NAME {
        return Vec::new();
    }
    let mut attrs = Attrs::with_capacity(p.tags.len() + 1);
    if !p.service_name.is_empty() {
        attrs.put(
            SERVICE_NAME.into(),
            any_value::Value::StringValue(p.service_name),
        );
    }
    attrs.put_tags(p.tags);
    // `hostname` (what Jaeger clients send) is the semantic conventions' host.name.
    if attrs.get(HOST_NAME).is_none()
        && let Some(v) = attrs.remove(HOSTNAME)
    {
        attrs.put(HOST_NAME.into(), v);
    }
    if attrs.get(EXPORTER_VERSION).is_none()
        && let Some(v) = attrs.remove(JAEGER_VERSION)
    {
        let v = format!("Jaeger-{}", str_of(&v));
        attrs.put(EXPORTER_VERSION.into(), any_value::Value::StringValue(v));
    }
    attrs.0
}

/// The scope from `otel.scope.name`/`otel.scope.version` (string tags, removed from the span).
/// Beyond Go: the older `otel.library.*` names, which the SDKs' Jaeger exporters still send
/// beside the new ones, are used when the new ones are absent, and removed either way.
fn take_scope(tags: &mut Vec<Tag>) -> (String, String) {
    fn take(tags: &mut Vec<Tag>, key: &str) -> Option<String> {
        let i = tags.iter().position(|t| t.key == key)?;
        Some(match tags.remove(i).value {
            TagValue::Str(s) => s,
            _ => String::new(),
        })
    }
    let lib_name = take(tags, LIBRARY_NAME);
    let lib_version = take(tags, LIBRARY_VERSION);
    match take(tags, SCOPE_NAME) {
        Some(name) => (name, take(tags, SCOPE_VERSION).unwrap_or_default()),
        None => match lib_name {
            Some(name) => (name, lib_version.unwrap_or_default()),
            None => (String::new(), String::new()),
        },
    }
}

fn trace_id(high: u64, low: u64) -> Vec<u8> {
    let mut id = Vec::with_capacity(16);
    id.extend_from_slice(&high.to_be_bytes());
    id.extend_from_slice(&low.to_be_bytes());
    id
}

/// The parent: Thrift's `parentSpanId`, else the first CHILD_OF reference within the trace,
/// else the first FOLLOWS_FROM one (Jaeger's own `Span.ParentSpanID`).
fn parent_of(s: &Span) -> u64 {
    parent_rule(
        s.parent_span_id,
        s.trace_id_high,
        s.trace_id_low,
        &s.references,
    )
}

/// [`parent_of`] on a span's parts (the direct path has no [`Span`]).
pub(crate) fn parent_rule(parent_span_id: u64, high: u64, low: u64, refs: &[SpanRef]) -> u64 {
    if parent_span_id != 0 {
        return parent_span_id;
    }
    let same_trace = |r: &&SpanRef| r.trace_id_high == high && r.trace_id_low == low;
    refs.iter()
        .filter(same_trace)
        .find(|r| r.ref_type == CHILD_OF)
        .or_else(|| {
            refs.iter()
                .filter(same_trace)
                .find(|r| r.ref_type == FOLLOWS_FROM)
        })
        .map_or(0, |r| r.span_id)
}

/// Whether reference `r` becomes a link (every one but the CHILD_OF that became the parent),
/// and the `opentracing.ref_type` value it then carries.
pub(crate) fn link_ref_type(r: &SpanRef, parent: u64) -> Option<&'static str> {
    if r.span_id == parent && r.ref_type == CHILD_OF {
        return None;
    }
    Some(if r.ref_type == CHILD_OF {
        "child_of"
    } else {
        "follows_from"
    })
}

fn span_to_otlp(s: Span) -> OtlpSpan {
    let parent = parent_of(&s);
    let mut out = OtlpSpan {
        trace_id: trace_id(s.trace_id_high, s.trace_id_low).into(),
        span_id: s.span_id.to_be_bytes().to_vec().into(),
        name: s.operation_name,
        start_time_unix_nano: s.start_unix_nano,
        end_time_unix_nano: s.end_unix_nano,
        ..Default::default()
    };
    if parent != 0 {
        out.parent_span_id = parent.to_be_bytes().to_vec().into();
    }
    let mut attrs = Attrs::with_capacity(s.tags.len());
    attrs.put_tags(s.tags);
    if let Some(kind) = attrs.remove(SPAN_KIND) {
        out.kind = kind_of(str_of(&kind)) as i32;
    }
    out.status = status(&mut attrs, out.kind).map(|(code, message)| Status { code, message });
    if let Some(ts) = attrs.remove(TRACE_STATE) {
        out.trace_state = str_of(&ts).to_owned();
    }
    // Beyond Go: the SDKs' dropped-count tags become the OTLP counts.
    out.dropped_attributes_count = take_count(&mut attrs, DROPPED_ATTRIBUTES);
    out.dropped_events_count = take_count(&mut attrs, DROPPED_EVENTS);
    out.dropped_links_count = take_count(&mut attrs, DROPPED_LINKS);
    out.attributes = attrs.0;
    out.events = s.logs.into_iter().map(event).collect();
    out.links = links(s.references, parent);
    out
}

pub(crate) fn kind_of(k: &str) -> span::SpanKind {
    use span::SpanKind::*;
    match k {
        "client" => Client,
        "server" => Server,
        "producer" => Producer,
        "consumer" => Consumer,
        "internal" => Internal,
        _ => Unspecified,
    }
}

/// What the status and count rules read of an attribute value: the same rules then serve the
/// prost attributes here and the direct path's borrowed ones.
pub(crate) enum Seen<'v> {
    Str(&'v str),
    Int(i64),
    Bool(bool),
    Other,
}

impl<'v> Seen<'v> {
    /// As pdata's `Str()` reads it: the string, or empty for any other type.
    fn str(&self) -> &'v str {
        match self {
            Seen::Str(s) => s,
            _ => "",
        }
    }
}

/// An attribute list with pdata's semantics (see [`Attrs`]) as the rules use it.
pub(crate) trait RuleAttrs {
    fn seen(&self, key: &str) -> Option<Seen<'_>>;
    /// Removes `key` (swapping the last entry in, as pdata does).
    fn remove_key(&mut self, key: &str);
}

impl RuleAttrs for Attrs {
    fn seen(&self, key: &str) -> Option<Seen<'_>> {
        Some(match self.get(key)? {
            any_value::Value::StringValue(s) => Seen::Str(s),
            any_value::Value::IntValue(i) => Seen::Int(*i),
            any_value::Value::BoolValue(b) => Seen::Bool(*b),
            _ => Seen::Other,
        })
    }

    fn remove_key(&mut self, key: &str) {
        self.remove(key);
    }
}

/// Status, as Go decides it: a boolean `error` tag that is true wins (description from
/// `otel.status_description`, else `http.status_message`); else `otel.status_code` (OK or
/// ERROR, any case); else an `http.status_code` of 400 and up (4xx only for client spans) is
/// ERROR. The tags used are removed (`error` only when true, `otel.status_code` always).
/// Returns the code and message.
pub(crate) fn status(attrs: &mut impl RuleAttrs, kind: i32) -> Option<(i32, String)> {
    let mut code = StatusCode::Unset;
    let mut message = String::new();
    let mut exists = false;
    if let Some(Seen::Bool(true)) = attrs.seen(ERROR) {
        attrs.remove_key(ERROR);
        code = StatusCode::Error;
        exists = true;
        if let Some(d) = attrs.seen(STATUS_DESCRIPTION) {
            message = d.str().to_owned();
            attrs.remove_key(STATUS_DESCRIPTION);
        } else if let Some(m) = attrs.seen(HTTP_STATUS_MESSAGE) {
            message = m.str().to_owned();
        }
    }
    if let Some(c) = attrs.seen(STATUS_CODE) {
        if !exists {
            exists = true;
            match c.str().to_ascii_uppercase().as_str() {
                "OK" => code = StatusCode::Ok,
                "ERROR" => code = StatusCode::Error,
                _ => {}
            }
            if let Some(d) = attrs.seen(STATUS_DESCRIPTION) {
                message = d.str().to_owned();
                attrs.remove_key(STATUS_DESCRIPTION);
            }
        }
        attrs.remove_key(STATUS_CODE);
    } else if !exists && let Some(h) = attrs.seen(HTTP_STATUS_CODE) {
        let parsed = match h {
            Seen::Int(i) => Some(i),
            Seen::Str(s) => s.parse::<i64>().ok(),
            _ => None,
        };
        if let Some(http) = parsed {
            // 4xx: an error of the client's, not the server's; 100..=398 unset (Go's bounds).
            let client_4xx = (400..500).contains(&http) && kind == span::SpanKind::Client as i32;
            let server_4xx = (400..500).contains(&http) && kind == span::SpanKind::Server as i32;
            let c = if !client_4xx && (server_4xx || (100..399).contains(&http)) {
                StatusCode::Unset
            } else {
                StatusCode::Error
            };
            if c != StatusCode::Unset {
                exists = true;
                code = c;
            }
            if let Some(m) = attrs.seen(HTTP_STATUS_MESSAGE) {
                message = m.str().to_owned();
            }
        }
    }
    exists.then_some((code as i32, message))
}

/// A dropped-count tag (integer, or a string of one) as a count, removed; anything else stays.
pub(crate) fn take_count(attrs: &mut impl RuleAttrs, key: &str) -> u32 {
    let n = match attrs.seen(key) {
        Some(Seen::Int(i)) => u32::try_from(i).ok(),
        Some(Seen::Str(s)) => s.parse::<u32>().ok(),
        _ => None,
    };
    if n.is_some() {
        attrs.remove_key(key);
    }
    n.unwrap_or(0)
}

/// A log as an event: the `event` field is the name (Go). Beyond Go: without one, the
/// `message` field is (where the SDKs' Jaeger exporters put the event name), and the
/// `otel.dropped_attributes_count` field is the event's count.
fn event(l: Log) -> span::Event {
    let mut attrs = Attrs::with_capacity(l.fields.len());
    attrs.put_tags(l.fields);
    let name = attrs
        .remove(EVENT_NAME)
        .or_else(|| attrs.remove(EVENT_MESSAGE))
        .map(|v| str_of(&v).to_owned())
        .unwrap_or_default();
    let dropped = take_count(&mut attrs, DROPPED_ATTRIBUTES);
    span::Event {
        time_unix_nano: l.timestamp_unix_nano,
        name,
        attributes: attrs.0,
        dropped_attributes_count: dropped,
    }
}

/// Every reference but the CHILD_OF one that became the parent is a link, with its type in
/// `opentracing.ref_type`.
fn links(refs: Vec<SpanRef>, parent: u64) -> Vec<span::Link> {
    refs.into_iter()
        .filter_map(|r| {
            let ref_type = link_ref_type(&r, parent)?;
            Some(span::Link {
                trace_id: trace_id(r.trace_id_high, r.trace_id_low).into(),
                span_id: r.span_id.to_be_bytes().to_vec().into(),
                attributes: vec![kv(REF_TYPE, any_value::Value::StringValue(ref_type.into()))],
                ..Default::default()
            })
        })
        .collect()
}

fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

/// A value as pdata's `Str()` reads it: the string, or empty for any other type.
fn str_of(v: &any_value::Value) -> &str {
    match v {
        any_value::Value::StringValue(s) => s,
        _ => "",
    }
}

fn tag_value(v: TagValue) -> any_value::Value {
    match v {
        TagValue::Str(s) => any_value::Value::StringValue(s),
        TagValue::Double(d) => any_value::Value::DoubleValue(d),
        TagValue::Bool(b) => any_value::Value::BoolValue(b),
        TagValue::Long(i) => any_value::Value::IntValue(i),
        TagValue::Binary(b) => any_value::Value::BytesValue(b.into()),
        TagValue::Unknown(t) => {
            any_value::Value::StringValue(format!("<Unknown Jaeger TagType \"{t}\">"))
        }
    }
}

/// An attribute map with pdata's semantics: a repeated key replaces the earlier value in place;
/// removing swaps the last entry in.
struct Attrs(Vec<KeyValue>);

impl Attrs {
    fn with_capacity(n: usize) -> Self {
        Attrs(Vec::with_capacity(n))
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.0.iter().position(|kv| kv.key == key)
    }

    fn get(&self, key: &str) -> Option<&any_value::Value> {
        let i = self.position(key)?;
        self.0[i].value.as_ref()?.value.as_ref()
    }

    fn remove(&mut self, key: &str) -> Option<any_value::Value> {
        let i = self.position(key)?;
        self.0.swap_remove(i).value?.value
    }

    fn put(&mut self, key: String, v: any_value::Value) {
        match self.position(&key) {
            Some(i) => self.0[i].value = Some(AnyValue { value: Some(v) }),
            None => self.0.push(KeyValue {
                key,
                value: Some(AnyValue { value: Some(v) }),
                ..Default::default()
            }),
        }
    }

    fn put_tags(&mut self, tags: Vec<Tag>) {
        if tags.len() <= 32 {
            for t in tags {
                self.put(t.key, tag_value(t.value));
            }
            return;
        }
        // Many tags: index the keys rather than search for each.
        let mut seen: HashMap<String, usize> = self
            .0
            .iter()
            .enumerate()
            .map(|(i, kv)| (kv.key.clone(), i))
            .collect();
        for t in tags {
            let v = Some(AnyValue {
                value: Some(tag_value(t.value)),
            });
            match seen.get(&t.key) {
                Some(&i) => self.0[i].value = v,
                None => {
                    seen.insert(t.key.clone(), self.0.len());
                    self.0.push(KeyValue {
                        key: t.key,
                        value: v,
                        ..Default::default()
                    });
                }
            }
        }
    }
}
