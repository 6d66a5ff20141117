//! Zipkin v1 Thrift (`POST /api/v1/spans`, `application/x-thrift`): a binary-protocol list of
//! zipkincore.thrift `Span` structs, read with the shared bounded reader (`ferrotel-thrift`)
//! into [`V1Span`]s, then converted as v1 JSON is.
//!
//! Binary annotation values are typed bytes; as in v1 JSON they become text (the model's tags
//! are strings, and `parse_string_tags` types them back): BOOL `true`/`false` (true is the
//! single byte 1, as Go reads it), I16/I32/I64 big-endian signed decimal, DOUBLE big-endian
//! IEEE 754 in Rust's shortest round-trip form, BYTES standard base64, STRING as sent. A value
//! too short for its type, or an unknown type, is kept as Go keeps it: a `<…>` text naming why.

use std::net::{Ipv4Addr, Ipv6Addr};

use base64::Engine;
use ferrotel_thrift::write::Writer;
use ferrotel_thrift::{DecodeError as ThriftError, Protocol, Reader, Type};

use super::{DecodeError, V1Span, convert};
use crate::model::{Annotation, Endpoint, Span};

/// Decodes a v1 Thrift body (a list of spans in the binary protocol).
pub fn decode(body: &[u8]) -> Result<Vec<Span>, DecodeError> {
    let mut r = Reader::new(body, Protocol::Binary);
    let thrift = |e: ThriftError| DecodeError::Thrift(e.to_string());
    let (t, n) = r.list_begin().map_err(thrift)?;
    if t != Type::Struct {
        return Err(DecodeError::Thrift(format!(
            "a list of {t:?}, not of Span structs"
        )));
    }
    let mut out = Vec::with_capacity(ferrotel_thrift::reserve_for(n));
    for i in 0..n {
        let v = span(&mut r)
            .map_err(|e| DecodeError::Thrift(e.at(format!("span[{i}]")).to_string()))?;
        convert(v, &mut out).map_err(|m| DecodeError::Span(i, m))?;
    }
    r.list_end();
    if r.remaining() != 0 {
        return Err(DecodeError::Thrift(format!(
            "{} bytes after the list of {n} spans",
            r.remaining()
        )));
    }
    Ok(out)
}

/// Epoch microseconds: Thrift's i64, which Zipkin never sends negative.
fn micros(v: i64, what: &str) -> Result<u64, ThriftError> {
    u64::try_from(v).map_err(|_| ThriftError::new(format!("{what} {v} is negative")))
}

/// A list of structs, each read by `item`; a list of another element type is skipped, as
/// Go's generated code skips a mistyped field.
fn list<T>(
    r: &mut Reader<'_>,
    name: &str,
    mut item: impl FnMut(&mut Reader<'_>) -> Result<T, ThriftError>,
) -> Result<Vec<T>, ThriftError> {
    let (et, n) = r.list_begin().map_err(|e| e.at(name.to_owned()))?;
    let mut out = Vec::new();
    if et == Type::Struct {
        out.reserve(ferrotel_thrift::reserve_for(n));
        for i in 0..n {
            out.push(item(r).map_err(|e| e.at(format!("[{i}]")).at(name.to_owned()))?);
        }
    } else {
        for _ in 0..n {
            r.skip(et).map_err(|e| e.at(name.to_owned()))?;
        }
    }
    r.list_end();
    Ok(out)
}

fn span(r: &mut Reader<'_>) -> Result<V1Span, ThriftError> {
    let (mut low, mut high, mut id) = (0i64, 0i64, 0i64);
    let mut v = V1Span::default();
    r.struct_begin()?;
    while let Some((t, field)) = r.field_begin()? {
        match (field, t) {
            (1, Type::I64) => low = r.i64()?,
            (3, Type::Binary) => v.name = r.string()?,
            (4, Type::I64) => id = r.i64()?,
            // Zero is no parent (Go's zero span id).
            (5, Type::I64) => v.parent_id = Some(r.i64()?.to_be_bytes()).filter(|p| *p != [0; 8]),
            (6, Type::List) => v.annotations = list(r, "annotations", annotation)?,
            (8, Type::List) => v.binary_annotations = list(r, "binary_annotations", binary)?,
            (9, Type::Bool) => v.debug = r.bool()?,
            (10, Type::I64) => v.timestamp = Some(micros(r.i64()?, "timestamp")?),
            (11, Type::I64) => v.duration = Some(micros(r.i64()?, "duration")?),
            (12, Type::I64) => high = r.i64()?,
            _ => r.skip(t)?,
        }
    }
    r.struct_end();
    v.trace_id[..8].copy_from_slice(&high.to_be_bytes());
    v.trace_id[8..].copy_from_slice(&low.to_be_bytes());
    v.id = id.to_be_bytes();
    Ok(v)
}

fn annotation(r: &mut Reader<'_>) -> Result<(Annotation, Option<Endpoint>), ThriftError> {
    let mut timestamp = 0;
    let mut value = String::new();
    let mut host = None;
    r.struct_begin()?;
    while let Some((t, field)) = r.field_begin()? {
        match (field, t) {
            (1, Type::I64) => timestamp = micros(r.i64()?, "timestamp")?,
            (2, Type::Binary) => value = r.string()?,
            (3, Type::Struct) => host = endpoint(r).map_err(|e| e.at("host"))?,
            _ => r.skip(t)?,
        }
    }
    r.struct_end();
    Ok((Annotation { timestamp, value }, host))
}

/// zipkincore.thrift's `AnnotationType`.
const BOOL: i32 = 0;
const BYTES: i32 = 1;
const I16: i32 = 2;
const I32: i32 = 3;
const I64: i32 = 4;
const DOUBLE: i32 = 5;
const STRING: i32 = 6;

fn binary(r: &mut Reader<'_>) -> Result<(String, String, Option<Endpoint>), ThriftError> {
    let mut key = String::new();
    let mut value: &[u8] = &[];
    let mut kind = STRING;
    let mut host = None;
    r.struct_begin()?;
    while let Some((t, field)) = r.field_begin()? {
        match (field, t) {
            (1, Type::Binary) => key = r.string()?,
            (2, Type::Binary) => value = r.bytes()?,
            (3, Type::I32) => kind = r.i32()?,
            (4, Type::Struct) => host = endpoint(r).map_err(|e| e.at("host"))?,
            _ => r.skip(t)?,
        }
    }
    r.struct_end();
    Ok((key, value_text(kind, value), host))
}

/// The first `N` bytes of a number's value (Go reads a longer value's prefix too).
fn number<const N: usize>(v: &[u8]) -> Option<[u8; N]> {
    v.get(..N).and_then(|b| b.try_into().ok())
}

fn value_text(kind: i32, v: &[u8]) -> String {
    const SHORT: &str = "<not enough bytes representing the number>";
    let num = |s: Option<String>| s.unwrap_or_else(|| SHORT.to_owned());
    match kind {
        BOOL => (v == [1]).to_string(),
        BYTES => base64::engine::general_purpose::STANDARD.encode(v),
        I16 => num(number(v).map(|b| i16::from_be_bytes(b).to_string())),
        I32 => num(number(v).map(|b| i32::from_be_bytes(b).to_string())),
        I64 => num(number(v).map(|b| i64::from_be_bytes(b).to_string())),
        DOUBLE => num(number(v).map(|b| format!("{:?}", f64::from_be_bytes(b)))),
        STRING => String::from_utf8_lossy(v).into_owned(),
        other => format!("<unknown zipkin v1 binary annotation type ({other})>"),
    }
}

/// An `Endpoint`; all of it unset is none. A port is an unsigned 16-bit number sent in an i16.
fn endpoint(r: &mut Reader<'_>) -> Result<Option<Endpoint>, ThriftError> {
    let mut ep = Endpoint::default();
    r.struct_begin()?;
    while let Some((t, field)) = r.field_begin()? {
        match (field, t) {
            (1, Type::I32) => {
                let ip = r.i32()? as u32;
                ep.ipv4 = (ip != 0).then(|| Ipv4Addr::from(ip));
            }
            (2, Type::I16) => ep.port = r.i16()? as u16,
            (3, Type::Binary) => ep.service_name = r.string()?,
            (4, Type::Binary) => {
                let b = r.bytes()?;
                ep.ipv6 = match <[u8; 16]>::try_from(b) {
                    Ok(a) => Some(Ipv6Addr::from(a)),
                    Err(_) if b.is_empty() => None,
                    Err(_) => {
                        return Err(ThriftError::new(format!(
                            "ipv6 has {} bytes, not 16",
                            b.len()
                        )));
                    }
                };
            }
            _ => r.skip(t)?,
        }
    }
    r.struct_end();
    Ok((!ep.is_empty()).then_some(ep))
}

/// The writing side, for tests, fuzz seeds and benchmarks: `spans` as a v1 Thrift body, each
/// binary annotation a STRING unless its key is an address annotation (`ca`, `sa`, `ma`:
/// BOOL true), as Zipkin's tracers write them.
#[doc(hidden)]
pub fn encode(spans: &[V1Span]) -> Vec<u8> {
    let mut w = Writer::new(Protocol::Binary);
    w.list_begin(Type::Struct, spans.len());
    for s in spans {
        w.struct_begin();
        write_span(&mut w, s);
        w.struct_end();
    }
    w.out
}

fn write_span(w: &mut Writer, s: &V1Span) {
    let half = |h: &[u8]| i64::from_be_bytes(h.try_into().expect("8 bytes"));
    w.i64_field(1, half(&s.trace_id[8..]));
    w.bytes_field(3, s.name.as_bytes());
    w.i64_field(4, i64::from_be_bytes(s.id));
    if let Some(p) = s.parent_id {
        w.i64_field(5, i64::from_be_bytes(p));
    }
    w.struct_list_field(6, &s.annotations, |w, (a, ep)| {
        w.i64_field(1, a.timestamp as i64);
        w.bytes_field(2, a.value.as_bytes());
        write_host(w, 3, ep.as_ref());
    });
    w.struct_list_field(8, &s.binary_annotations, |w, (k, v, ep)| {
        w.bytes_field(1, k.as_bytes());
        if matches!(k.as_str(), "ca" | "sa" | "ma") {
            w.bytes_field(2, &[1]);
            w.i32_field(3, BOOL);
        } else {
            w.bytes_field(2, v.as_bytes());
            w.i32_field(3, STRING);
        }
        write_host(w, 4, ep.as_ref());
    });
    if s.debug {
        w.bool_field(9, true);
    }
    if let Some(t) = s.timestamp {
        w.i64_field(10, t as i64);
    }
    if let Some(d) = s.duration {
        w.i64_field(11, d as i64);
    }
    if s.trace_id[..8] != [0; 8] {
        w.i64_field(12, half(&s.trace_id[..8]));
    }
}

fn write_host(w: &mut Writer, id: i16, ep: Option<&Endpoint>) {
    let Some(ep) = ep else { return };
    w.field(Type::Struct, id);
    w.struct_begin();
    w.i32_field(1, ep.ipv4.map_or(0, |ip| u32::from(ip) as i32));
    w.i16_field(2, ep.port as i16);
    w.bytes_field(3, ep.service_name.as_bytes());
    if let Some(ip) = ep.ipv6 {
        w.bytes_field(4, &ip.octets());
    }
    w.struct_end();
}
