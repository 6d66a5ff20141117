//! The attribute list handed to an edit ([`WireAttrs`]): entries parsed from the input,
//! edits encoded into the arena.

use prost::Message;

use super::keys::same_bytes;
use crate::proto::common::v1::{AnyValue, KeyValue, any_value};
use crate::wire::reader::{LEN, Reader, WireErr, len_key, put_varint, put_varint_into, varint_len};
use crate::wire::view::AnyValueView;

/// One attribute of the list being edited. Ranges are absolute offsets into the input or, for
/// re-encoded entries, the arena.
#[derive(Clone, Copy)]
pub(super) struct Entry {
    /// Written in the place of the item's `anchor`-th parsed attribute (after the input bytes
    /// that preceded it); `u32::MAX` for an added entry, written last.
    pub(super) anchor: u32,
    pub(super) in_arena: bool,
    /// The whole `attributes` field: key, length and KeyValue body.
    pub(super) field: (usize, usize),
    pub(super) key: (usize, usize),
    /// The encoded AnyValue, if the KeyValue has one.
    pub(super) value: Option<(usize, usize)>,
}

/// Reads a KeyValue (last key and last value win, as in prost).
#[inline(always)]
pub(super) fn parse_entry(
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
pub(super) fn parse_entry_slow(
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
    pub(super) body: Vec<u8>,
    /// The key's bytes within `body`.
    pub(super) key: (usize, usize),
    /// Where the value (an AnyValue message) starts within `body`; it runs to the end.
    pub(super) value: (usize, usize),
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
    pub(super) input: &'s [u8],
    pub(super) entries: &'s mut Vec<Entry>,
    pub(super) arena: &'s mut Vec<u8>,
    pub(super) field: u32,
    pub(super) changed: bool,
}

impl WireAttrs<'_> {
    pub(super) fn bytes(&self, in_arena: bool, (s, e): (usize, usize)) -> &[u8] {
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
    pub(super) fn encode(&mut self, key: &[u8], value: &AnyValue) -> Entry {
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
    pub(super) fn write_encoded(&mut self, attr: &EncodedAttr) -> Entry {
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
