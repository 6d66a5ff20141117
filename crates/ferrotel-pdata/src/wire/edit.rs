//! Attribute edits on encoded requests: rewrite the attribute lists of every item (span, log
//! record, metric data point) or of every resource without decoding the rest of the request.
//!
//! Decoding a request with prost allocates every string of every item; an `attributes` or
//! `resource` processor that inserts one key paid ~10× its own work for that decode and the
//! re-encode after it. Here the request is walked down to the attribute lists only: each list
//! is parsed into borrowed entries (key and encoded value), the caller's edit runs on them, and
//! the output is assembled from slices of the input, re-encoded entries and recomputed length
//! prefixes. Items whose attributes did not change are copied as they are, and a request where
//! nothing changed is returned without a copy. With a [`KeyFilter`] naming the keys an edit can
//! touch, the other attributes are not even parsed: they are copied like the item's other
//! fields, in place.
//!
//! The output is written in one pass from a list of copy operations built during the walk:
//! length prefixes of the enclosing messages (scope, resource) are only known once their items
//! were edited, so they are patched into the operation list before anything is written.

use bytes::Bytes;
use prost::Message;

use super::reader::{LEN, RECURSION_LIMIT, Reader, WireErr, len_key, put_varint, varint_len};
use super::view::AnyValueView;
use crate::Signal;
use crate::proto::common::v1::{AnyValue, KeyValue, any_value};

/// Which attribute lists [`edit_attributes`] hands to the edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrTarget {
    /// The attributes of each span, log record or metric data point.
    Items,
    /// The attributes of each resource.
    Resources,
}

/// Why an edit was not done on the wire; the caller decodes and edits the decoded request,
/// which also reports malformed input with a proper path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsupported {
    /// The bytes are not a well-formed request of the signal.
    Malformed,
    /// A singular message field (a resource, a metric's data) occurs more than once: prost
    /// merges the occurrences, so editing each on its own would not be the same edit.
    RepeatedSingular,
    /// The signal has no attribute lists of that kind here (profiles).
    Signal,
}

impl From<WireErr> for Unsupported {
    fn from(_: WireErr) -> Self {
        Unsupported::Malformed
    }
}

/// Rewrites every attribute list selected by `target` with `edit`.
///
/// Returns `Ok(None)` when no edit changed anything (the input stands as it is) and the new
/// encoding otherwise; item counts never change. Unknown fields are kept.
pub fn edit_attributes(
    signal: Signal,
    input: &[u8],
    target: AttrTarget,
    edit: impl FnMut(&mut WireAttrs<'_>),
) -> Result<Option<Bytes>, Unsupported> {
    edit_attributes_of(signal, input, target, &KeyFilter::All, edit)
}

/// Which attributes an edit can read or change, so the walk parses only those.
///
/// An `attributes` processor that upserts `env` and deletes `password` never looks at the
/// other keys of a span; with [`KeyFilter::Keys`] those attributes are not parsed into entries
/// at all but copied through like the item's other fields. That makes the per-span cost of a
/// key-based edit almost independent of how many attributes a span has.
#[derive(Debug, Clone, Default)]
pub enum KeyFilter {
    /// Every attribute (edits that match keys by pattern, or iterate over all of them).
    #[default]
    All,
    /// Only attributes with one of these keys.
    Keys(KeySet),
}

/// A small set of keys, checked by length first (one bit test rejects most keys).
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    /// Bit `n` set: some key has length `n` (`n` ≥ 127 share bit 127).
    lengths: [u64; 2],
    keys: Vec<Box<[u8]>>,
}

impl KeySet {
    pub fn new<K: AsRef<[u8]>>(keys: impl IntoIterator<Item = K>) -> Self {
        let mut set = KeySet::default();
        for k in keys {
            let k = k.as_ref();
            if set.keys.iter().any(|x| &x[..] == k) {
                continue;
            }
            let n = k.len().min(127);
            set.lengths[n / 64] |= 1 << (n % 64);
            set.keys.push(k.into());
        }
        set
    }

    #[inline(always)]
    pub fn contains(&self, key: &[u8]) -> bool {
        let n = key.len().min(127);
        if self.lengths[n / 64] & (1 << (n % 64)) == 0 {
            return false;
        }
        self.keys.iter().any(|k| same_bytes(k, key))
    }
}

impl KeyFilter {
    #[inline(always)]
    fn admits(&self, key: &[u8]) -> bool {
        match self {
            KeyFilter::All => true,
            KeyFilter::Keys(set) => set.contains(key),
        }
    }
}

/// `a == b`, inline for the short keys of attributes: keys of one item often share a length
/// and a prefix (`span.attr.3`, `span.attr.7`), so the last bytes are compared first, and up
/// to 16 bytes take two overlapping word compares instead of a `memcmp` call.
#[inline(always)]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n >= 8 {
        let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().unwrap());
        if word(a, n - 8) != word(b, n - 8) {
            return false;
        }
        return if n <= 16 {
            word(a, 0) == word(b, 0)
        } else {
            a == b
        };
    }
    if n >= 4 {
        let word = |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().unwrap());
        return word(a, n - 4) == word(b, n - 4) && word(a, 0) == word(b, 0);
    }
    a == b
}

/// [`edit_attributes`], handing the edit only the attributes `filter` admits; the others stay
/// where they are in the output, byte for byte.
pub fn edit_attributes_of(
    signal: Signal,
    input: &[u8],
    target: AttrTarget,
    filter: &KeyFilter,
    edit: impl FnMut(&mut WireAttrs<'_>),
) -> Result<Option<Bytes>, Unsupported> {
    let level = match (signal, target) {
        (Signal::Traces, AttrTarget::Items) => &TRACES_ITEMS,
        (Signal::Logs, AttrTarget::Items) => &LOGS_ITEMS,
        (Signal::Metrics, AttrTarget::Items) => &METRICS_ITEMS,
        (Signal::Traces | Signal::Logs | Signal::Metrics, AttrTarget::Resources) => &RESOURCE_LEVEL,
        (Signal::Profiles, _) => return Err(Unsupported::Signal),
    };
    let leaf = AttrLeaf {
        entries: Vec::new(),
        pieces: Vec::new(),
        filter,
        edit,
    };
    Ok(Rewriter::new(input, leaf, false)
        .run(level)?
        .map(|(bytes, _)| bytes))
}

/// What [`edit_items`] does with one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemDecision {
    Keep,
    Drop,
}

/// Keeps or drops each span (traces) or log record (logs) of an encoded request, and may
/// replace one string field of a kept item (e.g. a span's `trace_state`). Scopes and resources
/// left without items are removed, as pdata's `RemoveIf` leaves them.
///
/// Returns `Ok(None)` when every item was kept unchanged (the input stands), otherwise the new
/// encoding and the number of items kept.
pub fn edit_items(
    signal: Signal,
    input: &[u8],
    decide: impl FnMut(&ItemView<'_>, &mut ItemOut<'_>) -> ItemDecision,
) -> Result<Option<(Bytes, usize)>, Unsupported> {
    let level = match signal {
        Signal::Traces => &TRACES_ITEMS,
        Signal::Logs => &LOGS_ITEMS,
        Signal::Metrics | Signal::Profiles => return Err(Unsupported::Signal),
    };
    let leaf = ItemLeaf {
        pieces: Vec::new(),
        decide,
    };
    Rewriter::new(input, leaf, true).run(level)
}

/// One span or log record during [`edit_items`], read lazily from its encoding.
pub struct ItemView<'a> {
    raw: &'a [u8],
    attributes_field: u32,
}

impl<'a> ItemView<'a> {
    /// The encoded item.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The last occurrence of length-delimited field `field` (as prost keeps it), if any.
    pub fn bytes_field(&self, field: u32) -> Option<&'a [u8]> {
        let mut r = Reader::new(self.raw);
        let mut last = None;
        while !r.is_empty() {
            let (f, wt) = r.key().ok()?;
            if f == field && wt == LEN {
                last = Some(r.bytes().ok()?);
            } else {
                r.skip(f, wt, RECURSION_LIMIT).ok()?;
            }
        }
        last
    }

    /// The first attribute named `key`.
    pub fn attribute(&self, key: &str) -> Option<AnyValueView<'a>> {
        let mut r = Reader::new(self.raw);
        while !r.is_empty() {
            let (f, wt) = r.key().ok()?;
            if f == self.attributes_field && wt == LEN {
                let kv = r.bytes().ok()?;
                let mut kr = Reader::new(kv);
                let (mut k, mut v): (&[u8], Option<&[u8]>) = (&[], None);
                while !kr.is_empty() {
                    match kr.key().ok()? {
                        (1, LEN) => k = kr.bytes().ok()?,
                        (2, LEN) => v = Some(kr.bytes().ok()?),
                        (f, wt) => kr.skip(f, wt, RECURSION_LIMIT).ok()?,
                    }
                }
                if k == key.as_bytes() {
                    return Some(v.map_or(AnyValueView::Empty, AnyValueView::parse));
                }
            } else {
                r.skip(f, wt, RECURSION_LIMIT).ok()?;
            }
        }
        None
    }
}

/// Changes to a kept item during [`edit_items`].
pub struct ItemOut<'s> {
    arena: &'s mut Vec<u8>,
    /// The replaced field's number and its new encoding (key, length, value) in the arena.
    replace: Option<(u32, usize, usize)>,
}

impl ItemOut<'_> {
    /// Replaces every occurrence of string field `field` with `value` (written even if empty,
    /// which decodes the same as absent).
    pub fn set_string_field(&mut self, field: u32, value: &str) {
        let start = self.arena.len();
        put_varint(self.arena, len_key(field));
        put_varint(self.arena, value.len() as u64);
        self.arena.extend_from_slice(value.as_bytes());
        self.replace = Some((field, start, self.arena.len()));
    }
}

/// The part of the message schema the walk follows/// The part of the message schema the walk follows: which length-delimited fields lead to the
/// attribute lists, and at the bottom which field holds them.
struct Level {
    children: &'static [(u32, &'static Level)],
    /// The children are singular fields (or one oneof): more than one occurrence in total means
    /// prost would merge them, which the walk does not reproduce.
    at_most_one: bool,
    /// When no child occurs, edit an empty one (written only if the edit adds something), as
    /// pdata always has a resource where prost has `None`.
    create_missing: bool,
    /// Field number of the `repeated KeyValue attributes` list edited here (0: none).
    attributes: u32,
}

const fn walk(children: &'static [(u32, &'static Level)]) -> Level {
    Level {
        children,
        at_most_one: false,
        create_missing: false,
        attributes: 0,
    }
}

const fn attrs(field: u32) -> Level {
    Level {
        children: &[],
        at_most_one: false,
        create_missing: false,
        attributes: field,
    }
}

// Export*ServiceRequest.resource_* = 1 → Resource* .scope_* = 2 → Scope* .items = 2.
static SPAN: Level = attrs(9);
static SCOPE_SPANS: Level = walk(&[(2, &SPAN)]);
static RESOURCE_SPANS: Level = walk(&[(2, &SCOPE_SPANS)]);
static TRACES_ITEMS: Level = walk(&[(1, &RESOURCE_SPANS)]);

static LOG_RECORD: Level = attrs(6);
static SCOPE_LOGS: Level = walk(&[(2, &LOG_RECORD)]);
static RESOURCE_LOGS: Level = walk(&[(2, &SCOPE_LOGS)]);
static LOGS_ITEMS: Level = walk(&[(1, &RESOURCE_LOGS)]);

static NUMBER_POINT: Level = attrs(7);
static HISTOGRAM_POINT: Level = attrs(9);
static EXP_HISTOGRAM_POINT: Level = attrs(1);
static SUMMARY_POINT: Level = attrs(7);
static GAUGE_OR_SUM: Level = walk(&[(1, &NUMBER_POINT)]);
static HISTOGRAM: Level = walk(&[(1, &HISTOGRAM_POINT)]);
static EXP_HISTOGRAM: Level = walk(&[(1, &EXP_HISTOGRAM_POINT)]);
static SUMMARY: Level = walk(&[(1, &SUMMARY_POINT)]);
// Metric.data oneof: gauge 5, sum 7, histogram 9, exponential_histogram 10, summary 11.
static METRIC: Level = Level {
    children: &[
        (5, &GAUGE_OR_SUM),
        (7, &GAUGE_OR_SUM),
        (9, &HISTOGRAM),
        (10, &EXP_HISTOGRAM),
        (11, &SUMMARY),
    ],
    at_most_one: true,
    create_missing: false,
    attributes: 0,
};
static SCOPE_METRICS: Level = walk(&[(2, &METRIC)]);
static RESOURCE_METRICS: Level = walk(&[(2, &SCOPE_METRICS)]);
static METRICS_ITEMS: Level = walk(&[(1, &RESOURCE_METRICS)]);

// Resource*.resource = 1 → Resource.attributes = 1 (the same for every signal).
static RESOURCE: Level = attrs(1);
static RESOURCE_HOLDER: Level = Level {
    children: &[(1, &RESOURCE)],
    at_most_one: true,
    create_missing: true,
    attributes: 0,
};
static RESOURCE_LEVEL: Level = walk(&[(1, &RESOURCE_HOLDER)]);

/// One step of the output: input bytes, arena bytes, or a length-delimited field's key and
/// length (patched once the field's new body size is known).
#[derive(Clone, Copy)]
enum Op {
    Copy(usize, usize),
    Arena(usize, usize),
    Header { key: u64, len: usize },
}

/// One attribute of the list being edited. Ranges are absolute offsets into the input or, for
/// re-encoded entries, the arena.
#[derive(Clone, Copy)]
struct Entry {
    /// Written before the item's piece with this index (the other fields and unparsed
    /// attributes around it keep their places); `u32::MAX` for an added entry, written last.
    anchor: u32,
    in_arena: bool,
    /// The whole `attributes` field: key, length and KeyValue body.
    field: (usize, usize),
    key: (usize, usize),
    /// The encoded AnyValue, if the KeyValue has one.
    value: Option<(usize, usize)>,
}

/// What a message's walk produced: its new size, whether it differs from the input, and how
/// many items it still holds.
#[derive(Clone, Copy)]
struct Walked {
    size: usize,
    changed: bool,
    items: usize,
}

/// The output being built: input and arena slices and patched headers.
struct Out<'a> {
    input: &'a [u8],
    ops: Vec<Op>,
    arena: Vec<u8>,
}

impl Out<'_> {
    /// Appends an input copy, merging it into the previous one when adjacent.
    #[inline]
    fn copy(&mut self, start: usize, end: usize) {
        if start == end {
            return;
        }
        if let Some(Op::Copy(_, e)) = self.ops.last_mut()
            && *e == start
        {
            *e = end;
            return;
        }
        self.ops.push(Op::Copy(start, end));
    }

    /// Writes an attribute entry; its encoded size.
    #[inline(always)]
    fn entry(&mut self, e: &Entry) -> usize {
        let (s, t) = e.field;
        if e.in_arena {
            self.ops.push(Op::Arena(s, t));
        } else {
            self.copy(s, t);
        }
        t - s
    }

    /// Copies an item unchanged.
    fn unchanged(&mut self, start: usize, end: usize) -> Walked {
        self.copy(start, end);
        Walked {
            size: end - start,
            changed: false,
            items: 1,
        }
    }
}

/// What happens at an item: an attribute edit or a keep/drop decision.
trait Leaf {
    fn item(
        &mut self,
        out: &mut Out<'_>,
        start: usize,
        end: usize,
        attr_field: u32,
        ctx: u32,
    ) -> Result<Walked, Unsupported>;
}

struct Rewriter<'a, L> {
    out: Out<'a>,
    leaf: L,
    /// Remove non-item messages left without items (scopes, resources).
    drop_empty: bool,
}

impl<'a, L: Leaf> Rewriter<'a, L> {
    fn new(input: &'a [u8], leaf: L, drop_empty: bool) -> Self {
        Rewriter {
            out: Out {
                input,
                ops: Vec::with_capacity(64),
                // New entries of a typical edit fit without regrowing.
                arena: Vec::with_capacity(input.len() / 8),
            },
            leaf,
            drop_empty,
        }
    }

    /// Walks the request from `level`; writes the output when anything changed.
    fn run(mut self, level: &'static Level) -> Result<Option<(Bytes, usize)>, Unsupported> {
        let input = self.out.input;
        let walked = self.message(0, input.len(), level, RECURSION_LIMIT)?;
        if !walked.changed {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(walked.size);
        for op in &self.out.ops {
            match *op {
                Op::Copy(s, e) => out.extend_from_slice(&input[s..e]),
                Op::Arena(s, e) => out.extend_from_slice(&self.out.arena[s..e]),
                Op::Header { key, len } => {
                    put_varint(&mut out, key);
                    put_varint(&mut out, len as u64);
                }
            }
        }
        debug_assert_eq!(out.len(), walked.size);
        Ok(Some((out.into(), walked.items)))
    }

    /// Walks the message body `input[start..end]`: its new size, whether anything in it
    /// changed (if not, it is one copy of the input) and the items left in it.
    fn message(
        &mut self,
        start: usize,
        end: usize,
        level: &'static Level,
        ctx: u32,
    ) -> Result<Walked, Unsupported> {
        if level.attributes != 0 {
            return self
                .leaf
                .item(&mut self.out, start, end, level.attributes, ctx);
        }
        let ops_start = self.out.ops.len();
        let mut r = Reader::new(&self.out.input[start..end]);
        let mut size = 0;
        let mut changed = false;
        let mut items = 0;
        let mut descended = 0;
        while !r.is_empty() {
            let field_start = end - r.left();
            let (field, wt) = r.key()?;
            let child = level
                .children
                .iter()
                .find(|(f, _)| *f == field)
                .map(|(_, l)| *l);
            match child {
                Some(child) if wt == LEN => {
                    descended += 1;
                    if level.at_most_one && descended > 1 {
                        return Err(Unsupported::RepeatedSingular);
                    }
                    let body = r.bytes()?;
                    let body_end = end - r.left();
                    let body_start = body_end - body.len();
                    let header = self.out.ops.len();
                    let key = len_key(field);
                    self.out.ops.push(Op::Header { key, len: 0 });
                    let w = self.message(body_start, body_end, child, ctx - 1)?;
                    if self.drop_empty && w.items == 0 {
                        // Emptied (or empty) scope or resource: gone, as pdata removes it.
                        self.out.ops.truncate(header);
                        changed = true;
                        continue;
                    }
                    self.out.ops[header] = Op::Header { key, len: w.size };
                    size += varint_len(key) + varint_len(w.size as u64) + w.size;
                    changed |= w.changed;
                    items += w.items;
                }
                Some(_) => return Err(Unsupported::Malformed),
                None => {
                    r.skip(field, wt, ctx)?;
                    let field_end = end - r.left();
                    self.out.copy(field_start, field_end);
                    size += field_end - field_start;
                }
            }
        }
        if level.create_missing && descended == 0 {
            let (field, child) = level.children[0];
            let key = len_key(field);
            let header = self.out.ops.len();
            self.out.ops.push(Op::Header { key, len: 0 });
            let w = self.message(end, end, child, ctx - 1)?;
            if w.changed {
                self.out.ops[header] = Op::Header { key, len: w.size };
                size += varint_len(key) + varint_len(w.size as u64) + w.size;
                changed = true;
            } else {
                self.out.ops.truncate(header);
            }
        }
        if !changed {
            self.out.ops.truncate(ops_start);
            self.out.copy(start, end);
            size = end - start;
        }
        Ok(Walked {
            size,
            changed,
            items,
        })
    }
}

/// The attribute edit at each item.
struct AttrLeaf<'f, F> {
    /// Scratch for the item being edited, reused across items.
    entries: Vec<Entry>,
    /// Scratch: the item's other fields and the attributes the filter passed over, as input
    /// ranges (adjacent ones merged).
    pieces: Vec<(usize, usize)>,
    filter: &'f KeyFilter,
    edit: F,
}

impl<F: FnMut(&mut WireAttrs<'_>)> Leaf for AttrLeaf<'_, F> {
    /// Parses one item's attribute list, runs the edit, and writes the item.
    fn item(
        &mut self,
        out: &mut Out<'_>,
        start: usize,
        end: usize,
        attr_field: u32,
        ctx: u32,
    ) -> Result<Walked, Unsupported> {
        self.entries.clear();
        self.pieces.clear();
        let input = out.input;
        // The attributes field's key when it fits one byte (every item type: fields < 16).
        let attr_key = (attr_field << 3) as u8 | LEN;
        let one_byte_key = attr_field < 16;
        // Start of the current run of bytes passed through as they are (other fields and
        // attributes the filter passed over); it becomes a piece when an entry interrupts it.
        let mut run = start;
        let mut pos = start;
        while pos < end {
            let field_start = pos;
            // Fast path: a one-byte `attributes` key and a one-byte length.
            if input[pos] == attr_key && one_byte_key && pos + 1 < end && input[pos + 1] < 0x80 {
                let kv_start = pos + 2;
                let field_end = kv_start + usize::from(input[pos + 1]);
                if field_end > end {
                    return Err(Unsupported::Malformed);
                }
                let kv = &input[kv_start..field_end];
                // Passed over unparsed when the key is not one the edit can touch.
                if let KeyFilter::Keys(set) = self.filter
                    && let Some(key) = usual_key(kv)
                    && !set.contains(key)
                {
                    pos = field_end;
                    continue;
                }
                let entry = parse_entry(kv, kv_start, field_start, field_end, ctx)?;
                self.push_entry(input, entry, &mut run);
                pos = field_end;
                continue;
            }
            if input[pos] >> 3 != attr_field as u8
                && let Some(field_end) = skip_small_field(input, pos, end)
            {
                pos = field_end;
                continue;
            }
            let mut r = Reader::new(&input[pos..end]);
            let (field, wt) = r.key()?;
            if field == attr_field {
                if wt != LEN {
                    return Err(Unsupported::Malformed);
                }
                let kv = r.bytes()?;
                let field_end = end - r.left();
                let kv_start = field_end - kv.len();
                let entry = parse_entry(kv, kv_start, field_start, field_end, ctx)?;
                self.push_entry(input, entry, &mut run);
                pos = field_end;
            } else {
                r.skip(field, wt, ctx)?;
                pos = end - r.left();
            }
        }
        if run < end {
            self.pieces.push((run, end));
        }
        let arena_mark = out.arena.len();
        let mut attrs = WireAttrs {
            input,
            entries: &mut self.entries,
            arena: &mut out.arena,
            field: attr_field,
            changed: false,
        };
        (self.edit)(&mut attrs);
        if !attrs.changed {
            out.arena.truncate(arena_mark);
            return Ok(out.unchanged(start, end));
        }
        // Pieces and entries in their original order; entries keep their order among
        // themselves (edits remove, replace in place or append), added ones come last.
        let mut size = 0;
        let mut next = 0;
        for i in 0..=self.pieces.len() {
            while let Some(e) = self.entries.get(next)
                && e.anchor as usize <= i
            {
                size += out.entry(e);
                next += 1;
            }
            if let Some(&(s, t)) = self.pieces.get(i) {
                size += t - s;
                out.copy(s, t);
            }
        }
        for e in &self.entries[next..] {
            size += out.entry(e);
        }
        Ok(Walked {
            size,
            changed: true,
            items: 1,
        })
    }
}

impl<F> AttrLeaf<'_, F> {
    /// Records a parsed attribute at its place, unless the filter passes over its key (a
    /// KeyValue not in the usual key-first form is only known after parsing).
    #[inline(always)]
    fn push_entry(&mut self, input: &[u8], mut entry: Entry, run: &mut usize) {
        if !self.filter.admits(&input[entry.key.0..entry.key.1]) {
            return;
        }
        let (s, t) = entry.field;
        if *run < s {
            self.pieces.push((*run, s));
        }
        *run = t;
        entry.anchor = self.pieces.len() as u32;
        self.entries.push(entry);
    }
}

/// The keep/drop decision at each item.
struct ItemLeaf<G> {
    /// Scratch: the kept item's other fields, as input ranges.
    pieces: Vec<(usize, usize)>,
    decide: G,
}

impl<G: FnMut(&ItemView<'_>, &mut ItemOut<'_>) -> ItemDecision> Leaf for ItemLeaf<G> {
    fn item(
        &mut self,
        out: &mut Out<'_>,
        start: usize,
        end: usize,
        attr_field: u32,
        ctx: u32,
    ) -> Result<Walked, Unsupported> {
        let view = ItemView {
            raw: &out.input[start..end],
            attributes_field: attr_field,
        };
        let mut item_out = ItemOut {
            arena: &mut out.arena,
            replace: None,
        };
        let decision = (self.decide)(&view, &mut item_out);
        let replace = item_out.replace;
        if decision == ItemDecision::Drop {
            return Ok(Walked {
                size: 0,
                changed: true,
                items: 0,
            });
        }
        let Some((field, new_start, new_end)) = replace else {
            return Ok(out.unchanged(start, end));
        };
        // Every field but the replaced one, then its new encoding.
        self.pieces.clear();
        let mut r = Reader::new(&out.input[start..end]);
        while !r.is_empty() {
            let field_start = end - r.left();
            let (f, wt) = r.key()?;
            r.skip(f, wt, ctx)?;
            if f != field {
                let field_end = end - r.left();
                match self.pieces.last_mut() {
                    Some((_, e)) if *e == field_start => *e = field_end,
                    _ => self.pieces.push((field_start, field_end)),
                }
            }
        }
        let mut size = new_end - new_start;
        for &(s, t) in &self.pieces {
            size += t - s;
            out.copy(s, t);
        }
        out.ops.push(Op::Arena(new_start, new_end));
        Ok(Walked {
            size,
            changed: true,
            items: 1,
        })
    }
}

/// The key of a KeyValue shorter than 128 bytes in the form every encoder writes (key, then
/// value, nothing else); `None` for any other form, which is parsed in full. Lengths inside
/// such a KeyValue are single bytes.
#[inline(always)]
fn usual_key(kv: &[u8]) -> Option<&[u8]> {
    debug_assert!(kv.len() < 0x80);
    if kv.len() < 2 || kv[0] != 0x0a {
        return None;
    }
    let value_at = 2 + usize::from(kv[1]);
    let key = kv.get(2..value_at)?;
    if value_at == kv.len()
        || (value_at + 2 <= kv.len()
            && kv[value_at] == 0x12
            && usize::from(kv[value_at + 1]) == kv.len() - value_at - 2)
    {
        Some(key)
    } else {
        None
    }
}

/// The end of the field at `pos` when its key is one byte and it is a fixed-size scalar, a
/// varint or a length-delimited field with a one-byte length (nearly every field of an item);
/// `None` sends it to the general reader.
#[inline(always)]
fn skip_small_field(input: &[u8], pos: usize, end: usize) -> Option<usize> {
    let key = input[pos];
    if !(8..0x80).contains(&key) {
        return None;
    }
    let field_end = match key & 7 {
        0 => {
            // A varint of up to 10 bytes.
            let body = input.get(pos + 1..end.min(pos + 11))?;
            pos + 2 + body.iter().position(|b| b & 0x80 == 0)?
        }
        1 => pos + 9,
        2 => {
            let len = *input.get(pos + 1)?;
            if len >= 0x80 {
                return None;
            }
            pos + 2 + usize::from(len)
        }
        5 => pos + 5,
        _ => return None,
    };
    (field_end <= end).then_some(field_end)
}

/// Reads a KeyValue (last key and last value win, as in prost).
#[inline(always)]
fn parse_entry(
    kv: &[u8],
    kv_start: usize,
    field_start: usize,
    field_end: usize,
    ctx: u32,
) -> Result<Entry, WireErr> {
    // Fast path: what every encoder writes — key then value, each with a one-byte length.
    if let [0x0a, klen, rest @ ..] = kv {
        let klen = usize::from(*klen);
        if klen < 0x80
            && let [0x12, vlen, value @ ..] = &rest[klen.min(rest.len())..]
            && usize::from(*vlen) < 0x80
            && value.len() == usize::from(*vlen)
        {
            let key = (kv_start + 2, kv_start + 2 + klen);
            let value_start = key.1 + 2;
            return Ok(Entry {
                anchor: 0,
                in_arena: false,
                field: (field_start, field_end),
                key,
                value: Some((value_start, value_start + value.len())),
            });
        }
    }
    parse_entry_slow(kv, kv_start, field_start, field_end, ctx)
}

#[inline(never)]
fn parse_entry_slow(
    kv: &[u8],
    kv_start: usize,
    field_start: usize,
    field_end: usize,
    ctx: u32,
) -> Result<Entry, WireErr> {
    let mut r = Reader::new(kv);
    let kv_end = kv_start + kv.len();
    let mut key = (kv_start, kv_start);
    let mut value = None;
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match (field, wt) {
            (1 | 2, LEN) => {
                let b = r.bytes()?;
                let e = kv_end - r.left();
                if field == 1 {
                    key = (e - b.len(), e);
                } else {
                    value = Some((e - b.len(), e));
                }
            }
            (1 | 2, other) => return Err(WireErr::InvalidWireType(other)),
            _ => r.skip(field, wt, ctx - 1)?,
        }
    }
    Ok(Entry {
        anchor: 0,
        in_arena: false,
        field: (field_start, field_end),
        key,
        value,
    })
}

/// One attribute encoded once (a KeyValue message body), for edits that write the same
/// attribute into many lists: a configured `env = prod` costs a copy per item, not an encode.
#[derive(Debug, Clone)]
pub struct EncodedAttr {
    body: Vec<u8>,
    /// The key's bytes within `body`.
    key: (usize, usize),
    /// Where the value (an AnyValue message) starts within `body`; it runs to the end.
    value: (usize, usize),
}

impl EncodedAttr {
    pub fn new(key: &str, value: &AnyValue) -> Self {
        let vlen = value.encoded_len();
        let mut body = Vec::with_capacity(key.len() + vlen + 12);
        body.push(0x0a);
        put_varint(&mut body, key.len() as u64);
        let key_start = body.len();
        body.extend_from_slice(key.as_bytes());
        let key_end = body.len();
        body.push(0x12);
        put_varint(&mut body, vlen as u64);
        let value_start = body.len();
        // Cannot fail: a Vec grows as needed.
        let _ = value.encode(&mut body);
        let end = body.len();
        EncodedAttr {
            body,
            key: (key_start, key_end),
            value: (value_start, end),
        }
    }
}

/// The attribute list of one item (or resource) during [`edit_attributes`].
///
/// Entries keep their encoded form until an edit replaces them; reading a key or a scalar
/// value allocates nothing.
pub struct WireAttrs<'s> {
    input: &'s [u8],
    entries: &'s mut Vec<Entry>,
    arena: &'s mut Vec<u8>,
    field: u32,
    changed: bool,
}

impl WireAttrs<'_> {
    fn bytes(&self, in_arena: bool, (s, e): (usize, usize)) -> &[u8] {
        if in_arena {
            &self.arena[s..e]
        } else {
            &self.input[s..e]
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The key of entry `i` as bytes (UTF-8 in validated input).
    pub fn key_bytes(&self, i: usize) -> &[u8] {
        let e = &self.entries[i];
        self.bytes(e.in_arena, e.key)
    }

    /// The key of entry `i` ("" if it is not UTF-8, which validated input never has).
    pub fn key(&self, i: usize) -> &str {
        std::str::from_utf8(self.key_bytes(i)).unwrap_or_default()
    }

    /// The first entry with this key.
    pub fn find(&self, key: &str) -> Option<usize> {
        let key = key.as_bytes();
        let Some(&last) = key.last() else {
            return self.entries.iter().position(|e| e.key.0 == e.key.1);
        };
        self.entries.iter().position(|e| {
            let (s, t) = e.key;
            let buf: &[u8] = if e.in_arena { self.arena } else { self.input };
            // Attribute keys of one item often share a prefix (`http.request.*`) and a
            // length: the last byte tells most of them apart without a memcmp call.
            t - s == key.len() && buf[t - 1] == last && same_bytes(&buf[s..t], key)
        })
    }

    /// The value of entry `i`, borrowed.
    pub fn value(&self, i: usize) -> AnyValueView<'_> {
        let e = &self.entries[i];
        match e.value {
            Some(range) => AnyValueView::parse(self.bytes(e.in_arena, range)),
            None => AnyValueView::Empty,
        }
    }

    /// The value of entry `i`, decoded (arrays and maps included).
    pub fn value_owned(&self, i: usize) -> AnyValue {
        let e = &self.entries[i];
        e.value
            .and_then(|range| AnyValue::decode(self.bytes(e.in_arena, range)).ok())
            .unwrap_or_default()
    }

    /// Encodes `key = value` as an attributes field into the arena.
    fn encode(&mut self, key: &[u8], value: &AnyValue) -> Entry {
        // Scalars are written directly (prost's generic encoder costs several times more);
        // the layout is the same as prost's.
        let mut scalar = [0u8; 11];
        let scalar: Option<&[u8]> = match &value.value {
            Some(any_value::Value::IntValue(v)) => {
                scalar[0] = 0x18;
                let n = put_varint_into(&mut scalar[1..], *v as u64);
                Some(&scalar[..1 + n])
            }
            Some(any_value::Value::BoolValue(b)) => {
                scalar[0] = 0x10;
                scalar[1] = u8::from(*b);
                Some(&scalar[..2])
            }
            Some(any_value::Value::DoubleValue(d)) => {
                scalar[0] = 0x21;
                scalar[1..9].copy_from_slice(&d.to_le_bytes());
                Some(&scalar[..9])
            }
            _ => None,
        };
        let (string, vlen) = match (&value.value, scalar) {
            (_, Some(sc)) => (None, sc.len()),
            (Some(any_value::Value::StringValue(st)), None) => (
                Some(st.as_str()),
                1 + varint_len(st.len() as u64) + st.len(),
            ),
            _ => (None, value.encoded_len()),
        };
        let body =
            1 + varint_len(key.len() as u64) + key.len() + 1 + varint_len(vlen as u64) + vlen;
        let start = self.arena.len();
        put_varint(self.arena, len_key(self.field));
        put_varint(self.arena, body as u64);
        self.arena.push(0x0a);
        put_varint(self.arena, key.len() as u64);
        let key_start = self.arena.len();
        self.arena.extend_from_slice(key);
        let key_end = self.arena.len();
        self.arena.push(0x12);
        put_varint(self.arena, vlen as u64);
        let value_start = self.arena.len();
        match (scalar, string) {
            (Some(sc), _) => self.arena.extend_from_slice(sc),
            (None, Some(st)) => {
                self.arena.push(0x0a);
                put_varint(self.arena, st.len() as u64);
                self.arena.extend_from_slice(st.as_bytes());
            }
            // Cannot fail: the arena grows as needed.
            (None, None) => drop(value.encode(self.arena)),
        }
        let end = self.arena.len();
        Entry {
            anchor: u32::MAX,
            in_arena: true,
            field: (start, end),
            key: (key_start, key_end),
            value: Some((value_start, end)),
        }
    }

    /// Writes a pre-encoded attribute into the arena: its field header and body.
    fn write_encoded(&mut self, attr: &EncodedAttr) -> Entry {
        let arena = &mut *self.arena;
        let start = arena.len();
        put_varint(arena, len_key(self.field));
        put_varint(arena, attr.body.len() as u64);
        let body = arena.len();
        arena.extend_from_slice(&attr.body);
        Entry {
            anchor: u32::MAX,
            in_arena: true,
            field: (start, arena.len()),
            key: (body + attr.key.0, body + attr.key.1),
            value: Some((body + attr.value.0, arena.len())),
        }
    }

    /// Appends a pre-encoded attribute.
    pub fn push_encoded(&mut self, attr: &EncodedAttr) {
        let e = self.write_encoded(attr);
        self.entries.push(e);
        self.changed = true;
    }

    /// Replaces entry `i` with a pre-encoded attribute, in its place. To set a value, give an
    /// attribute with the entry's key.
    pub fn set_encoded(&mut self, i: usize, attr: &EncodedAttr) {
        let mut new = self.write_encoded(attr);
        new.anchor = self.entries[i].anchor;
        self.entries[i] = new;
        self.changed = true;
    }

    /// Replaces the value of entry `i` (it keeps its place).
    pub fn set(&mut self, i: usize, value: &AnyValue) {
        let e = self.entries[i];
        let input = self.input;
        let mut new = if e.in_arena {
            // The key lives in the arena, which may move as it grows: copy it out first.
            let key = self.arena[e.key.0..e.key.1].to_vec();
            self.encode(&key, value)
        } else {
            self.encode(&input[e.key.0..e.key.1], value)
        };
        new.anchor = e.anchor;
        self.entries[i] = new;
        self.changed = true;
    }

    /// Appends `key = value`.
    pub fn push(&mut self, key: &str, value: &AnyValue) {
        let e = self.encode(key.as_bytes(), value);
        self.entries.push(e);
        self.changed = true;
    }

    /// Removes entry `i`, keeping the order of the others.
    pub fn remove(&mut self, i: usize) {
        self.entries.remove(i);
        self.changed = true;
    }

    /// Keeps the entries whose key `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        let mut i = 0;
        while i < self.entries.len() {
            if keep(self.key(i)) {
                i += 1;
            } else {
                self.remove(i);
            }
        }
    }

    /// The list as decoded key-values (for tests and for callers that need it all).
    pub fn to_key_values(&self) -> Vec<KeyValue> {
        (0..self.len())
            .map(|i| KeyValue {
                key: self.key(i).to_string(),
                value: self.entries[i].value.map(|_| self.value_owned(i)),
                ..Default::default()
            })
            .collect()
    }
}

/// Writes `v` as a varint into `out` (at least 10 bytes), returning its length.
fn put_varint_into(out: &mut [u8], mut v: u64) -> usize {
    let mut i = 0;
    while v >= 0x80 {
        out[i] = (v as u8) | 0x80;
        v >>= 7;
        i += 1;
    }
    out[i] = v as u8;
    i + 1
}
