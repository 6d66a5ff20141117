//! `count` connector (traces, metrics, logs → metrics): counts spans, span events, metrics,
//! data points and log records, as the Go Collector's `countconnector` — per resource, a
//! monotonic delta sum per configured metric and set of attribute values, sent at once for each
//! payload that comes in. Conditions are OTTL, compiled once (as the `filter` processor's).

pub mod config;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ferrotel_ottl::{Condition, Ctx, Point, TCtx};
use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use ferrotel_pdata::proto::metrics::v1::{
    AggregationTemporality, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
    metric::Data, number_data_point,
};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_runtime::*;

pub use config::CountConfig;
use config::{AttributeConfig, KINDS};

/// The instrumentation scope of the metrics (as Go names it).
pub const SCOPE_NAME: &str =
    "github.com/open-telemetry/opentelemetry-collector-contrib/connector/countconnector";

/// Factory of the `count` connector.
pub struct CountConnectorFactory;

impl ConnectorFactory for CountConnectorFactory {
    type Config = CountConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "count",
            "Counts spans, span events, metrics, data points and logs",
        )
        .connects(Signal::Traces, Signal::Metrics)
        .connects(Signal::Metrics, Signal::Metrics)
        .connects(Signal::Logs, Signal::Metrics)
    }

    fn create(
        &self,
        _ctx: CreateContext,
        config: Self::Config,
        from: Signal,
        _to: Signal,
        next: ConsumerRef,
    ) -> Result<Arc<dyn Connector>, ComponentError> {
        Ok(Arc::new(Count::new(&config, from, next)?))
    }
}

/// The points of one count metric: attribute values → (attributes, count).
type Points = BTreeMap<Vec<String>, (Vec<KeyValue>, u64)>;

/// One configured count metric.
struct MetricDef {
    name: String,
    description: String,
    conditions: Vec<Condition>,
    attributes: Vec<AttributeConfig>,
}

/// The count metrics of one OTTL context.
struct Group {
    ctx: Ctx,
    defs: Vec<MetricDef>,
}

pub struct Count {
    groups: Vec<Group>,
    next: ConsumerRef,
}

fn any_to_string(v: &AnyValue) -> String {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => ferrotel_ottl::value::fmt_double(*d),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        other => ferrotel_ottl::value::Value::from_any(Some(&AnyValue {
            value: other.clone(),
        }))
        .to_display(),
    }
}

fn lookup(sources: &[&[KeyValue]], key: &str) -> Option<String> {
    sources.iter().find_map(|s| {
        s.iter()
            .find(|kv| kv.key == key)
            .map(|kv| kv.value.as_ref().map(any_to_string).unwrap_or_default())
    })
}

/// The attributes of the item a context points at.
fn item_attributes<'a>(t: &'a TCtx<'_>) -> &'a [KeyValue] {
    if let Some(e) = &t.event {
        return &e.attributes;
    }
    if let Some(s) = &t.span {
        return &s.attributes;
    }
    if let Some(l) = &t.log {
        return &l.attributes;
    }
    match &t.point {
        Some(Point::Number(p)) => &p.attributes,
        Some(Point::Histogram(p)) => &p.attributes,
        Some(Point::ExpHistogram(p)) => &p.attributes,
        Some(Point::Summary(p)) => &p.attributes,
        None => &[],
    }
}

impl Count {
    pub fn new(
        config: &CountConfig,
        from: Signal,
        next: ConsumerRef,
    ) -> Result<Self, ComponentError> {
        let mut groups = Vec::new();
        for (key, ctx, _, _) in KINDS {
            let applies = match ctx {
                Ctx::Span | Ctx::SpanEvent => from == Signal::Traces,
                Ctx::Metric | Ctx::DataPoint => from == Signal::Metrics,
                _ => from == Signal::Logs,
            };
            if !applies {
                continue;
            }
            let mut defs = Vec::new();
            for (name, info) in config.kind(key) {
                let conditions = ferrotel_ottl::parse_conditions(&info.conditions, ctx)
                    .map_err(|e| ComponentError::new(format!("{key}::{name}::conditions: {e}")))?;
                defs.push(MetricDef {
                    name,
                    description: info.description,
                    conditions,
                    attributes: info.attributes,
                });
            }
            groups.push(Group { ctx, defs });
        }
        Ok(Count { groups, next })
    }

    /// The count metrics of a request, one resource at a time.
    pub fn count(&self, req: Request, now: u64) -> Result<ExportMetricsServiceRequest, String> {
        let mut out = Vec::new();
        for one in split_resources(req) {
            let mut one = one;
            let mut resource: Option<Resource> = None;
            let mut counts: BTreeMap<&str, Points> = BTreeMap::new();
            for g in &self.groups {
                let mut err = None;
                ferrotel_ottl::walk(&mut one, g.ctx, false, &mut |t| {
                    if resource.is_none() {
                        resource = Some(t.resource.clone().unwrap_or_default());
                    }
                    let item = item_attributes(t);
                    let scope: &[KeyValue] = t
                        .scope
                        .as_ref()
                        .and_then(|s| s.as_ref())
                        .map_or(&[], |s| s.attributes.as_slice());
                    let res: &[KeyValue] =
                        t.resource.as_ref().map_or(&[], |r| r.attributes.as_slice());
                    'defs: for d in &g.defs {
                        let mut values = Vec::with_capacity(d.attributes.len());
                        for a in &d.attributes {
                            match lookup(&[item, scope, res], &a.key)
                                .or_else(|| a.default_value.clone().filter(|v| !v.is_empty()))
                            {
                                Some(v) => values.push(v),
                                // Items without a required attribute are not counted.
                                None => continue 'defs,
                            }
                        }
                        if !d.conditions.is_empty() {
                            let mut matched = false;
                            for c in &d.conditions {
                                match c.eval(t) {
                                    Ok(true) => {
                                        matched = true;
                                        break;
                                    }
                                    Ok(false) => {}
                                    Err(e) => {
                                        err.get_or_insert(format!(
                                            "metric {:?}: failed to eval condition {}: {e}",
                                            d.name,
                                            c.text()
                                        ));
                                    }
                                }
                            }
                            if !matched {
                                continue;
                            }
                        }
                        let entry = counts
                            .entry(d.name.as_str())
                            .or_default()
                            .entry(values.clone())
                            .or_insert_with(|| {
                                let attrs = d
                                    .attributes
                                    .iter()
                                    .zip(&values)
                                    .map(|(a, v)| KeyValue {
                                        key: a.key.clone(),
                                        value: Some(AnyValue {
                                            value: Some(any_value::Value::StringValue(v.clone())),
                                        }),
                                        ..Default::default()
                                    })
                                    .collect();
                                (attrs, 0)
                            });
                        entry.1 += 1;
                    }
                    Ok(true)
                })?;
                if let Some(e) = err {
                    return Err(e);
                }
            }
            if counts.is_empty() {
                continue;
            }
            let mut metrics = Vec::new();
            for g in &self.groups {
                for d in &g.defs {
                    let Some(points) = counts.remove(d.name.as_str()) else {
                        continue;
                    };
                    metrics.push(Metric {
                        name: d.name.clone(),
                        description: d.description.clone(),
                        data: Some(Data::Sum(Sum {
                            data_points: points
                                .into_values()
                                .map(|(attributes, n)| NumberDataPoint {
                                    attributes,
                                    time_unix_nano: now,
                                    value: Some(number_data_point::Value::AsInt(n as i64)),
                                    ..Default::default()
                                })
                                .collect(),
                            aggregation_temporality: AggregationTemporality::Delta as i32,
                            is_monotonic: true,
                        })),
                        ..Default::default()
                    });
                }
            }
            out.push(ResourceMetrics {
                resource: Some(Resource {
                    attributes: resource.map(|r| r.attributes).unwrap_or_default(),
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: SCOPE_NAME.into(),
                        ..Default::default()
                    }),
                    metrics,
                    ..Default::default()
                }],
                ..Default::default()
            });
        }
        Ok(ExportMetricsServiceRequest {
            resource_metrics: out,
        })
    }
}

/// One request per resource, so counts stay per resource.
fn split_resources(req: Request) -> Vec<Request> {
    use ferrotel_pdata::proto::collector::{
        logs::v1::ExportLogsServiceRequest, trace::v1::ExportTraceServiceRequest,
    };
    match req {
        Request::Traces(r) => r
            .resource_spans
            .into_iter()
            .map(|rs| {
                Request::Traces(ExportTraceServiceRequest {
                    resource_spans: vec![rs],
                })
            })
            .collect(),
        Request::Metrics(r) => r
            .resource_metrics
            .into_iter()
            .map(|rm| {
                Request::Metrics(ExportMetricsServiceRequest {
                    resource_metrics: vec![rm],
                })
            })
            .collect(),
        Request::Logs(r) => r
            .resource_logs
            .into_iter()
            .map(|rl| {
                Request::Logs(ExportLogsServiceRequest {
                    resource_logs: vec![rl],
                })
            })
            .collect(),
        Request::Profiles(_) => Vec::new(),
    }
}

impl Consumer for Count {
    fn consume(&self, payload: Payload, ctx: Context) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            if payload.is_empty() {
                return Ok(());
            }
            let req = payload
                .into_request()
                .map_err(|e| ConsumeError::permanent(format!("count: {e}")))?;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            let out = self
                .count(req, now)
                .map_err(|e| ConsumeError::permanent(format!("count: {e}")))?;
            if out.resource_metrics.is_empty() {
                return Ok(());
            }
            self.next
                .consume(Payload::from_request(Request::Metrics(out)), ctx)
                .await
        })
    }
}

impl Lifecycle for Count {}
impl Connector for Count {}

#[cfg(test)]
mod tests;
