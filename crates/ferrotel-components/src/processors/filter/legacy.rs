//! The legacy `include`/`exclude` form of the filter processor, matched with the attributes
//! processor's [`Matcher`] (the Go Collector's `filterconfig.MatchProperties` rules).
//!
//! An item is kept when it matches `include` (if set) and does not match `exclude` (if set).
//! Metrics are matched in two independent steps, as in Go: `resource_attributes` keep or drop
//! whole resources, `metric_names` (or, with `match_type: expr`, `expressions`: see
//! [`super::expr`]) keep or drop metrics. Scopes and resources left empty are removed.

use ferrotel_pdata::proto::common::v1::KeyValue;
use ferrotel_pdata::proto::resource::v1::Resource;
use ferrotel_pdata::{Request, Signal};

use super::config::{FilterConfig, LogMatchProperties, MetricMatchProperties, compile_match};
use super::expr::MetricExprs;
use crate::processors::attributes::matcher::{Filter, MatchProperties};

type PartResult = Result<Option<MatchProperties>, String>;

/// The compiled legacy filter of one signal.
#[derive(Debug, Clone)]
pub enum Legacy {
    Spans(Filter),
    Metrics {
        resources: Box<Filter>,
        names: Box<Filter>,
        /// `include` and `exclude` expressions (`match_type: expr`).
        exprs: Box<(Option<MetricExprs>, Option<MetricExprs>)>,
    },
    Logs(Filter),
}

fn filter(
    include: Option<MatchProperties>,
    exclude: Option<MatchProperties>,
    signal: Signal,
    path: &str,
) -> Result<Filter, String> {
    let build = |p: Option<MatchProperties>, what: &str| {
        p.map(|p| compile_match(&p, signal).map_err(|e| format!("{path}::{what}: {e}")))
            .transpose()
    };
    Ok(Filter {
        include: build(include, "include")?,
        exclude: build(exclude, "exclude")?,
    })
}

fn attrs(r: &Option<Resource>) -> &[KeyValue] {
    r.as_ref().map_or(&[], |r| &r.attributes)
}

impl Legacy {
    /// The legacy filter configured for `signal`, if any.
    pub fn build(config: &FilterConfig, signal: Signal) -> Result<Option<Legacy>, String> {
        Ok(match signal {
            Signal::Traces => {
                let s = &config.spans;
                let f = filter(s.include.clone(), s.exclude.clone(), signal, "spans")?;
                (!f.is_empty()).then_some(Legacy::Spans(f))
            }
            Signal::Metrics => {
                let m = &config.metrics;
                let part =
                    |p: &Option<MetricMatchProperties>,
                     what: &str,
                     f: fn(&MetricMatchProperties) -> PartResult| {
                        p.as_ref()
                            .map(f)
                            .transpose()
                            .map(Option::flatten)
                            .map_err(|e| format!("metrics::{what}: {e}"))
                    };
                let resources = filter(
                    part(&m.include, "include", MetricMatchProperties::resource_match)?,
                    part(&m.exclude, "exclude", MetricMatchProperties::resource_match)?,
                    signal,
                    "metrics",
                )?;
                let names = filter(
                    part(&m.include, "include", MetricMatchProperties::name_match)?,
                    part(&m.exclude, "exclude", MetricMatchProperties::name_match)?,
                    signal,
                    "metrics",
                )?;
                let exprs = (
                    part_expr(&m.include, "include")?,
                    part_expr(&m.exclude, "exclude")?,
                );
                let has_exprs = exprs.0.is_some() || exprs.1.is_some();
                (!resources.is_empty() || !names.is_empty() || has_exprs).then(|| Legacy::Metrics {
                    resources: Box::new(resources),
                    names: Box::new(names),
                    exprs: Box::new(exprs),
                })
            }
            Signal::Logs => {
                let l = &config.logs;
                let props = |p: &Option<LogMatchProperties>| {
                    p.as_ref()
                        .filter(|p| !p.is_empty())
                        .map(|p| p.match_properties())
                };
                let f = filter(props(&l.include), props(&l.exclude), signal, "logs")?;
                (!f.is_empty()).then_some(Legacy::Logs(f))
            }
            Signal::Profiles => None,
        })
    }

    /// Drops the items the filter does not keep. An expression that fails to evaluate keeps
    /// its metric, and the first such error is returned once the request is done (as Go's
    /// filter processor returns them).
    pub fn apply(&self, request: &mut Request) -> Result<(), String> {
        let mut first_error = None;
        match (self, request) {
            (Legacy::Spans(f), Request::Traces(t)) => {
                t.resource_spans.retain_mut(|rs| {
                    let res = attrs(&rs.resource);
                    rs.scope_spans.retain_mut(|ss| {
                        let scope = ss.scope.as_ref();
                        ss.spans
                            .retain(|s| f.keep(|m| m.matches_span(res, scope, s)));
                        !ss.spans.is_empty()
                    });
                    !rs.scope_spans.is_empty()
                });
            }
            (
                Legacy::Metrics {
                    resources,
                    names,
                    exprs,
                },
                Request::Metrics(r),
            ) => {
                let (include, exclude) = &**exprs;
                let mut matches = |e: &MetricExprs, metric: &_| match e.matches(metric) {
                    Ok(m) => Some(m),
                    Err(err) => {
                        first_error.get_or_insert(err);
                        None
                    }
                };
                r.resource_metrics.retain_mut(|rm| {
                    let res = attrs(&rm.resource);
                    if !resources.keep(|m| m.matches_metric(res, "")) {
                        return false;
                    }
                    if names.is_empty() && include.is_none() && exclude.is_none() {
                        return !rm.scope_metrics.is_empty();
                    }
                    rm.scope_metrics.retain_mut(|sm| {
                        sm.metrics.retain(|metric| {
                            if !names.keep(|m| m.matches_metric(&[], &metric.name)) {
                                return false;
                            }
                            let included = include
                                .as_ref()
                                .is_none_or(|e| matches(e, metric).unwrap_or(true));
                            let excluded = exclude
                                .as_ref()
                                .is_some_and(|e| matches(e, metric).unwrap_or(false));
                            included && !excluded
                        });
                        !sm.metrics.is_empty()
                    });
                    !rm.scope_metrics.is_empty()
                });
            }
            (Legacy::Logs(f), Request::Logs(l)) => {
                l.resource_logs.retain_mut(|rl| {
                    let res = attrs(&rl.resource);
                    rl.scope_logs.retain_mut(|sl| {
                        let scope = sl.scope.as_ref();
                        sl.log_records
                            .retain(|r| f.keep(|m| m.matches_log(res, scope, r)));
                        !sl.log_records.is_empty()
                    });
                    !rl.scope_logs.is_empty()
                });
            }
            _ => {}
        }
        first_error.map_or(Ok(()), Err)
    }
}

fn part_expr(p: &Option<MetricMatchProperties>, what: &str) -> Result<Option<MetricExprs>, String> {
    p.as_ref()
        .map(MetricMatchProperties::expr_match)
        .transpose()
        .map(Option::flatten)
        .map_err(|e| format!("metrics::{what}: {e}"))
}
