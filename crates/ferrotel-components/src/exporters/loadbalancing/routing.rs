//! Splitting one request into one request per backend, by routing key.
//!
//! Traces by trace id stay encoded: the wire module regroups spans by trace id without a
//! decode and the groups of one backend are concatenated (protobuf merge). Every other key
//! works on the decoded request: resources, scopes and metrics are copied into each backend's
//! request that receives some of their items, item order kept.

use std::collections::HashMap;

use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue, any_value};
use ferrotel_pdata::proto::logs::v1::{ResourceLogs, ScopeLogs};
use ferrotel_pdata::proto::metrics::v1::{Metric, ResourceMetrics, ScopeMetrics, metric};
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::{Payload, Request, Signal, wire};
use ferrotel_runtime::ConsumeError;
use prost::Message;

use super::config::RoutingKey;
use super::ring::HashRing;

/// Parts of a request, each with the index of its backend in the ring's endpoint list.
pub type Routed = Vec<(usize, Payload)>;

/// Splits `payload` by `key` over `ring`. `fallback` supplies a key for log records without
/// a trace id (Go sends those to a random backend). The ring must not be empty.
pub fn route(
    payload: Payload,
    key: RoutingKey,
    ring: &HashRing,
    fallback: &mut dyn FnMut() -> u64,
) -> Result<Routed, ConsumeError> {
    let bad = |e: ferrotel_pdata::DecodeError| ConsumeError::permanent(e.to_string());
    match (payload.signal(), key) {
        (Signal::Traces, RoutingKey::TraceId) => traces_by_trace_id(payload, ring).map_err(bad),
        (Signal::Traces, RoutingKey::Service) => match payload.into_request().map_err(bad)? {
            Request::Traces(r) => traces_by_service(r, ring),
            _ => unreachable!("signal checked"),
        },
        (Signal::Metrics, key) => match payload.into_request().map_err(bad)? {
            Request::Metrics(r) => metrics(r, key, ring),
            _ => unreachable!("signal checked"),
        },
        (Signal::Logs, _) => match payload.into_request().map_err(bad)? {
            Request::Logs(r) => Ok(logs_by_trace_id(r, ring, fallback())),
            _ => unreachable!("signal checked"),
        },
        (signal, key) => Err(ConsumeError::permanent(format!(
            "loadbalancing: routing {signal} by {key:?} is not supported"
        ))),
    }
}

fn traces_by_trace_id(
    payload: Payload,
    ring: &HashRing,
) -> Result<Routed, ferrotel_pdata::DecodeError> {
    let bytes = payload.to_proto();
    let groups = wire::split_by_trace_id(&bytes)?;
    let mut parts: Vec<(usize, Vec<bytes::Bytes>)> = Vec::new();
    for (trace_id, group) in groups {
        let idx = ring.endpoint_index(&trace_id).expect("ring is not empty");
        match parts.iter_mut().find(|(i, _)| *i == idx) {
            Some((_, v)) => v.push(group),
            None => parts.push((idx, vec![group])),
        }
    }
    // One backend for the whole request: send it as it came.
    if parts.len() == 1 {
        return Ok(vec![(parts[0].0, payload)]);
    }
    parts
        .into_iter()
        .map(|(idx, groups)| {
            let merged = wire::merge(Signal::Traces, &groups)?;
            Ok((idx, Payload::from_proto(Signal::Traces, merged)?))
        })
        .collect()
}

fn service_name(resource: &Option<Resource>) -> Option<&str> {
    resource
        .as_ref()?
        .attributes
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        })
}

#[cfg(test)]
pub fn tests_service_name(resource: &Option<Resource>) -> String {
    service_name(resource).unwrap_or_default().to_string()
}

fn traces_by_service(
    r: ExportTraceServiceRequest,
    ring: &HashRing,
) -> Result<Routed, ConsumeError> {
    let mut out: HashMap<usize, ExportTraceServiceRequest> = HashMap::new();
    let mut order = Vec::new();
    for rs in r.resource_spans {
        // As Go: every resource must name its service, or the request is refused.
        let Some(svc) = service_name(&rs.resource) else {
            return Err(ConsumeError::permanent(
                "loadbalancing: unable to get service name (routing_key: service needs the resource attribute service.name)",
            ));
        };
        let idx = ring
            .endpoint_index(svc.as_bytes())
            .expect("ring is not empty");
        out.entry(idx)
            .or_insert_with(|| {
                order.push(idx);
                ExportTraceServiceRequest::default()
            })
            .resource_spans
            .push(rs);
    }
    Ok(order
        .into_iter()
        .map(|i| {
            let req = out.remove(&i).expect("listed");
            (i, Payload::from_request(Request::Traces(req)))
        })
        .collect())
}

/// Log records by their trace id; records without one go together to `fallback`'s backend.
fn logs_by_trace_id(r: ExportLogsServiceRequest, ring: &HashRing, fallback: u64) -> Routed {
    let fallback_idx = ring
        .endpoint_index(&fallback.to_le_bytes())
        .expect("ring is not empty");
    let mut out: Vec<(usize, ExportLogsServiceRequest)> = Vec::new();
    for rl in r.resource_logs {
        let ResourceLogs {
            resource,
            scope_logs,
            schema_url,
        } = rl;
        // Per backend: its copy of this resource, built when it first gets a record.
        let mut per_backend: Vec<(usize, ResourceLogs)> = Vec::new();
        for sl in scope_logs {
            let ScopeLogs {
                scope,
                log_records,
                schema_url: scope_schema,
            } = sl;
            let mut scopes: Vec<(usize, ScopeLogs)> = Vec::new();
            for rec in log_records {
                let idx = if rec.trace_id.is_empty() || rec.trace_id.iter().all(|b| *b == 0) {
                    fallback_idx
                } else {
                    ring.endpoint_index(&rec.trace_id)
                        .expect("ring is not empty")
                };
                let pos = scopes
                    .iter()
                    .position(|(i, _)| *i == idx)
                    .unwrap_or_else(|| {
                        scopes.push((
                            idx,
                            ScopeLogs {
                                scope: scope.clone(),
                                log_records: Vec::new(),
                                schema_url: scope_schema.clone(),
                            },
                        ));
                        scopes.len() - 1
                    });
                scopes[pos].1.log_records.push(rec);
            }
            for (idx, s) in scopes {
                resource_entry(&mut per_backend, idx, || ResourceLogs {
                    resource: resource.clone(),
                    scope_logs: Vec::new(),
                    schema_url: schema_url.clone(),
                })
                .scope_logs
                .push(s);
            }
        }
        for (idx, rl) in per_backend {
            resource_entry(&mut out, idx, ExportLogsServiceRequest::default)
                .resource_logs
                .push(rl);
        }
    }
    out.into_iter()
        .map(|(i, r)| (i, Payload::from_request(Request::Logs(r))))
        .collect()
}

fn resource_entry<T>(v: &mut Vec<(usize, T)>, idx: usize, new: impl FnOnce() -> T) -> &mut T {
    let pos = match v.iter().position(|(i, _)| *i == idx) {
        Some(p) => p,
        None => {
            v.push((idx, new()));
            v.len() - 1
        }
    };
    &mut v[pos].1
}

/// Attributes in a canonical byte form (sorted by key), for identity keys.
fn attributes_key(out: &mut Vec<u8>, attrs: &[KeyValue]) {
    let mut sorted: Vec<&KeyValue> = attrs.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    for kv in sorted {
        out.extend_from_slice(&(kv.key.len() as u32).to_le_bytes());
        out.extend_from_slice(kv.key.as_bytes());
        let v = kv.value.clone().unwrap_or(AnyValue { value: None });
        let enc = v.encode_to_vec();
        out.extend_from_slice(&(enc.len() as u32).to_le_bytes());
        out.extend_from_slice(&enc);
    }
    out.push(0xff);
}

fn resource_key(resource: &Option<Resource>) -> Vec<u8> {
    let mut k = Vec::new();
    attributes_key(
        &mut k,
        resource.as_ref().map(|r| &r.attributes[..]).unwrap_or(&[]),
    );
    k
}

fn metrics(
    r: ExportMetricsServiceRequest,
    key: RoutingKey,
    ring: &HashRing,
) -> Result<Routed, ConsumeError> {
    let mut out: Vec<(usize, ExportMetricsServiceRequest)> = Vec::new();
    let mut missing_service = 0usize;
    let total = r.resource_metrics.len();
    for rm in r.resource_metrics {
        match key {
            RoutingKey::Service | RoutingKey::Resource => {
                let k = if key == RoutingKey::Service {
                    match service_name(&rm.resource) {
                        Some(s) => s.as_bytes().to_vec(),
                        None => {
                            // As Go: such resources are dropped, and logged.
                            missing_service += 1;
                            continue;
                        }
                    }
                } else {
                    resource_key(&rm.resource)
                };
                let idx = ring.endpoint_index(&k).expect("ring is not empty");
                resource_entry(&mut out, idx, Default::default)
                    .resource_metrics
                    .push(rm);
            }
            RoutingKey::Metric | RoutingKey::StreamId => {
                for (idx, rm) in metrics_split(rm, key, ring) {
                    resource_entry(&mut out, idx, Default::default)
                        .resource_metrics
                        .push(rm);
                }
            }
            RoutingKey::TraceId => {
                return Err(ConsumeError::permanent(
                    "loadbalancing: routing_key traceID is not supported for metrics",
                ));
            }
        }
    }
    if missing_service > 0 {
        tracing::error!(
            resources = missing_service,
            "loadbalancing: resource metrics without service.name dropped (routing_key: service)"
        );
        if missing_service == total {
            return Err(ConsumeError::permanent(
                "loadbalancing: unable to get service name from any resource metric",
            ));
        }
    }
    Ok(out
        .into_iter()
        .map(|(i, r)| (i, Payload::from_request(Request::Metrics(r))))
        .collect())
}

/// A resource's metrics by metric name or by stream (resource, scope, metric identity and
/// data point attributes).
fn metrics_split(
    rm: ResourceMetrics,
    key: RoutingKey,
    ring: &HashRing,
) -> Vec<(usize, ResourceMetrics)> {
    let ResourceMetrics {
        resource,
        scope_metrics,
        schema_url,
    } = rm;
    let res_key = resource_key(&resource);
    let mut per_backend: Vec<(usize, ResourceMetrics)> = Vec::new();
    for sm in scope_metrics {
        let ScopeMetrics {
            scope,
            metrics,
            schema_url: scope_schema,
        } = sm;
        let mut scope_key = res_key.clone();
        if let Some(s) = &scope {
            scope_key.extend_from_slice(s.name.as_bytes());
            scope_key.push(0);
            scope_key.extend_from_slice(s.version.as_bytes());
            scope_key.push(0);
            attributes_key(&mut scope_key, &s.attributes);
        }
        let mut scopes: Vec<(usize, ScopeMetrics)> = Vec::new();
        for m in metrics {
            let parts: Vec<(usize, Metric)> = if key == RoutingKey::Metric {
                let idx = ring
                    .endpoint_index(m.name.as_bytes())
                    .expect("ring is not empty");
                vec![(idx, m)]
            } else {
                split_points(m, &scope_key, ring)
            };
            for (idx, m) in parts {
                resource_entry(&mut scopes, idx, || ScopeMetrics {
                    scope: scope.clone(),
                    metrics: Vec::new(),
                    schema_url: scope_schema.clone(),
                })
                .metrics
                .push(m);
            }
        }
        for (idx, s) in scopes {
            resource_entry(&mut per_backend, idx, || ResourceMetrics {
                resource: resource.clone(),
                scope_metrics: Vec::new(),
                schema_url: schema_url.clone(),
            })
            .scope_metrics
            .push(s);
        }
    }
    per_backend
}

/// One metric's data points by stream identity.
fn split_points(m: Metric, scope_key: &[u8], ring: &HashRing) -> Vec<(usize, Metric)> {
    let mut metric_key = scope_key.to_vec();
    metric_key.extend_from_slice(m.name.as_bytes());
    metric_key.push(0);
    metric_key.extend_from_slice(m.unit.as_bytes());
    metric_key.push(0);
    match &m.data {
        Some(metric::Data::Gauge(_)) => metric_key.push(1),
        Some(metric::Data::Sum(s)) => metric_key.extend_from_slice(&[
            2,
            s.aggregation_temporality as u8,
            s.is_monotonic as u8,
        ]),
        Some(metric::Data::Histogram(h)) => {
            metric_key.extend_from_slice(&[3, h.aggregation_temporality as u8])
        }
        Some(metric::Data::ExponentialHistogram(h)) => {
            metric_key.extend_from_slice(&[4, h.aggregation_temporality as u8])
        }
        Some(metric::Data::Summary(_)) => metric_key.push(5),
        None => {}
    }
    let idx_of = |attrs: &[KeyValue]| {
        let mut k = metric_key.clone();
        attributes_key(&mut k, attrs);
        ring.endpoint_index(&k).expect("ring is not empty")
    };
    let Metric {
        name,
        description,
        unit,
        metadata,
        data,
    } = m;
    let shell = |data| Metric {
        name: name.clone(),
        description: description.clone(),
        unit: unit.clone(),
        metadata: metadata.clone(),
        data: Some(data),
    };
    // Partitions the points of one data kind, keeping each backend's points in order.
    fn partition<P>(points: Vec<P>, idx: impl Fn(&P) -> usize) -> Vec<(usize, Vec<P>)> {
        let mut out: Vec<(usize, Vec<P>)> = Vec::new();
        for p in points {
            let i = idx(&p);
            resource_entry(&mut out, i, Vec::new).push(p);
        }
        out
    }
    match data {
        None => vec![(idx_of(&[]), shell_none(name, description, unit, metadata))],
        Some(metric::Data::Gauge(g)) => partition(g.data_points, |p| idx_of(&p.attributes))
            .into_iter()
            .map(|(i, pts)| {
                let g2 = ferrotel_pdata::proto::metrics::v1::Gauge { data_points: pts };
                (i, shell(metric::Data::Gauge(g2)))
            })
            .collect(),
        Some(metric::Data::Sum(s)) => {
            let (temporality, monotonic) = (s.aggregation_temporality, s.is_monotonic);
            partition(s.data_points, |p| idx_of(&p.attributes))
                .into_iter()
                .map(|(i, pts)| {
                    let s2 = ferrotel_pdata::proto::metrics::v1::Sum {
                        data_points: pts,
                        aggregation_temporality: temporality,
                        is_monotonic: monotonic,
                    };
                    (i, shell(metric::Data::Sum(s2)))
                })
                .collect()
        }
        Some(metric::Data::Histogram(h)) => {
            let temporality = h.aggregation_temporality;
            partition(h.data_points, |p| idx_of(&p.attributes))
                .into_iter()
                .map(|(i, pts)| {
                    let h2 = ferrotel_pdata::proto::metrics::v1::Histogram {
                        data_points: pts,
                        aggregation_temporality: temporality,
                    };
                    (i, shell(metric::Data::Histogram(h2)))
                })
                .collect()
        }
        Some(metric::Data::ExponentialHistogram(h)) => {
            let temporality = h.aggregation_temporality;
            partition(h.data_points, |p| idx_of(&p.attributes))
                .into_iter()
                .map(|(i, pts)| {
                    let h2 = ferrotel_pdata::proto::metrics::v1::ExponentialHistogram {
                        data_points: pts,
                        aggregation_temporality: temporality,
                    };
                    (i, shell(metric::Data::ExponentialHistogram(h2)))
                })
                .collect()
        }
        Some(metric::Data::Summary(s)) => partition(s.data_points, |p| idx_of(&p.attributes))
            .into_iter()
            .map(|(i, pts)| {
                let s2 = ferrotel_pdata::proto::metrics::v1::Summary { data_points: pts };
                (i, shell(metric::Data::Summary(s2)))
            })
            .collect(),
    }
}

fn shell_none(name: String, description: String, unit: String, metadata: Vec<KeyValue>) -> Metric {
    Metric {
        name,
        description,
        unit,
        metadata,
        data: None,
    }
}
