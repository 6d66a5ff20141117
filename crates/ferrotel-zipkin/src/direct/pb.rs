//! The few protobuf primitives the direct path needs: writing OTLP fields whose lengths are
//! known before their bodies (so nothing is written twice), and reading Zipkin's `ListOfSpans`
//! strictly (anything prost would merge, skip or coerce is refused: the caller falls back to
//! the reference decoder, which then decides).

/// Wire types.
pub(super) const VARINT: u8 = 0;
pub(super) const FIXED64: u8 = 1;
pub(super) const LEN: u8 = 2;

/// The key byte of field `n` (< 16) of wire type `wt`.
pub(super) const fn key(n: u8, wt: u8) -> u8 {
    (n << 3) | wt
}

pub(super) use ferrotel_pdata::wire::{put_varint, varint_len};

/// Key and length of a length-delimited field whose body follows.
pub(super) fn put_len(buf: &mut Vec<u8>, field: u8, len: usize) {
    buf.push(key(field, LEN));
    put_varint(buf, len as u64);
}

/// A length-delimited field's whole size: key, length, body.
pub(super) fn field_len(body: usize) -> usize {
    1 + varint_len(body as u64) + body
}

pub(super) fn put_bytes(buf: &mut Vec<u8>, field: u8, b: &[u8]) {
    put_len(buf, field, b.len());
    buf.extend_from_slice(b);
}

/// A proto3 string or bytes field: left out when empty, as prost does.
pub(super) fn put_nonempty(buf: &mut Vec<u8>, field: u8, b: &[u8]) {
    if !b.is_empty() {
        put_bytes(buf, field, b);
    }
}

pub(super) fn put_fixed64(buf: &mut Vec<u8>, field: u8, v: u64) {
    if v != 0 {
        buf.push(key(field, FIXED64));
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

pub(super) fn put_uint(buf: &mut Vec<u8>, field: u8, v: u64) {
    if v != 0 {
        buf.push(key(field, VARINT));
        put_varint(buf, v);
    }
}

/// An attribute value as written: the `AnyValue` oneof member.
#[derive(Clone, Copy)]
pub(super) enum Val<'a> {
    Str(&'a str),
    Bool(bool),
    Int(i64),
    Double(f64),
}

impl Val<'_> {
    /// The encoded `AnyValue` body's length.
    fn len(self) -> usize {
        match self {
            Val::Str(s) => field_len(s.len()),
            Val::Bool(_) => 2,
            Val::Int(i) => 1 + varint_len(i as u64),
            Val::Double(_) => 9,
        }
    }
}

/// A `KeyValue` as field `field` of its parent (attributes are field 9 of a span, 1 of a
/// resource). A oneof member is written even when it holds its type's default, as prost does.
pub(super) fn put_kv(buf: &mut Vec<u8>, field: u8, k: &str, v: Val<'_>) {
    let any = v.len();
    // An empty key is proto3's default: left out, as prost does.
    let key_len = if k.is_empty() { 0 } else { field_len(k.len()) };
    put_len(buf, field, key_len + field_len(any));
    put_nonempty(buf, 1, k.as_bytes());
    put_len(buf, 2, any);
    match v {
        Val::Str(s) => put_bytes(buf, 1, s.as_bytes()),
        Val::Bool(b) => buf.extend_from_slice(&[key(2, VARINT), u8::from(b)]),
        Val::Int(i) => {
            buf.push(key(3, VARINT));
            put_varint(buf, i as u64);
        }
        Val::Double(d) => {
            buf.push(key(4, FIXED64));
            buf.extend_from_slice(&d.to_le_bytes());
        }
    }
}

/// A strict protobuf reader: `None` for anything the direct path leaves to prost.
pub(super) struct Rd<'a>(pub(super) &'a [u8]);

impl<'a> Rd<'a> {
    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(super) fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let (&b, rest) = self.0.split_first()?;
            self.0 = rest;
            // The tenth byte holds bit 63 only; prost refuses more.
            if i == 9 && b > 1 {
                return None;
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }

    /// A field key: (number, wire type). Field numbers the direct path reads are small.
    pub(super) fn key(&mut self) -> Option<(u64, u8)> {
        let k = self.varint()?;
        Some((k >> 3, (k & 7) as u8))
    }

    pub(super) fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.varint()?).ok()?;
        if n > self.0.len() {
            return None;
        }
        let (b, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(b)
    }

    pub(super) fn str(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.bytes()?).ok()
    }

    pub(super) fn fixed64(&mut self) -> Option<u64> {
        let (b, rest) = self.0.split_first_chunk::<8>()?;
        self.0 = rest;
        Some(u64::from_le_bytes(*b))
    }
}
