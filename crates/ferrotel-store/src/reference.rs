//! The plainest correct [`TelemetryStore`]: decoded rows in arrival order, every query a linear
//! scan. Too slow for a million spans; it is the oracle the indexed engine is tested against,
//! so its rules are written to be read.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use ferrotel_pdata::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_pdata::proto::metrics::v1::{Metric, ResourceMetrics, ScopeMetrics, metric};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, status};
use ferrotel_pdata::{Payload, Request};
use prost::Message;

use crate::*;

/// The resource and scope an item came with, shared by the items of one request.
#[derive(Clone)]
struct Origin {
    resource: Arc<(Resource, String)>,
    scope: Arc<(InstrumentationScope, String)>,
    service: String,
}

struct SpanRow {
    origin: Origin,
    span: Span,
    bytes: u64,
}

struct LogRow {
    origin: Origin,
    record: LogRecord,
    bytes: u64,
}

/// One metric of one request (its points as received).
struct MetricRow {
    origin: Origin,
    metric: Metric,
    points: u64,
    bytes: u64,
}

#[derive(Default)]
struct Inner {
    spans: Vec<SpanRow>,
    logs: Vec<LogRow>,
    metrics: Vec<MetricRow>,
    stats: StoreStats,
}

pub struct ReferenceStore {
    config: StoreConfig,
    inner: Mutex<Inner>,
}

impl ReferenceStore {
    /// In memory only: `config.directory` is ignored.
    pub fn new(config: StoreConfig) -> Self {
        ReferenceStore {
            config,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `service.name` of a resource, `unknown_service` when it has none (as the SDKs default).
pub fn service_name(resource: &Resource) -> String {
    resource
        .attributes
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| kv.value.as_ref())
        .map(value_text)
        .unwrap_or_else(|| "unknown_service".into())
}

/// The text form values compare by: strings as they are, booleans `true`/`false`, numbers in
/// their shortest decimal form, bytes in base64, arrays and maps as JSON-like text.
pub fn value_text(v: &AnyValue) -> String {
    use any_value::Value as V;
    match &v.value {
        None => String::new(),
        Some(V::StringValue(s)) => s.clone(),
        // An index into a profiles dictionary: meaningless without it.
        Some(V::StringValueStrindex(i)) => format!("#{i}"),
        Some(V::BoolValue(b)) => b.to_string(),
        Some(V::IntValue(i)) => i.to_string(),
        Some(V::DoubleValue(d)) => d.to_string(),
        Some(V::BytesValue(b)) => {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(b)
        }
        Some(V::ArrayValue(a)) => format!(
            "[{}]",
            a.values
                .iter()
                .map(value_text)
                .collect::<Vec<_>>()
                .join(",")
        ),
        Some(V::KvlistValue(kv)) => format!(
            "{{{}}}",
            kv.values
                .iter()
                .map(|kv| format!(
                    "{}:{}",
                    kv.key,
                    kv.value.as_ref().map(value_text).unwrap_or_default()
                ))
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

/// OTLP span kind as Jaeger and the semantic conventions name it.
pub fn span_kind_name(kind: i32) -> &'static str {
    match kind {
        1 => "internal",
        2 => "server",
        3 => "client",
        4 => "producer",
        5 => "consumer",
        _ => "unspecified",
    }
}

fn is_error(span: &Span) -> bool {
    span.status
        .as_ref()
        .is_some_and(|s| s.code == status::StatusCode::Error as i32)
}

pub(crate) fn find_attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
}

/// The derived tags of a span (see [`TraceQuery::tags`]).
fn derived_tag(span: &Span, origin: &Origin, key: &str) -> Option<String> {
    Some(match key {
        "error" => is_error(span).to_string(),
        "otel.status_code" => match span.status.as_ref().map_or(0, |s| s.code) {
            1 => "OK".into(),
            2 => "ERROR".into(),
            _ => "UNSET".into(),
        },
        "span.kind" => span_kind_name(span.kind).into(),
        "otel.scope.name" => origin.scope.0.name.clone(),
        _ => return None,
    })
}

fn span_tag(span: &Span, origin: &Origin, key: &str) -> Option<String> {
    find_attr(&span.attributes, key)
        .or_else(|| find_attr(&origin.resource.0.attributes, key))
        .map(value_text)
        .or_else(|| derived_tag(span, origin, key))
}

pub(crate) fn in_range(t: u64, start: Option<u64>, end: Option<u64>) -> bool {
    start.is_none_or(|s| t >= s) && end.is_none_or(|e| t <= e)
}

fn span_matches(row: &SpanRow, q: &TraceQuery) -> bool {
    let s = &row.span;
    let duration =
        Duration::from_nanos(s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano));
    q.service.as_ref().is_none_or(|v| *v == row.origin.service)
        && q.operation.as_ref().is_none_or(|v| *v == s.name)
        && q.span_kind.is_none_or(|k| k == s.kind)
        && q.min_duration.is_none_or(|d| duration >= d)
        && q.max_duration.is_none_or(|d| duration <= d)
        && in_range(s.start_time_unix_nano, q.start, q.end)
        && q.tags
            .iter()
            .all(|(k, v)| span_tag(s, &row.origin, k).as_deref() == Some(v.as_str()))
}

fn summarize(id: TraceId, spans: &[&SpanRow]) -> TraceSummary {
    let start = spans
        .iter()
        .map(|r| r.span.start_time_unix_nano)
        .min()
        .unwrap_or(0);
    let end = spans
        .iter()
        .map(|r| r.span.end_time_unix_nano)
        .max()
        .unwrap_or(0);
    let root = spans
        .iter()
        .filter(|r| r.span.parent_span_id.is_empty())
        .min_by_key(|r| r.span.start_time_unix_nano)
        .or_else(|| spans.iter().min_by_key(|r| r.span.start_time_unix_nano));
    let mut services: BTreeMap<String, usize> = BTreeMap::new();
    for r in spans {
        *services.entry(r.origin.service.clone()).or_default() += 1;
    }
    TraceSummary {
        trace_id: id,
        root_service: root.map(|r| r.origin.service.clone()).unwrap_or_default(),
        root_name: root.map(|r| r.span.name.clone()).unwrap_or_default(),
        start,
        duration: Duration::from_nanos(end.saturating_sub(start)),
        span_count: spans.len(),
        error_count: spans.iter().filter(|r| is_error(&r.span)).count(),
        services: services.into_iter().collect(),
    }
}

/// Groups items by their (resource, scope) in first-seen order.
fn group<'a, T: 'a>(rows: impl Iterator<Item = (&'a Origin, T)>) -> Vec<(Origin, Vec<T>)> {
    let mut out: Vec<(Origin, Vec<T>)> = Vec::new();
    for (o, item) in rows {
        match out
            .iter_mut()
            .find(|(g, _)| Arc::ptr_eq(&g.resource, &o.resource) && Arc::ptr_eq(&g.scope, &o.scope))
        {
            Some((_, items)) => items.push(item),
            None => out.push((o.clone(), vec![item])),
        }
    }
    out
}

pub(crate) fn data_points(m: &Metric) -> u64 {
    use metric::Data as D;
    let n = match &m.data {
        Some(D::Gauge(g)) => g.data_points.len(),
        Some(D::Sum(s)) => s.data_points.len(),
        Some(D::Histogram(h)) => h.data_points.len(),
        Some(D::ExponentialHistogram(h)) => h.data_points.len(),
        Some(D::Summary(s)) => s.data_points.len(),
        None => 0,
    };
    n as u64
}

pub(crate) fn metric_kind(m: &Metric) -> &'static str {
    use metric::Data as D;
    match &m.data {
        Some(D::Gauge(_)) => "gauge",
        Some(D::Sum(_)) => "sum",
        Some(D::Histogram(_)) => "histogram",
        Some(D::ExponentialHistogram(_)) => "exponential_histogram",
        Some(D::Summary(_)) => "summary",
        None => "empty",
    }
}

/// Keeps the points of `m` whose time is within the range.
pub(crate) fn points_in_range(m: &Metric, start: Option<u64>, end: Option<u64>) -> Metric {
    use metric::Data as D;
    let mut m = m.clone();
    let keep = |t: u64| in_range(t, start, end);
    match &mut m.data {
        Some(D::Gauge(g)) => g.data_points.retain(|p| keep(p.time_unix_nano)),
        Some(D::Sum(s)) => s.data_points.retain(|p| keep(p.time_unix_nano)),
        Some(D::Histogram(h)) => h.data_points.retain(|p| keep(p.time_unix_nano)),
        Some(D::ExponentialHistogram(h)) => h.data_points.retain(|p| keep(p.time_unix_nano)),
        Some(D::Summary(s)) => s.data_points.retain(|p| keep(p.time_unix_nano)),
        None => {}
    }
    m
}

impl Inner {
    fn prune(&mut self, max_bytes: u64) {
        // The oldest of each signal goes first, round robin, until under the cap.
        while self.stats.bytes > max_bytes {
            let mut freed = false;
            if !self.spans.is_empty() {
                let r = self.spans.remove(0);
                self.stats.bytes -= r.bytes;
                self.stats.spans -= 1;
                self.stats.pruned_spans += 1;
                freed = true;
            }
            if self.stats.bytes > max_bytes && !self.logs.is_empty() {
                let r = self.logs.remove(0);
                self.stats.bytes -= r.bytes;
                self.stats.log_records -= 1;
                self.stats.pruned_log_records += 1;
                freed = true;
            }
            if self.stats.bytes > max_bytes && !self.metrics.is_empty() {
                let r = self.metrics.remove(0);
                self.stats.bytes -= r.bytes;
                self.stats.data_points -= r.points;
                self.stats.pruned_data_points += r.points;
                freed = true;
            }
            if !freed {
                return;
            }
        }
    }
}

impl TelemetryStore for ReferenceStore {
    fn append(&self, payload: &Payload) -> Result<(), StoreError> {
        let request = payload.to_request()?;
        let mut inner = self.lock();
        let origin = |resource: Option<Resource>,
                      rs: String,
                      scope: Option<InstrumentationScope>,
                      ss: String| {
            let resource = resource.unwrap_or_default();
            Origin {
                service: service_name(&resource),
                resource: Arc::new((resource, rs)),
                scope: Arc::new((scope.unwrap_or_default(), ss)),
            }
        };
        match request {
            Request::Traces(r) => {
                for rs in r.resource_spans {
                    for ss in rs.scope_spans {
                        let o = origin(
                            rs.resource.clone(),
                            rs.schema_url.clone(),
                            ss.scope,
                            ss.schema_url,
                        );
                        for span in ss.spans {
                            let bytes = span.encoded_len() as u64;
                            inner.stats.bytes += bytes;
                            inner.stats.spans += 1;
                            inner.spans.push(SpanRow {
                                origin: o.clone(),
                                span,
                                bytes,
                            });
                        }
                    }
                }
            }
            Request::Logs(r) => {
                for rl in r.resource_logs {
                    for sl in rl.scope_logs {
                        let o = origin(
                            rl.resource.clone(),
                            rl.schema_url.clone(),
                            sl.scope,
                            sl.schema_url,
                        );
                        for record in sl.log_records {
                            let bytes = record.encoded_len() as u64;
                            inner.stats.bytes += bytes;
                            inner.stats.log_records += 1;
                            inner.logs.push(LogRow {
                                origin: o.clone(),
                                record,
                                bytes,
                            });
                        }
                    }
                }
            }
            Request::Metrics(r) => {
                for rm in r.resource_metrics {
                    for sm in rm.scope_metrics {
                        let o = origin(
                            rm.resource.clone(),
                            rm.schema_url.clone(),
                            sm.scope,
                            sm.schema_url,
                        );
                        for metric in sm.metrics {
                            let bytes = metric.encoded_len() as u64;
                            let points = data_points(&metric);
                            inner.stats.bytes += bytes;
                            inner.stats.data_points += points;
                            inner.metrics.push(MetricRow {
                                origin: o.clone(),
                                metric,
                                points,
                                bytes,
                            });
                        }
                    }
                }
            }
            Request::Profiles(_) => {}
        }
        inner.prune(self.config.max_bytes);
        Ok(())
    }

    fn stats(&self) -> StoreStats {
        self.lock().stats
    }

    fn services(&self) -> Vec<String> {
        let inner = self.lock();
        let set: BTreeSet<&String> = inner.spans.iter().map(|r| &r.origin.service).collect();
        set.into_iter().cloned().collect()
    }

    fn operations(&self, service: &str, kind: Option<i32>) -> Vec<Operation> {
        let inner = self.lock();
        let set: BTreeSet<Operation> = inner
            .spans
            .iter()
            .filter(|r| r.origin.service == service && kind.is_none_or(|k| k == r.span.kind))
            .map(|r| Operation {
                name: r.span.name.clone(),
                kind: r.span.kind,
            })
            .collect();
        set.into_iter().collect()
    }

    fn find_traces(&self, q: &TraceQuery) -> Vec<TraceSummary> {
        let inner = self.lock();
        let mut by_trace: BTreeMap<TraceId, Vec<&SpanRow>> = BTreeMap::new();
        for r in &inner.spans {
            if let Ok(id) = TraceId::try_from(&r.span.trace_id[..]) {
                by_trace.entry(id).or_default().push(r);
            }
        }
        let mut out: Vec<TraceSummary> = by_trace
            .iter()
            .filter(|(_, spans)| spans.iter().any(|r| span_matches(r, q)))
            .map(|(id, spans)| summarize(*id, spans))
            .collect();
        // Most recent first; the id breaks ties so the order is total.
        out.sort_by(|a, b| b.start.cmp(&a.start).then(a.trace_id.cmp(&b.trace_id)));
        out.truncate(if q.limit == 0 { 20 } else { q.limit });
        out
    }

    fn trace(&self, id: &TraceId) -> Option<ExportTraceServiceRequest> {
        let inner = self.lock();
        let rows = inner
            .spans
            .iter()
            .filter(|r| &r.span.trace_id[..] == id.as_slice())
            .map(|r| (&r.origin, r.span.clone()));
        let groups = group(rows);
        if groups.is_empty() {
            return None;
        }
        Some(ExportTraceServiceRequest {
            resource_spans: groups
                .into_iter()
                .map(|(o, spans)| ResourceSpans {
                    resource: Some(o.resource.0.clone()),
                    schema_url: o.resource.1.clone(),
                    scope_spans: vec![ScopeSpans {
                        scope: Some(o.scope.0.clone()),
                        schema_url: o.scope.1.clone(),
                        spans,
                    }],
                })
                .collect(),
        })
    }

    fn tag_names(&self) -> Vec<String> {
        let inner = self.lock();
        let mut set: BTreeSet<String> =
            ["error", "otel.status_code", "span.kind", "otel.scope.name"]
                .into_iter()
                .map(String::from)
                .collect();
        for r in &inner.spans {
            set.extend(r.span.attributes.iter().map(|kv| kv.key.clone()));
            set.extend(
                r.origin
                    .resource
                    .0
                    .attributes
                    .iter()
                    .map(|kv| kv.key.clone()),
            );
        }
        set.into_iter().collect()
    }

    fn tag_values(&self, tag: &str, limit: usize) -> Vec<String> {
        let inner = self.lock();
        let set: BTreeSet<String> = inner
            .spans
            .iter()
            .filter_map(|r| span_tag(&r.span, &r.origin, tag))
            .collect();
        let n = if limit == 0 { usize::MAX } else { limit };
        set.into_iter().take(n).collect()
    }

    fn find_logs(&self, q: &LogQuery) -> ExportLogsServiceRequest {
        let inner = self.lock();
        let needle = q.body_contains.as_ref().map(|s| s.to_lowercase());
        let time = |l: &LogRecord| {
            if l.time_unix_nano != 0 {
                l.time_unix_nano
            } else {
                l.observed_time_unix_nano
            }
        };
        let mut rows: Vec<&LogRow> = inner
            .logs
            .iter()
            .filter(|r| {
                let l = &r.record;
                q.service.as_ref().is_none_or(|s| *s == r.origin.service)
                    && q.min_severity.is_none_or(|s| l.severity_number >= s)
                    && needle.as_ref().is_none_or(|n| {
                        l.body
                            .as_ref()
                            .map(value_text)
                            .unwrap_or_default()
                            .to_lowercase()
                            .contains(n)
                    })
                    && q.trace_id.is_none_or(|t| &l.trace_id[..] == t.as_slice())
                    && q.span_id.is_none_or(|s| &l.span_id[..] == s.as_slice())
                    && in_range(time(l), q.start, q.end)
                    && q.attributes.iter().all(|(k, v)| {
                        find_attr(&l.attributes, k)
                            .or_else(|| find_attr(&r.origin.resource.0.attributes, k))
                            .map(value_text)
                            .as_deref()
                            == Some(v.as_str())
                    })
            })
            .collect();
        // Most recent first; arrival order breaks ties (stable sort).
        rows.reverse();
        rows.sort_by_key(|r| std::cmp::Reverse(time(&r.record)));
        rows.truncate(if q.limit == 0 { 100 } else { q.limit });
        let groups = group(rows.into_iter().map(|r| (&r.origin, r.record.clone())));
        ExportLogsServiceRequest {
            resource_logs: groups
                .into_iter()
                .map(|(o, log_records)| ResourceLogs {
                    resource: Some(o.resource.0.clone()),
                    schema_url: o.resource.1.clone(),
                    scope_logs: vec![ScopeLogs {
                        scope: Some(o.scope.0.clone()),
                        schema_url: o.scope.1.clone(),
                        log_records,
                    }],
                })
                .collect(),
        }
    }

    fn metrics(&self, service: Option<&str>) -> Vec<MetricInfo> {
        let inner = self.lock();
        let mut by_name: BTreeMap<&str, (MetricInfo, BTreeSet<String>)> = BTreeMap::new();
        for r in &inner.metrics {
            if service.is_some_and(|s| s != r.origin.service) {
                continue;
            }
            let m = &r.metric;
            let e = by_name.entry(&m.name).or_insert_with(|| {
                (
                    MetricInfo {
                        name: m.name.clone(),
                        kind: metric_kind(m).into(),
                        unit: m.unit.clone(),
                        description: m.description.clone(),
                        services: Vec::new(),
                    },
                    BTreeSet::new(),
                )
            });
            e.1.insert(r.origin.service.clone());
        }
        by_name
            .into_values()
            .map(|(mut info, services)| {
                info.services = services.into_iter().collect();
                info
            })
            .collect()
    }

    fn metric_points(&self, q: &MetricQuery) -> ExportMetricsServiceRequest {
        let inner = self.lock();
        let rows = inner
            .metrics
            .iter()
            .filter(|r| {
                r.metric.name == q.name && q.service.as_ref().is_none_or(|s| *s == r.origin.service)
            })
            .map(|r| (&r.origin, points_in_range(&r.metric, q.start, q.end)))
            .filter(|(_, m)| data_points(m) > 0);
        ExportMetricsServiceRequest {
            resource_metrics: group(rows)
                .into_iter()
                .map(|(o, metrics)| ResourceMetrics {
                    resource: Some(o.resource.0.clone()),
                    schema_url: o.resource.1.clone(),
                    scope_metrics: vec![ScopeMetrics {
                        scope: Some(o.scope.0.clone()),
                        schema_url: o.scope.1.clone(),
                        metrics,
                    }],
                })
                .collect(),
        }
    }

    fn close(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotel_pdata::Signal;
    use ferrotel_pdata::proto::trace::v1::Status;

    fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(v.into())),
            }),
            ..Default::default()
        }
    }

    fn span(trace: u8, id: u8, parent: u8, name: &str, start: u64, end: u64, error: bool) -> Span {
        Span {
            trace_id: vec![trace; 16].into(),
            span_id: vec![id; 8].into(),
            parent_span_id: if parent == 0 {
                Default::default()
            } else {
                vec![parent; 8].into()
            },
            name: name.into(),
            kind: 2,
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            attributes: vec![kv("http.route", "/x")],
            status: error.then(|| Status {
                code: 2,
                message: "boom".into(),
            }),
            ..Default::default()
        }
    }

    fn traces(service: &str, spans: Vec<Span>) -> Payload {
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", service)],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        Payload::from_proto(Signal::Traces, Request::Traces(req).encode_proto()).unwrap()
    }

    #[test]
    fn finds_traces_by_a_span_matching_everything() {
        let s = ReferenceStore::new(StoreConfig::default());
        s.append(&traces(
            "front",
            vec![span(1, 1, 0, "GET /", 100, 1000, false)],
        ))
        .unwrap();
        s.append(&traces(
            "back",
            vec![span(1, 2, 1, "query", 200, 900, true)],
        ))
        .unwrap();
        s.append(&traces(
            "front",
            vec![span(2, 3, 0, "GET /", 2000, 2100, false)],
        ))
        .unwrap();
        assert_eq!(s.services(), vec!["back", "front"]);
        let all = s.find_traces(&TraceQuery::default());
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].trace_id, [2; 16], "most recent first");
        let t1 = &all[1];
        assert_eq!(
            (t1.root_service.as_str(), t1.root_name.as_str()),
            ("front", "GET /")
        );
        assert_eq!((t1.span_count, t1.error_count), (2, 1));
        assert_eq!(t1.duration, Duration::from_nanos(900));
        let q = TraceQuery {
            service: Some("back".into()),
            tags: vec![("error".into(), "true".into())],
            min_duration: Some(Duration::from_nanos(500)),
            ..Default::default()
        };
        assert_eq!(s.find_traces(&q).len(), 1);
        // The criteria must hold on one span: front's spans are not errors.
        let q = TraceQuery {
            service: Some("front".into()),
            tags: vec![("error".into(), "true".into())],
            ..Default::default()
        };
        assert!(s.find_traces(&q).is_empty());
        let t = s.trace(&[1; 16]).unwrap();
        assert_eq!(t.resource_spans.len(), 2);
        assert!(s.trace(&[9; 16]).is_none());
    }

    #[test]
    fn prunes_the_oldest_past_the_cap() {
        let s = ReferenceStore::new(StoreConfig {
            max_bytes: 1000,
            ..Default::default()
        });
        for i in 0..100u8 {
            s.append(&traces(
                "svc",
                vec![span(i, 1, 0, "op", i as u64, i as u64 + 1, false)],
            ))
            .unwrap();
        }
        let st = s.stats();
        assert!(st.bytes <= 1000 && st.pruned_spans > 0 && st.spans + st.pruned_spans == 100);
        assert!(s.trace(&[0; 16]).is_none() && s.trace(&[99; 16]).is_some());
    }
}
