//! The scrape conversion's fast path (targets without `metric_relabel_configs`): a per-target
//! cache keyed by each sample's series text as written in the body (`name{labels}`), so a
//! sample of a known series costs one hash lookup, and its data point's identity, attributes,
//! bucket bound and role are what the first scrape that saw it computed. The per-sample work of
//! [`super::convert::convert_reference`] (a label-set hash, two map lookups, parsing `le`) runs
//! only on a cache miss; both paths then share the per-point output step, and a property test
//! holds them equal.
//!
//! The cache is dropped whole when a scrape leaves any entry unused (a series went away, or a
//! family changed its type): it is rebuilt by the next scrape, and start times are not lost,
//! they live in the tracker.

use std::borrow::Cow;
use std::collections::HashMap;

use ferrotel_pdata::proto::common::v1::KeyValue;
use ferrotel_pdata::proto::metrics::v1::Exemplar as OtlpExemplar;

use super::convert::{
    ConvertError, Converted, MetricAcc, PointAcc, Role, ScopeKey, SeriesTracker, TargetContext,
    bound_of, family_key, finish, is_scope_label, is_target_info, kv, label_hash, point_attrs,
    role, scope_of, to_exemplar,
};
use super::parse::{Exposition, MetricType};

pub(super) type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// What the fast path remembers of one target's series between scrapes.
#[derive(Debug, Default)]
pub(super) struct SeriesCache {
    /// Series text → where its samples go.
    slots: FastMap<Box<str>, Slot>,
    points: Vec<CachedPoint>,
    /// (metric, label-set hash without le/quantile) → index into `points`.
    point_index: FastMap<(u32, u64), u32>,
    metrics: Vec<CachedMetric>,
    metric_index: FastMap<(String, MetricType, Option<ScopeKey>), u32>,
    next_slot_id: u32,
}

impl SeriesCache {
    pub(super) fn clear(&mut self) {
        *self = SeriesCache::default();
    }
}

#[derive(Debug)]
struct Slot {
    /// The exposition family and type the entry was built for; another is a miss.
    family: Box<str>,
    kind: MetricType,
    point: u32,
    role: Role,
    bound: Option<f64>,
    generation: u64,
    id: u32,
}

#[derive(Debug)]
struct CachedPoint {
    /// The tracker's key of the point.
    key: u64,
    metric: u32,
    attrs: Vec<KeyValue>,
    /// The slot whose label text built `attrs`: a point's attributes keep the label order of
    /// its first sample in the scrape, as the reference conversion's do.
    attrs_slot: u32,
    generation: u64,
    /// Index into this scrape's point list of its metric.
    acc: u32,
}

#[derive(Debug)]
struct CachedMetric {
    name: String,
    kind: MetricType,
    scope: Option<ScopeKey>,
    generation: u64,
    /// Index into this scrape's metric list.
    acc: u32,
}

/// Converts one exposition of a target without metric relabeling; the same result as
/// [`super::convert::convert_reference`].
pub(super) fn convert_cached(
    exp: &Exposition<'_>,
    target: &TargetContext,
    tracker: &mut SeriesTracker,
    scrape_ms: i64,
) -> Result<Converted, ConvertError> {
    debug_assert!(target.metric_relabel.is_empty());
    let mut out = Converted {
        samples_scraped: exp.samples.len() as u64,
        ..Default::default()
    };
    let generation = tracker.generation + 1;
    let mut metrics: Vec<MetricAcc<'_>> = Vec::new();
    let mut scopes: Vec<ScopeKey> = Vec::new();
    let mut slots_used = 0usize;
    let mut points_used = 0usize;
    let cache = &mut tracker.cache;

    for fam in &exp.families {
        let target_info = is_target_info(fam);
        for s in &exp.samples[fam.samples.clone()] {
            out.samples_post_relabel += 1;
            if target_info {
                for l in exp.labels_of(&s.labels) {
                    if l.name != "job" && l.name != "instance" {
                        out.resource_attrs.push(kv(l.name, l.value.as_ref()));
                    }
                }
                continue;
            }
            if target.sample_limit > 0 && out.samples_post_relabel > target.sample_limit {
                return Err(ConvertError::SampleLimit {
                    limit: target.sample_limit,
                });
            }
            let hit = match cache.slots.get_mut(s.series) {
                Some(slot) if slot.kind == fam.kind && *slot.family == *fam.name => {
                    if slot.generation != generation {
                        slot.generation = generation;
                        slots_used += 1;
                    }
                    Some((slot.point, slot.role, slot.bound, slot.id))
                }
                _ => None,
            };
            let (pi, role, bound, slot_id) = match hit {
                Some(h) => h,
                None => {
                    slots_used += 1;
                    miss(cache, exp, fam, s, target, generation)
                }
            };
            let cp = &mut cache.points[pi as usize];
            let ts_ms = match s.timestamp_ms {
                Some(t) if target.honor_timestamps => t,
                _ => scrape_ms,
            };
            if cp.generation != generation {
                // The point's first sample in this scrape: its metric's too, maybe.
                cp.generation = generation;
                if cp.attrs_slot != slot_id {
                    let skip_attr = |n: &str| {
                        (role == Role::Bucket && n == "le")
                            || (role == Role::Quantile && n == "quantile")
                            || is_scope_label(n)
                    };
                    cp.attrs = point_attrs(exp.labels_of(&s.labels), target, &skip_attr);
                    cp.attrs_slot = slot_id;
                }
                points_used += 1;
                let cm = &mut cache.metrics[cp.metric as usize];
                if cm.generation != generation {
                    cm.generation = generation;
                    cm.acc = metrics.len() as u32;
                    let scope = cm.scope.as_ref().map(|sk| {
                        scope_of(
                            [
                                ("otel_scope_name", sk.0.as_str()),
                                ("otel_scope_version", sk.1.as_str()),
                            ]
                            .into_iter(),
                            &mut scopes,
                        )
                        .unwrap_or(0)
                    });
                    metrics.push(MetricAcc {
                        name: Cow::Owned(cm.name.clone()),
                        kind: cm.kind,
                        scope,
                        help: fam.help.as_deref(),
                        unit: fam.unit,
                        points: Vec::new(),
                        by_key: HashMap::new(),
                    });
                }
                let m = &mut metrics[cm.acc as usize];
                cp.acc = m.points.len() as u32;
                m.points.push(PointAcc {
                    key: cp.key,
                    attrs: cp.attrs.clone(),
                    ts_ms,
                    value: 0.0,
                    created: None,
                    sum: None,
                    count: None,
                    buckets: Vec::new(),
                    quantiles: Vec::new(),
                    exemplars: Vec::new(),
                    samples: 0,
                });
            }
            let m = &mut metrics[cache.metrics[cp.metric as usize].acc as usize];
            let p = &mut m.points[cp.acc as usize];
            p.add(role, bound, s.value, ts_ms);
            if let Some(e) = &s.exemplar {
                p.exemplars.push(exemplar(exp, e));
            }
        }
    }
    // Anything not seen in this scrape: rebuild the cache next time rather than track holes.
    if slots_used != cache.slots.len()
        || points_used != cache.points.len()
        || metrics.len() != cache.metrics.len()
    {
        cache.clear();
    }
    finish(metrics, scopes, target, tracker, scrape_ms, &mut out);
    Ok(out)
}

fn exemplar(exp: &Exposition<'_>, e: &super::parse::Exemplar) -> OtlpExemplar {
    to_exemplar(exp.labels_of(&e.labels), e.value, e.timestamp_ms)
}

/// Builds the cache entry of a series not seen before (or seen under another family).
fn miss(
    cache: &mut SeriesCache,
    exp: &Exposition<'_>,
    fam: &super::parse::Family<'_>,
    s: &super::parse::Sample<'_>,
    target: &TargetContext,
    generation: u64,
) -> (u32, Role, Option<f64>, u32) {
    let ls = exp.labels_of(&s.labels);
    let (fam_name, kind) = if fam.kind == MetricType::GaugeHistogram {
        (s.name, MetricType::Gauge)
    } else {
        (fam.name, fam.kind)
    };
    let suffix = s.name.strip_prefix(fam_name).unwrap_or("");
    let role = role(kind, suffix);
    let skip = |n: &str| {
        (role == Role::Bucket && n == "le") || (role == Role::Quantile && n == "quantile")
    };
    let skip_attr = |n: &str| skip(n) || is_scope_label(n);
    let mut scope_list = Vec::new();
    let scope = scope_of(
        ls.iter().map(|l| (l.name, l.value.as_ref())),
        &mut scope_list,
    )
    .map(|_| scope_list.swap_remove(0));
    let metric_key = (fam_name.to_owned(), kind, scope);
    let mi = match cache.metric_index.get(&metric_key) {
        Some(i) => *i,
        None => {
            cache.metrics.push(CachedMetric {
                name: metric_key.0.clone(),
                kind,
                scope: metric_key.2.clone(),
                generation: 0,
                acc: 0,
            });
            let i = (cache.metrics.len() - 1) as u32;
            cache.metric_index.insert(metric_key, i);
            i
        }
    };
    let key = label_hash(
        ls.iter()
            .filter(|l| !skip(l.name))
            .map(|l| (l.name, l.value.as_ref())),
    );
    let bound = bound_of(ls.iter().map(|l| (l.name, l.value.as_ref())), role);
    let id = cache.next_slot_id;
    cache.next_slot_id = cache.next_slot_id.wrapping_add(1);
    let pi = match cache.point_index.get(&(mi, key)) {
        Some(i) => *i,
        None => {
            cache.points.push(CachedPoint {
                key: key ^ family_key(fam_name),
                metric: mi,
                attrs: point_attrs(ls, target, &skip_attr),
                attrs_slot: id,
                generation: 0,
                acc: 0,
            });
            let i = (cache.points.len() - 1) as u32;
            cache.point_index.insert((mi, key), i);
            i
        }
    };
    let slot = Slot {
        family: fam.name.into(),
        kind: fam.kind,
        point: pi,
        role,
        bound,
        generation,
        id,
    };
    match cache.slots.get_mut(s.series) {
        Some(old) => *old = slot,
        None => {
            cache.slots.insert(s.series.into(), slot);
        }
    }
    (pi, role, bound, id)
}
