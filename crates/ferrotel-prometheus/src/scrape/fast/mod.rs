//! The scrape conversion's fast path (targets without `metric_relabel_configs`): samples → the
//! OTLP request's protobuf bytes, without building pdata structs.
//!
//! Per target, a [`SeriesCache`] remembers each series by its text as written (`name{labels}`):
//! one hash of that text finds its slot (the parser skips the label set of a known series,
//! [`crate::scrape::parse::parse_with`]), the slot its data point, and the point holds its
//! attributes already encoded, its start time and last value. A known point's bytes are its
//! attribute bytes copied plus the timestamps and value written. Texts and attribute bytes live
//! in two arenas per target, not one allocation per series.
//!
//! The result equals [`crate::scrape::convert::convert_reference`]'s (start times, resets,
//! staleness, `target_info`, naming): a property test holds them equal.

use std::hash::BuildHasher;

use bytes::Bytes;
use ferrotel_pdata::proto::common::v1::{InstrumentationScope, KeyValue};
use ferrotel_pdata::proto::metrics::v1::Metric;
use ferrotel_pdata::proto::resource::v1::Resource;
use hashbrown::HashTable;
use prost::Message;
use prost::encoding::encoded_len_varint;

mod wire;

use wire::{
    Extra, PointFields, encode_point, encode_stale, key_len, put_data, put_len_field, put_message,
    write_metric,
};

use crate::scrape::convert::{
    ConvertError, Role, ScopeKey, TargetContext, bound_of, counter_name, is_scope_label,
    is_target_info, kv, label_hash, ms_to_ns, point_attrs, role, scope_of, secs_to_ns, to_exemplar,
    trimmed_name,
};
use crate::scrape::parse::{Exposition, Family, Label, MetricType, Sample, series_labels};

type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Bytes left free before the metrics for the request's headers, written last (their lengths
/// are known only then); a larger header falls back to one copy.
const GAP: usize = 1024;
const NONE: u32 = u32::MAX;

/// What the fast path remembers of one target's series between scrapes.
#[derive(Debug, Default)]
pub struct SeriesCache {
    hasher: foldhash::fast::RandomState,
    /// Slot indices, hashed by their series text.
    table: HashTable<u32>,
    /// Arena of series texts.
    text: Vec<u8>,
    slots: Vec<Slot>,
    points: Vec<Point>,
    /// Arena of the points' encoded attribute fields.
    attrs: Vec<u8>,
    /// Histogram/summary/`_created`/exemplar state, for the points that have any.
    extras: Vec<Extra>,
    /// (metric, label-set hash without le/quantile) → point.
    point_index: FastMap<(u32, u64), u32>,
    metrics: Vec<CachedMetric>,
    metric_index: FastMap<(String, MetricType, Option<ScopeKey>), u32>,
    /// Exposition family (name, type) → id, which slots check a hit against.
    families: FastMap<String, Vec<(MetricType, u32)>>,
    next_family: u32,
    generation: u32,
    // Working memory of one scrape, kept for the next.
    order: Vec<u32>,
    stale_order: Vec<u32>,
    scratch: Vec<u8>,
    tmp: Vec<u8>,
    last_size: usize,
}

#[derive(Debug)]
struct Slot {
    text: u32,
    text_len: u32,
    family: u32,
    point: u32,
    generation: u32,
    role: Role,
    bound: Option<f64>,
}

#[derive(Debug)]
struct Point {
    metric: u32,
    attrs: u32,
    attrs_len: u32,
    /// The slot whose label order built `attrs`: attributes keep the label order of the
    /// point's first sample in the scrape, as the reference conversion's do.
    attrs_slot: u32,
    generation: u32,
    extra: u32,
    /// Not yet written out: created by this scrape (counts as added; no staleness owed).
    fresh: bool,
    start_ns: u64,
    /// Counter value, or histogram/summary count: a decrease is a reset.
    last: f64,
    // This scrape's sample values.
    ts_ms: i64,
    value: f64,
    samples: u32,
}

#[derive(Debug)]
struct CachedMetric {
    fam_name: String,
    kind: MetricType,
    scope: Option<ScopeKey>,
    /// Output name (suffixes trimmed if configured), of the last help/unit seen.
    name: String,
    /// The family's [`Family::total`] when the name was made.
    total: bool,
    help: Option<String>,
    unit: Option<String>,
    /// Encoded Metric fields name, description, unit and metadata.
    head: Vec<u8>,
    generation: u32,
    /// Points of this scrape, in order of first sample.
    points: Vec<u32>,
    stale: Vec<u32>,
}

/// The output of one scrape through the fast path, before `up`/`scrape_*` and the resource.
pub struct FastScrape {
    /// [`GAP`] free bytes, then the receiver scope's `ScopeMetrics.metrics` fields.
    buf: Vec<u8>,
    /// Scopes named by `otel_scope_name`/`otel_scope_version`: their metrics fields.
    scoped: Vec<(ScopeKey, Vec<u8>)>,
    pub resource_attrs: Vec<KeyValue>,
    pub samples_scraped: u64,
    pub samples_post_relabel: u64,
    pub series_added: u64,
    /// Data points written, for the payload's item count.
    pub points: usize,
}

impl FastScrape {
    /// The request's bytes: these metrics plus `extra` in the receiver's scope, the scoped
    /// metrics, under `resource`. The metrics are not copied when the header fits the gap.
    pub fn finish(
        mut self,
        extra: &[Metric],
        resource: &Resource,
        scope: &InstrumentationScope,
    ) -> Bytes {
        for m in extra {
            put_message(&mut self.buf, 2, m);
        }
        let scope_len = scope.encoded_len();
        let metrics_len = self.buf.len() - GAP;
        let sm_len = key_len(1) + encoded_len_varint(scope_len as u64) + scope_len + metrics_len;
        for (sk, metrics) in &self.scoped {
            let s = InstrumentationScope {
                name: sk.0.clone(),
                version: sk.1.clone(),
                ..Default::default()
            };
            let len = key_len(1) + encoded_len_varint(s.encoded_len() as u64) + s.encoded_len();
            put_len_field(&mut self.buf, 2, len + metrics.len());
            put_message(&mut self.buf, 1, &s);
            self.buf.extend_from_slice(metrics);
        }
        let scoped_len = self.buf.len() - GAP - metrics_len;
        let res_len = resource.encoded_len();
        let rm_len = key_len(1)
            + encoded_len_varint(res_len as u64)
            + res_len
            + key_len(2)
            + encoded_len_varint(sm_len as u64)
            + sm_len
            + scoped_len;
        let mut head = Vec::with_capacity(64 + res_len + scope_len);
        put_len_field(&mut head, 1, rm_len);
        put_message(&mut head, 1, resource);
        put_len_field(&mut head, 2, sm_len);
        put_message(&mut head, 1, scope);
        if head.len() <= GAP {
            let at = GAP - head.len();
            self.buf[at..GAP].copy_from_slice(&head);
            Bytes::from(self.buf).slice(at..)
        } else {
            head.extend_from_slice(&self.buf[GAP..]);
            Bytes::from(head)
        }
    }
}

/// The labels of a sample, parsed again if the parser skipped them (a known series).
fn labels_of<'e>(exp: &'e Exposition<'e>, s: &'e Sample<'e>) -> std::borrow::Cow<'e, [Label<'e>]> {
    match s.known {
        // Known series were parsed before: their labels parse.
        Some(_) => std::borrow::Cow::Owned(series_labels(s.series).unwrap_or_default()),
        None => std::borrow::Cow::Borrowed(exp.labels_of(&s.labels)),
    }
}

impl SeriesCache {
    /// The slot of a series text seen in an earlier scrape.
    pub fn lookup(&self, series: &str) -> Option<u32> {
        let h = self.hasher.hash_one(series.as_bytes());
        self.table
            .find(h, |&i| self.slot_text(i) == series.as_bytes())
            .copied()
    }

    fn slot_text(&self, i: u32) -> &[u8] {
        let s = &self.slots[i as usize];
        &self.text[s.text as usize..(s.text + s.text_len) as usize]
    }

    /// Data points tracked (written out by an earlier scrape).
    pub fn len(&self) -> usize {
        self.points.iter().filter(|p| !p.fresh).count()
    }

    pub fn clear(&mut self) {
        *self = SeriesCache::default();
    }

    fn family_id(&mut self, fam: &Family<'_>) -> u32 {
        let next = self.next_family;
        let list = match self.families.get_mut(fam.name) {
            Some(l) => l,
            None => self.families.entry(fam.name.to_owned()).or_default(),
        };
        match list.iter().find(|(k, _)| *k == fam.kind) {
            Some((_, id)) => *id,
            None => {
                list.push((fam.kind, next));
                self.next_family += 1;
                next
            }
        }
    }

    fn attrs_bytes(&self, p: &Point) -> &[u8] {
        &self.attrs[p.attrs as usize..(p.attrs + p.attrs_len) as usize]
    }

    /// Encodes `attrs` as the attribute fields of a `kind` point, in place of the point's
    /// old ones when the length matches (a reordering), else appended to the arena.
    fn set_attrs(&mut self, pi: usize, kind: MetricType, attrs: &[KeyValue]) {
        let tag = if kind == MetricType::Histogram { 9 } else { 7 };
        self.tmp.clear();
        for a in attrs {
            put_message(&mut self.tmp, tag, a);
        }
        let p = &mut self.points[pi];
        if p.attrs_len as usize == self.tmp.len() && p.attrs != NONE {
            let at = p.attrs as usize;
            self.attrs[at..at + self.tmp.len()].copy_from_slice(&self.tmp);
        } else {
            p.attrs = self.attrs.len() as u32;
            p.attrs_len = self.tmp.len() as u32;
            self.attrs.extend_from_slice(&self.tmp);
        }
    }

    fn extra(&mut self, pi: usize) -> &mut Extra {
        let p = &mut self.points[pi];
        if p.extra == NONE {
            p.extra = self.extras.len() as u32;
            self.extras.push(Extra::default());
        }
        &mut self.extras[p.extra as usize]
    }

    /// Builds the slot (and point, metric) of a series not known under this family.
    fn miss(
        &mut self,
        labels: &[Label<'_>],
        fam: &Family<'_>,
        fam_id: u32,
        s: &Sample<'_>,
        target: &TargetContext,
    ) -> u32 {
        let (fam_name, kind) = (fam.name, fam.kind);
        let role = role(kind, s.name.strip_prefix(fam_name).unwrap_or(""));
        let skip = |n: &str| {
            (role == Role::Bucket && n == "le") || (role == Role::Quantile && n == "quantile")
        };
        let pairs = || labels.iter().map(|l| (l.name, l.value.as_ref()));
        let mut scopes = Vec::new();
        let scope = scope_of(pairs(), &mut scopes).map(|_| scopes.swap_remove(0));
        let metric_key = (fam_name.to_owned(), kind, scope);
        let mi = match self.metric_index.get(&metric_key) {
            Some(i) => *i,
            None => {
                self.metrics.push(CachedMetric {
                    fam_name: metric_key.0.clone(),
                    kind,
                    scope: metric_key.2.clone(),
                    name: String::new(),
                    total: false,
                    help: None,
                    unit: None,
                    head: Vec::new(),
                    generation: 0,
                    points: Vec::new(),
                    stale: Vec::new(),
                });
                let i = (self.metrics.len() - 1) as u32;
                self.metric_index.insert(metric_key, i);
                i
            }
        };
        let key = label_hash(pairs().filter(|(k, _)| !skip(k)));
        let bound = bound_of(pairs(), role);
        // A series new to the parse's lookup may have been added by this scrape already (a
        // duplicate line): one slot per text.
        let known = s.known.or_else(|| self.lookup(s.series));
        let slot_id = match known {
            Some(i) => i,
            None => self.slots.len() as u32,
        };
        let pi = match self.point_index.get(&(mi, key)) {
            Some(i) => *i,
            None => {
                self.points.push(Point {
                    metric: mi,
                    attrs: NONE,
                    attrs_len: 0,
                    attrs_slot: slot_id,
                    generation: 0,
                    extra: NONE,
                    fresh: true,
                    start_ns: 0,
                    last: 0.0,
                    ts_ms: 0,
                    value: 0.0,
                    samples: 0,
                });
                let pi = self.points.len() - 1;
                let skip_attr = |n: &str| skip(n) || is_scope_label(n);
                self.set_attrs(pi, kind, &point_attrs(labels, target, &skip_attr));
                self.point_index.insert((mi, key), pi as u32);
                pi as u32
            }
        };
        let slot = Slot {
            text: 0,
            text_len: 0,
            family: fam_id,
            point: pi,
            generation: 0,
            role,
            bound,
        };
        match known {
            Some(i) => {
                let old = &mut self.slots[i as usize];
                *old = Slot {
                    text: old.text,
                    text_len: old.text_len,
                    generation: old.generation,
                    ..slot
                };
            }
            None => {
                let text = self.text.len() as u32;
                self.text.extend_from_slice(s.series.as_bytes());
                self.slots.push(Slot {
                    text,
                    text_len: s.series.len() as u32,
                    ..slot
                });
                let (hasher, slots, arena) = (&self.hasher, &self.slots, &self.text);
                let h = hasher.hash_one(s.series.as_bytes());
                self.table.insert_unique(h, slot_id, |&i| {
                    let s = &slots[i as usize];
                    hasher.hash_one(&arena[s.text as usize..(s.text + s.text_len) as usize])
                });
            }
        }
        slot_id
    }

    /// Drops the slots and points a scrape did not use, keeping the others' state.
    fn compact(&mut self, generation: u32) {
        let mut remap = vec![NONE; self.points.len()];
        let (old_points, old_attrs, old_extras) = (
            std::mem::take(&mut self.points),
            std::mem::take(&mut self.attrs),
            std::mem::take(&mut self.extras),
        );
        let mut old_extras: Vec<Option<Extra>> = old_extras.into_iter().map(Some).collect();
        for (i, mut p) in old_points.into_iter().enumerate() {
            if p.generation != generation {
                continue;
            }
            remap[i] = self.points.len() as u32;
            let at = p.attrs as usize;
            p.attrs = self.attrs.len() as u32;
            self.attrs
                .extend_from_slice(&old_attrs[at..at + p.attrs_len as usize]);
            if p.extra != NONE {
                let e = old_extras[p.extra as usize].take().unwrap_or_default();
                p.extra = self.extras.len() as u32;
                self.extras.push(e);
            }
            self.points.push(p);
        }
        self.point_index.retain(|_, pi| {
            *pi = remap[*pi as usize];
            *pi != NONE
        });
        let (old_slots, old_text) = (
            std::mem::take(&mut self.slots),
            std::mem::take(&mut self.text),
        );
        let mut slot_remap = vec![NONE; old_slots.len()];
        self.table.clear();
        for (i, mut s) in old_slots.into_iter().enumerate() {
            let point = remap[s.point as usize];
            if s.generation != generation || point == NONE {
                continue;
            }
            let at = s.text as usize;
            let text = &old_text[at..at + s.text_len as usize];
            s.point = point;
            s.text = self.text.len() as u32;
            self.text.extend_from_slice(text);
            let id = self.slots.len() as u32;
            slot_remap[i] = id;
            self.slots.push(s);
            let h = self.hasher.hash_one(text);
            let (hasher, slots, arena) = (&self.hasher, &self.slots, &self.text);
            self.table.insert_unique(h, id, |&j| {
                let s = &slots[j as usize];
                hasher.hash_one(&arena[s.text as usize..(s.text + s.text_len) as usize])
            });
        }
        for p in &mut self.points {
            p.attrs_slot = slot_remap
                .get(p.attrs_slot as usize)
                .copied()
                .unwrap_or(NONE);
        }
        self.table.shrink_to_fit(|&j| {
            let s = &self.slots[j as usize];
            self.hasher
                .hash_one(&self.text[s.text as usize..(s.text + s.text_len) as usize])
        });
    }

    /// Every tracked point as a staleness point at `now_ns` (a failed scrape), as pdata
    /// metrics; then forgets everything.
    pub fn all_stale(&mut self, now_ns: u64, out: &mut Vec<(Option<ScopeKey>, Metric)>) {
        for (mi, m) in self.metrics.iter().enumerate() {
            let mut bytes = Vec::new();
            let mut n = 0;
            for p in self
                .points
                .iter()
                .filter(|p| p.metric == mi as u32 && !p.fresh)
            {
                encode_stale(&mut bytes, m.kind, self.attrs_bytes(p), p.start_ns, now_ns);
                n += 1;
            }
            if n == 0 {
                continue;
            }
            let mut buf = stale_head(m);
            put_data(&mut buf, m.kind, &bytes);
            // Our own encoding of a message prost generated the types of: it decodes.
            if let Ok(metric) = Metric::decode(buf.as_slice()) {
                out.push((m.scope.clone(), metric));
            }
        }
        self.clear();
    }
}

/// The metric fields of a staleness metric: its name and type, no description or unit.
fn stale_head(m: &CachedMetric) -> Vec<u8> {
    Metric {
        name: m.name.clone(),
        metadata: vec![kv("prometheus.type", m.kind.as_str())],
        ..Default::default()
    }
    .encode_to_vec()
}

/// Converts one exposition (parsed with [`SeriesCache::lookup`]) of a target without metric
/// relabeling into encoded metrics.
pub fn encode_scrape(
    exp: &Exposition<'_>,
    target: &TargetContext,
    cache: &mut SeriesCache,
    scrape_ms: i64,
) -> Result<FastScrape, ConvertError> {
    debug_assert!(target.metric_relabel.is_empty());
    let mut out = FastScrape {
        buf: Vec::new(),
        scoped: Vec::new(),
        resource_attrs: Vec::new(),
        samples_scraped: exp.samples.len() as u64,
        samples_post_relabel: 0,
        series_added: 0,
        points: 0,
    };
    cache.generation = cache.generation.wrapping_add(1).max(1);
    let generation = cache.generation;
    cache.order.clear();
    let (mut slots_used, mut points_used) = (0usize, 0usize);

    for fam in &exp.families {
        if is_target_info(fam) {
            for s in &exp.samples[fam.samples.clone()] {
                out.samples_post_relabel += 1;
                for l in labels_of(exp, s).iter() {
                    if l.name != "job" && l.name != "instance" {
                        out.resource_attrs.push(kv(l.name, l.value.as_ref()));
                    }
                }
            }
            continue;
        }
        let fam_id = cache.family_id(fam);
        for s in &exp.samples[fam.samples.clone()] {
            out.samples_post_relabel += 1;
            if target.sample_limit > 0 && out.samples_post_relabel > target.sample_limit {
                return Err(ConvertError::SampleLimit {
                    limit: target.sample_limit,
                });
            }
            // Dropped, as the reference does (the spec's "Dropped Types").
            if fam.kind == MetricType::GaugeHistogram {
                continue;
            }
            let hit = s
                .known
                .filter(|i| cache.slots[*i as usize].family == fam_id);
            let si = match hit {
                Some(i) => i,
                None => cache.miss(&labels_of(exp, s), fam, fam_id, s, target),
            };
            let slot = &mut cache.slots[si as usize];
            if slot.generation != generation {
                slot.generation = generation;
                slots_used += 1;
            }
            let (pi, role, bound) = (slot.point as usize, slot.role, slot.bound);
            let ts_ms = match s.timestamp_ms {
                Some(t) if target.honor_timestamps => t,
                _ => scrape_ms,
            };
            let p = &mut cache.points[pi];
            if p.generation != generation {
                // The point's first sample in this scrape (its metric's too, maybe).
                p.generation = generation;
                points_used += 1;
                (p.ts_ms, p.value, p.samples) = (ts_ms, 0.0, 0);
                let (mi, attrs_slot) = (p.metric as usize, p.attrs_slot);
                if p.extra != NONE {
                    cache.extras[p.extra as usize].reset();
                }
                let kind = cache.metrics[mi].kind;
                if attrs_slot != si {
                    let skip_attr = |n: &str| {
                        (role == Role::Bucket && n == "le")
                            || (role == Role::Quantile && n == "quantile")
                            || is_scope_label(n)
                    };
                    let attrs = point_attrs(&labels_of(exp, s), target, &skip_attr);
                    cache.set_attrs(pi, kind, &attrs);
                    cache.points[pi].attrs_slot = si;
                }
                let m = &mut cache.metrics[mi];
                if m.generation != generation {
                    m.generation = generation;
                    m.points.clear();
                    cache.order.push(mi as u32);
                    let help = fam.help.as_deref();
                    if m.head.is_empty()
                        || m.help.as_deref() != help
                        || m.unit.as_deref() != fam.unit
                        || m.total != fam.total
                    {
                        set_head(m, fam, target);
                    }
                }
                m.points.push(pi as u32);
            }
            let p = &mut cache.points[pi];
            p.samples += 1;
            match role {
                Role::Value => p.value = s.value,
                _ => {
                    if role == Role::Count {
                        // The count's timestamp is the point's (it is the one required sample).
                        p.ts_ms = ts_ms;
                    }
                    let e = cache.extra(pi);
                    match role {
                        Role::Created => e.created = Some(s.value),
                        Role::Sum => e.sum = Some(s.value),
                        Role::Count => e.count = Some(s.value),
                        Role::Bucket => e.buckets.extend(bound.map(|b| (b, s.value))),
                        _ => e.quantiles.extend(bound.map(|q| (q, s.value))),
                    }
                }
            }
            if let Some(x) = &s.exemplar {
                let x = to_exemplar(exp.labels_of(&x.labels), x.value, x.timestamp_ms);
                cache.extra(pi).exemplars.push(x);
            }
        }
    }
    write_metrics(cache, &mut out, generation, ms_to_ns(scrape_ms));
    if slots_used != cache.slots.len() || points_used != cache.points.len() {
        cache.compact(generation);
    }
    Ok(out)
}

/// The metric's encoded name/description/unit/metadata for this help and unit.
fn set_head(m: &mut CachedMetric, fam: &Family<'_>, target: &TargetContext) {
    let (help, unit) = (fam.help.as_deref(), fam.unit);
    m.total = fam.total;
    let name = counter_name(&m.fam_name, m.kind == MetricType::Counter && fam.total);
    m.name = if target.trim_metric_suffixes {
        trimmed_name(&name, m.kind, unit).to_owned()
    } else {
        name
    };
    m.help = help.map(str::to_owned);
    m.unit = unit.map(str::to_owned);
    m.head = Metric {
        name: m.name.clone(),
        description: help.unwrap_or("").to_owned(),
        unit: unit
            .map(|u| crate::naming::ucum_unit(u).into_owned())
            .unwrap_or_default(),
        metadata: vec![kv("prometheus.type", m.kind.as_str())],
        data: None,
    }
    .encode_to_vec();
}

/// This scrape's metrics in order of first appearance, then staleness points for the points
/// not seen, grouped per metric.
fn write_metrics(cache: &mut SeriesCache, out: &mut FastScrape, generation: u32, now_ns: u64) {
    out.buf = Vec::with_capacity(GAP + cache.last_size + cache.last_size / 8);
    out.buf.resize(GAP, 0);
    // A histogram or summary point without any of its samples' extra state: all zero.
    let mut no_extra = Extra::default();
    let SeriesCache {
        metrics,
        points,
        extras,
        attrs,
        order,
        stale_order,
        scratch,
        tmp,
        ..
    } = cache;
    stale_order.clear();
    for &mi in order.iter() {
        let m = &mut metrics[mi as usize];
        let cumulative = matches!(
            m.kind,
            MetricType::Counter | MetricType::Histogram | MetricType::Summary
        );
        scratch.clear();
        for &pi in &m.points {
            let p = &mut points[pi as usize];
            let mut extra = (p.extra != NONE).then(|| &mut extras[p.extra as usize]);
            let time_ns = ms_to_ns(p.ts_ms);
            let observed = match (m.kind, &extra) {
                (MetricType::Histogram | MetricType::Summary, e) => {
                    match e.as_ref().and_then(|e| e.count) {
                        Some(c) => c,
                        None => {
                            // No `_count`: the spec drops the point, so it is absent from this
                            // scrape as the reference sees it: a point written before owes a
                            // staleness point and is forgotten (fresh again).
                            if !p.fresh {
                                p.fresh = true;
                                if m.stale.is_empty() {
                                    stale_order.push(mi);
                                }
                                m.stale.push(pi);
                            }
                            continue;
                        }
                    }
                }
                _ => p.value,
            };
            let created = extra
                .as_ref()
                .and_then(|e| e.created)
                .map(secs_to_ns)
                .filter(|c| *c > 0);
            if p.fresh {
                p.fresh = false;
                out.series_added += p.samples as u64;
                p.start_ns = if cumulative {
                    created.unwrap_or(time_ns)
                } else {
                    0
                };
            } else if cumulative {
                if let Some(c) = created {
                    p.start_ns = c;
                } else if observed < p.last {
                    // A reset: the counter restarted since the last scrape.
                    p.start_ns = time_ns;
                }
            }
            p.last = observed;
            let at = p.attrs as usize;
            let a = &attrs[at..at + p.attrs_len as usize];
            if matches!(m.kind, MetricType::Histogram | MetricType::Summary) {
                extra = Some(extra.unwrap_or(&mut no_extra));
            } else if extra.as_ref().is_none_or(|e| e.exemplars.is_empty()) {
                extra = None;
            }
            encode_point(
                scratch,
                tmp,
                m.kind,
                PointFields {
                    attrs: a,
                    value: p.value,
                    start_ns: p.start_ns,
                    time_ns,
                },
                extra,
            );
            out.points += 1;
        }
        if scratch.is_empty() {
            // Every point was dropped (histograms and summaries without `_count`).
            continue;
        }
        let dst = match &m.scope {
            None => &mut out.buf,
            Some(sk) => scoped_buf(&mut out.scoped, sk),
        };
        write_metric(dst, &m.head, m.kind, scratch);
    }
    // Staleness: points seen before but not in this scrape.
    for (pi, p) in points.iter().enumerate() {
        if p.generation == generation || p.fresh {
            continue;
        }
        let m = &mut metrics[p.metric as usize];
        if m.stale.is_empty() {
            stale_order.push(p.metric);
        }
        m.stale.push(pi as u32);
    }
    for &mi in stale_order.iter() {
        let m = &mut metrics[mi as usize];
        scratch.clear();
        for &pi in &m.stale {
            let p = &points[pi as usize];
            let at = p.attrs as usize;
            let a = &attrs[at..at + p.attrs_len as usize];
            encode_stale(scratch, m.kind, a, p.start_ns, now_ns);
            out.points += 1;
        }
        m.stale.clear();
        let head = stale_head(m);
        let dst = match &m.scope {
            None => &mut out.buf,
            Some(sk) => scoped_buf(&mut out.scoped, sk),
        };
        write_metric(dst, &head, m.kind, scratch);
    }
    cache.last_size = out.buf.len() - GAP;
}

fn scoped_buf<'a>(scoped: &'a mut Vec<(ScopeKey, Vec<u8>)>, sk: &ScopeKey) -> &'a mut Vec<u8> {
    let i = match scoped.iter().position(|(s, _)| s == sk) {
        Some(i) => i,
        None => {
            scoped.push((sk.clone(), Vec::new()));
            scoped.len() - 1
        }
    };
    &mut scoped[i].1
}
