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
//! The output is written as the walk goes ([`Writer`]): unchanged input is copied lazily, in
//! one piece up to the next edited item, and the length prefixes of the enclosing messages
//! (scope, resource), only known once their items were edited, are patched in place when
//! each message ends.
//!
//! Per span, the work left for a key-filtered edit is the walk itself: each attribute costs
//! one word compare and one bit test ([`KeySet`]'s prefilter), and the edit's result on an
//! empty list is computed once per request. Items whose bytes do not contain any of the
//! filter's keys (a SIMD substring search, [`Presearch`]) take that result without a walk, so
//! inserting `env = prod` into every span is a copy per span.

use bytes::Bytes;
use memchr::memmem;
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
///
/// The edit must depend only on the list it is handed: for the items whose list is empty
/// (after the key filter, see [`edit_attributes_of`]) it runs once per request and its result
/// is reused, which makes the commonest edit, adding a configured attribute to every span,
/// a copy per item.
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

/// A small set of keys with a one-bit-test prefilter on a key's length and last byte: keys
/// of attributes often share a length (`http.method`, `http.target`, `span.attr.3`), rarely
/// also their last byte, so one bit test rejects nearly every key not in the set.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    /// Bit [`KeySet::slot`] set for every key.
    slots: [u64; 4],
    keys: Vec<Box<[u8]>>,
    /// A substring searcher per key, in `keys`' order: an item whose bytes do not contain any
    /// key has none of them as an attribute ([`Presearch`]).
    finders: Vec<memmem::Finder<'static>>,
    /// See [`KeySet::reads_keys_only`].
    keys_only: bool,
}

impl KeySet {
    pub fn new<K: AsRef<[u8]>>(keys: impl IntoIterator<Item = K>) -> Self {
        let mut set = KeySet::default();
        for k in keys {
            let k = k.as_ref();
            if set.keys.iter().any(|x| &x[..] == k) {
                continue;
            }
            let n = Self::slot(k.len(), k.last().copied().unwrap_or(0));
            set.slots[n / 64] |= 1 << (n % 64);
            set.keys.push(k.into());
            set.finders.push(memmem::Finder::new(k).into_owned());
        }
        set
    }

    /// The prefilter bit of a key of length `len` ending in `last` (0 for the empty key):
    /// keys of one length and different last bytes never share a bit.
    #[inline(always)]
    fn slot(len: usize, last: u8) -> usize {
        (len.wrapping_mul(0x9d) ^ usize::from(last)) & 255
    }

    #[inline(always)]
    fn may_contain(slots: &[u64; 4], len: usize, last: u8) -> bool {
        let n = Self::slot(len, last);
        slots[n / 64] & (1 << (n % 64)) != 0
    }

    #[inline(always)]
    pub fn contains(&self, key: &[u8]) -> bool {
        self.position(key).is_some()
    }

    /// The key's index in the set (the order keys were first given in).
    #[inline(always)]
    fn position(&self, key: &[u8]) -> Option<usize> {
        if !Self::may_contain(&self.slots, key.len(), key.last().copied().unwrap_or(0)) {
            return None;
        }
        self.position_unfiltered(key)
    }

    /// [`KeySet::position`] of a key the prefilter admitted.
    #[inline(always)]
    fn position_unfiltered(&self, key: &[u8]) -> Option<usize> {
        self.keys.iter().position(|k| same_bytes(k, key))
    }

    /// Declares that the edit reads no attribute values and, of each key, only the first
    /// attribute holding it: it finds, sets, removes and appends by key, as the
    /// `insert`/`update`/`upsert` of a constant and the `delete` of a key do, and never
    /// looks for a key again after removing it (that would find the key's next attribute).
    /// Its result on a list is then a function of which of the set's keys the list holds,
    /// in which order.
    ///
    /// The wire edit then stops reading an item's attributes once it has seen every key, and
    /// runs the edit once per request and key sequence, replaying its result on the other
    /// items with that sequence ([`Plan`]). Later attributes with an already seen key are
    /// not handed to the edit. Sets of more than 64 keys ignore the declaration.
    pub fn reads_keys_only(mut self) -> Self {
        self.keys_only = self.keys.len() <= 64;
        self
    }
}

impl KeyFilter {
    /// Whether the edit may need the attribute with KeyValue body `kv` (shorter than 128
    /// bytes): false only when it is in the usual form and its key is not admitted.
    #[inline(always)]
    fn may_touch(&self, kv: &[u8]) -> bool {
        match self {
            KeyFilter::All => true,
            KeyFilter::Keys(set) => usual_key(kv).is_none_or(|key| set.contains(key)),
        }
    }
}

/// Where the walk of an item's fields starts: past a span's (or span link's) leading 16-byte
/// trace id and 8-byte span id (fields 1 and 2, which encoders write first), which one check
/// skips in any item whose attributes are not field 1 or 2; then, in items whose attributes
/// are field 9 (spans), past what encoders write next in field order when it has its usual
/// size: parent span id (4), name (5), kind (6), start and end times (7, 8). Each is one
/// compare here instead of a turn of [`walk_usual`]'s loop, and each is skipped by its own
/// encoded size, as the walk would (none of these fields is the attributes').
#[inline(always)]
fn skip_leading_fields(item: &[u8], start: usize, attr_field: u32) -> usize {
    let mut pos = start;
    if attr_field > 2
        && let Some(ids) = item.get(pos..pos + 28)
        && ids[..2] == [0x0a, 16]
        && ids[18..20] == [0x12, 8]
    {
        pos += 28;
    }
    if attr_field != 9 {
        return pos;
    }
    let mut rest = &item[pos..];
    if let [0x22, 8, tail @ ..] = rest
        && let Some(tail) = tail.get(8..)
    {
        rest = tail;
    }
    if let [0x2a, len, tail @ ..] = rest
        && *len < 0x80
        && let Some(tail) = tail.get(usize::from(*len)..)
    {
        rest = tail;
    }
    if let [0x30, kind, tail @ ..] = rest
        && *kind < 0x80
    {
        rest = tail;
    }
    for key in [0x39, 0x41] {
        if let [first, tail @ ..] = rest
            && *first == key
            && let Some(tail) = tail.get(8..)
        {
            rest = tail;
        }
    }
    item.len() - rest.len()
}

/// The filtered walk's fast path over an item's fields from `pos` (to the end of `item`):
/// fields it knows by their first bytes (ids, name, timestamps, kind, flags) are passed over
/// by their length, and attributes in the usual form (the value runs to the attribute's end,
/// so the KeyValue has no second key) after a word compare and a check of the value's
/// two-byte header. Those whose key `set`'s prefilter admits go to `at_attr(offset, field,
/// key length)`, which returns true to stop there. Returns where the walk stopped (a field it
/// does not know, or the end) and whether `at_attr` stopped it (then the offset is of no use).
#[inline(always)]
fn walk_usual<'a>(
    item: &'a [u8],
    pos: usize,
    attr_key: u8,
    set: &KeySet,
    mut at_attr: impl FnMut(usize, &'a [u8], usize) -> bool,
) -> (usize, bool) {
    let usual_head = u32::from(attr_key) | 0x0a << 16;
    let end = item.len();
    let mut rest = &item[pos..];
    while let Some(head) = rest.first_chunk::<4>() {
        // Tag, a one-byte length (high bit clear), the KeyValue's key tag, key length.
        let head = u32::from_le_bytes(*head);
        if head & 0x00ff_80ff != usual_head {
            // Another field: ids, name, timestamps (the commonest, tested first), kind,
            // flags are skipped here.
            let tag = head as u8;
            let skip = if head & 0x8087 == 0x0002 && tag != attr_key && tag >= 8 {
                2 + (head >> 8 & 0xff) as usize
            } else if tag & 0x87 == 0x01 && tag >= 8 {
                9
            } else {
                match small_field_size(head, attr_key) {
                    0 => break,
                    size => size,
                }
            };
            let Some(next) = rest.get(skip..) else {
                break;
            };
            rest = next;
            continue;
        }
        let len = (head >> 8 & 0xff) as usize;
        let key_len = (head >> 24) as usize;
        if key_len + 4 > len {
            break;
        }
        let Some(attr) = rest.get(..2 + len) else {
            break;
        };
        // The value's tag and one-byte length, running to the attribute's end.
        let value = &attr[4 + key_len..];
        if u16::from_le_bytes([value[0], value[1]]) as usize != 0x12 | (len - key_len - 4) << 8 {
            break;
        }
        // For the empty key this is its length byte, 0: the `last` of the empty key.
        let last = attr[3 + key_len];
        if KeySet::may_contain(&set.slots, key_len, last)
            && at_attr(end - rest.len(), attr, key_len)
        {
            return (end - rest.len(), true);
        }
        rest = &rest[attr.len()..];
    }
    (end - rest.len(), false)
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
        slots: Vec::new(),
        on_empty: None,
        // A resource's attributes are a small part of its bytes (the spans follow): walking
        // them is cheaper than searching everything.
        presearch: (target == AttrTarget::Items).then(Presearch::default),
        keys_seen: Vec::new(),
        seen: 0,
        sequence: 0,
        plans: Vec::new(),
        one_key_plan: None,
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
/// One attribute of the list being edited. Ranges are absolute offsets into the input or, for
/// re-encoded entries, the arena.
#[derive(Clone, Copy)]
struct Entry {
    /// Written in the place of the item's `anchor`-th parsed attribute (after the input bytes
    /// that preceded it); `u32::MAX` for an added entry, written last.
    anchor: u32,
    in_arena: bool,
    /// The whole `attributes` field: key, length and KeyValue body.
    field: (usize, usize),
    key: (usize, usize),
    /// The encoded AnyValue, if the KeyValue has one.
    value: Option<(usize, usize)>,
}

/// The output, written as the walk goes.
///
/// Input bytes are copied lazily: everything before `synced` is in `out` (edited where an
/// edit happened), everything from `synced` on is pending and copied in one piece when an
/// edit needs to write after it, or at the end. A request nothing changed is never copied,
/// and an edited item costs one copy of its unchanged bytes plus its new attributes.
///
/// Length prefixes of enclosing messages (scope, resource) are only known once their items
/// were edited: they are written as they were and patched when the message ends, in place
/// when the new length takes as many bytes (nearly always), otherwise by shifting what
/// follows.
struct Writer<'a> {
    input: &'a [u8],
    out: Vec<u8>,
    synced: usize,
    /// New attribute entries of the item being edited, and replaced item fields.
    arena: Vec<u8>,
    changed: bool,
}

impl Writer<'_> {
    /// Output offset minus input offset for pending input (constant until the next edit).
    #[inline(always)]
    fn delta(&self) -> isize {
        self.out.len() as isize - self.synced as isize
    }

    /// Copies pending input up to `at`.
    #[inline(always)]
    fn sync_to(&mut self, at: usize) {
        if !self.changed {
            self.changed = true;
            // Edits rarely grow a request by more than an eighth.
            self.out.reserve(self.input.len() + self.input.len() / 8);
        }
        if at > self.synced {
            self.out.extend_from_slice(&self.input[self.synced..at]);
            self.synced = at;
        }
    }

    /// Starts replacing the input field `header_start..`: pending input before it is copied,
    /// then the field's key and its new length are written.
    #[inline(always)]
    fn begin_field(&mut self, header_start: usize, key: u64, len: usize) {
        self.sync_to(header_start);
        put_varint(&mut self.out, key);
        put_varint(&mut self.out, len as u64);
    }

    /// Writes the input field at `header` (key `key`) with its body `start..end` followed by
    /// `added`: what an insert does to every item without the key.
    ///
    /// Written by hand, with one capacity check for the three pieces: through `Vec::push`
    /// and `extend_from_slice` the length and capacity are reloaded and checked per piece
    /// and per varint byte, which was a third of the cost of such an item.
    #[inline(always)]
    fn item_with(&mut self, header: usize, key: u64, (start, end): (usize, usize), added: &[u8]) {
        self.sync_to(header);
        let body = &self.input[start..end];
        let new_len = body.len() + added.len();
        let mut head = [0u8; 20];
        let k = put_varint_into(&mut head, key);
        let n = k + put_varint_into(&mut head[k..], new_len as u64);
        self.out.reserve(head.len() + new_len);
        let at = self.out.len();
        // SAFETY: `reserve` made room for all of `head` and both slices past `at`; every
        // write stays in that spare capacity, the slices do not overlap the output, and the
        // new length covers exactly the bytes written (the head's unused tail is overwritten
        // or left beyond the length).
        unsafe {
            let dst = self.out.as_mut_ptr().add(at);
            std::ptr::copy_nonoverlapping(head.as_ptr(), dst, head.len());
            std::ptr::copy_nonoverlapping(body.as_ptr(), dst.add(n), body.len());
            std::ptr::copy_nonoverlapping(added.as_ptr(), dst.add(n + body.len()), added.len());
            self.out.set_len(at + n + new_len);
        }
        self.synced = end;
    }

    /// Writes the item `f` as `plan` (see [`AttrLeaf::replay`]) edits it: its body, `len`
    /// bytes long, is the input with the plan's replacements at `slots`, then the plan's
    /// appended bytes. One capacity check for all pieces, as in [`Writer::item_with`].
    #[inline(always)]
    fn item_spliced(&mut self, f: ItemField, len: usize, slots: &[(usize, usize)], plan: &Plan) {
        self.sync_to(f.header);
        // Two varints of at most 10 bytes each, then the body.
        self.out.reserve(20 + len);
        let at = self.out.len();
        let input = self.input;
        // SAFETY: `reserve` made room for 20 + `len` bytes past `at`. The head is two
        // varints of at most 10 bytes. The pieces written after it are input
        // `f.start..f.end` with each replaced slot `s..t` swapped for its replacement, then
        // the appended bytes: their lengths telescope to `(f.end - f.start) - Σ(t - s) + Σ
        // replacements + appended`, which is `len` as the caller computed it from the same
        // slots and plan (the slicing panics before any piece out of order could be
        // written). Nothing overlaps the output; the new length covers exactly the bytes
        // written.
        unsafe {
            let base = self.out.as_mut_ptr();
            let mut dst = put_varint_raw(base.add(at), f.key);
            dst = put_varint_raw(dst, len as u64);
            let mut put = |piece: &[u8]| {
                // Pieces are often empty (nothing appended, an attribute at an end): no call.
                if !piece.is_empty() {
                    std::ptr::copy_nonoverlapping(piece.as_ptr(), dst, piece.len());
                    dst = dst.add(piece.len());
                }
            };
            let mut from = f.start;
            for (&(s, t), op) in slots.iter().zip(&plan.slots) {
                if let Some((a, b)) = *op {
                    put(&input[from..s]);
                    put(&plan.bytes[a..b]);
                    from = t;
                }
            }
            put(&input[from..f.end]);
            put(&plan.bytes[plan.appended.0..plan.appended.1]);
            self.out.set_len(dst.offset_from(base) as usize);
        }
        self.synced = f.end;
    }

    /// Writes the item `f` with its input bytes `s..t` (one attribute) replaced by
    /// `replacement` (empty: deleted): the commonest plan, an update or delete of one key,
    /// without [`Writer::item_spliced`]'s loop.
    #[inline(always)]
    fn item_replacing(&mut self, f: ItemField, (s, t): (usize, usize), replacement: &[u8]) {
        let input = self.input;
        let (before, after) = (&input[f.start..s], &input[t..f.end]);
        let len = before.len() + replacement.len() + after.len();
        self.sync_to(f.header);
        self.out.reserve(20 + len);
        let at = self.out.len();
        // SAFETY: `reserve` made room for 20 + `len` bytes past `at`: two varints of at most
        // 10 bytes, then the three slices whose lengths make `len`. Nothing overlaps the
        // output; the new length covers exactly the bytes written.
        unsafe {
            let base = self.out.as_mut_ptr();
            let mut dst = put_varint_raw(base.add(at), f.key);
            dst = put_varint_raw(dst, len as u64);
            for piece in [before, replacement, after] {
                std::ptr::copy_nonoverlapping(piece.as_ptr(), dst, piece.len());
                dst = dst.add(piece.len());
            }
            self.out.set_len(dst.offset_from(base) as usize);
        }
        self.synced = f.end;
    }

    #[inline(always)]
    fn copy(&mut self, (start, end): (usize, usize)) {
        if start < end {
            self.out.extend_from_slice(&self.input[start..end]);
        }
    }

    /// Adds input bytes `piece` to the pending copy `run`, writing `run` first unless
    /// `piece` continues it.
    #[inline(always)]
    fn copy_run(&mut self, run: &mut (usize, usize), piece: (usize, usize)) {
        if piece.0 == run.1 {
            run.1 = piece.1;
        } else {
            self.copy(*run);
            *run = piece;
        }
    }

    /// Writes an attribute entry after the pending copy `run` (or adds it to the run).
    #[inline(always)]
    fn entry(&mut self, run: &mut (usize, usize), e: &Entry) {
        if e.in_arena {
            self.copy(*run);
            *run = (usize::MAX, usize::MAX);
            self.out
                .extend_from_slice(&self.arena[e.field.0..e.field.1]);
        } else {
            self.copy_run(run, e.field);
        }
    }

    /// Drops the input field `header_start..end`, which may be partly written already (from
    /// `header_out` in the output, where it began).
    fn drop_field(&mut self, header_start: usize, header_out: usize, end: usize) {
        if self.synced <= header_start {
            self.sync_to(header_start);
        } else {
            self.out.truncate(header_out);
        }
        self.synced = end;
    }

    /// Fixes the length prefix at output offset `len_out` (input bytes `len_in..body_start`)
    /// of a message whose body is now `new_len` bytes long.
    fn patch_length(&mut self, len_out: usize, len_in: usize, body_start: usize, new_len: usize) {
        let old_size = body_start - len_in;
        let mut buf = [0u8; 10];
        let n = put_varint_into(&mut buf, new_len as u64);
        if n == old_size {
            self.out[len_out..len_out + n].copy_from_slice(&buf[..n]);
        } else {
            // The length crossed a varint boundary (or the input used a padded varint):
            // shift what was written of the body.
            self.out
                .splice(len_out..len_out + old_size, buf[..n].iter().copied());
        }
    }
}

/// One item (span, log record, data point, resource) as a field of the input.
#[derive(Clone, Copy)]
struct ItemField {
    /// The field's key, as written before its length.
    key: u64,
    /// Where the field (key, length, body) starts.
    header: usize,
    /// The body `start..end`; `header == start == end` for an absent item to create if the
    /// edit adds something.
    start: usize,
    end: usize,
    /// Field number of the item's `repeated KeyValue attributes`.
    attr_field: u32,
}

/// What happens at an item: an attribute edit or a keep/drop decision.
trait Leaf {
    /// Handles one item: writes it if it changes (after [`Writer::begin_field`]) and returns
    /// how many items it leaves (0 or 1).
    fn item(&mut self, w: &mut Writer<'_>, f: ItemField, ctx: u32) -> Result<usize, Unsupported>;

    /// [`Leaf::item`] for an item the caller found past [`Leaf::clean_until`] (a leaf need
    /// not look again).
    #[inline(always)]
    fn item_not_clean(
        &mut self,
        w: &mut Writer<'_>,
        f: ItemField,
        ctx: u32,
    ) -> Result<usize, Unsupported> {
        self.item(w, f, ctx)
    }

    /// The input offset up to which the items from `from` on (with attributes at field
    /// `attr_field`) need not be shown to the leaf: each comes out as it went in, followed
    /// by [`Leaf::appended`]. 0 when every item must be seen.
    fn clean_until(&mut self, _input: &[u8], _from: usize, _attr_field: u32) -> usize {
        0
    }

    /// What [`Leaf::clean_until`]'s items get appended (nothing: they stay as they are).
    fn appended(&self) -> Option<&[u8]> {
        None
    }
}

struct Rewriter<'a, L> {
    w: Writer<'a>,
    leaf: L,
    /// Remove non-item messages left without items (scopes, resources).
    drop_empty: bool,
}

impl<'a, L: Leaf> Rewriter<'a, L> {
    fn new(input: &'a [u8], leaf: L, drop_empty: bool) -> Self {
        Rewriter {
            w: Writer {
                input,
                out: Vec::new(),
                synced: 0,
                arena: Vec::with_capacity(256),
                changed: false,
            },
            leaf,
            drop_empty,
        }
    }

    /// Walks the request from `level`; the new encoding and its item count when anything
    /// changed.
    fn run(mut self, level: &'static Level) -> Result<Option<(Bytes, usize)>, Unsupported> {
        let input = self.w.input;
        let items = self.message(0, input.len(), level, RECURSION_LIMIT)?;
        if !self.w.changed {
            return Ok(None);
        }
        self.w.sync_to(input.len());
        Ok(Some((self.w.out.into(), items)))
    }

    /// Walks the message body `input[start..end]` (a level above the items); the items left
    /// in it.
    fn message(
        &mut self,
        start: usize,
        end: usize,
        level: &'static Level,
        ctx: u32,
    ) -> Result<usize, Unsupported> {
        let input = self.w.input;
        let mut items = 0;
        let mut descended = 0;
        // The run of items of a scope (or a metric's points) with a one-byte key and a length
        // of at most two bytes takes this path; anything else the general one below.
        let item_key = match level.children {
            [(field, child)] if child.attributes != 0 && !level.at_most_one && *field < 16 => {
                Some(((*field << 3) as u8 | LEN, *field, child.attributes))
            }
            _ => None,
        };
        let mut pos = start;
        loop {
            if let Some((key_byte, field, attributes)) = item_key {
                // Items before `clean_end` are written here without the leaf.
                let mut clean_end = self.leaf.clean_until(input, pos, attributes);
                while let [key, b0, rest @ ..] = &input[pos..end]
                    && *key == key_byte
                {
                    let (len, header) = match (*b0, rest) {
                        (b0, _) if b0 < 0x80 => (usize::from(b0), 2),
                        (b0, [b1, ..]) if *b1 < 0x80 => {
                            (usize::from(b0 & 0x7f) | usize::from(*b1) << 7, 3)
                        }
                        _ => break,
                    };
                    let body_end = pos + header + len;
                    if body_end > end {
                        break;
                    }
                    if body_end <= clean_end {
                        if let Some(added) = self.leaf.appended() {
                            self.w.item_with(
                                pos,
                                u64::from(key_byte),
                                (pos + header, body_end),
                                added,
                            );
                        }
                        items += 1;
                        pos = body_end;
                        continue;
                    }
                    let item = ItemField {
                        key: len_key(field),
                        header: pos,
                        start: pos + header,
                        end: body_end,
                        attr_field: attributes,
                    };
                    items += self.leaf.item_not_clean(&mut self.w, item, ctx - 1)?;
                    pos = body_end;
                    clean_end = self.leaf.clean_until(input, pos, attributes);
                }
            }
            if pos >= end {
                break;
            }
            let mut r = Reader::new(&input[pos..end]);
            let field_start = pos;
            let (field, wt) = r.key()?;
            let Some(&(_, child)) = level.children.iter().find(|(f, _)| *f == field) else {
                r.skip(field, wt, ctx)?;
                pos = end - r.left();
                continue;
            };
            if wt != LEN {
                return Err(Unsupported::Malformed);
            }
            descended += 1;
            if level.at_most_one && descended > 1 {
                return Err(Unsupported::RepeatedSingular);
            }
            let len_in = end - r.left();
            let body = r.bytes()?;
            let body_end = end - r.left();
            let body_start = body_end - body.len();
            pos = body_end;
            if child.attributes != 0 {
                let item = ItemField {
                    key: len_key(field),
                    header: field_start,
                    start: body_start,
                    end: body_end,
                    attr_field: child.attributes,
                };
                items += self.leaf.item(&mut self.w, item, ctx - 1)?;
                continue;
            }
            // Output offsets of this field's key and length: pending input maps to the output
            // by a constant shift until something is written.
            let delta = self.w.delta();
            let at = |i: usize| (i as isize + delta) as usize;
            let left = self.message(body_start, body_end, child, ctx - 1)?;
            if self.drop_empty && left == 0 {
                // Emptied (or empty) scope or resource: gone, as pdata removes it.
                self.w.drop_field(field_start, at(field_start), body_end);
                self.w.changed = true;
                continue;
            }
            let growth = self.w.delta() - delta;
            if growth != 0 {
                let new_len = (body.len() as isize + growth) as usize;
                self.w.patch_length(at(len_in), len_in, body_start, new_len);
            }
            items += left;
        }
        if level.create_missing && descended == 0 {
            let (field, child) = level.children[0];
            debug_assert!(child.attributes != 0, "only item levels are created");
            let absent = ItemField {
                key: len_key(field),
                header: end,
                start: end,
                end,
                attr_field: child.attributes,
            };
            items += self.leaf.item(&mut self.w, absent, ctx - 1)?;
        }
        Ok(items)
    }
}

/// The attribute edit at each item.
struct AttrLeaf<'f, F> {
    /// Scratch for the item being edited, reused across items. A keys-only set's scan leaves
    /// it empty; it is filled from `slots` when the item's plan is not known yet.
    entries: Vec<Entry>,
    /// Scratch: the input ranges of the attributes the filter admits (one per entry), in
    /// order; the bytes between them are copied as they are.
    slots: Vec<(usize, usize)>,
    /// What the edit does to an empty list (once known) in items whose attributes are field
    /// `.0`: nothing, or append these encoded attributes. Items with nothing the filter
    /// admits reuse it instead of running the edit.
    on_empty: Option<(u32, Option<Vec<u8>>)>,
    /// Finds the items that cannot hold a filtered key, so the memo serves them unscanned
    /// (items that are most of the request's bytes: spans, log records, data points).
    presearch: Option<Presearch>,
    /// Scratch: for a keys-only set ([`KeySet::reads_keys_only`]), the set indices of the
    /// keys at `slots`, in order (each key once).
    keys_seen: Vec<u8>,
    /// Scratch: the same keys as a bit set (a keys-only set has at most 64).
    seen: u64,
    /// Scratch: the last 8 of those keys, one byte each (index + 1), oldest highest: the
    /// whole sequence when it has at most 8 keys, so one compare finds its plan.
    sequence: u64,
    /// For a keys-only set: the edit's result per key sequence met in this request.
    plans: Vec<Plan>,
    /// For a keys-only set of one key (an update or delete of one attribute, the commonest
    /// edit after an insert): the plan of items holding it, once known, and the attributes
    /// field of the items it serves. Such items take [`AttrLeaf::one_key_item`].
    one_key_plan: Option<(u32, usize)>,
    filter: &'f KeyFilter,
    edit: F,
}

/// At most this many key sequences are memoized per request (an attributes processor's few
/// keys make few); items with others run the edit.
const MAX_PLANS: usize = 16;

/// What a keys-only edit ([`KeySet::reads_keys_only`]) did to a list holding a sequence of
/// the set's keys, replayed on every other item with that sequence: the attributes it
/// replaced or deleted and the bytes it appended. A constant update of a key every span has
/// becomes a copy of the span with one attribute swapped.
struct Plan {
    /// The field number of the attributes in the items it serves (data point types differ).
    field: u32,
    /// The set indices of the keys, in list order.
    keys: Box<[u8]>,
    /// `keys` as [`AttrLeaf::sequence`] packs them.
    sequence: u64,
    /// Per parsed attribute: `None` keeps it, a range of `bytes` replaces it (an empty one
    /// deletes it).
    slots: Box<[Option<(usize, usize)>]>,
    /// The range of `bytes` written after the item's other fields.
    appended: (usize, usize),
    bytes: Vec<u8>,
    /// The length of the replacements and the appended bytes together.
    written: usize,
    /// Whether the plan changes anything (replaces a slot or appends).
    changes: bool,
    /// The one slot it replaces (or deletes) and the replacement, when that is all it does.
    single: Option<(usize, (usize, usize))>,
}

/// Where each key of a [`KeyFilter::Keys`] next occurs in the input, as a substring.
///
/// An item whose bytes contain none of the keys has none of them as an attribute key (a key
/// is stored as contiguous bytes, whatever the form of its KeyValue), so the edit's result on
/// an empty list applies to it without walking its fields: the walk of a span costs ~30
/// instructions per field, the search (memchr's AVX2/SSE2 `memmem`) ~10 per 32 bytes, done
/// once per request where the keys occur nowhere. An upsert on spans of 10 attributes takes
/// 359 instructions per span instead of 780; on log records of a 1 KiB body and 5 attributes,
/// the least favourable shape (many bytes, few fields), 687 instead of 869, equal in time
/// (`cargo bench -p ferrotel-components --bench processors`, `consume_attributes_1_upsert*`).
/// After a hit, items up to it are still clean and the search resumes after the item that
/// held it. Relies on the input being a validated request ([`Payload`](crate::Payload) bytes
/// are): a clean item's fields are not checked.
#[derive(Default)]
struct Presearch {
    /// Per key, where it next occurs at or after the last offset looked from (`usize::MAX`:
    /// nowhere); empty until the first look.
    hits: Vec<usize>,
}

impl Presearch {
    /// The offset up to which no item from `from` on can contain one of `set`'s keys: an
    /// item ending there or before holds none of them. Items come in input order, so one
    /// search serves every item up to the key's next occurrence; a key found nowhere is
    /// searched for once per request.
    #[inline]
    fn clean_until(&mut self, set: &KeySet, input: &[u8], from: usize) -> usize {
        let search = |finder: &memmem::Finder<'_>| {
            finder
                .find(&input[from..])
                .map_or(usize::MAX, |at| from + at)
        };
        if self.hits.len() != set.finders.len() {
            self.hits = set.finders.iter().map(search).collect();
        }
        let mut until = usize::MAX;
        for (hit, finder) in self.hits.iter_mut().zip(&set.finders) {
            if *hit < from {
                *hit = search(finder);
            }
            // An occurrence that starts at `hit` lies in no item ending before its last byte.
            let len = finder.needle().len().max(1);
            until = until.min(hit.saturating_add(len - 1));
        }
        until
    }
}

impl<F: FnMut(&mut WireAttrs<'_>)> Leaf for AttrLeaf<'_, F> {
    /// Parses one item's attribute list (the keys the filter admits), runs the edit, and
    /// writes the item if it changed.
    #[inline(always)]
    fn item(&mut self, w: &mut Writer<'_>, f: ItemField, ctx: u32) -> Result<usize, Unsupported> {
        if self.clean_until(w.input, f.start, f.attr_field) >= f.end {
            Self::write_memo(w, f, self.appended());
            return Ok(1);
        }
        self.item_not_clean(w, f, ctx)
    }

    #[inline(always)]
    fn item_not_clean(
        &mut self,
        w: &mut Writer<'_>,
        f: ItemField,
        ctx: u32,
    ) -> Result<usize, Unsupported> {
        if let Some((field, plan)) = self.one_key_plan
            && field == f.attr_field
            && self.one_key_item(w, f, plan)
        {
            return Ok(1);
        }
        self.entries.clear();
        self.slots.clear();
        self.keys_seen.clear();
        self.seen = 0;
        self.sequence = 0;
        self.scan(w.input, f.start, f.end, f.attr_field, ctx)?;
        if self.slots.is_empty()
            && let Some((field, result)) = &self.on_empty
            && *field == f.attr_field
        {
            Self::write_memo(w, f, result.as_deref());
            return Ok(1);
        }
        // Only keys-only sets record key sequences.
        if !self.keys_seen.is_empty()
            && let Some(plan) = (self.plans.iter()).find(|p| {
                // Sequences of up to 8 keys are equal when their packed forms are.
                p.sequence == self.sequence
                    && p.field == f.attr_field
                    && p.keys.len() == self.keys_seen.len()
                    && (p.keys.len() <= 8 || p.keys[..] == self.keys_seen[..])
            })
        {
            Self::replay(w, f, &self.slots, plan);
            return Ok(1);
        }
        if !self.keys_seen.is_empty() {
            self.entries_of_slots(w.input, ctx)?;
        }
        self.edit_item(w, f);
        Ok(1)
    }

    /// With the edit's result on an empty list known, items without the filter's keys in
    /// their bytes need no walk ([`Presearch`]).
    #[inline]
    fn clean_until(&mut self, input: &[u8], from: usize, attr_field: u32) -> usize {
        match (&self.on_empty, self.filter, &mut self.presearch) {
            (Some((field, _)), KeyFilter::Keys(set), Some(presearch)) if *field == attr_field => {
                presearch.clean_until(set, input, from)
            }
            _ => 0,
        }
    }

    fn appended(&self) -> Option<&[u8]> {
        self.on_empty
            .as_ref()
            .and_then(|(_, added)| added.as_deref())
    }
}

impl<F> AttrLeaf<'_, F> {
    /// Writes an item with nothing the filter admits: as it is, plus what the edit adds to an
    /// empty list (`added`), if anything. Out of line: most such items are written by the
    /// fast item loop of [`Rewriter::message`], and the item path's frame stays smaller.
    #[inline(never)]
    fn write_memo(w: &mut Writer<'_>, f: ItemField, added: Option<&[u8]>) {
        if let Some(added) = added {
            w.item_with(f.header, f.key, (f.start, f.end), added);
        }
    }

    /// Writes an item whose keys match `plan`'s (its parsed attributes are `slots`) as the
    /// edit wrote the item the plan was made from.
    #[inline(always)]
    fn replay(w: &mut Writer<'_>, f: ItemField, slots: &[(usize, usize)], plan: &Plan) {
        if !plan.changes {
            return;
        }
        if let Some((slot, (a, b))) = plan.single {
            w.item_replacing(f, slots[slot], &plan.bytes[a..b]);
            return;
        }
        let mut len = f.end - f.start + plan.written;
        for (&(s, t), op) in slots.iter().zip(&plan.slots) {
            if op.is_some() {
                len -= t - s;
            }
        }
        w.item_spliced(f, len, slots, plan);
    }
}
impl<F: FnMut(&mut WireAttrs<'_>)> AttrLeaf<'_, F> {
    /// Runs the edit on the parsed attributes and writes the item if it changed. Out of line:
    /// items the memo of the empty-list edit serves (most, for an insert or upsert) never
    /// get here, and the scan loop keeps its registers.
    #[inline(never)]
    fn edit_item(&mut self, w: &mut Writer<'_>, f: ItemField) {
        let ItemField {
            key,
            header,
            start,
            end,
            attr_field,
        } = f;
        // The arena holds only the item being edited: it is emptied after each one.
        debug_assert!(w.arena.is_empty());
        let mut attrs = WireAttrs {
            input: w.input,
            entries: &mut self.entries,
            arena: &mut w.arena,
            field: attr_field,
            changed: false,
        };
        (self.edit)(&mut attrs);
        let changed = attrs.changed;
        if !self.keys_seen.is_empty() && self.plans.len() < MAX_PLANS {
            let plan = self.plan_of(&w.arena, attr_field, changed);
            if let KeyFilter::Keys(set) = self.filter
                && set.keys.len() == 1
                && (!plan.changes || plan.single.is_some())
            {
                self.one_key_plan = Some((attr_field, self.plans.len()));
            }
            self.plans.push(plan);
        }
        let empty = self.slots.is_empty();
        if !changed {
            if empty {
                self.on_empty = Some((attr_field, None));
            }
            w.arena.clear();
            return;
        }
        if empty {
            // Only additions are possible on an empty list.
            let mut added = Vec::new();
            for e in &self.entries {
                added.extend_from_slice(&w.arena[e.field.0..e.field.1]);
            }
            self.on_empty = Some((attr_field, Some(added)));
        }
        let removed: usize = self.slots.iter().map(|(s, t)| t - s).sum();
        let added: usize = self.entries.iter().map(|e| e.field.1 - e.field.0).sum();
        w.begin_field(header, key, end - start - removed + added);
        // The input with each parsed attribute replaced by the entries anchored to it (none
        // if it was deleted), then the added entries. Adjacent input pieces (a kept
        // attribute and the bytes around it) go out as one copy.
        let mut run = (start, start);
        let mut next = 0;
        let mut from = start;
        for (slot, &(s, t)) in self.slots.iter().enumerate() {
            w.copy_run(&mut run, (from, s));
            while let Some(e) = self.entries.get(next)
                && e.anchor as usize == slot
            {
                w.entry(&mut run, e);
                next += 1;
            }
            from = t;
        }
        w.copy_run(&mut run, (from, end));
        for e in &self.entries[next..] {
            w.entry(&mut run, e);
        }
        w.copy(run);
        w.synced = end;
        w.arena.clear();
    }
}

impl<F> AttrLeaf<'_, F> {
    /// An item under a keys-only set of one key whose plan (`plans[plan]`) is known: the walk
    /// looks for that key only, and the plan is applied without the general scan's
    /// bookkeeping (the recorded slots and key sequence, the plan lookup). False, with
    /// nothing written, when the item needs the general path: a field the fast walk does not
    /// know comes before the key, or the item lacks the key and the edit's result on such
    /// items is not known yet.
    #[inline(always)]
    fn one_key_item(&self, w: &mut Writer<'_>, f: ItemField, plan: usize) -> bool {
        let KeyFilter::Keys(set) = self.filter else {
            return false;
        };
        let key = &set.keys[0];
        let item = &w.input[..f.end];
        let attr_key = (f.attr_field << 3) as u8 | LEN;
        let mut found = None;
        let start = skip_leading_fields(item, f.start, f.attr_field);
        let (walked_to, _) = walk_usual(item, start, attr_key, set, |at, attr, key_len| {
            let hit = same_bytes(key, &attr[4..4 + key_len]);
            if hit {
                found = Some((at, at + attr.len()));
            }
            hit
        });
        if let Some(slot) = found {
            let plan = &self.plans[plan];
            if let Some((_, (a, b))) = plan.single {
                w.item_replacing(f, slot, &plan.bytes[a..b]);
            }
            return true;
        }
        // Walked to the end without the key: the edit's result on an empty list, if known.
        if walked_to >= f.end
            && let Some((field, result)) = &self.on_empty
            && *field == f.attr_field
        {
            Self::write_memo(w, f, result.as_deref());
            return true;
        }
        false
    }

    /// The [`Plan`] of the edit just run on the parsed attributes (`changed`: whether it
    /// changed anything), for the key sequence in `keys_seen` of items with their
    /// attributes at `field`.
    fn plan_of(&self, arena: &[u8], field: u32, changed: bool) -> Plan {
        let mut bytes = Vec::new();
        let mut slots = vec![None; self.slots.len()];
        let mut appended = (0, 0);
        if changed {
            // A slot without an entry anchored to it was deleted; an entry from the input
            // is the slot's own attribute, kept; one in the arena replaced it.
            slots.fill(Some((0, 0)));
            let mut copy = |range: (usize, usize)| {
                let at = bytes.len();
                bytes.extend_from_slice(&arena[range.0..range.1]);
                (at, bytes.len())
            };
            let mut added = None::<(usize, usize)>;
            for e in self.entries.iter() {
                let written = e.in_arena.then(|| copy(e.field));
                match slots.get_mut(e.anchor as usize) {
                    Some(slot) => *slot = written,
                    // Added entries come last, their bytes one after the other.
                    None => {
                        let (at, end) = written.unwrap_or_default();
                        added = Some(added.map_or((at, end), |(first, _)| (first, end)));
                    }
                }
            }
            appended = added.unwrap_or_default();
        }
        let mut replaced = slots
            .iter()
            .enumerate()
            .filter_map(|(i, op)| Some((i, (*op)?)));
        let single = match (replaced.next(), replaced.next()) {
            (Some(only), None) if appended.0 == appended.1 => Some(only),
            _ => None,
        };
        Plan {
            field,
            keys: self.keys_seen.as_slice().into(),
            sequence: self.sequence,
            single,
            changes: changed,
            written: bytes.len(),
            slots: slots.into(),
            appended,
            bytes,
        }
    }

    /// Whether the attribute with the set's key `index` goes to the edit: always, unless
    /// the set is keys-only and an earlier attribute of the item had that key.
    #[inline(always)]
    fn first_of(&mut self, set: &KeySet, index: usize) -> bool {
        if !set.keys_only {
            return true;
        }
        let bit = 1 << index;
        if self.seen & bit != 0 {
            return false;
        }
        self.seen |= bit;
        self.keys_seen.push(index as u8);
        self.sequence = self.sequence << 8 | (index as u64 + 1);
        true
    }

    /// Finds the item's attributes the filter admits; the rest is only skipped over.
    #[inline(always)]
    fn scan(
        &mut self,
        input: &[u8],
        start: usize,
        end: usize,
        attr_field: u32,
        ctx: u32,
    ) -> Result<(), Unsupported> {
        // Every item type has its attributes at a field below 16: a one-byte key.
        debug_assert!(attr_field < 16);
        let attr_key = (attr_field << 3) as u8 | LEN;
        let keys = match self.filter {
            KeyFilter::Keys(set) => Some(set),
            KeyFilter::All => None,
        };
        let skipping = keys.is_some();
        let item = &input[..end];
        let mut pos = if skipping {
            skip_leading_fields(item, start, attr_field)
        } else {
            start
        };
        loop {
            // Fast path: fields the walk passes over by their head, and attributes in the
            // usual form; those the set's prefilter admits are recorded here too.
            if let Some(set) = keys {
                let (next, done) = walk_usual(item, pos, attr_key, set, |at, attr, key_len| {
                    let Some(index) = set.position_unfiltered(&attr[4..4 + key_len]) else {
                        return false;
                    };
                    if !self.first_of(set, index) {
                        return false;
                    }
                    let key = (at + 4, at + 4 + key_len);
                    self.slots.push((at, at + attr.len()));
                    // A keys-only edit's entries are only made if its plan is not known yet.
                    if !set.keys_only {
                        self.entries.push(Entry {
                            anchor: self.slots.len() as u32 - 1,
                            in_arena: false,
                            field: (at, at + attr.len()),
                            key,
                            value: Some((key.1 + 2, at + attr.len())),
                        });
                    }
                    self.has_every_key(set)
                });
                if done {
                    return Ok(());
                }
                pos = next;
            }
            if pos >= end {
                break;
            }
            // Filtered edits rarely get here (an unusual field or KeyValue): out of line, so
            // the skip loop's function stays small; an unfiltered edit parses every
            // attribute here, inline.
            let next = if skipping {
                self.field_out_of_line(input, pos, end, attr_field, ctx)?
            } else {
                self.field(input, pos, end, attr_field, ctx)?
            };
            match next {
                Some(next) => pos = next,
                None => return Ok(()),
            }
        }
        Ok(())
    }

    #[inline(never)]
    fn field_out_of_line(
        &mut self,
        input: &[u8],
        pos: usize,
        end: usize,
        attr_field: u32,
        ctx: u32,
    ) -> Result<Option<usize>, Unsupported> {
        self.field(input, pos, end, attr_field, ctx)
    }

    /// Reads the item's field at `pos` (recording it if it is an attribute the filter
    /// admits); where the next field starts, or None when the rest of the item needs no
    /// reading.
    #[inline(always)]
    fn field(
        &mut self,
        input: &[u8],
        pos: usize,
        end: usize,
        attr_field: u32,
        ctx: u32,
    ) -> Result<Option<usize>, Unsupported> {
        let attr_key = (attr_field << 3) as u8 | LEN;
        let item = &input[..end];
        let tag = item[pos];
        if tag == attr_key
            && let Some(&len) = item.get(pos + 1)
            && len < 0x80
        {
            // An attribute with a one-byte length (nearly all of them).
            let kv_start = pos + 2;
            let field_end = kv_start + usize::from(len);
            let Some(kv) = item.get(kv_start..field_end) else {
                return Err(Unsupported::Malformed);
            };
            if self.filter.may_touch(kv) {
                let entry = parse_entry(kv, kv_start, pos, field_end, ctx)?;
                if self.push_entry(input, entry) {
                    return Ok(None);
                }
            }
            return Ok(Some(field_end));
        }
        if tag != attr_key
            && let Some(field_end) = skip_small_field(item, pos, end)
        {
            return Ok(Some(field_end));
        }
        let mut r = Reader::new(&item[pos..]);
        let (field, wt) = r.key()?;
        if field == attr_field {
            if wt != LEN {
                return Err(Unsupported::Malformed);
            }
            let kv = r.bytes()?;
            let field_end = end - r.left();
            let kv_start = field_end - kv.len();
            let entry = parse_entry(kv, kv_start, pos, field_end, ctx)?;
            if self.push_entry(input, entry) {
                return Ok(None);
            }
        } else {
            r.skip(field, wt, ctx)?;
        }
        Ok(Some(end - r.left()))
    }

    /// Records a parsed attribute, unless the filter passes over its key (a KeyValue not in
    /// the usual key-first form is only known after parsing); true when the rest of the item
    /// needs no reading ([`KeySet::reads_keys_only`]: every key seen).
    #[inline(always)]
    fn push_entry(&mut self, input: &[u8], mut entry: Entry) -> bool {
        if let KeyFilter::Keys(set) = self.filter {
            let Some(index) = set.position(&input[entry.key.0..entry.key.1]) else {
                return false;
            };
            if !self.first_of(set, index) {
                return false;
            }
        }
        entry.anchor = self.slots.len() as u32;
        self.slots.push(entry.field);
        match self.filter {
            KeyFilter::Keys(set) if set.keys_only => self.has_every_key(set),
            _ => {
                self.entries.push(entry);
                false
            }
        }
    }

    /// The entries of the attributes in `slots`, for a keys-only edit whose plan is not
    /// known yet (its scan records only the slots).
    fn entries_of_slots(&mut self, input: &[u8], ctx: u32) -> Result<(), Unsupported> {
        for (i, &(s, t)) in self.slots.iter().enumerate() {
            let mut r = Reader::new(&input[s..t]);
            r.key()?;
            let kv = r.bytes()?;
            let mut entry = parse_entry(kv, t - kv.len(), s, t, ctx)?;
            entry.anchor = i as u32;
            self.entries.push(entry);
        }
        Ok(())
    }

    /// For a keys-only set, whether every key of the set was seen in the item (the edit
    /// reads no later attribute).
    #[inline(always)]
    fn has_every_key(&self, set: &KeySet) -> bool {
        set.keys_only && self.keys_seen.len() == set.keys.len()
    }
}

/// The keep/drop decision at each item.
struct ItemLeaf<G> {
    /// Scratch: the kept item's other fields, as input ranges.
    pieces: Vec<(usize, usize)>,
    decide: G,
}

impl<G: FnMut(&ItemView<'_>, &mut ItemOut<'_>) -> ItemDecision> Leaf for ItemLeaf<G> {
    fn item(&mut self, w: &mut Writer<'_>, f: ItemField, ctx: u32) -> Result<usize, Unsupported> {
        let ItemField {
            key,
            header,
            start,
            end,
            attr_field,
        } = f;
        let input = w.input;
        let view = ItemView {
            raw: &input[start..end],
            attributes_field: attr_field,
        };
        w.arena.clear();
        let mut item_out = ItemOut {
            arena: &mut w.arena,
            replace: None,
        };
        let decision = (self.decide)(&view, &mut item_out);
        let replace = item_out.replace;
        if decision == ItemDecision::Drop {
            w.sync_to(header);
            w.synced = end;
            return Ok(0);
        }
        let Some((field, new_start, new_end)) = replace else {
            return Ok(1);
        };
        // Every field but the replaced one, then its new encoding.
        self.pieces.clear();
        let mut r = Reader::new(&input[start..end]);
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
        let kept: usize = self.pieces.iter().map(|(s, t)| t - s).sum();
        w.begin_field(header, key, kept + new_end - new_start);
        for &piece in &self.pieces {
            w.copy(piece);
        }
        w.out.extend_from_slice(&w.arena[new_start..new_end]);
        w.synced = end;
        Ok(1)
    }
}

/// The key of a KeyValue shorter than 128 bytes in the form every encoder writes (key, then
/// value, nothing else); `None` for any other form, which is parsed in full. Lengths inside
/// such a KeyValue are single bytes.
#[inline(always)]
fn usual_key(kv: &[u8]) -> Option<&[u8]> {
    debug_assert!(kv.len() < 0x80);
    let [0x0a, key_len, ..] = *kv else {
        return None;
    };
    let value_at = 2 + usize::from(key_len);
    let key = kv.get(2..value_at)?;
    match kv[value_at..] {
        [] => Some(key),
        [0x12, value_len, ref value @ ..] if usize::from(value_len) == value.len() => Some(key),
        _ => None,
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

/// The size of the item field whose first four bytes are `head` (little-endian) when the
/// skip loop can pass over it unread, else 0: a field other than the attributes (key
/// `attr_key`) with a one-byte key, or a two-byte one (fields 16 to 2047: a span's `flags`),
/// holding a fixed32, a fixed64, a one-byte varint or a length-delimited body of a one-byte
/// length. A padded key (second byte 0) goes to the general reader: it may be the
/// attributes'.
#[inline(always)]
fn small_field_size(head: u32, attr_key: u8) -> usize {
    let [b0, b1, b2, _] = head.to_le_bytes();
    let (key_len, wire_type, next) = if b0 < 0x80 {
        if b0 < 8 || b0 == attr_key {
            return 0;
        }
        (1, b0 & 7, b1)
    } else if b1 != 0 && b1 < 0x80 {
        (2, b0 & 7, b2)
    } else {
        return 0;
    };
    key_len
        + match wire_type {
            0 if next < 0x80 => 1,
            1 => 8,
            2 if next < 0x80 => 1 + usize::from(next),
            5 => 4,
            _ => return 0,
        }
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
    /// Keeps the entries whose key (as bytes: no UTF-8 check per key) `keep` accepts.
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8]) -> bool) {
        let mut i = 0;
        while i < self.entries.len() {
            if keep(self.key_bytes(i)) {
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

/// Writes `v` as a varint at `dst`, returning the byte after it.
///
/// # Safety
/// `dst` must be valid for writing 10 bytes.
#[inline(always)]
unsafe fn put_varint_raw(mut dst: *mut u8, mut v: u64) -> *mut u8 {
    // SAFETY: a u64 takes at most 10 varint bytes, which the caller made room for.
    unsafe {
        while v >= 0x80 {
            *dst = v as u8 | 0x80;
            dst = dst.add(1);
            v >>= 7;
        }
        *dst = v as u8;
        dst.add(1)
    }
}

/// Writes `v` as a varint into `out` (at least 10 bytes), returning its length.
#[inline(always)]
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
