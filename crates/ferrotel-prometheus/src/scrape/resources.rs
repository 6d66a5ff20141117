//! Resources of a scrape: the target's `job`/`instance` → `service.name`,
//! `service.instance.id`, `server.address`, `server.port`, `url.scheme` (the spec's list); and
//! series that keep a `job`/`instance` of their own (`honor_labels: true` on a Pushgateway or
//! federation target, or metric relabeling that rewrites them) moved to a resource of their
//! pair, as the Go receiver groups them, so job/instance are never point attributes.

use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::common::v1::{KeyValue, any_value};
use ferrotel_pdata::proto::metrics::v1::{Metric, ResourceMetrics, ScopeMetrics, metric};
use ferrotel_pdata::proto::resource::v1::Resource;

use super::convert::kv;
use super::target::Target;

/// The resource attributes of a job/instance pair scraped over `scheme`.
pub(crate) fn resource_attrs_of(
    job: Option<&str>,
    instance: Option<&str>,
    scheme: &str,
) -> Vec<KeyValue> {
    let mut attrs = Vec::new();
    if let Some(job) = job {
        attrs.push(kv("service.name", job));
    }
    if let Some(instance) = instance {
        attrs.push(kv("service.instance.id", instance));
        let (host, port) = match instance.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty() => {
                (h.trim_start_matches('[').trim_end_matches(']'), Some(p))
            }
            _ => (instance, None),
        };
        attrs.push(kv("server.address", host));
        if let Some(p) = port {
            attrs.push(kv("server.port", p));
        }
    }
    attrs.push(kv("url.scheme", scheme));
    attrs
}

/// The target's resource attributes.
pub(crate) fn resource_attrs(t: &Target) -> Vec<KeyValue> {
    resource_attrs_of(t.labels.get("job"), t.labels.get("instance"), &t.scheme)
}

type Pair = (String, String);

/// Takes `job`/`instance` out of a point's attributes; the pair the point belongs to when it
/// is not the target's.
fn own_pair(attrs: &mut Vec<KeyValue>, target: &Target) -> Option<Pair> {
    if !attrs.iter().any(|a| a.key == "job" || a.key == "instance") {
        return None;
    }
    let string = |a: &KeyValue| match a.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        _ => String::new(),
    };
    let (mut job, mut instance) = (None, None);
    attrs.retain(|a| match a.key.as_str() {
        "job" => {
            job = Some(string(a));
            false
        }
        "instance" => {
            instance = Some(string(a));
            false
        }
        _ => true,
    });
    let (tj, ti) = (
        target.labels.get("job").unwrap_or(""),
        target.labels.get("instance").unwrap_or(""),
    );
    let pair = (
        job.unwrap_or_else(|| tj.to_owned()),
        instance.unwrap_or_else(|| ti.to_owned()),
    );
    (pair.0 != tj || pair.1 != ti).then_some(pair)
}

/// Splits the points of `m` that belong to another pair off into metrics of their own.
fn split_metric(m: &mut Metric, target: &Target) -> Vec<(Pair, Metric)> {
    fn split<P>(
        points: &mut Vec<P>,
        attrs: fn(&mut P) -> &mut Vec<KeyValue>,
        target: &Target,
    ) -> Vec<(Pair, Vec<P>)> {
        let mut out: Vec<(Pair, Vec<P>)> = Vec::new();
        let mut kept = Vec::with_capacity(points.len());
        for mut p in points.drain(..) {
            match own_pair(attrs(&mut p), target) {
                None => kept.push(p),
                Some(pair) => match out.iter_mut().find(|(k, _)| *k == pair) {
                    Some((_, ps)) => ps.push(p),
                    None => out.push((pair, vec![p])),
                },
            }
        }
        *points = kept;
        out
    }
    let like = |data| Metric {
        name: m.name.clone(),
        description: m.description.clone(),
        unit: m.unit.clone(),
        metadata: m.metadata.clone(),
        data: Some(data),
    };
    let mut out = Vec::new();
    match &mut m.data {
        Some(metric::Data::Gauge(g)) => {
            for (pair, ps) in split(&mut g.data_points, |p| &mut p.attributes, target) {
                let mut g = g.clone();
                g.data_points = ps;
                out.push((pair, metric::Data::Gauge(g)));
            }
        }
        Some(metric::Data::Sum(s)) => {
            for (pair, ps) in split(&mut s.data_points, |p| &mut p.attributes, target) {
                let mut s = s.clone();
                s.data_points = ps;
                out.push((pair, metric::Data::Sum(s)));
            }
        }
        Some(metric::Data::Histogram(h)) => {
            for (pair, ps) in split(&mut h.data_points, |p| &mut p.attributes, target) {
                let mut h = h.clone();
                h.data_points = ps;
                out.push((pair, metric::Data::Histogram(h)));
            }
        }
        Some(metric::Data::Summary(s)) => {
            for (pair, ps) in split(&mut s.data_points, |p| &mut p.attributes, target) {
                let mut s = s.clone();
                s.data_points = ps;
                out.push((pair, metric::Data::Summary(s)));
            }
        }
        _ => {}
    }
    out.into_iter().map(|(pair, d)| (pair, like(d))).collect()
}

fn is_empty(m: &Metric) -> bool {
    match &m.data {
        Some(metric::Data::Gauge(g)) => g.data_points.is_empty(),
        Some(metric::Data::Sum(s)) => s.data_points.is_empty(),
        Some(metric::Data::Histogram(h)) => h.data_points.is_empty(),
        Some(metric::Data::Summary(s)) => s.data_points.is_empty(),
        _ => false,
    }
}

/// Moves series carrying a job/instance pair other than the target's into a resource per
/// pair (same scopes; the target's `target_info` attributes stay with the target's resource).
/// A request without such series is left as it is.
pub(crate) fn split_by_job_instance(req: &mut ExportMetricsServiceRequest, target: &Target) {
    let Some(rm) = req.resource_metrics.first_mut() else {
        return;
    };
    let mut others: Vec<(Pair, ResourceMetrics)> = Vec::new();
    for sm in &mut rm.scope_metrics {
        for m in &mut sm.metrics {
            for (pair, moved) in split_metric(m, target) {
                let i = match others.iter().position(|(p, _)| *p == pair) {
                    Some(i) => i,
                    None => {
                        let attributes =
                            resource_attrs_of(Some(&pair.0), Some(&pair.1), &target.scheme);
                        others.push((
                            pair,
                            ResourceMetrics {
                                resource: Some(Resource {
                                    attributes,
                                    ..Default::default()
                                }),
                                ..Default::default()
                            },
                        ));
                        others.len() - 1
                    }
                };
                let scopes = &mut others[i].1.scope_metrics;
                let s = match scopes.iter().position(|s| s.scope == sm.scope) {
                    Some(s) => s,
                    None => {
                        scopes.push(ScopeMetrics {
                            scope: sm.scope.clone(),
                            metrics: Vec::new(),
                            schema_url: sm.schema_url.clone(),
                        });
                        scopes.len() - 1
                    }
                };
                scopes[s].metrics.push(moved);
            }
        }
        sm.metrics.retain(|m| !is_empty(m));
    }
    rm.scope_metrics.retain(|sm| !sm.metrics.is_empty());
    req.resource_metrics
        .extend(others.into_iter().map(|(_, rm)| rm));
}
