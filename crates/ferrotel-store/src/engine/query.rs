//! Queries over the indexes: candidates from postings and fixed-size records, then only the
//! candidates that can still make the answer are decoded (attribute filters, results).

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::time::Duration;

use ferrotel_pdata::Signal;
use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::KeyValue;
use ferrotel_pdata::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_pdata::proto::metrics::v1::{Metric, ResourceMetrics, ScopeMetrics};
use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans, Span};
use ferrotel_pdata::wire::AnyValueView;
use prost::Message;

use super::index::{Index, Origin, SpanRec};
use crate::reference::{
    data_points, find_attr, in_range, points_in_range, span_kind_name, value_text,
};
use crate::wire;
use crate::{LogQuery, MetricInfo, MetricQuery, Operation, TraceId, TraceQuery, TraceSummary};

const DERIVED_TAGS: [&str; 4] = ["error", "otel.status_code", "span.kind", "otel.scope.name"];

/// Items grouped by the (chunk, origin) they came with, in first-seen order.
struct Groups<T> {
    at: HashMap<(u64, u32), usize>,
    groups: Vec<((u64, u32), Vec<T>)>,
}

impl<T> Groups<T> {
    fn new() -> Self {
        Groups {
            at: HashMap::new(),
            groups: Vec::new(),
        }
    }

    fn push(&mut self, key: (u64, u32), item: T) {
        let i = *self.at.entry(key).or_insert_with(|| {
            self.groups.push((key, Vec::new()));
            self.groups.len() - 1
        });
        self.groups[i].1.push(item);
    }
}

/// The derived tags of a span, but `otel.scope.name` (its origin's, see [`Index::span_tag`]).
fn derived(rec: &SpanRec, key: &str) -> Option<&'static str> {
    Some(match key {
        "error" => {
            if rec.is_error() {
                "true"
            } else {
                "false"
            }
        }
        "otel.status_code" => match rec.status {
            1 => "OK",
            2 => "ERROR",
            _ => "UNSET",
        },
        "span.kind" => span_kind_name(rec.kind),
        _ => return None,
    })
}

impl Index {
    fn origin_of(&self, chunk: u64, origin: u32) -> Option<&Origin> {
        self.chunk(chunk)?.origins.get(origin as usize)
    }

    /// A span attribute's value: the first KeyValue with the key, when it has a value (as
    /// the reference's `find_attr`).
    fn span_attr(&self, rec: &SpanRec, key: &str) -> Option<String> {
        let bytes = self.item_bytes(rec.chunk, rec.off, rec.len)?;
        let kv = wire::find_kv(bytes, 9, key.as_bytes()).ok()??;
        let kv = KeyValue::decode(kv).ok()?;
        kv.value.as_ref().map(value_text)
    }

    /// The tag value a query compares for a span (see [`TraceQuery::tags`]).
    fn span_tag<'a>(&'a self, rec: &SpanRec, key: &str) -> Option<Cow<'a, str>> {
        let origin = self.origin_of(rec.chunk, rec.origin)?;
        if let Some(v) = self.span_attr(rec, key) {
            return Some(Cow::Owned(v));
        }
        if let Some(v) = find_attr(&origin.resource.attributes, key) {
            return Some(Cow::Owned(value_text(v)));
        }
        if key == "otel.scope.name" {
            return Some(Cow::Borrowed(&origin.scope.name));
        }
        derived(rec, key).map(Cow::Borrowed)
    }

    /// Whether a span's tag is `want`: a string attribute is compared in place, anything else
    /// goes through [`Index::span_tag`].
    fn span_tag_is(&self, rec: &SpanRec, key: &str, want: &str) -> bool {
        let fast = self
            .item_bytes(rec.chunk, rec.off, rec.len)
            .and_then(|b| wire::find_kv(b, 9, key.as_bytes()).ok()?)
            .and_then(|kv| wire::kv_single_value(kv).ok()?);
        if let Some(v) = fast
            && let AnyValueView::Str(s) = AnyValueView::parse(v)
        {
            return s == want;
        }
        self.span_tag(rec, key).as_deref() == Some(want)
    }

    /// Whether some span of a chunk may have every tag of `tags`: false when, for one tag, the
    /// chunk's filter rules out the span attribute and no resource of the chunk has the value
    /// (a derived tag always may).
    fn chunk_may_match(&self, chunk: u64, tags: &[(String, String)]) -> bool {
        let Some(c) = self.chunk(chunk) else {
            return false;
        };
        tags.iter().all(|(k, v)| {
            DERIVED_TAGS.contains(&k.as_str())
                || c.span_values.may_have(k, v)
                || c.origins.iter().any(|o| {
                    o.items > 0
                        && find_attr(&o.resource.attributes, k).is_some_and(|a| value_text(a) == *v)
                })
        })
    }

    fn summarize(&self, slot: u32) -> Option<TraceSummary> {
        let t = self.traces.get(slot as usize)?;
        let root = self.span(t.root)?;
        let mut services: BTreeMap<&str, usize> = BTreeMap::new();
        let mut s = t.last;
        while let Some(r) = self.span(s) {
            *services.entry(self.strings.name(r.service)).or_default() += 1;
            s = r.prev;
        }
        Some(TraceSummary {
            trace_id: t.id,
            root_service: self.strings.name(root.service).to_owned(),
            root_name: self.strings.name(root.name).to_owned(),
            start: t.start,
            duration: Duration::from_nanos(t.end.saturating_sub(t.start)),
            span_count: t.count as usize,
            error_count: t.errors as usize,
            services: services
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        })
    }

    pub fn find_traces(&self, q: &TraceQuery) -> Vec<TraceSummary> {
        let limit = if q.limit == 0 { 20 } else { q.limit };
        let lookup = |name: &Option<String>| match name {
            None => Ok(None),
            Some(n) => self.strings.get(n).map(Some).ok_or(()),
        };
        let (Ok(service), Ok(op)) = (lookup(&q.service), lookup(&q.operation)) else {
            return Vec::new();
        };
        let cheap = |r: &SpanRec| {
            let d = Duration::from_nanos(r.end.saturating_sub(r.start));
            r.trace != u32::MAX
                && service.is_none_or(|s| s == r.service)
                && op.is_none_or(|o| o == r.name)
                && q.span_kind.is_none_or(|k| k == r.kind)
                && q.min_duration.is_none_or(|m| d >= m)
                && q.max_duration.is_none_or(|m| d <= m)
                && in_range(r.start, q.start, q.end)
        };
        // (trace start, trace id, span): popping the max gives the most recent trace first,
        // the smaller id on ties, with all candidate spans of one trace in a row.
        let mut cands: Vec<(u64, Reverse<TraceId>, u64)> = Vec::new();
        // Per chunk, whether its spans may have the tags (0 not known yet, 1 may, 2 cannot):
        // a tag matching nothing is then rejected once per chunk, not read in every span.
        let mut chunk_ok: Vec<u8> = Vec::new();
        let mut tags_may_match = |chunk: u64| {
            if q.tags.is_empty() {
                return true;
            }
            if chunk_ok.is_empty() {
                chunk_ok.resize(self.chunks.len(), 0);
            }
            let Some(known) = chunk
                .checked_sub(self.chunk_base)
                .and_then(|i| chunk_ok.get_mut(i as usize))
            else {
                return false;
            };
            if *known == 0 {
                *known = if self.chunk_may_match(chunk, &q.tags) {
                    1
                } else {
                    2
                };
            }
            *known == 1
        };
        let mut consider = |seq: u64| {
            if let Some(r) = self.span(seq)
                && cheap(r)
                && tags_may_match(r.chunk)
                && let Some(t) = self.traces.get(r.trace as usize)
            {
                cands.push((t.start, Reverse(t.id), seq));
            }
        };
        let posting = match (service, op) {
            (Some(s), Some(o)) => Some(self.by_op.get(&(s, o))),
            (Some(s), None) => Some(self.by_service.get(&s)),
            _ => None,
        };
        let unfiltered = q.span_kind.is_none()
            && q.min_duration.is_none()
            && q.max_duration.is_none()
            && q.start.is_none()
            && q.end.is_none()
            && q.tags.is_empty();
        match posting {
            Some(Some(list)) => list.iter().for_each(|&s| consider(s)),
            Some(None) => {}
            // Every trace matches: one candidate per trace, not per span.
            None if unfiltered && op.is_none() => {
                for t in self.traces.iter().filter(|t| t.count > 0) {
                    cands.push((t.start, Reverse(t.id), t.last));
                }
            }
            None => {
                let end = self.span_base + self.spans.len() as u64;
                (self.span_base..end).for_each(&mut consider);
            }
        }
        let mut heap = BinaryHeap::from(cands);
        let mut out = Vec::new();
        let mut last: Option<TraceId> = None;
        while let Some((_, Reverse(id), seq)) = heap.pop() {
            if last == Some(id) {
                continue;
            }
            let Some(r) = self.span(seq) else { continue };
            let ok = q.tags.iter().all(|(k, v)| self.span_tag_is(r, k, v));
            if !ok {
                continue;
            }
            last = Some(id);
            if let Some(s) = self.summarize(r.trace) {
                out.push(s);
            }
            if out.len() >= limit {
                break;
            }
        }
        out
    }

    pub fn trace(&self, id: &TraceId) -> Option<ExportTraceServiceRequest> {
        let slot = *self.trace_ids.get(id)?;
        let mut groups = Groups::new();
        for s in self.trace_spans(slot) {
            let Some(r) = self.span(s) else { continue };
            let Some(bytes) = self.item_bytes(r.chunk, r.off, r.len) else {
                continue;
            };
            if let Ok(span) = Span::decode(bytes) {
                groups.push((r.chunk, r.origin), span);
            }
        }
        if groups.groups.is_empty() {
            return None;
        }
        Some(ExportTraceServiceRequest {
            resource_spans: groups
                .groups
                .into_iter()
                .filter_map(|((c, o), spans)| {
                    let o = self.origin_of(c, o)?;
                    Some(ResourceSpans {
                        resource: Some(o.resource.clone()),
                        schema_url: o.resource_schema.clone(),
                        scope_spans: vec![ScopeSpans {
                            scope: Some(o.scope.clone()),
                            schema_url: o.scope_schema.clone(),
                            spans,
                        }],
                    })
                })
                .collect(),
        })
    }

    pub fn services(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .service_spans
            .keys()
            .map(|&s| self.strings.name(s).to_owned())
            .collect();
        out.sort();
        out
    }

    pub fn operations(&self, service: &str, kind: Option<i32>) -> Vec<Operation> {
        let Some(svc) = self.strings.get(service) else {
            return Vec::new();
        };
        let mut out: Vec<Operation> = self
            .op_spans
            .keys()
            .filter(|(s, _, k)| *s == svc && kind.is_none_or(|want| want == *k))
            .map(|&(_, name, kind)| Operation {
                name: self.strings.name(name).to_owned(),
                kind,
            })
            .collect();
        out.sort();
        out
    }

    fn span_chunks(&self) -> impl Iterator<Item = (u64, &super::index::Chunk)> {
        self.chunks
            .iter()
            .enumerate()
            .filter(|(_, c)| c.signal == Signal::Traces)
            .map(|(i, c)| (self.chunk_base + i as u64, c))
    }

    pub fn tag_names(&self) -> Vec<String> {
        let mut set: BTreeSet<&str> = DERIVED_TAGS.into_iter().collect();
        for (_, c) in self.span_chunks() {
            set.extend(c.span_keys.iter().map(|&k| self.strings.name(k)));
            for o in c.origins.iter().filter(|o| o.items > 0) {
                set.extend(o.resource.attributes.iter().map(|kv| kv.key.as_str()));
            }
        }
        set.into_iter().map(str::to_owned).collect()
    }

    pub fn tag_values(&self, tag: &str, limit: usize) -> Vec<String> {
        let key = self.strings.get(tag);
        let mut set: BTreeSet<String> = BTreeSet::new();
        let mut add = |v: &str| {
            if !set.contains(v) {
                set.insert(v.to_owned());
            }
        };
        for (_, c) in self.span_chunks() {
            // When no span of the chunk has the key, each span's value is its resource's or
            // the derived one: no span needs reading.
            let span_keyed = key.is_some_and(|k| c.span_keys.contains(&k));
            let res: Vec<Option<String>> = c
                .origins
                .iter()
                .map(|o| find_attr(&o.resource.attributes, tag).map(value_text))
                .collect();
            if !span_keyed {
                for (o, v) in c.origins.iter().zip(&res) {
                    if let (Some(v), true) = (v, o.items > 0) {
                        add(v);
                    }
                }
                if !DERIVED_TAGS.contains(&tag) || res.iter().all(Option::is_some) {
                    continue;
                }
            }
            for s in c.first_item..c.first_item + c.items {
                let Some(r) = self.span(s) else { continue };
                let Some(origin) = c.origins.get(r.origin as usize) else {
                    continue;
                };
                if span_keyed && let Some(v) = self.span_attr(r, tag) {
                    add(&v);
                    continue;
                }
                match res.get(r.origin as usize) {
                    Some(Some(v)) => add(v),
                    _ if tag == "otel.scope.name" => add(&origin.scope.name),
                    _ => {
                        if let Some(v) = derived(r, tag) {
                            add(v);
                        }
                    }
                }
            }
        }
        let n = if limit == 0 { usize::MAX } else { limit };
        set.into_iter().take(n).collect()
    }

    pub fn find_logs(&self, q: &LogQuery) -> ExportLogsServiceRequest {
        let limit = if q.limit == 0 { 100 } else { q.limit };
        let service = match &q.service {
            None => None,
            Some(s) => match self.strings.get(s) {
                Some(id) => Some(id),
                None => return ExportLogsServiceRequest::default(),
            },
        };
        let trace8 = q.trace_id.map(|t| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&t[..8]);
            u64::from_le_bytes(a)
        });
        let cands: Vec<(u64, u64)> = self
            .logs
            .iter()
            .enumerate()
            .filter(|(_, l)| {
                service.is_none_or(|s| s == l.service)
                    && q.min_severity.is_none_or(|s| l.severity >= s)
                    && trace8.is_none_or(|t| l.has_trace && l.trace8 == t)
                    && in_range(l.time, q.start, q.end)
            })
            .map(|(i, l)| (l.time, self.log_base + i as u64))
            .collect();
        // Most recent first, the later arrival first on equal times.
        let mut heap = BinaryHeap::from(cands);
        let needle = q.body_contains.as_ref().map(|s| s.to_lowercase());
        let mut groups = Groups::new();
        let mut n = 0;
        while let Some((_, seq)) = heap.pop() {
            if n >= limit {
                break;
            }
            let Some(l) = seq
                .checked_sub(self.log_base)
                .and_then(|i| self.logs.get(i as usize))
            else {
                continue;
            };
            let Some(origin) = self.origin_of(l.chunk, l.origin) else {
                continue;
            };
            let Some(rec) = self
                .item_bytes(l.chunk, l.off, l.len)
                .and_then(|b| LogRecord::decode(b).ok())
            else {
                continue;
            };
            let ok = needle.as_ref().is_none_or(|n| {
                rec.body
                    .as_ref()
                    .map(value_text)
                    .unwrap_or_default()
                    .to_lowercase()
                    .contains(n)
            }) && q.trace_id.is_none_or(|t| rec.trace_id[..] == t[..])
                && q.span_id.is_none_or(|s| rec.span_id[..] == s[..])
                && q.attributes.iter().all(|(k, v)| {
                    find_attr(&rec.attributes, k)
                        .or_else(|| find_attr(&origin.resource.attributes, k))
                        .map(value_text)
                        .as_deref()
                        == Some(v.as_str())
                });
            if ok {
                groups.push((l.chunk, l.origin), rec);
                n += 1;
            }
        }
        ExportLogsServiceRequest {
            resource_logs: groups
                .groups
                .into_iter()
                .filter_map(|((c, o), log_records)| {
                    let o = self.origin_of(c, o)?;
                    Some(ResourceLogs {
                        resource: Some(o.resource.clone()),
                        schema_url: o.resource_schema.clone(),
                        scope_logs: vec![ScopeLogs {
                            scope: Some(o.scope.clone()),
                            schema_url: o.scope_schema.clone(),
                            log_records,
                        }],
                    })
                })
                .collect(),
        }
    }

    pub fn metrics(&self, service: Option<&str>) -> Vec<MetricInfo> {
        let svc = match service {
            None => None,
            Some(s) => match self.strings.get(s) {
                Some(id) => Some(id),
                None => return Vec::new(),
            },
        };
        let mut by_name: BTreeMap<&str, (MetricInfo, BTreeSet<&str>)> = BTreeMap::new();
        for m in self
            .metrics
            .iter()
            .filter(|m| svc.is_none_or(|s| s == m.service))
        {
            let e = by_name.entry(self.strings.name(m.name)).or_insert_with(|| {
                (
                    MetricInfo {
                        name: self.strings.name(m.name).to_owned(),
                        kind: m.kind.to_owned(),
                        unit: self.strings.name(m.unit).to_owned(),
                        description: self.strings.name(m.description).to_owned(),
                        services: Vec::new(),
                    },
                    BTreeSet::new(),
                )
            });
            e.1.insert(self.strings.name(m.service));
        }
        by_name
            .into_values()
            .map(|(mut info, services)| {
                info.services = services.into_iter().map(str::to_owned).collect();
                info
            })
            .collect()
    }

    pub fn metric_points(&self, q: &MetricQuery) -> ExportMetricsServiceRequest {
        let Some(name) = self.strings.get(&q.name) else {
            return ExportMetricsServiceRequest::default();
        };
        let svc = match &q.service {
            None => None,
            Some(s) => match self.strings.get(s) {
                Some(id) => Some(id),
                None => return ExportMetricsServiceRequest::default(),
            },
        };
        let mut groups = Groups::new();
        for m in self
            .metrics
            .iter()
            .filter(|m| m.name == name && svc.is_none_or(|s| s == m.service))
        {
            let Some(metric) = self
                .item_bytes(m.chunk, m.off, m.len)
                .and_then(|b| Metric::decode(b).ok())
            else {
                continue;
            };
            let kept = points_in_range(&metric, q.start, q.end);
            if data_points(&kept) > 0 {
                groups.push((m.chunk, m.origin), kept);
            }
        }
        ExportMetricsServiceRequest {
            resource_metrics: groups
                .groups
                .into_iter()
                .filter_map(|((c, o), metrics)| {
                    let o = self.origin_of(c, o)?;
                    Some(ResourceMetrics {
                        resource: Some(o.resource.clone()),
                        schema_url: o.resource_schema.clone(),
                        scope_metrics: vec![ScopeMetrics {
                            scope: Some(o.scope.clone()),
                            schema_url: o.scope_schema.clone(),
                            metrics,
                        }],
                    })
                })
                .collect(),
        }
    }
}
