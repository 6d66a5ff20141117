//! The in-memory indexes over stored requests: what ingesting a request adds and what pruning
//! a segment removes.
//!
//! A stored request (a *chunk*) keeps its encoded bytes. Items are described by fixed-size
//! records in arrival order (`VecDeque`s addressed by a global sequence number, so pruning the
//! oldest is a pop from the front) that point into the chunk's bytes; names are interned. A
//! trace is one table entry whose spans are linked through their records (`prev`), so storing
//! a span allocates nothing of its own.

use std::collections::{HashMap, HashSet, VecDeque};
use std::mem::size_of;

use bytes::Bytes;
use ferrotel_pdata::Signal;
use ferrotel_pdata::proto::common::v1::InstrumentationScope;
use ferrotel_pdata::proto::metrics::v1::Metric;
use ferrotel_pdata::proto::resource::v1::Resource;
use prost::Message;

use super::bloom::{self, Bloom};
use crate::reference::{data_points, metric_kind, service_name};
use crate::wire::{self, Malformed, Reader, Value};
use crate::{StoreStats, TraceId};

pub(crate) const NONE: u64 = u64::MAX;
const NO_TRACE: u32 = u32::MAX;

/// Interned strings: service, span, metric names, attribute keys, units, descriptions.
#[derive(Default)]
pub(crate) struct Interner {
    pub names: Vec<Box<str>>,
    ids: HashMap<Box<str>, u32>,
    pub bytes: u64,
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(s.into());
        self.ids.insert(s.into(), id);
        // Two copies, the map's entry and the vector's slot.
        self.bytes += 2 * s.len() as u64 + 48;
        id
    }

    pub fn get(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }

    pub fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", |s| s)
    }
}

/// The resource and scope a group of items came with (one per scope-level message of a
/// request, which is also how the reference groups query results).
pub(crate) struct Origin {
    pub resource: Resource,
    pub resource_schema: String,
    pub scope: InstrumentationScope,
    pub scope_schema: String,
    pub service: u32,
    /// Items stored under it.
    pub items: u32,
}

pub(crate) struct Chunk {
    pub bytes: Bytes,
    pub signal: Signal,
    pub origins: Vec<Origin>,
    /// Distinct attribute keys of this chunk's spans (not of their resources).
    pub span_keys: Vec<u32>,
    /// Its spans' (attribute key, value) pairs, for rejecting a tag search without reading them.
    pub span_values: Bloom,
    /// First item sequence number (span, log or metric record) and how many.
    pub first_item: u64,
    pub items: u64,
    /// Data points (metrics) or items: what `stats` counts.
    pub counted: u64,
    pub mem: u64,
}

#[derive(Clone, Copy)]
pub(crate) struct SpanRec {
    pub start: u64,
    pub end: u64,
    /// The previous span of the same trace, or [`NONE`].
    pub prev: u64,
    pub chunk: u64,
    pub off: u32,
    pub len: u32,
    pub trace: u32,
    pub origin: u32,
    pub service: u32,
    pub name: u32,
    pub kind: i32,
    /// 0 unset (or unknown), 1 ok, 2 error.
    pub status: u8,
    pub parentless: bool,
}

impl SpanRec {
    pub fn is_error(&self) -> bool {
        self.status == 2
    }
}

pub(crate) struct TraceEntry {
    pub id: TraceId,
    /// The newest span; older ones follow `SpanRec::prev`.
    pub last: u64,
    pub count: u32,
    pub errors: u32,
    pub start: u64,
    pub end: u64,
    /// The span the summary's root comes from.
    pub root: u64,
}

#[derive(Clone, Copy)]
pub(crate) struct LogRec {
    /// The record's time, or its observed time when it has none.
    pub time: u64,
    pub chunk: u64,
    pub off: u32,
    pub len: u32,
    pub origin: u32,
    pub service: u32,
    pub severity: i32,
    /// The first 8 bytes of a 16-byte trace id (a prefilter; the record is checked exactly).
    pub trace8: u64,
    pub has_trace: bool,
}

#[derive(Clone, Copy)]
pub(crate) struct MetricRec {
    pub chunk: u64,
    pub off: u32,
    pub len: u32,
    pub origin: u32,
    pub service: u32,
    pub name: u32,
    pub kind: &'static str,
    pub unit: u32,
    pub description: u32,
}

/// A run of consecutive chunks, pruned (and on disk, deleted) together.
pub(crate) struct Segment {
    pub id: u64,
    pub chunks: u64,
    pub mem: u64,
    /// Arrival of its newest chunk (Unix nanos), for retention.
    pub newest: u64,
}

#[derive(Default)]
pub(crate) struct Index {
    pub strings: Interner,
    pub chunks: VecDeque<Chunk>,
    pub chunk_base: u64,
    pub segments: VecDeque<Segment>,

    pub spans: VecDeque<SpanRec>,
    pub span_base: u64,
    pub traces: Vec<TraceEntry>,
    pub trace_ids: HashMap<TraceId, u32>,
    free_traces: Vec<u32>,
    /// Spans per service and per (service, span name), oldest first.
    pub by_service: HashMap<u32, Vec<u64>>,
    pub by_op: HashMap<(u32, u32), Vec<u64>>,
    /// Live spans per service and per (service, name, kind).
    pub service_spans: HashMap<u32, u64>,
    pub op_spans: HashMap<(u32, u32, i32), u64>,

    pub logs: VecDeque<LogRec>,
    pub log_base: u64,
    pub metrics: VecDeque<MetricRec>,
    pub metric_base: u64,

    pub stats: StoreStats,
    /// Bytes of chunks and item records, without the interner (added in `bytes`).
    pub mem: u64,
}

/// Per span: its record and its two posting entries.
const SPAN_COST: u64 = (size_of::<SpanRec>() + 16) as u64;

fn utf8(b: &[u8]) -> Result<&str, Malformed> {
    std::str::from_utf8(b).map_err(|_| Malformed)
}

/// Distinct byte strings, linear while few (the usual attribute key set), hashed past that.
#[derive(Default)]
struct KeySet<'a> {
    few: Vec<&'a [u8]>,
    many: HashSet<&'a [u8]>,
}

impl<'a> KeySet<'a> {
    fn insert(&mut self, k: &'a [u8]) {
        if self.many.is_empty() {
            if !self.few.contains(&k) {
                self.few.push(k);
                if self.few.len() > 48 {
                    self.many.extend(self.few.drain(..));
                }
            }
        } else {
            self.many.insert(k);
        }
    }

    fn iter(&self) -> impl Iterator<Item = &&'a [u8]> {
        self.few.iter().chain(self.many.iter())
    }
}

impl Index {
    /// What the store holds: chunks and records as counted at ingest, the interner, the
    /// record queues' and postings' spare capacity (allocated, so resident once the ring wraps),
    /// and the trace table and id map as allocated (they keep their high-water size).
    pub fn bytes(&self) -> u64 {
        let spare = |cap: usize, len: usize, size: usize| ((cap - len) * size) as u64;
        let postings: u64 = self
            .by_service
            .values()
            .chain(self.by_op.values())
            .map(|l| spare(l.capacity(), l.len(), 8))
            .sum();
        let traces = (self.traces.capacity() * size_of::<TraceEntry>()
            + self.free_traces.capacity() * size_of::<u32>()) as u64
            + map_bytes(&self.trace_ids);
        self.mem
            + traces
            + self.strings.bytes
            + spare(
                self.spans.capacity(),
                self.spans.len(),
                size_of::<SpanRec>(),
            )
            + spare(self.logs.capacity(), self.logs.len(), size_of::<LogRec>())
            + spare(
                self.metrics.capacity(),
                self.metrics.len(),
                size_of::<MetricRec>(),
            )
            + postings
    }

    fn origin(&mut self, g: &wire::Group<'_>) -> Result<Origin, Malformed> {
        let (res_parts, res_schema) = wire::head_parts(g.resource_msg)?;
        let mut resource = Resource::default();
        for p in res_parts {
            resource.merge(p).map_err(|_| Malformed)?;
        }
        let (scope_parts, scope_schema) = wire::head_parts(g.scope_msg)?;
        let mut scope = InstrumentationScope::default();
        for p in scope_parts {
            scope.merge(p).map_err(|_| Malformed)?;
        }
        let service = self.strings.intern(&service_name(&resource));
        Ok(Origin {
            resource_schema: utf8(res_schema)?.to_owned(),
            scope_schema: utf8(scope_schema)?.to_owned(),
            resource,
            scope,
            service,
            items: 0,
        })
    }

    fn origin_cost(o: &Origin) -> u64 {
        (size_of::<Origin>() + o.resource.encoded_len() * 2 + o.scope.encoded_len() * 2) as u64
    }

    /// Indexes one request. On malformed bytes nothing is kept (the caller validated them,
    /// so this is corruption).
    pub fn ingest(
        &mut self,
        signal: Signal,
        bytes: Bytes,
        segment: u64,
        arrival: u64,
    ) -> Result<bool, Malformed> {
        let seq = self.chunk_base + self.chunks.len() as u64;
        let (spans0, logs0, metrics0) = (self.spans.len(), self.logs.len(), self.metrics.len());
        let mut chunk = Chunk {
            bytes: bytes.clone(),
            signal,
            origins: Vec::new(),
            span_keys: Vec::new(),
            span_values: Bloom::default(),
            first_item: 0,
            items: 0,
            counted: 0,
            mem: 0,
        };
        let res = match signal {
            Signal::Traces => self.ingest_spans(&mut chunk, seq, &bytes),
            Signal::Logs => self.ingest_logs(&mut chunk, seq, &bytes),
            Signal::Metrics => self.ingest_metrics(&mut chunk, seq, &bytes),
            Signal::Profiles => Ok(0),
        };
        match res {
            Ok(_) => {}
            Err(e) => {
                // Undo the partial records (trace links and postings were not touched: they
                // are only written once the whole chunk parsed).
                self.spans.truncate(spans0);
                self.logs.truncate(logs0);
                self.metrics.truncate(metrics0);
                return Err(e);
            }
        }
        // Nothing to serve (a metric without points is still listed, so it counts as one).
        if chunk.items == 0 {
            return Ok(false);
        }
        let rec_cost = match signal {
            Signal::Traces => SPAN_COST,
            Signal::Logs => size_of::<LogRec>() as u64,
            _ => size_of::<MetricRec>() as u64,
        };
        chunk.mem = bytes.len() as u64
            + chunk.items * rec_cost
            + chunk.origins.iter().map(Self::origin_cost).sum::<u64>()
            + (chunk.span_keys.len() * 4) as u64
            + chunk.span_values.bytes()
            + size_of::<Chunk>() as u64;
        match signal {
            Signal::Traces => self.stats.spans += chunk.counted,
            Signal::Logs => self.stats.log_records += chunk.counted,
            _ => self.stats.data_points += chunk.counted,
        }
        self.mem += chunk.mem;
        match self.segments.back_mut() {
            Some(s) if s.id == segment => {
                s.chunks += 1;
                s.mem += chunk.mem;
                s.newest = s.newest.max(arrival);
            }
            _ => self.segments.push_back(Segment {
                id: segment,
                chunks: 1,
                mem: chunk.mem,
                newest: arrival,
            }),
        }
        self.chunks.push_back(chunk);
        self.stats.bytes = self.bytes();
        Ok(true)
    }

    /// Returns how many traces the chunk created.
    fn ingest_spans(&mut self, chunk: &mut Chunk, seq: u64, buf: &[u8]) -> Result<u64, Malformed> {
        let first = self.span_base + self.spans.len() as u64;
        let mut keys = KeySet::default();
        let mut ids: Vec<TraceId> = Vec::new();
        let mut has_id: Vec<bool> = Vec::new();
        let mut pairs: Vec<u64> = Vec::new();
        wire::for_each_group(buf, |g| {
            let origin = self.origin(&g)?;
            let service = origin.service;
            let o = chunk.origins.len() as u32;
            chunk.origins.push(origin);
            let origin_items = &mut chunk.origins[o as usize].items;
            wire::for_each_item(g.scope_msg, |span, off| {
                *origin_items += 1;
                let mut r = Reader::new(span);
                let mut rec = SpanRec {
                    start: 0,
                    end: 0,
                    prev: NONE,
                    chunk: seq,
                    off: (g.scope_offset + off) as u32,
                    len: span.len() as u32,
                    trace: NO_TRACE,
                    origin: o,
                    service,
                    name: 0,
                    kind: 0,
                    status: 0,
                    parentless: true,
                };
                let mut trace_id: &[u8] = &[];
                let mut name: &[u8] = &[];
                while let Some((field, v)) = r.next_field()? {
                    match (field, v) {
                        (1, Value::Len(b, _)) => trace_id = b,
                        (4, Value::Len(b, _)) => rec.parentless = b.is_empty(),
                        (5, Value::Len(b, _)) => name = b,
                        (6, Value::Varint(k)) => rec.kind = k as i32,
                        (7, Value::Fixed64(t)) => rec.start = t,
                        (8, Value::Fixed64(t)) => rec.end = t,
                        (9, Value::Len(kv, _)) => {
                            let (key, hash) = bloom::kv_key_hash(kv)?;
                            keys.insert(key);
                            pairs.push(hash);
                        }
                        (15, Value::Len(st, _)) => {
                            let mut s = Reader::new(st);
                            while let Some((f, v)) = s.next_field()? {
                                if let (3, Value::Varint(c)) = (f, v) {
                                    rec.status = match c as i32 {
                                        1 => 1,
                                        2 => 2,
                                        _ => 0,
                                    };
                                }
                            }
                        }
                        _ => {}
                    }
                }
                rec.name = self.strings.intern(utf8(name)?);
                match TraceId::try_from(trace_id) {
                    Ok(id) => {
                        ids.push(id);
                        has_id.push(true);
                    }
                    Err(_) => {
                        ids.push([0; 16]);
                        has_id.push(false);
                    }
                }
                grow(&mut self.spans);
                self.spans.push_back(rec);
                Ok(())
            })
        })?;
        for k in keys.iter() {
            let id = self.strings.intern(utf8(k)?);
            chunk.span_keys.push(id);
        }
        chunk.span_values = Bloom::build(&mut pairs);
        chunk.first_item = first;
        chunk.items = ids.len() as u64;
        chunk.counted = chunk.items;
        // Link the spans into traces and postings only now that the whole request parsed.
        let mut new_traces = 0;
        for (i, (id, has)) in ids.iter().zip(&has_id).enumerate() {
            let s = first + i as u64;
            let idx = (s - self.span_base) as usize;
            let Some(&rec) = self.spans.get(idx) else {
                continue;
            };
            post(self.by_service.entry(rec.service).or_default(), s);
            post(self.by_op.entry((rec.service, rec.name)).or_default(), s);
            *self.service_spans.entry(rec.service).or_default() += 1;
            *self
                .op_spans
                .entry((rec.service, rec.name, rec.kind))
                .or_default() += 1;
            if !has {
                continue;
            }
            let slot = match self.trace_ids.get(id) {
                Some(&slot) => slot,
                None => {
                    new_traces += 1;
                    let e = TraceEntry {
                        id: *id,
                        last: NONE,
                        count: 0,
                        errors: 0,
                        start: rec.start,
                        end: rec.end,
                        root: s,
                    };
                    let slot = match self.free_traces.pop() {
                        Some(slot) => {
                            self.traces[slot as usize] = e;
                            slot
                        }
                        None => {
                            push_grown(&mut self.traces, e, 1024);
                            (self.traces.len() - 1) as u32
                        }
                    };
                    self.trace_ids.insert(*id, slot);
                    slot
                }
            };
            let Some(old_root) = self.traces.get(slot as usize).map(|t| t.root) else {
                continue;
            };
            let new_root = self
                .span(old_root)
                .is_none_or(|root| old_root != s && better_root(&rec, root));
            let Some(t) = self.traces.get_mut(slot as usize) else {
                continue;
            };
            let prev = t.last;
            t.last = s;
            t.count += 1;
            t.errors += u32::from(rec.is_error());
            t.start = t.start.min(rec.start);
            t.end = t.end.max(rec.end);
            if new_root {
                t.root = s;
            }
            if let Some(r) = self.spans.get_mut(idx) {
                r.trace = slot;
                r.prev = prev;
            }
        }
        Ok(new_traces)
    }

    fn ingest_logs(&mut self, chunk: &mut Chunk, seq: u64, buf: &[u8]) -> Result<u64, Malformed> {
        let first = self.log_base + self.logs.len() as u64;
        wire::for_each_group(buf, |g| {
            let origin = self.origin(&g)?;
            let service = origin.service;
            let o = chunk.origins.len() as u32;
            chunk.origins.push(origin);
            let origin_items = &mut chunk.origins[o as usize].items;
            wire::for_each_item(g.scope_msg, |log, off| {
                *origin_items += 1;
                let (mut time, mut observed) = (0, 0);
                let mut rec = LogRec {
                    time: 0,
                    chunk: seq,
                    off: (g.scope_offset + off) as u32,
                    len: log.len() as u32,
                    origin: o,
                    service,
                    severity: 0,
                    trace8: 0,
                    has_trace: false,
                };
                let mut r = Reader::new(log);
                while let Some((field, v)) = r.next_field()? {
                    match (field, v) {
                        (1, Value::Fixed64(t)) => time = t,
                        (11, Value::Fixed64(t)) => observed = t,
                        (2, Value::Varint(s)) => rec.severity = s as i32,
                        (9, Value::Len(id, _)) => {
                            rec.has_trace = id.len() == 16;
                            let mut a = [0u8; 8];
                            if let Some(p) = id.get(..8) {
                                a.copy_from_slice(p);
                            }
                            rec.trace8 = u64::from_le_bytes(a);
                        }
                        _ => {}
                    }
                }
                rec.time = if time != 0 { time } else { observed };
                grow(&mut self.logs);
                self.logs.push_back(rec);
                Ok(())
            })
        })?;
        chunk.first_item = first;
        chunk.items = self.log_base + self.logs.len() as u64 - first;
        chunk.counted = chunk.items;
        Ok(0)
    }

    fn ingest_metrics(
        &mut self,
        chunk: &mut Chunk,
        seq: u64,
        buf: &[u8],
    ) -> Result<u64, Malformed> {
        let first = self.metric_base + self.metrics.len() as u64;
        let mut points = 0;
        wire::for_each_group(buf, |g| {
            let origin = self.origin(&g)?;
            let service = origin.service;
            let o = chunk.origins.len() as u32;
            chunk.origins.push(origin);
            let origin_items = &mut chunk.origins[o as usize].items;
            wire::for_each_item(g.scope_msg, |m, off| {
                *origin_items += 1;
                // Metrics are few next to their points: decoding each one gives the exact
                // kind and point count prost sees.
                let metric = Metric::decode(m).map_err(|_| Malformed)?;
                let n = data_points(&metric);
                points += n;
                let rec = MetricRec {
                    chunk: seq,
                    off: (g.scope_offset + off) as u32,
                    len: m.len() as u32,
                    origin: o,
                    service,
                    name: self.strings.intern(&metric.name),
                    kind: metric_kind(&metric),
                    unit: self.strings.intern(&metric.unit),
                    description: self.strings.intern(&metric.description),
                };
                grow(&mut self.metrics);
                self.metrics.push_back(rec);
                Ok(())
            })
        })?;
        chunk.first_item = first;
        chunk.items = self.metric_base + self.metrics.len() as u64 - first;
        chunk.counted = points;
        Ok(0)
    }

    /// Drops the oldest segment with everything in it; returns its id.
    pub fn prune_oldest(&mut self) -> Option<u64> {
        let seg = self.segments.pop_front()?;
        let mut dirty: Vec<u32> = Vec::new();
        let mut spans_pruned = false;
        for _ in 0..seg.chunks {
            let Some(chunk) = self.chunks.pop_front() else {
                break;
            };
            self.chunk_base += 1;
            self.mem = self.mem.saturating_sub(chunk.mem);
            match chunk.signal {
                Signal::Traces => {
                    spans_pruned = true;
                    for _ in 0..chunk.items {
                        let Some(rec) = self.spans.pop_front() else {
                            break;
                        };
                        self.span_base += 1;
                        self.forget_span(&rec, &mut dirty);
                    }
                    self.stats.spans = self.stats.spans.saturating_sub(chunk.counted);
                    self.stats.pruned_spans += chunk.counted;
                }
                Signal::Logs => {
                    let n = (chunk.items as usize).min(self.logs.len());
                    self.logs.drain(..n);
                    self.log_base += n as u64;
                    self.stats.log_records = self.stats.log_records.saturating_sub(chunk.counted);
                    self.stats.pruned_log_records += chunk.counted;
                }
                _ => {
                    let n = (chunk.items as usize).min(self.metrics.len());
                    self.metrics.drain(..n);
                    self.metric_base += n as u64;
                    self.stats.data_points = self.stats.data_points.saturating_sub(chunk.counted);
                    self.stats.pruned_data_points += chunk.counted;
                }
            }
        }
        if spans_pruned {
            self.recompute_traces(&dirty);
            let base = self.span_base;
            self.by_service.retain(|_, l| trim(l, base));
            self.by_op.retain(|_, l| trim(l, base));
        }
        self.stats.bytes = self.bytes();
        Some(seg.id)
    }

    fn forget_span(&mut self, rec: &SpanRec, dirty: &mut Vec<u32>) {
        dec(&mut self.service_spans, rec.service);
        dec(&mut self.op_spans, (rec.service, rec.name, rec.kind));
        if rec.trace == NO_TRACE {
            return;
        }
        let Some(t) = self.traces.get_mut(rec.trace as usize) else {
            return;
        };
        t.count = t.count.saturating_sub(1);
        t.errors = t.errors.saturating_sub(u32::from(rec.is_error()));
        if t.count == 0 {
            self.trace_ids.remove(&t.id);
            t.last = NONE;
            self.free_traces.push(rec.trace);
        } else if dirty.last() != Some(&rec.trace) {
            dirty.push(rec.trace);
        }
    }

    /// Start, end and root of traces that lost some (not all) of their spans.
    fn recompute_traces(&mut self, dirty: &[u32]) {
        let mut seen = HashSet::new();
        for &slot in dirty {
            if !seen.insert(slot) {
                continue;
            }
            let Some(t) = self.traces.get(slot as usize) else {
                continue;
            };
            if t.count == 0 {
                continue;
            }
            let (mut start, mut end, mut root) = (u64::MAX, 0, NONE);
            let mut s = t.last;
            while let Some(r) = self.span(s) {
                start = start.min(r.start);
                end = end.max(r.end);
                // Walking newest to oldest, an equal candidate replaces the best so far: the
                // earlier arrival wins, as in the reference.
                if self.span(root).is_none_or(|best| !better_root(best, r)) {
                    root = s;
                }
                s = r.prev;
            }
            let t = &mut self.traces[slot as usize];
            (t.start, t.end, t.root) = (start, end, root);
        }
    }

    pub fn span(&self, seq: u64) -> Option<&SpanRec> {
        let i = seq.checked_sub(self.span_base)?;
        self.spans.get(usize::try_from(i).ok()?)
    }

    pub fn chunk(&self, seq: u64) -> Option<&Chunk> {
        let i = seq.checked_sub(self.chunk_base)?;
        self.chunks.get(usize::try_from(i).ok()?)
    }

    /// The encoded item a record points at.
    pub fn item_bytes(&self, chunk: u64, off: u32, len: u32) -> Option<&[u8]> {
        let c = self.chunk(chunk)?;
        c.bytes.get(off as usize..off as usize + len as usize)
    }

    /// Spans of a trace, oldest first.
    pub fn trace_spans(&self, slot: u32) -> Vec<u64> {
        let mut out = Vec::new();
        let Some(t) = self.traces.get(slot as usize) else {
            return out;
        };
        let mut s = t.last;
        while let Some(r) = self.span(s) {
            out.push(s);
            s = r.prev;
        }
        out.reverse();
        out
    }
}

/// Whether `a` makes a better root than `b`: a span without a parent first, then the earlier
/// start (ties go to the earlier arrival, decided by the caller).
fn better_root(a: &SpanRec, b: &SpanRec) -> bool {
    match (a.parentless, b.parentless) {
        (true, false) => true,
        (false, true) => false,
        _ => a.start < b.start,
    }
}

fn dec<K: std::hash::Hash + Eq>(m: &mut HashMap<K, u64>, k: K) {
    if let Some(n) = m.get_mut(&k) {
        *n -= 1;
        if *n == 0 {
            m.remove(&k);
        }
    }
}

/// Room for one more record, growing by an eighth instead of doubling: the queues hold most of
/// the index, and a doubled ring is up to twice the cap's share it is counted against.
fn grow<T>(q: &mut VecDeque<T>) {
    if q.len() == q.capacity() {
        q.reserve_exact((q.len() / 8).max(64));
    }
}

/// Appends to a vector, growing it as [`grow`] does (at least `min` at a time).
fn push_grown<T>(v: &mut Vec<T>, x: T, min: usize) {
    if v.len() == v.capacity() {
        v.reserve_exact((v.len() / 8).max(min));
    }
    v.push(x);
}

/// Appends to a posting list.
fn post(l: &mut Vec<u64>, s: u64) {
    push_grown(l, s, 16);
}

/// What a hash map's table occupies: std's map (hashbrown) keeps a power-of-two number of
/// buckets at most 7/8 full, each an entry plus a control byte.
fn map_bytes<K, V>(m: &HashMap<K, V>) -> u64 {
    let buckets = (m.capacity() * 8 / 7).next_power_of_two();
    (buckets * (size_of::<(K, V)>() + 1)) as u64
}

/// Drops pruned sequence numbers from the front of a posting list; false when empty.
fn trim(l: &mut Vec<u64>, base: u64) -> bool {
    let k = l.partition_point(|&s| s < base);
    if k > 0 {
        l.drain(..k);
    }
    !l.is_empty()
}
