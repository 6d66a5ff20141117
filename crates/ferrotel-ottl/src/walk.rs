//! Runs a callback over every item of one OTTL context in a request, optionally dropping
//! items (and, with `prune`, the resources, scopes and metrics left empty).

use ferrotel_pdata::Request;
use ferrotel_pdata::payload::metric_point_count;
use ferrotel_pdata::proto::metrics::v1::metric::Data;

use crate::context::{Ctx, Point, TCtx, metric_type};

/// What the callback answers for an item: keep it (`Ok(true)`), drop it, or an error (the walk
/// stops calling and returns it, keeping the remaining items).
pub type Visit<'f> = &'f mut dyn FnMut(&mut TCtx<'_>) -> Result<bool, String>;

struct Run<'f, 'g> {
    f: Visit<'f>,
    err: Option<String>,
    _g: std::marker::PhantomData<&'g ()>,
}

impl Run<'_, '_> {
    fn call(&mut self, t: &mut TCtx<'_>) -> bool {
        if self.err.is_some() {
            return true;
        }
        match (self.f)(t) {
            Ok(k) => k,
            Err(e) => {
                self.err = Some(e);
                true
            }
        }
    }
}

type Scope = Option<ferrotel_pdata::proto::common::v1::InstrumentationScope>;

fn base<'a>(
    resource: &'a mut Option<ferrotel_pdata::proto::resource::v1::Resource>,
    resource_schema_url: &'a mut String,
    scope: Option<(&'a mut Scope, &'a mut String)>,
) -> TCtx<'a> {
    let mut t = TCtx::new(resource);
    t.resource_schema_url = Some(resource_schema_url);
    if let Some((scope, url)) = scope {
        t.scope = Some(scope);
        t.scope_schema_url = Some(url);
    }
    t
}

/// Visits every item of `ctx` in `req`.
pub fn walk(req: &mut Request, ctx: Ctx, prune: bool, f: Visit<'_>) -> Result<(), String> {
    let mut run = Run {
        f,
        err: None,
        _g: std::marker::PhantomData,
    };
    match req {
        Request::Traces(r) => {
            r.resource_spans.retain_mut(|rs| {
                if ctx == Ctx::Resource {
                    return run.call(&mut base(&mut rs.resource, &mut rs.schema_url, None));
                }
                let resource = &mut rs.resource;
                let resource_url = &mut rs.schema_url;
                rs.scope_spans.retain_mut(|ss| {
                    let scope = &mut ss.scope;
                    let scope_url = &mut ss.schema_url;
                    if ctx == Ctx::Scope {
                        return run.call(&mut base(
                            resource,
                            resource_url,
                            Some((&mut *scope, &mut *scope_url)),
                        ));
                    }
                    ss.spans.retain_mut(|span| {
                        if ctx == Ctx::SpanEvent {
                            let mut events = std::mem::take(&mut span.events);
                            events.retain_mut(|ev| {
                                let mut t = base(
                                    resource,
                                    resource_url,
                                    Some((&mut *scope, &mut *scope_url)),
                                );
                                t.span = Some(&mut *span);
                                t.event = Some(ev);
                                run.call(&mut t)
                            });
                            span.events = events;
                            return true;
                        }
                        let mut t =
                            base(resource, resource_url, Some((&mut *scope, &mut *scope_url)));
                        t.span = Some(span);
                        run.call(&mut t)
                    });
                    !(prune && ss.spans.is_empty())
                });
                !(prune && rs.scope_spans.is_empty())
            });
        }
        Request::Logs(r) => {
            r.resource_logs.retain_mut(|rl| {
                if ctx == Ctx::Resource {
                    return run.call(&mut base(&mut rl.resource, &mut rl.schema_url, None));
                }
                let resource = &mut rl.resource;
                let resource_url = &mut rl.schema_url;
                rl.scope_logs.retain_mut(|sl| {
                    let scope = &mut sl.scope;
                    let scope_url = &mut sl.schema_url;
                    if ctx == Ctx::Scope {
                        return run.call(&mut base(
                            resource,
                            resource_url,
                            Some((&mut *scope, &mut *scope_url)),
                        ));
                    }
                    sl.log_records.retain_mut(|log| {
                        let mut t =
                            base(resource, resource_url, Some((&mut *scope, &mut *scope_url)));
                        t.log = Some(log);
                        run.call(&mut t)
                    });
                    !(prune && sl.log_records.is_empty())
                });
                !(prune && rl.scope_logs.is_empty())
            });
        }
        Request::Metrics(r) => {
            r.resource_metrics.retain_mut(|rm| {
                if ctx == Ctx::Resource {
                    return run.call(&mut base(&mut rm.resource, &mut rm.schema_url, None));
                }
                let resource = &mut rm.resource;
                let resource_url = &mut rm.schema_url;
                rm.scope_metrics.retain_mut(|sm| {
                    let scope = &mut sm.scope;
                    let scope_url = &mut sm.schema_url;
                    if ctx == Ctx::Scope {
                        return run.call(&mut base(
                            resource,
                            resource_url,
                            Some((&mut *scope, &mut *scope_url)),
                        ));
                    }
                    let mut created = Vec::new();
                    sm.metrics.retain_mut(|metric| {
                        let mt = metric_type(metric.data.as_ref());
                        if ctx == Ctx::Metric {
                            let mut t =
                                base(resource, resource_url, Some((&mut *scope, &mut *scope_url)));
                            t.metric = Some(metric);
                            t.metric_type = mt;
                            let keep = run.call(&mut t);
                            created.append(&mut t.new_metrics);
                            return keep;
                        }
                        let mut data = metric.data.take();
                        macro_rules! points {
                            ($pts:expr, $variant:ident) => {
                                $pts.retain_mut(|p| {
                                    let mut t = base(
                                        resource,
                                        resource_url,
                                        Some((&mut *scope, &mut *scope_url)),
                                    );
                                    t.metric = Some(&mut *metric);
                                    t.metric_type = mt;
                                    t.point = Some(Point::$variant(p));
                                    run.call(&mut t)
                                })
                            };
                        }
                        match &mut data {
                            Some(Data::Gauge(g)) => points!(g.data_points, Number),
                            Some(Data::Sum(s)) => points!(s.data_points, Number),
                            Some(Data::Histogram(h)) => points!(h.data_points, Histogram),
                            Some(Data::ExponentialHistogram(h)) => {
                                points!(h.data_points, ExpHistogram)
                            }
                            Some(Data::Summary(s)) => points!(s.data_points, Summary),
                            None => {}
                        }
                        metric.data = data;
                        !(prune && metric_point_count(metric) == 0)
                    });
                    sm.metrics.append(&mut created);
                    !(prune && sm.metrics.is_empty())
                });
                !(prune && rm.scope_metrics.is_empty())
            });
        }
        Request::Profiles(_) => {}
    }
    match run.err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
