//! Reading and writing the fields of each context: spans, span events, logs, metrics, data
//! points, resources and scopes, as OTTL's per-signal path getters and setters do.

use ferrotel_pdata::proto::common::v1::KeyValue;
use ferrotel_pdata::proto::metrics::v1::{metric::Data, number_data_point};
use ferrotel_pdata::proto::trace::v1::Status;

use crate::context::{Ctx, Point, TCtx};
use crate::key::{Key, index_any, set_any};
use crate::path::Field;
use crate::value::{R, Value, hex, kv};

/// A field of a context, resolved from a path; its keys are evaluated by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldRef {
    pub ctx: Ctx,
    pub field: Field,
}

fn nil_if_empty(s: &str) -> Value {
    Value::Str(s.to_string())
}

fn ns(v: u64) -> Value {
    Value::Int(v as i64)
}

fn want_int(v: &Value, what: &str) -> R<i64> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Time(t, _) => Ok(*t),
        other => Err(format!("{what} must be an int, got {}", other.type_name())),
    }
}

fn want_time(v: &Value, what: &str) -> R<u64> {
    match v {
        Value::Time(t, _) => Ok(*t as u64),
        other => Err(format!("{what} must be a time, got {}", other.type_name())),
    }
}

fn want_str(v: Value, what: &str) -> R<String> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(format!(
            "{what} must be a string, got {}",
            other.type_name()
        )),
    }
}

fn want_bytes(v: Value, what: &str, len: usize) -> R<bytes::Bytes> {
    match v {
        Value::Bytes(b) if b.len() == len => Ok(b.into()),
        other => Err(format!(
            "{what} must be {len} bytes, got {}",
            other.type_name()
        )),
    }
}

/// Span kinds as Go's `ptrace.SpanKind.String()` (`kind.string`) and as the proto enum
/// (`kind.deprecated_string`), by value.
const KIND_NAMES: [(&str, &str); 6] = [
    ("Unspecified", "SPAN_KIND_UNSPECIFIED"),
    ("Internal", "SPAN_KIND_INTERNAL"),
    ("Server", "SPAN_KIND_SERVER"),
    ("Client", "SPAN_KIND_CLIENT"),
    ("Producer", "SPAN_KIND_PRODUCER"),
    ("Consumer", "SPAN_KIND_CONSUMER"),
];

/// An id as Go's `hex.EncodeToString(id[:])` writes its fixed-size array: an unset id is
/// all zeros.
fn id_hex(id: &[u8], len: usize) -> Value {
    if id.is_empty() {
        return Value::Str("0".repeat(len * 2));
    }
    Value::Str(hex(id))
}

/// An id from its hex string (`trace_id.string`, `span_id.string`...).
fn id_from_hex(v: Value, what: &str, len: usize) -> R<bytes::Bytes> {
    let s = want_str(v, what)?;
    let bytes = (s.len() == len * 2)
        .then(|| {
            (0..len)
                .map(|i| u8::from_str_radix(s.get(i * 2..i * 2 + 2)?, 16).ok())
                .collect::<Option<Vec<u8>>>()
        })
        .flatten()
        .ok_or_else(|| format!("{what}: \"{s}\" is not {len} bytes of hex"))?;
    Ok(bytes.into())
}

/// The value of `key` in a W3C `tracestate` (`k1=v1,k2=v2`).
fn trace_state_get(ts: &str, key: &str) -> Option<String> {
    ts.split(',')
        .filter_map(|m| m.trim().split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.to_string())
}

/// `tracestate` with `key` set to `value`: the member moves to the front, as W3C asks of a
/// modified key (Go's `TraceState.Insert`).
fn trace_state_set(ts: &str, key: &str, value: &str) -> String {
    let mut out = format!("{key}={value}");
    for m in ts.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        if m.split_once('=').is_some_and(|(k, _)| k == key) {
            continue;
        }
        out.push(',');
        out.push_str(m);
    }
    out
}

fn want_list<T>(v: Value, what: &str, item: impl Fn(&Value) -> Option<T>) -> R<Vec<T>> {
    let err = |t: &str| format!("{what} must be a list of numbers, got {t}");
    match v {
        Value::List(l) => l
            .iter()
            .map(|a| {
                let v = Value::from_any(Some(a));
                item(&v).ok_or_else(|| err(v.type_name()))
            })
            .collect(),
        o => Err(err(o.type_name())),
    }
}

fn int_list(l: &[u64]) -> Value {
    Value::List(l.iter().map(|n| Value::Int(*n as i64).into_any()).collect())
}

fn missing(ctx: Ctx) -> String {
    format!("no {} in this context", ctx.as_str())
}

impl FieldRef {
    fn attrs<'b>(&self, t: &'b TCtx<'_>) -> R<&'b [KeyValue]> {
        Ok(match self.ctx {
            _ if self.field == Field::Cache => &t.cache,
            Ctx::Resource => t.resource.as_ref().map_or(&[][..], |r| &r.attributes),
            Ctx::Scope => t
                .scope
                .as_ref()
                .and_then(|s| s.as_ref())
                .map_or(&[][..], |s| &s.attributes),
            Ctx::Span => &t.span.as_ref().ok_or_else(|| missing(self.ctx))?.attributes,
            Ctx::SpanEvent => {
                &t.event
                    .as_ref()
                    .ok_or_else(|| missing(self.ctx))?
                    .attributes
            }
            Ctx::Log => &t.log.as_ref().ok_or_else(|| missing(self.ctx))?.attributes,
            Ctx::Metric => &t.metric.as_ref().ok_or_else(|| missing(self.ctx))?.metadata,
            Ctx::DataPoint => match t.point.as_ref().ok_or_else(|| missing(self.ctx))? {
                Point::Number(p) => &p.attributes,
                Point::Histogram(p) => &p.attributes,
                Point::ExpHistogram(p) => &p.attributes,
                Point::Summary(p) => &p.attributes,
            },
        })
    }

    /// The attribute list the path names (created for a resource or scope without one).
    pub fn attrs_mut<'b>(&self, t: &'b mut TCtx<'_>) -> R<&'b mut Vec<KeyValue>> {
        let ctx = self.ctx;
        Ok(match ctx {
            _ if self.field == Field::Cache => &mut t.cache,
            Ctx::Resource => &mut t.resource.get_or_insert_with(Default::default).attributes,
            Ctx::Scope => {
                &mut t
                    .scope
                    .as_mut()
                    .ok_or_else(|| missing(ctx))?
                    .get_or_insert_with(Default::default)
                    .attributes
            }
            Ctx::Span => &mut t.span.as_mut().ok_or_else(|| missing(ctx))?.attributes,
            Ctx::SpanEvent => &mut t.event.as_mut().ok_or_else(|| missing(ctx))?.attributes,
            Ctx::Log => &mut t.log.as_mut().ok_or_else(|| missing(ctx))?.attributes,
            Ctx::Metric => &mut t.metric.as_mut().ok_or_else(|| missing(ctx))?.metadata,
            Ctx::DataPoint => match t.point.as_mut().ok_or_else(|| missing(ctx))? {
                Point::Number(p) => &mut p.attributes,
                Point::Histogram(p) => &mut p.attributes,
                Point::ExpHistogram(p) => &mut p.attributes,
                Point::Summary(p) => &mut p.attributes,
            },
        })
    }

    /// The value of the field itself (before keys).
    fn get_field(&self, t: &TCtx<'_>) -> R<Value> {
        use Field::*;
        let m = || missing(self.ctx);
        match self.field {
            Attributes | Cache => return Ok(Value::Map(self.attrs(t)?.to_vec())),
            Body => {
                return Ok(Value::from_any(t.log.as_ref().ok_or_else(m)?.body.as_ref()));
            }
            _ => {}
        }
        if self.field == SchemaUrl {
            let url = match self.ctx {
                Ctx::Resource => t.resource_schema_url.as_deref(),
                _ => t.scope_schema_url.as_deref(),
            };
            return Ok(Value::Str(url.cloned().unwrap_or_default()));
        }
        Ok(match self.ctx {
            Ctx::Resource => match self.field {
                DroppedAttributesCount => Value::Int(
                    t.resource
                        .as_ref()
                        .map_or(0, |r| r.dropped_attributes_count) as i64,
                ),
                _ => unreachable!(),
            },
            Ctx::Scope => {
                let s = t.scope.as_ref().and_then(|s| s.as_ref());
                match self.field {
                    Name => Value::Str(s.map(|s| s.name.clone()).unwrap_or_default()),
                    Version => Value::Str(s.map(|s| s.version.clone()).unwrap_or_default()),
                    _ => Value::Int(s.map_or(0, |s| s.dropped_attributes_count) as i64),
                }
            }
            Ctx::Span => {
                let s = t.span.as_ref().ok_or_else(m)?;
                match self.field {
                    Name => nil_if_empty(&s.name),
                    TraceId => Value::Bytes(s.trace_id.to_vec()),
                    TraceIdString => id_hex(&s.trace_id, 16),
                    SpanId => Value::Bytes(s.span_id.to_vec()),
                    SpanIdString => id_hex(&s.span_id, 8),
                    ParentSpanId => Value::Bytes(s.parent_span_id.to_vec()),
                    ParentSpanIdString => id_hex(&s.parent_span_id, 8),
                    TraceState => Value::Str(s.trace_state.clone()),
                    Kind => Value::Int(s.kind as i64),
                    KindString | KindDeprecatedString => Value::Str(
                        KIND_NAMES
                            .get(s.kind as usize)
                            .map(|(go, proto)| {
                                if self.field == KindString {
                                    *go
                                } else {
                                    *proto
                                }
                            })
                            .unwrap_or_default()
                            .into(),
                    ),
                    DroppedEventsCount => Value::Int(s.dropped_events_count as i64),
                    DroppedLinksCount => Value::Int(s.dropped_links_count as i64),
                    StartTimeUnixNano => ns(s.start_time_unix_nano),
                    EndTimeUnixNano => ns(s.end_time_unix_nano),
                    StartTime => Value::Time(s.start_time_unix_nano as i64, None),
                    EndTime => Value::Time(s.end_time_unix_nano as i64, None),
                    StatusCode => Value::Int(s.status.as_ref().map_or(0, |s| s.code) as i64),
                    StatusMessage => Value::Str(
                        s.status
                            .as_ref()
                            .map(|s| s.message.clone())
                            .unwrap_or_default(),
                    ),
                    Flags => Value::Int(s.flags as i64),
                    _ => Value::Int(s.dropped_attributes_count as i64),
                }
            }
            Ctx::SpanEvent => {
                let e = t.event.as_ref().ok_or_else(m)?;
                match self.field {
                    Name => Value::Str(e.name.clone()),
                    TimeUnixNano => ns(e.time_unix_nano),
                    Time => Value::Time(e.time_unix_nano as i64, None),
                    _ => Value::Int(e.dropped_attributes_count as i64),
                }
            }
            Ctx::Log => {
                let l = t.log.as_ref().ok_or_else(m)?;
                match self.field {
                    TraceId => Value::Bytes(l.trace_id.to_vec()),
                    TraceIdString => id_hex(&l.trace_id, 16),
                    SpanId => Value::Bytes(l.span_id.to_vec()),
                    SpanIdString => id_hex(&l.span_id, 8),
                    BodyString => Value::Str(Value::from_any(l.body.as_ref()).to_display()),
                    TimeUnixNano => ns(l.time_unix_nano),
                    ObservedTimeUnixNano => ns(l.observed_time_unix_nano),
                    Time => Value::Time(l.time_unix_nano as i64, None),
                    ObservedTime => Value::Time(l.observed_time_unix_nano as i64, None),
                    Flags => Value::Int(l.flags as i64),
                    SeverityNumber => Value::Int(l.severity_number as i64),
                    SeverityText => Value::Str(l.severity_text.clone()),
                    EventName => Value::Str(l.event_name.clone()),
                    _ => Value::Int(l.dropped_attributes_count as i64),
                }
            }
            Ctx::Metric => {
                let mm = t.metric.as_ref().ok_or_else(m)?;
                match self.field {
                    Name => Value::Str(mm.name.clone()),
                    Description => Value::Str(mm.description.clone()),
                    Unit => Value::Str(mm.unit.clone()),
                    Type => Value::Int(t.metric_type),
                    AggregationTemporality => Value::Int(match &mm.data {
                        Some(Data::Sum(s)) => s.aggregation_temporality as i64,
                        Some(Data::Histogram(h)) => h.aggregation_temporality as i64,
                        Some(Data::ExponentialHistogram(h)) => h.aggregation_temporality as i64,
                        _ => 0,
                    }),
                    IsMonotonic => {
                        Value::Bool(matches!(&mm.data, Some(Data::Sum(s)) if s.is_monotonic))
                    }
                    _ => Value::Int(0),
                }
            }
            Ctx::DataPoint => {
                let p = t.point.as_ref().ok_or_else(m)?;
                let (start, time, flags) = match p {
                    Point::Number(p) => (p.start_time_unix_nano, p.time_unix_nano, p.flags),
                    Point::Histogram(p) => (p.start_time_unix_nano, p.time_unix_nano, p.flags),
                    Point::ExpHistogram(p) => (p.start_time_unix_nano, p.time_unix_nano, p.flags),
                    Point::Summary(p) => (p.start_time_unix_nano, p.time_unix_nano, p.flags),
                };
                match self.field {
                    StartTimeUnixNano => ns(start),
                    TimeUnixNano => ns(time),
                    StartTime => Value::Time(start as i64, None),
                    Time => Value::Time(time as i64, None),
                    Flags => Value::Int(flags as i64),
                    ValueDouble => match p {
                        Point::Number(p) => match p.value {
                            Some(number_data_point::Value::AsDouble(d)) => Value::Double(d),
                            _ => Value::Double(0.0),
                        },
                        _ => Value::Nil,
                    },
                    ValueInt => match p {
                        Point::Number(p) => match p.value {
                            Some(number_data_point::Value::AsInt(i)) => Value::Int(i),
                            _ => Value::Int(0),
                        },
                        _ => Value::Nil,
                    },
                    Count => match p {
                        Point::Histogram(p) => Value::Int(p.count as i64),
                        Point::ExpHistogram(p) => Value::Int(p.count as i64),
                        Point::Summary(p) => Value::Int(p.count as i64),
                        Point::Number(_) => Value::Nil,
                    },
                    Sum => match p {
                        Point::Histogram(p) => p.sum.map_or(Value::Nil, Value::Double),
                        Point::ExpHistogram(p) => p.sum.map_or(Value::Nil, Value::Double),
                        Point::Summary(p) => Value::Double(p.sum),
                        Point::Number(_) => Value::Nil,
                    },
                    // Fields of one point type are nil on the others, as in Go.
                    BucketCounts => match p {
                        Point::Histogram(p) => int_list(&p.bucket_counts),
                        _ => Value::Nil,
                    },
                    ExplicitBounds => match p {
                        Point::Histogram(p) => Value::List(
                            p.explicit_bounds
                                .iter()
                                .map(|d| Value::Double(*d).into_any())
                                .collect(),
                        ),
                        _ => Value::Nil,
                    },
                    Scale | ZeroCount | PositiveOffset | PositiveBucketCounts | NegativeOffset
                    | NegativeBucketCounts => match p {
                        Point::ExpHistogram(p) => {
                            let (pos, neg) = (p.positive.as_ref(), p.negative.as_ref());
                            match self.field {
                                Scale => Value::Int(p.scale as i64),
                                ZeroCount => Value::Int(p.zero_count as i64),
                                PositiveOffset => Value::Int(pos.map_or(0, |b| b.offset) as i64),
                                NegativeOffset => Value::Int(neg.map_or(0, |b| b.offset) as i64),
                                PositiveBucketCounts => {
                                    int_list(pos.map_or(&[][..], |b| &b.bucket_counts))
                                }
                                _ => int_list(neg.map_or(&[][..], |b| &b.bucket_counts)),
                            }
                        }
                        _ => Value::Nil,
                    },
                    _ => Value::Int(0),
                }
            }
        })
    }

    /// Reads the field through evaluated `keys` (none: the field itself); missing keys are
    /// nil.
    pub fn get(&self, t: &TCtx<'_>, keys: &[Key]) -> R<Value> {
        if keys.is_empty() {
            return self.get_field(t);
        }
        if matches!(self.field, Field::Attributes | Field::Cache) {
            let attrs = self.attrs(t)?;
            let Key::Str(first) = &keys[0] else {
                return Err("map cannot be indexed by an int".into());
            };
            let Some(v) = attrs.iter().find(|kv| &kv.key == first) else {
                return Ok(Value::Nil);
            };
            return index_any(v.value.as_ref(), &keys[1..]);
        }
        if self.field == Field::TraceState {
            let Key::Str(key) = &keys[0] else {
                return Err("trace_state must be indexed by a string".into());
            };
            let span = t.span.as_ref().ok_or_else(|| missing(self.ctx))?;
            return Ok(trace_state_get(&span.trace_state, key).map_or(Value::Nil, Value::Str));
        }
        let base = self.get_field(t)?.into_any();
        index_any(Some(&base), keys)
    }

    /// Writes the field through evaluated `keys`. Setting a field to nil is a no-op, as in
    /// OTTL's `set`.
    pub fn set(&self, t: &mut TCtx<'_>, keys: &[Key], v: Value) -> R<()> {
        use Field::*;
        if matches!(v, Value::Nil) {
            return Ok(());
        }
        if !keys.is_empty() {
            if matches!(self.field, Attributes | Cache) {
                let attrs = self.attrs_mut(t)?;
                let Key::Str(first) = &keys[0] else {
                    return Err("map cannot be indexed by an int".into());
                };
                let slot = match attrs.iter().position(|kv| &kv.key == first) {
                    Some(i) => &mut attrs[i],
                    None => {
                        attrs.push(kv(first.clone(), Value::Nil));
                        attrs.last_mut().expect("pushed")
                    }
                };
                let any = slot.value.get_or_insert_with(Default::default);
                return set_any(any, &keys[1..], v);
            }
            if self.field == Body {
                let log = t.log.as_mut().ok_or_else(|| missing(Ctx::Log))?;
                let any = log.body.get_or_insert_with(Default::default);
                return set_any(any, keys, v);
            }
            if self.field == TraceState {
                let Key::Str(key) = &keys[0] else {
                    return Err("trace_state must be indexed by a string".into());
                };
                let Value::Str(value) = v else {
                    return Ok(());
                };
                let span = t.span.as_mut().ok_or_else(|| missing(Ctx::Span))?;
                span.trace_state = trace_state_set(&span.trace_state, key, &value);
                return Ok(());
            }
            return Err(format!("{:?} cannot be indexed", self.field));
        }
        let ctx = self.ctx;
        let m = || missing(ctx);
        match self.field {
            Attributes | Cache => {
                let Value::Map(map) = v else {
                    return Err(format!("attributes must be a map, got {}", v.type_name()));
                };
                *self.attrs_mut(t)? = map;
                return Ok(());
            }
            Body => {
                t.log.as_mut().ok_or_else(m)?.body = Some(v.into_any());
                return Ok(());
            }
            BodyString => {
                let s = want_str(v, "body.string")?;
                t.log.as_mut().ok_or_else(m)?.body = Some(Value::Str(s).into_any());
                return Ok(());
            }
            SchemaUrl => {
                let s = want_str(v, "schema_url")?;
                let url = match ctx {
                    Ctx::Resource => t.resource_schema_url.as_deref_mut(),
                    _ => t.scope_schema_url.as_deref_mut(),
                };
                *url.ok_or_else(m)? = s;
                return Ok(());
            }
            _ => {}
        }
        match ctx {
            Ctx::Resource => {
                t.resource
                    .get_or_insert_with(Default::default)
                    .dropped_attributes_count = want_int(&v, "dropped_attributes_count")? as u32;
            }
            Ctx::Scope => {
                let s = t
                    .scope
                    .as_mut()
                    .ok_or_else(m)?
                    .get_or_insert_with(Default::default);
                match self.field {
                    Name => s.name = want_str(v, "name")?,
                    Version => s.version = want_str(v, "version")?,
                    _ => {
                        s.dropped_attributes_count =
                            want_int(&v, "dropped_attributes_count")? as u32
                    }
                }
            }
            Ctx::Span => {
                let s = t.span.as_mut().ok_or_else(m)?;
                match self.field {
                    Name => s.name = want_str(v, "name")?,
                    TraceId => s.trace_id = want_bytes(v, "trace_id", 16)?,
                    SpanId => s.span_id = want_bytes(v, "span_id", 8)?,
                    ParentSpanId => s.parent_span_id = want_bytes(v, "parent_span_id", 8)?,
                    TraceIdString => s.trace_id = id_from_hex(v, "trace_id.string", 16)?,
                    SpanIdString => s.span_id = id_from_hex(v, "span_id.string", 8)?,
                    ParentSpanIdString => {
                        s.parent_span_id = id_from_hex(v, "parent_span_id.string", 8)?
                    }
                    KindString | KindDeprecatedString => {
                        let name = want_str(v, "kind")?;
                        s.kind = KIND_NAMES
                            .iter()
                            .position(|(go, proto)| {
                                name == if self.field == KindString {
                                    *go
                                } else {
                                    *proto
                                }
                            })
                            .ok_or_else(|| format!("unknown span kind string, {name}"))?
                            as i32;
                    }
                    DroppedEventsCount => {
                        s.dropped_events_count = want_int(&v, "dropped_events_count")? as u32
                    }
                    DroppedLinksCount => {
                        s.dropped_links_count = want_int(&v, "dropped_links_count")? as u32
                    }
                    TraceState => s.trace_state = want_str(v, "trace_state")?,
                    Kind => s.kind = want_int(&v, "kind")? as i32,
                    StartTimeUnixNano => {
                        s.start_time_unix_nano = want_int(&v, "start_time_unix_nano")? as u64
                    }
                    EndTimeUnixNano => {
                        s.end_time_unix_nano = want_int(&v, "end_time_unix_nano")? as u64
                    }
                    StartTime => s.start_time_unix_nano = want_time(&v, "start_time")?,
                    EndTime => s.end_time_unix_nano = want_time(&v, "end_time")?,
                    StatusCode => {
                        s.status.get_or_insert_with(Status::default).code =
                            want_int(&v, "status.code")? as i32
                    }
                    StatusMessage => {
                        s.status.get_or_insert_with(Status::default).message =
                            want_str(v, "status.message")?
                    }
                    Flags => s.flags = want_int(&v, "flags")? as u32,
                    DroppedAttributesCount => {
                        s.dropped_attributes_count =
                            want_int(&v, "dropped_attributes_count")? as u32
                    }
                    _ => return Err(format!("{:?} is read-only", self.field)),
                }
            }
            Ctx::SpanEvent => {
                let e = t.event.as_mut().ok_or_else(m)?;
                match self.field {
                    Name => e.name = want_str(v, "name")?,
                    TimeUnixNano => e.time_unix_nano = want_int(&v, "time_unix_nano")? as u64,
                    Time => e.time_unix_nano = want_time(&v, "time")?,
                    _ => {
                        e.dropped_attributes_count =
                            want_int(&v, "dropped_attributes_count")? as u32
                    }
                }
            }
            Ctx::Log => {
                let l = t.log.as_mut().ok_or_else(m)?;
                match self.field {
                    TraceId => l.trace_id = want_bytes(v, "trace_id", 16)?,
                    SpanId => l.span_id = want_bytes(v, "span_id", 8)?,
                    TraceIdString => l.trace_id = id_from_hex(v, "trace_id.string", 16)?,
                    SpanIdString => l.span_id = id_from_hex(v, "span_id.string", 8)?,
                    TimeUnixNano => l.time_unix_nano = want_int(&v, "time_unix_nano")? as u64,
                    ObservedTimeUnixNano => {
                        l.observed_time_unix_nano = want_int(&v, "observed_time_unix_nano")? as u64
                    }
                    Time => l.time_unix_nano = want_time(&v, "time")?,
                    ObservedTime => l.observed_time_unix_nano = want_time(&v, "observed_time")?,
                    Flags => l.flags = want_int(&v, "flags")? as u32,
                    SeverityNumber => l.severity_number = want_int(&v, "severity_number")? as i32,
                    SeverityText => l.severity_text = want_str(v, "severity_text")?,
                    EventName => l.event_name = want_str(v, "event_name")?,
                    DroppedAttributesCount => {
                        l.dropped_attributes_count =
                            want_int(&v, "dropped_attributes_count")? as u32
                    }
                    _ => return Err(format!("{:?} is read-only", self.field)),
                }
            }
            Ctx::Metric => {
                let mm = t.metric.as_mut().ok_or_else(m)?;
                match self.field {
                    Name => mm.name = want_str(v, "name")?,
                    Description => mm.description = want_str(v, "description")?,
                    Unit => mm.unit = want_str(v, "unit")?,
                    AggregationTemporality => {
                        let a = want_int(&v, "aggregation_temporality")? as i32;
                        match &mut mm.data {
                            Some(Data::Sum(s)) => s.aggregation_temporality = a,
                            Some(Data::Histogram(h)) => h.aggregation_temporality = a,
                            Some(Data::ExponentialHistogram(h)) => h.aggregation_temporality = a,
                            _ => {}
                        }
                    }
                    IsMonotonic => {
                        let Value::Bool(b) = v else {
                            return Err("is_monotonic must be a bool".into());
                        };
                        if let Some(Data::Sum(s)) = &mut mm.data {
                            s.is_monotonic = b;
                        }
                    }
                    _ => return Err(format!("{:?} is read-only", self.field)),
                }
            }
            Ctx::DataPoint => {
                let p = t.point.as_mut().ok_or_else(m)?;
                match (self.field, p) {
                    (ValueDouble, Point::Number(p)) => match v {
                        Value::Double(d) => p.value = Some(number_data_point::Value::AsDouble(d)),
                        o => {
                            return Err(format!(
                                "value_double must be a double, got {}",
                                o.type_name()
                            ));
                        }
                    },
                    (ValueInt, Point::Number(p)) => {
                        p.value = Some(number_data_point::Value::AsInt(want_int(&v, "value_int")?))
                    }
                    (f @ (StartTimeUnixNano | TimeUnixNano | StartTime | Time | Flags), p) => {
                        let n = if matches!(f, StartTime | Time) {
                            want_time(&v, "time")?
                        } else {
                            want_int(&v, "time_unix_nano")? as u64
                        };
                        let (start, time, flags) = match p {
                            Point::Number(p) => (
                                &mut p.start_time_unix_nano,
                                &mut p.time_unix_nano,
                                &mut p.flags,
                            ),
                            Point::Histogram(p) => (
                                &mut p.start_time_unix_nano,
                                &mut p.time_unix_nano,
                                &mut p.flags,
                            ),
                            Point::ExpHistogram(p) => (
                                &mut p.start_time_unix_nano,
                                &mut p.time_unix_nano,
                                &mut p.flags,
                            ),
                            Point::Summary(p) => (
                                &mut p.start_time_unix_nano,
                                &mut p.time_unix_nano,
                                &mut p.flags,
                            ),
                        };
                        match f {
                            StartTimeUnixNano | StartTime => *start = n,
                            Flags => *flags = n as u32,
                            _ => *time = n,
                        }
                    }
                    (Count, Point::Histogram(p)) => p.count = want_int(&v, "count")? as u64,
                    (Count, Point::ExpHistogram(p)) => p.count = want_int(&v, "count")? as u64,
                    (Count, Point::Summary(p)) => p.count = want_int(&v, "count")? as u64,
                    (
                        Sum,
                        p @ (Point::Histogram(_) | Point::ExpHistogram(_) | Point::Summary(_)),
                    ) => {
                        let Value::Double(d) = v else {
                            return Err(format!("sum must be a double, got {}", v.type_name()));
                        };
                        match p {
                            Point::Histogram(p) => p.sum = Some(d),
                            Point::ExpHistogram(p) => p.sum = Some(d),
                            Point::Summary(p) => p.sum = d,
                            Point::Number(_) => unreachable!("matched above"),
                        }
                    }
                    (BucketCounts, Point::Histogram(p)) => {
                        p.bucket_counts = want_list(v, "bucket_counts", |v| match v {
                            Value::Int(i) => u64::try_from(*i).ok(),
                            _ => None,
                        })?
                    }
                    (ExplicitBounds, Point::Histogram(p)) => {
                        p.explicit_bounds = want_list(v, "explicit_bounds", |v| match v {
                            Value::Double(d) => Some(*d),
                            Value::Int(i) => Some(*i as f64),
                            _ => None,
                        })?
                    }
                    (Scale, Point::ExpHistogram(p)) => p.scale = want_int(&v, "scale")? as i32,
                    (ZeroCount, Point::ExpHistogram(p)) => {
                        p.zero_count = want_int(&v, "zero_count")? as u64
                    }
                    (
                        f @ (PositiveOffset | PositiveBucketCounts | NegativeOffset
                        | NegativeBucketCounts),
                        Point::ExpHistogram(p),
                    ) => {
                        let buckets = if matches!(f, PositiveOffset | PositiveBucketCounts) {
                            p.positive.get_or_insert_with(Default::default)
                        } else {
                            p.negative.get_or_insert_with(Default::default)
                        };
                        if matches!(f, PositiveOffset | NegativeOffset) {
                            buckets.offset = want_int(&v, "offset")? as i32;
                        } else {
                            buckets.bucket_counts = want_list(v, "bucket_counts", |v| match v {
                                Value::Int(i) => u64::try_from(*i).ok(),
                                _ => None,
                            })?;
                        }
                    }
                    // A field of another point type: nothing to set, as in Go.
                    (
                        Count | Sum | BucketCounts | ExplicitBounds | Scale | ZeroCount
                        | PositiveOffset | PositiveBucketCounts | NegativeOffset
                        | NegativeBucketCounts,
                        _,
                    ) => {}
                    (f, _) => return Err(format!("{f:?} cannot be set on this data point")),
                }
            }
        }
        Ok(())
    }
}
