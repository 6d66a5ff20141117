//! OTLP/JSON → protobuf in one pass, without building the prost structs.
//!
//! The scan is the decoder's ([`Reader`]); instead of filling structs, each value is written
//! straight into one output buffer as the protobuf field that prost would write for it:
//! hex ids and base64 decode into the buffer, numbers are parsed without allocating, and
//! default values of plain proto3 fields are omitted as prost omits them. What is written
//! is driven by the tables in `schema.rs`.
//!
//! Nested messages: protobuf puts a message's length before its bytes. Each message reserves
//! its table's `len_bytes` (1, or 2 for spans and the lists above them) and writes its body
//! after them; when it closes, the length is written there, and in the rare case that it
//! needs another number of bytes the body is moved once ([`Out::close`]). Lengths are
//! always minimal varints: the bytes are forwarded to other collectors as they are.
//!
//! Fields come out in JSON key order, not field-number order, so the bytes equal prost's
//! encoding exactly when the keys come in field-number order (as most SDKs write them);
//! either way prost decodes them to what [`super::decode`] produces.
//!
//! Fallbacks: the fast path refuses, and [`transcode`] then runs the reference
//! `decode` + prost encode, on
//! - any error, so that error messages are exactly the decoder's (errors are rare; their cost
//!   does not matter);
//! - a key that occurs twice in one object, or two members of one oneof (e.g. both
//!   `stringValue` and `intValue`): JSON keeps the last value whereas protobuf merges repeated
//!   message fields and appends repeated ones, and writing both would not be canonical.

mod schema;

use bytes::Bytes;

use super::MAX_ANY_VALUE_DEPTH;
use super::read::{Reader, Res};
use crate::{DecodeError, Signal};
use schema::{Card, Field, Kind, Msg};

const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;
const FIXED32: u32 = 5;

/// Transcodes an OTLP/JSON export request of `signal` to its protobuf encoding (an
/// `Export*ServiceRequest`), accepting exactly what [`super::decode`] accepts and failing
/// with exactly its errors. The bytes decode (prost) to what `decode` returns.
pub fn transcode(signal: Signal, buf: &[u8]) -> Result<Bytes, DecodeError> {
    match transcode_fast(signal, buf) {
        Some(out) => Ok(out),
        None => decode_and_encode(signal, buf),
    }
}

/// The fast path alone: `None` where [`transcode`] falls back to decode + encode (any error,
/// or a construct listed in the module documentation). Public for tests and fuzzing, which
/// check that it agrees with the reference and that valid requests do not fall back.
#[doc(hidden)]
pub fn transcode_fast(signal: Signal, buf: &[u8]) -> Option<Bytes> {
    let mut r = Reader::new(buf);
    // Protobuf is smaller than the same OTLP/JSON but by a varying factor (≈ 0.5 for compact
    // JSON with short strings, 0.15 pretty-printed, near 1 for long string values), so the
    // buffer starts at the JSON's size: it never has to grow and copy, and the pages it does
    // not fill are never touched. The slack is given back below.
    let mut out = Out {
        buf: Vec::with_capacity(buf.len()),
        scratch: Vec::new(),
    };
    message(&mut r, &mut out, request(signal), 0).ok()?;
    r.end().ok()?;
    // The bytes may wait in queues and batches for a while: do not keep the slack with them.
    if out.buf.capacity() - out.buf.len() > out.buf.len() / 4 {
        out.buf.shrink_to_fit();
    }
    Some(out.buf.into())
}

/// The reference path: the prost structs, encoded. Gives `decode`'s error where there is one.
#[cold]
#[inline(never)]
fn decode_and_encode(signal: Signal, buf: &[u8]) -> Result<Bytes, DecodeError> {
    super::decode(signal, buf).map(|request| request.encode_proto())
}

fn request(signal: Signal) -> &'static Msg {
    match signal {
        Signal::Traces => &schema::TRACES_REQUEST,
        Signal::Metrics => &schema::METRICS_REQUEST,
        Signal::Logs => &schema::LOGS_REQUEST,
        Signal::Profiles => &schema::PROFILES_REQUEST,
    }
}

/// Writes the fields of the JSON object at the cursor as the body of `msg`. `any_depth` is
/// the number of AnyValues this message is inside of (0 outside attribute values).
fn message(r: &mut Reader, out: &mut Out, msg: &'static Msg, any_depth: usize) -> Res<()> {
    // One bit per field number already seen (field numbers are below 32; bit 0 stands for
    // the message's oneof), to refuse repeated keys.
    let mut seen = 0u32;
    r.object(|r, key| {
        let Some(field) = msg.fields.iter().find(|f| same_key(f.json, key)) else {
            return r.skip();
        };
        let bit = if field.card == Card::Oneof {
            1
        } else {
            1 << field.number
        };
        if seen & bit != 0 {
            return Err(r.err("repeated key: left to the reference decoder"));
        }
        seen |= bit;
        if field.card == Card::Repeated {
            repeated(r, out, field, any_depth)
        } else {
            single(r, out, field, any_depth)
        }
    })
}

/// A nested message: key, length and body.
#[inline]
fn nested(
    r: &mut Reader,
    out: &mut Out,
    number: u32,
    msg: &'static Msg,
    any_depth: usize,
) -> Res<()> {
    let any_depth = if msg.any_value {
        if any_depth >= MAX_ANY_VALUE_DEPTH {
            return Err(r.err("AnyValue nesting too deep"));
        }
        any_depth + 1
    } else {
        any_depth
    };
    out.key(number, LEN);
    let at = out.open(msg.len_bytes);
    message(r, out, msg, any_depth)?;
    out.close(at, msg.len_bytes);
    Ok(())
}

/// A field that is not repeated.
fn single(r: &mut Reader, out: &mut Out, field: &Field, any_depth: usize) -> Res<()> {
    // Oneof members and `optional` scalars are written even when zero; messages always.
    let always = field.card != Card::Singular;
    let number = field.number;
    match field.kind {
        Kind::Msg(msg) => nested(r, out, number, msg, any_depth)?,
        Kind::Str => out.string(r, number, always)?,
        Kind::HexId(len) => r.hex_id_with(len, |id| {
            if !id.is_empty() {
                out.key(number, LEN);
                out.bytes(id);
            }
        })?,
        Kind::Base64 => {
            let mark = out.buf.len();
            out.key(number, LEN);
            let at = out.open(1);
            r.base64_into(&mut out.buf)?;
            if always || out.buf.len() > at + 1 {
                out.close(at, 1);
            } else {
                out.buf.truncate(mark);
            }
        }
        scalar => {
            let (wire_type, value) = read_scalar(r, scalar)?;
            if always || !is_default(scalar, value) {
                out.key(number, wire_type);
                out.scalar(wire_type, value);
            }
        }
    }
    Ok(())
}

/// A repeated field: messages and strings as one field per element, scalars packed.
fn repeated(r: &mut Reader, out: &mut Out, field: &Field, any_depth: usize) -> Res<()> {
    let number = field.number;
    match field.kind {
        Kind::Msg(msg) => r.array(|r, _| nested(r, out, number, msg, any_depth)),
        Kind::Str => r.array(|r, _| out.string(r, number, true)),
        scalar => {
            // prost writes nothing at all for an empty packed field.
            let mark = out.buf.len();
            out.key(number, LEN);
            let at = out.open(1);
            r.array(|r, _| {
                let (wire_type, value) = read_scalar(r, scalar)?;
                out.scalar(wire_type, value);
                Ok(())
            })?;
            if out.buf.len() > at + 1 {
                out.close(at, 1);
            } else {
                out.buf.truncate(mark);
            }
            Ok(())
        }
    }
}

/// Reads a numeric or boolean value as its wire type and 64 raw bits, checked as the
/// decoder checks it (same reader functions, same ranges).
#[inline]
fn read_scalar(r: &mut Reader, kind: Kind) -> Res<(u32, u64)> {
    Ok(match kind {
        Kind::Bool => (VARINT, u64::from(r.bool()?)),
        // int32 and enums are sign-extended to 64 bits, as protobuf (and prost) write them.
        Kind::Enum => (VARINT, i64::from(r.enumeration()?) as u64),
        Kind::Int32 => (VARINT, i64::from(r.int::<i32>()?) as u64),
        Kind::UInt32 => (VARINT, u64::from(r.int::<u32>()?)),
        Kind::Int64 => (VARINT, r.int::<i64>()? as u64),
        Kind::UInt64 => (VARINT, r.int::<u64>()?),
        Kind::SInt32 => {
            let v = r.int::<i32>()?;
            (VARINT, u64::from(((v << 1) ^ (v >> 31)) as u32))
        }
        Kind::Fixed32 => (FIXED32, u64::from(r.int::<u32>()?)),
        Kind::Fixed64 => (FIXED64, r.int::<u64>()?),
        Kind::SFixed64 => (FIXED64, r.int::<i64>()? as u64),
        Kind::Double => (FIXED64, r.f64()?.to_bits()),
        Kind::Str | Kind::Base64 | Kind::HexId(_) | Kind::Msg(_) => {
            // The schema never asks for these here; refusing falls back to the reference.
            return Err(r.err("not a scalar field"));
        }
    })
}

/// Whether prost omits this value of a plain proto3 field: zero, or for doubles ±0.0
/// (prost tests `value != 0.0`, which -0.0 fails).
#[inline]
fn is_default(kind: Kind, bits: u64) -> bool {
    match kind {
        Kind::Double => bits << 1 == 0,
        _ => bits == 0,
    }
}

/// The output buffer and the protobuf primitives written into it.
struct Out {
    buf: Vec<u8>,
    /// Where strings with escapes are unescaped before they are copied out: one buffer for
    /// the whole request rather than an allocation per string.
    scratch: Vec<u8>,
}

impl Out {
    /// A string field (unless empty and `always` is false): key, length, UTF-8 bytes.
    #[inline]
    fn string(&mut self, r: &mut Reader, number: u32, always: bool) -> Res<()> {
        let s = r.string_in(&mut self.scratch)?;
        if always || !s.is_empty() {
            put_varint(&mut self.buf, u64::from(number << 3 | LEN));
            put_varint(&mut self.buf, s.len() as u64);
            self.buf.extend_from_slice(s.as_bytes());
        }
        Ok(())
    }

    #[inline]
    fn key(&mut self, number: u32, wire_type: u32) {
        self.varint(u64::from(number << 3 | wire_type));
    }

    #[inline]
    fn varint(&mut self, v: u64) {
        put_varint(&mut self.buf, v);
    }

    #[inline]
    fn scalar(&mut self, wire_type: u32, value: u64) {
        match wire_type {
            FIXED64 => self.buf.extend_from_slice(&value.to_le_bytes()),
            FIXED32 => self.buf.extend_from_slice(&(value as u32).to_le_bytes()),
            _ => self.varint(value),
        }
    }

    /// Length-delimited bytes: length, then the bytes.
    #[inline]
    fn bytes(&mut self, b: &[u8]) {
        self.varint(b.len() as u64);
        self.buf.extend_from_slice(b);
    }

    /// Starts a length-delimited value whose length is not known yet: reserves `len_bytes`
    /// for the length and returns where they are, for [`Out::close`].
    #[inline]
    fn open(&mut self, len_bytes: usize) -> usize {
        let at = self.buf.len();
        self.buf.resize(at + len_bytes, 0);
        at
    }

    /// Writes the length of the value opened at `at` with `len_bytes` reserved, moving the
    /// body when the minimal varint of its length has another size than was reserved.
    #[inline]
    fn close(&mut self, at: usize, len_bytes: usize) {
        let body = at + len_bytes;
        let end = self.buf.len();
        let len = end - body;
        let need = varint_len(len);
        if need != len_bytes {
            self.move_body(body, end, at + need);
        }
        let mut v = len;
        for b in &mut self.buf[at..at + need - 1] {
            *b = v as u8 | 0x80;
            v >>= 7;
        }
        self.buf[at + need - 1] = v as u8;
    }

    #[cold]
    fn move_body(&mut self, body: usize, end: usize, to: usize) {
        if to > body {
            self.buf.resize(end + (to - body), 0);
        }
        self.buf.copy_within(body..end, to);
        self.buf.truncate(to + (end - body));
    }
}

#[inline(always)]
fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    if v < 0x80 {
        buf.push(v as u8);
        return;
    }
    let mut tmp = [0u8; 10];
    let mut n = 0;
    while v >= 0x80 {
        tmp[n] = v as u8 | 0x80;
        v >>= 7;
        n += 1;
    }
    tmp[n] = v as u8;
    buf.extend_from_slice(&tmp[..=n]);
}

/// `a == b` for JSON keys, which are mostly 3 to 24 bytes long: a few overlapping word
/// compares, rather than a call to `memcmp`.
#[inline]
fn same_key(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let u64_at =
        |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().unwrap_or_default());
    let u32_at =
        |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().unwrap_or_default());
    match n {
        // Words at both ends (and, past 16 bytes, the two inner ones) cover every byte.
        8..=32 => {
            u64_at(a, 0) == u64_at(b, 0)
                && u64_at(a, n - 8) == u64_at(b, n - 8)
                && (n <= 16
                    || (u64_at(a, 8) == u64_at(b, 8) && u64_at(a, n - 16) == u64_at(b, n - 16)))
        }
        4..=7 => u32_at(a, 0) == u32_at(b, 0) && u32_at(a, n - 4) == u32_at(b, n - 4),
        _ => a == b,
    }
}

#[inline]
fn varint_len(v: usize) -> usize {
    // Bits needed, 7 per byte; at least one byte.
    let bits = usize::BITS - (v | 1).leading_zeros();
    bits.div_ceil(7) as usize
}

#[cfg(test)]
mod tests {
    use super::same_key;

    #[test]
    fn same_key_is_string_equality() {
        for n in 0..40 {
            let key: String = (0..n).map(|i| (b'a' + (i % 26) as u8) as char).collect();
            assert!(same_key(&key, &key.clone()));
            for at in 0..n {
                let mut other = key.clone().into_bytes();
                other[at] = b'Z';
                let other = String::from_utf8(other).unwrap();
                assert!(!same_key(&key, &other), "{key} vs {other}");
            }
            assert!(!same_key(&key, &format!("{key}x")));
        }
    }
}
