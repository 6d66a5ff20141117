//! Keeping or dropping items ([`edit_items`](super::edit_items)) and replacing one of their string fields.

use super::keys::{same_bytes, usual_key};
use super::rewriter::{Leaf, Unsupported};
use super::scan::skip_small_field;
use super::writer::{ItemField, Writer};
use crate::wire::reader::{
    FIXED32, FIXED64, LEN, RECURSION_LIMIT, Reader, VARINT, len_key, put_varint,
};
use crate::wire::view::{AnyValueView, Attributes, ResourceView};

/// What [`edit_items`] does with one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemDecision {
    Keep,
    Drop,
}

/// One span or log record during [`edit_items`], read lazily from its encoding.
pub struct ItemView<'a> {
    pub(super) raw: &'a [u8],
    pub(super) attributes_field: u32,
    /// The bodies of the resource-level (`ResourceSpans`, `ResourceLogs`) and scope-level
    /// (`ScopeSpans`, `ScopeLogs`) messages holding the item.
    pub(super) enclosing: [&'a [u8]; 2],
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

    /// The last occurrence of varint field `field` (as prost keeps it), if any.
    pub fn varint_field(&self, field: u32) -> Option<u64> {
        last_varint(self.raw, field)
    }

    /// The last occurrence of fixed64 field `field` (as prost keeps it), if any.
    pub fn fixed64_field(&self, field: u32) -> Option<u64> {
        last_fixed::<8>(self.raw, field, FIXED64).map(u64::from_le_bytes)
    }

    /// The last occurrence of fixed32 field `field` (a span's `flags`), if any.
    pub fn fixed32_field(&self, field: u32) -> Option<u32> {
        last_fixed::<4>(self.raw, field, FIXED32).map(u32::from_le_bytes)
    }

    /// Every attribute of the item in encoding order, repeated keys included (as the decoded
    /// list holds them).
    pub fn attributes(&self) -> Attributes<'a> {
        Attributes::of_message(self.raw, self.attributes_field)
    }

    /// Varint field `inner` of message field `field` (a span's `status.code`): the last
    /// occurrence over every occurrence of the message, which prost merges.
    pub fn message_varint_field(&self, field: u32, inner: u32) -> Option<u64> {
        let mut r = Reader::new(self.raw);
        let mut last = None;
        while !r.is_empty() {
            let (f, wt) = r.key().ok()?;
            if f == field && wt == LEN {
                last = last_varint(r.bytes().ok()?, inner).or(last);
            } else {
                r.skip(f, wt, RECURSION_LIMIT).ok()?;
            }
        }
        last
    }

    /// The resource holding the item.
    pub fn resource(&self) -> ResourceView<'a> {
        ResourceView::new(self.enclosing[0])
    }

    /// Length-delimited field `inner` of the item's `InstrumentationScope` (1: `name`, 2:
    /// `version`): the last occurrence over every occurrence of the scope, which prost merges.
    pub fn scope_bytes_field(&self, inner: u32) -> Option<&'a [u8]> {
        let mut r = Reader::new(self.enclosing[1]);
        let mut last = None;
        while !r.is_empty() {
            let (f, wt) = r.key().ok()?;
            if f == 1 && wt == LEN {
                let scope = ItemView {
                    raw: r.bytes().ok()?,
                    attributes_field: 0,
                    enclosing: [&[], &[]],
                };
                last = scope.bytes_field(inner).or(last);
            } else {
                r.skip(f, wt, RECURSION_LIMIT).ok()?;
            }
        }
        last
    }

    /// The first attribute named `key`.
    ///
    /// Fields and attributes in the form encoders write (one-byte keys and lengths, a
    /// KeyValue of a key then a value) are passed over by their first bytes, keys compared
    /// inline; anything else goes through the general reader.
    pub fn attribute(&self, key: &str) -> Option<AnyValueView<'a>> {
        let (raw, key) = (self.raw, key.as_bytes());
        // Items have their attributes at a field below 16: a one-byte key.
        let attr_tag = len_key(self.attributes_field) as u8;
        let mut pos = 0;
        while let Some(&tag) = raw.get(pos) {
            if tag == attr_tag
                && let Some(&len) = raw.get(pos + 1)
                && len < 0x80
            {
                let end = pos + 2 + usize::from(len);
                let kv = raw.get(pos + 2..end)?;
                let found = match usual_key(kv) {
                    Some(k) if same_bytes(k, key) => Some(usual_value(kv, k.len())),
                    Some(_) => None,
                    None => key_value(kv, key)?,
                };
                if found.is_some() {
                    return found;
                }
                pos = end;
                continue;
            }
            if tag != attr_tag
                && let Some(end) = skip_small_field(raw, pos, raw.len())
            {
                pos = end;
                continue;
            }
            let mut r = Reader::new(&raw[pos..]);
            let (f, wt) = r.key().ok()?;
            if f == self.attributes_field && wt == LEN {
                if let Some(found) = key_value(r.bytes().ok()?, key)? {
                    return Some(found);
                }
            } else {
                r.skip(f, wt, RECURSION_LIMIT).ok()?;
            }
            pos = raw.len() - r.left();
        }
        None
    }
}

/// The value of a KeyValue in the usual form (see [`usual_key`]) whose key is `key_len`
/// bytes long.
#[inline(always)]
fn usual_value(kv: &[u8], key_len: usize) -> AnyValueView<'_> {
    match kv.get(2 + key_len + 2..) {
        Some(value) => AnyValueView::parse(value),
        None => AnyValueView::Empty,
    }
}

/// The value of KeyValue `kv` if its key is `key` (last key and last value win, as in
/// prost); `None` when the KeyValue is malformed.
fn key_value<'a>(kv: &'a [u8], key: &[u8]) -> Option<Option<AnyValueView<'a>>> {
    let mut r = Reader::new(kv);
    let (mut k, mut v): (&[u8], Option<&[u8]>) = (&[], None);
    while !r.is_empty() {
        match r.key().ok()? {
            (1, LEN) => k = r.bytes().ok()?,
            (2, LEN) => v = Some(r.bytes().ok()?),
            (f, wt) => r.skip(f, wt, RECURSION_LIMIT).ok()?,
        }
    }
    Some((k == key).then(|| v.map_or(AnyValueView::Empty, AnyValueView::parse)))
}

/// The last occurrence of varint field `field` in message body `raw`.
fn last_varint(raw: &[u8], field: u32) -> Option<u64> {
    let mut r = Reader::new(raw);
    let mut last = None;
    while !r.is_empty() {
        let (f, wt) = r.key().ok()?;
        if f == field && wt == VARINT {
            last = Some(r.varint().ok()?);
        } else {
            r.skip(f, wt, RECURSION_LIMIT).ok()?;
        }
    }
    last
}

/// Changes to a kept item during [`edit_items`].
pub struct ItemOut<'s> {
    pub(super) arena: &'s mut Vec<u8>,
    /// The replaced field's number and its new encoding (key, length, value) in the arena.
    pub(super) replace: Option<(u32, usize, usize)>,
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

/// The keep/drop decision at each item.
pub(super) struct ItemLeaf<G> {
    /// Scratch: the kept item's other fields, as input ranges.
    pub(super) pieces: Vec<(usize, usize)>,
    /// The input ranges of the resource-level and scope-level message bodies the walk is in.
    pub(super) enclosing: [(usize, usize); 2],
    pub(super) decide: G,
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
        let [(rs, re), (ss, se)] = self.enclosing;
        let view = ItemView {
            raw: &input[start..end],
            attributes_field: attr_field,
            enclosing: [&input[rs..re], &input[ss..se]],
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

    fn enter(&mut self, depth: usize, body: (usize, usize)) {
        if let Some(slot) = self.enclosing.get_mut(depth) {
            *slot = body;
        }
    }
}

/// The bytes of the last occurrence of fixed-width field `field` (wire type `wt`), as prost
/// keeps the last; `None` if absent or unreadable.
fn last_fixed<const N: usize>(raw: &[u8], field: u32, wt: u8) -> Option<[u8; N]> {
    let mut r = Reader::new(raw);
    let mut last = None;
    while !r.is_empty() {
        let (f, w) = r.key().ok()?;
        if f == field && w == wt {
            last = Some(r.fixed::<N>().ok()?);
        } else {
            r.skip(f, w, RECURSION_LIMIT).ok()?;
        }
    }
    last
}
