//! Shallow split and regroup of encoded requests.
//!
//! One pass indexes the request: the containers above items (resource level, scope level and,
//! for metrics, Metric and its data message) with the byte ranges of their other fields
//! ("headers"), and the byte range of every item. An output is then any ascending sequence of
//! items: it is sized in a first traversal and written in a second, re-wrapping each item in
//! copies of its containers' headers. Items are copied verbatim, never re-encoded.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use super::reader::{LEN, RECURSION_LIMIT, Reader, WireErr, len_key, put_varint, varint_len};
use super::runs::{TraceEnvelope, TracePiece, TraceRun};
use super::validate::is_metric_data;
use crate::Signal;

const NONE: u32 = u32::MAX;
/// Deepest container level: resource, scope, metric, metric data.
const MAX_LEVEL: usize = 4;

/// A message between the request and the items, repeated in every output holding its items.
struct Container {
    parent: u32,
    /// Field number it is encoded under in its parent.
    field: u32,
    /// Range into `Index::hdrs`.
    hdr_from: u32,
    hdr_to: u32,
    hdr_len: usize,
}

/// One item: the byte range of its whole field (key, length, body) and its container.
#[derive(Clone, Copy)]
struct Item {
    start: usize,
    end: usize,
    leaf: u32,
}

/// One field as found while indexing: absolute byte range, and body if length-delimited.
struct RawField<'a> {
    field: u32,
    wt: u8,
    start: usize,
    end: usize,
    body: &'a [u8],
}

/// Iterates the fields of a message that lies at absolute offset `base` of the request.
struct Fields<'a> {
    r: Reader<'a>,
    base: usize,
    len: usize,
    ctx: u32,
}

impl<'a> Fields<'a> {
    fn new(buf: &'a [u8], base: usize, ctx: u32) -> Self {
        Fields {
            r: Reader::new(buf),
            base,
            len: buf.len(),
            ctx,
        }
    }

    /// Absolute offset of a sub-slice of this message.
    fn abs(&self, body: &[u8]) -> usize {
        self.base + self.len - self.r.left() - body.len()
    }

    #[inline]
    fn next(&mut self) -> Result<Option<RawField<'a>>, WireErr> {
        if self.r.is_empty() {
            return Ok(None);
        }
        let start = self.base + self.len - self.r.left();
        let (field, wt) = self.r.key()?;
        let body = if wt == LEN {
            self.r.bytes()?
        } else {
            self.r.skip(field, wt, self.ctx)?;
            &[]
        };
        Ok(Some(RawField {
            field,
            wt,
            start,
            end: self.base + self.len - self.r.left(),
            body,
        }))
    }
}

/// The container/item structure of one request.
pub(crate) struct Index<'a> {
    buf: &'a [u8],
    /// Request-level fields other than the resource list (the profiles dictionary...).
    req_hdrs: Vec<(usize, usize)>,
    containers: Vec<Container>,
    hdrs: Vec<(usize, usize)>,
    items: Vec<Item>,
}

impl<'a> Index<'a> {
    pub(crate) fn build(signal: Signal, buf: &'a [u8]) -> Result<Self, WireErr> {
        let mut ix = Index {
            buf,
            req_hdrs: Vec::new(),
            containers: Vec::new(),
            hdrs: Vec::new(),
            items: Vec::new(),
        };
        let ctx = RECURSION_LIMIT;
        let mut req = Fields::new(buf, 0, ctx);
        while let Some(f) = req.next()? {
            if f.field != 1 {
                ix.req_hdrs.push((f.start, f.end));
                continue;
            }
            check_len(&f)?;
            let base = req.abs(f.body);
            let rl = ix.open(NONE, 1, f.body, base, &[2], ctx - 1)?;
            let mut rf = Fields::new(f.body, base, ctx - 1);
            while let Some(s) = rf.next()? {
                if s.field != 2 {
                    continue;
                }
                check_len(&s)?;
                let sbase = rf.abs(s.body);
                if signal == Signal::Metrics {
                    ix.index_scope_metrics(rl, s.body, sbase, ctx - 2)?;
                } else {
                    ix.index_leaf(rl, 2, s.body, sbase, 2, ctx - 2)?;
                }
            }
        }
        Ok(ix)
    }

    pub(crate) fn item_count(&self) -> usize {
        self.items.len()
    }

    /// Item body (without key and length) of item `i`.
    pub(crate) fn item_body(&self, i: usize) -> &'a [u8] {
        let it = self.items[i];
        let mut r = Reader::new(&self.buf[it.start..it.end]);
        // Indexed items were read successfully: key and length are well formed.
        let _ = r.key();
        r.bytes().unwrap_or_default()
    }

    /// Registers a container whose header is every field except `children`.
    fn open(
        &mut self,
        parent: u32,
        field: u32,
        body: &[u8],
        base: usize,
        children: &[u32],
        ctx: u32,
    ) -> Result<u32, WireErr> {
        let hdr_from = self.hdrs.len() as u32;
        let mut hdr_len = 0;
        let mut fs = Fields::new(body, base, ctx);
        while let Some(f) = fs.next()? {
            if !children.contains(&f.field) {
                self.hdrs.push((f.start, f.end));
                hdr_len += f.end - f.start;
            }
        }
        self.containers.push(Container {
            parent,
            field,
            hdr_from,
            hdr_to: self.hdrs.len() as u32,
            hdr_len,
        });
        Ok(self.containers.len() as u32 - 1)
    }

    /// Indexes a message whose field `item_field` holds items and whose other fields are its
    /// header, in one pass.
    fn index_leaf(
        &mut self,
        parent: u32,
        field: u32,
        body: &[u8],
        base: usize,
        item_field: u32,
        ctx: u32,
    ) -> Result<(), WireErr> {
        let id = self.containers.len() as u32;
        let hdr_from = self.hdrs.len() as u32;
        let mut hdr_len = 0;
        let mut fs = Fields::new(body, base, ctx);
        while let Some(f) = fs.next()? {
            if f.field == item_field {
                check_len(&f)?;
                self.items.push(Item {
                    start: f.start,
                    end: f.end,
                    leaf: id,
                });
            } else {
                self.hdrs.push((f.start, f.end));
                hdr_len += f.end - f.start;
            }
        }
        self.containers.push(Container {
            parent,
            field,
            hdr_from,
            hdr_to: self.hdrs.len() as u32,
            hdr_len,
        });
        Ok(())
    }

    fn index_scope_metrics(
        &mut self,
        rl: u32,
        body: &[u8],
        base: usize,
        ctx: u32,
    ) -> Result<(), WireErr> {
        let sm = self.open(rl, 2, body, base, &[2], ctx)?;
        let mut fs = Fields::new(body, base, ctx);
        while let Some(m) = fs.next()? {
            if m.field != 2 {
                continue;
            }
            check_len(&m)?;
            let mbase = fs.abs(m.body);
            self.index_metric(sm, m.body, mbase, ctx - 1)?;
        }
        Ok(())
    }

    /// A Metric: its header is everything but the data oneof; the data that prost would keep
    /// (the last run of one variant, merged) becomes one data container holding the points.
    fn index_metric(&mut self, sm: u32, body: &[u8], base: usize, ctx: u32) -> Result<(), WireErr> {
        let (mut variant, mut cut, mut pos) = (0u32, 0usize, 0usize);
        let mut fs = Fields::new(body, base, ctx);
        while let Some(f) = fs.next()? {
            if is_metric_data(f.field) {
                check_len(&f)?;
                if f.field != variant {
                    variant = f.field;
                    cut = pos;
                }
            }
            pos += 1;
        }
        let metric = self.open(sm, 2, body, base, &[5, 7, 9, 10, 11], ctx)?;
        if variant == 0 {
            return Ok(());
        }
        // All effective data messages merge into one container: headers and points of each.
        let id = self.containers.len() as u32;
        let hdr_from = self.hdrs.len() as u32;
        let mut hdr_len = 0;
        let mut fs = Fields::new(body, base, ctx);
        let mut pos = 0usize;
        while let Some(f) = fs.next()? {
            if f.field == variant && pos >= cut {
                let dbase = fs.abs(f.body);
                let mut ds = Fields::new(f.body, dbase, ctx - 1);
                while let Some(d) = ds.next()? {
                    if d.field == 1 {
                        check_len(&d)?;
                        self.items.push(Item {
                            start: d.start,
                            end: d.end,
                            leaf: id,
                        });
                    } else {
                        self.hdrs.push((d.start, d.end));
                        hdr_len += d.end - d.start;
                    }
                }
            }
            pos += 1;
        }
        self.containers.push(Container {
            parent: metric,
            field: variant,
            hdr_from,
            hdr_to: self.hdrs.len() as u32,
            hdr_len,
        });
        Ok(())
    }

    /// Encodes a request holding exactly the items yielded by `seq` (ascending indices).
    pub(crate) fn emit(
        &self,
        seq: impl Iterator<Item = usize> + Clone,
        sizes: &mut Vec<usize>,
    ) -> Bytes {
        sizes.clear();
        let mut sizer = Sizer {
            sizes,
            stack: [(0, 0); MAX_LEVEL],
            depth: 0,
            body: 0,
        };
        self.traverse(seq.clone(), &mut sizer);
        let req_hdr: usize = self.req_hdrs.iter().map(|&(s, e)| e - s).sum();
        let total = req_hdr + sizer.body;
        let mut out = Vec::with_capacity(total);
        for &(s, e) in &self.req_hdrs {
            out.extend_from_slice(&self.buf[s..e]);
        }
        let mut w = Writer {
            ix: self,
            sizes,
            next_slot: 0,
            out: &mut out,
            pending: (0, 0),
        };
        self.traverse(seq, &mut w);
        w.flush();
        debug_assert_eq!(out.len(), total);
        out.into()
    }

    /// Walks items in order, opening and closing the containers around them.
    fn traverse(&self, seq: impl Iterator<Item = usize>, v: &mut impl Visit) {
        let mut open = [NONE; MAX_LEVEL];
        let mut depth = 0usize;
        for i in seq {
            let it = self.items[i];
            if depth == 0 || open[depth - 1] != it.leaf {
                let mut chain = [NONE; MAX_LEVEL];
                let mut n = 0;
                let mut c = it.leaf;
                while c != NONE && n < MAX_LEVEL {
                    chain[n] = c;
                    n += 1;
                    c = self.containers[c as usize].parent;
                }
                chain[..n].reverse();
                let mut k = 0;
                while k < depth && k < n && open[k] == chain[k] {
                    k += 1;
                }
                while depth > k {
                    depth -= 1;
                    v.close(self, open[depth]);
                }
                while depth < n {
                    open[depth] = chain[depth];
                    v.open(self, chain[depth]);
                    depth += 1;
                }
            }
            v.item(self, it);
        }
        while depth > 0 {
            depth -= 1;
            v.close(self, open[depth]);
        }
    }
}

#[inline]
fn check_len(f: &RawField<'_>) -> Result<(), WireErr> {
    if f.wt == LEN {
        Ok(())
    } else {
        Err(WireErr::InvalidWireType(f.wt))
    }
}

trait Visit {
    fn open(&mut self, ix: &Index<'_>, c: u32);
    fn close(&mut self, ix: &Index<'_>, c: u32);
    fn item(&mut self, ix: &Index<'_>, it: Item);
}

/// First traversal: content size of every container instance, in opening order.
struct Sizer<'s> {
    sizes: &'s mut Vec<usize>,
    /// (slot in `sizes`, content size so far) per open level.
    stack: [(usize, usize); MAX_LEVEL],
    depth: usize,
    /// Size of the request's resource-level fields.
    body: usize,
}

impl Visit for Sizer<'_> {
    fn open(&mut self, ix: &Index<'_>, c: u32) {
        self.stack[self.depth] = (self.sizes.len(), ix.containers[c as usize].hdr_len);
        self.sizes.push(0);
        self.depth += 1;
    }

    fn close(&mut self, ix: &Index<'_>, c: u32) {
        self.depth -= 1;
        let (slot, content) = self.stack[self.depth];
        self.sizes[slot] = content;
        let field = ix.containers[c as usize].field;
        let wrapped = varint_len(len_key(field)) + varint_len(content as u64) + content;
        if self.depth == 0 {
            self.body += wrapped;
        } else {
            self.stack[self.depth - 1].1 += wrapped;
        }
    }

    fn item(&mut self, _ix: &Index<'_>, it: Item) {
        self.stack[self.depth - 1].1 += it.end - it.start;
    }
}

/// Second traversal: writes keys, the sizes computed by [`Sizer`], headers and items.
struct Writer<'a, 'w> {
    ix: &'w Index<'a>,
    sizes: &'w [usize],
    next_slot: usize,
    out: &'w mut Vec<u8>,
    /// Item bytes not yet copied: adjacent items are copied with one `memcpy`.
    pending: (usize, usize),
}

impl Writer<'_, '_> {
    fn flush(&mut self) {
        let (s, e) = self.pending;
        if s < e {
            self.out.extend_from_slice(&self.ix.buf[s..e]);
        }
        self.pending = (0, 0);
    }
}

impl Visit for Writer<'_, '_> {
    fn open(&mut self, ix: &Index<'_>, c: u32) {
        self.flush();
        let cont = &ix.containers[c as usize];
        put_varint(self.out, len_key(cont.field));
        put_varint(self.out, self.sizes[self.next_slot] as u64);
        self.next_slot += 1;
        for &(s, e) in &ix.hdrs[cont.hdr_from as usize..cont.hdr_to as usize] {
            self.out.extend_from_slice(&ix.buf[s..e]);
        }
    }

    fn close(&mut self, _ix: &Index<'_>, _c: u32) {}

    fn item(&mut self, _ix: &Index<'_>, it: Item) {
        if self.pending.1 == it.start && self.pending.0 < self.pending.1 {
            self.pending.1 = it.end;
        } else {
            self.flush();
            self.pending = (it.start, it.end);
        }
    }
}

/// Splits into requests of at most `max_items` items.
pub(crate) fn split(signal: Signal, buf: &Bytes, max_items: usize) -> Result<Vec<Bytes>, WireErr> {
    let ix = Index::build(signal, buf)?;
    let n = ix.item_count();
    if max_items == 0 || n <= max_items {
        return Ok(vec![buf.clone()]);
    }
    let mut sizes = Vec::new();
    Ok((0..n)
        .step_by(max_items)
        .map(|from| ix.emit(from..(from + max_items).min(n), &mut sizes))
        .collect())
}

/// The trace id of an encoded span: the last `trace_id` field wins, as in prost; missing is
/// all zeros.
pub(crate) fn span_trace_id(span: &[u8]) -> Result<[u8; 16], WireErr> {
    let mut r = Reader::new(span);
    let mut id = [0u8; 16];
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        if field == 1 && wt == LEN {
            let b = r.bytes()?;
            id = match b.len() {
                0 => [0; 16],
                16 => b.try_into().unwrap_or_default(),
                n => return Err(WireErr::BadIdLength(n)),
            };
        } else {
            r.skip(field, wt, RECURSION_LIMIT)?;
        }
    }
    Ok(id)
}

/// (trace id, first item) per trace, and each item's successor in its trace.
type TraceGroups = (Vec<([u8; 16], u32)>, Vec<u32>);

/// Spans grouped by trace id, in order of first appearance: (id, first item) per group and
/// each item's successor in its group, as linked lists over ascending items (no per-trace
/// allocation).
fn group_by_trace_id(ix: &Index<'_>) -> Result<TraceGroups, WireErr> {
    let n = ix.item_count();
    let mut by_id: HashMap<[u8; 16], u32> = HashMap::new();
    let mut groups: Vec<([u8; 16], u32, u32)> = Vec::new(); // (id, first, last)
    let mut next = vec![NONE; n];
    for i in 0..n {
        let id = span_trace_id(ix.item_body(i))?;
        match by_id.entry(id) {
            std::collections::hash_map::Entry::Occupied(g) => {
                let g = &mut groups[*g.get() as usize];
                next[g.2 as usize] = i as u32;
                g.2 = i as u32;
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(groups.len() as u32);
                groups.push((id, i as u32, i as u32));
            }
        }
    }
    Ok((
        groups
            .into_iter()
            .map(|(id, first, _)| (id, first))
            .collect(),
        next,
    ))
}

/// Regroups spans by trace id, in order of first appearance.
pub(crate) fn split_by_trace_id(buf: &Bytes) -> Result<Vec<([u8; 16], Bytes)>, WireErr> {
    let ix = Index::build(Signal::Traces, buf)?;
    let (groups, next) = group_by_trace_id(&ix)?;
    let mut sizes = Vec::new();
    Ok(groups
        .iter()
        .map(|&(id, first)| {
            let seq = Chain {
                next: &next,
                at: first,
            };
            (id, ix.emit(seq, &mut sizes))
        })
        .collect())
}

/// Regroups spans by trace id as [`split_by_trace_id`] does, but each trace's spans are runs
/// under envelopes shared by every trace of the request: the resource and scope are not
/// copied per trace.
pub(crate) fn split_trace_runs(buf: &[u8]) -> Result<Vec<TracePiece>, WireErr> {
    let ix = Index::build(Signal::Traces, buf)?;
    let (groups, next) = group_by_trace_id(&ix)?;
    let header = |c: u32| -> Vec<u8> {
        let cont = &ix.containers[c as usize];
        let mut h = Vec::with_capacity(cont.hdr_len);
        for &(s, e) in &ix.hdrs[cont.hdr_from as usize..cont.hdr_to as usize] {
            h.extend_from_slice(&buf[s..e]);
        }
        h
    };
    let request: Vec<u8> = ix
        .req_hdrs
        .iter()
        .flat_map(|&(s, e)| buf[s..e].iter().copied())
        .collect();
    // One envelope per scope-level container, made when a trace first needs it.
    let mut envelopes: Vec<Option<Arc<TraceEnvelope>>> = vec![None; ix.containers.len()];
    let mut pieces = Vec::with_capacity(groups.len());
    let mut items = Vec::new();
    for (trace_id, first) in groups {
        let mut runs = Vec::new();
        let mut spans = 0;
        let mut chain = Chain {
            next: &next,
            at: first,
        }
        .peekable();
        while let Some(i) = chain.next() {
            let leaf = ix.items[i].leaf;
            // Items are ascending and a scope's items are contiguous in the request, so a
            // run is the chain's items up to the next change of scope.
            items.clear();
            items.push(i);
            while let Some(&j) = chain.peek() {
                if ix.items[j].leaf != leaf {
                    break;
                }
                items.push(j);
                chain.next();
            }
            spans += items.len();
            let len = items
                .iter()
                .map(|&j| ix.items[j].end - ix.items[j].start)
                .sum();
            let mut bytes = Vec::with_capacity(len);
            for &j in &items {
                bytes.extend_from_slice(&buf[ix.items[j].start..ix.items[j].end]);
            }
            let envelope = envelopes[leaf as usize]
                .get_or_insert_with(|| {
                    let resource = ix.containers[leaf as usize].parent;
                    Arc::new(TraceEnvelope::new(
                        &request,
                        &header(resource),
                        &header(leaf),
                    ))
                })
                .clone();
            runs.push(TraceRun {
                envelope,
                spans: bytes.into(),
            });
        }
        pieces.push(TracePiece {
            trace_id,
            runs,
            spans,
        });
    }
    Ok(pieces)
}

/// The spans of a traces request (usually several merged ones) with every resource-level and
/// scope-level message whose header bytes repeat an earlier one's written once: its spans
/// join the first one's, in order.
pub(crate) fn coalesce_traces(buf: &[u8]) -> Result<Bytes, WireErr> {
    let mut ix = Index::build(Signal::Traces, buf)?;
    let order = ix.canonicalize();
    Ok(ix.emit(order.into_iter(), &mut Vec::new()))
}

impl Index<'_> {
    /// Maps every container to the first one with the same parent, field and header bytes,
    /// and returns the item order that groups items under their canonical containers.
    /// Parents are indexed before their children, so one pass suffices.
    fn canonicalize(&mut self) -> Vec<usize> {
        let mut canon = vec![NONE; self.containers.len()];
        let mut seen: HashMap<(u32, u32, Vec<u8>), u32> = HashMap::new();
        for c in 0..self.containers.len() {
            let cont = &self.containers[c];
            let parent = match cont.parent {
                NONE => NONE,
                p => canon[p as usize],
            };
            let mut hdr = Vec::with_capacity(cont.hdr_len);
            for &(s, e) in &self.hdrs[cont.hdr_from as usize..cont.hdr_to as usize] {
                hdr.extend_from_slice(&self.buf[s..e]);
            }
            canon[c] = *seen.entry((parent, cont.field, hdr)).or_insert(c as u32);
            self.containers[c].parent = parent;
        }
        for it in &mut self.items {
            it.leaf = canon[it.leaf as usize];
        }
        let mut order: Vec<usize> = (0..self.items.len()).collect();
        let (items, containers) = (&self.items, &self.containers);
        // Stable: items keep their order within a container.
        order.sort_by_key(|&i| {
            let leaf = items[i].leaf;
            (containers[leaf as usize].parent, leaf)
        });
        order
    }
}

/// Follows one group's linked list of items.
#[derive(Clone)]
struct Chain<'n> {
    next: &'n [u32],
    at: u32,
}

impl Iterator for Chain<'_> {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        if self.at == NONE {
            return None;
        }
        let i = self.at as usize;
        self.at = self.next[i];
        Some(i)
    }
}
