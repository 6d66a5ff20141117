//! Writing OTLP protobuf fields whose body lengths are known before the bodies, so nothing is
//! written twice: what the receivers' direct paths (Zipkin, Jaeger) use to turn their input
//! into OTLP bytes without building prost structs. Every writer leaves out what prost leaves
//! out (proto3 defaults), so the bytes equal a prost encode of the same message.

pub use super::reader::{put_varint, varint_len};

/// Wire types.
pub const VARINT: u8 = 0;
pub const FIXED64: u8 = 1;
pub const LEN: u8 = 2;

/// The key byte of field `n` (< 16) of wire type `wt`.
pub const fn key(n: u8, wt: u8) -> u8 {
    (n << 3) | wt
}

/// Key and length of a length-delimited field whose body follows.
pub fn put_len(buf: &mut Vec<u8>, field: u8, len: usize) {
    buf.push(key(field, LEN));
    put_varint(buf, len as u64);
}

/// A length-delimited field's whole size: key, length, body.
pub fn field_len(body: usize) -> usize {
    1 + varint_len(body as u64) + body
}

pub fn put_bytes(buf: &mut Vec<u8>, field: u8, b: &[u8]) {
    put_len(buf, field, b.len());
    buf.extend_from_slice(b);
}

/// A proto3 string or bytes field: left out when empty, as prost does.
pub fn put_nonempty(buf: &mut Vec<u8>, field: u8, b: &[u8]) {
    if !b.is_empty() {
        put_bytes(buf, field, b);
    }
}

/// A `fixed64` field, left out when 0.
pub fn put_fixed64(buf: &mut Vec<u8>, field: u8, v: u64) {
    if v != 0 {
        buf.push(key(field, FIXED64));
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

/// A varint field, left out when 0.
pub fn put_uint(buf: &mut Vec<u8>, field: u8, v: u64) {
    if v != 0 {
        buf.push(key(field, VARINT));
        put_varint(buf, v);
    }
}

/// An attribute value as written: the `AnyValue` oneof member.
#[derive(Clone, Copy, Debug)]
pub enum Val<'a> {
    Str(&'a str),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(&'a [u8]),
}

impl Val<'_> {
    /// The encoded `AnyValue` body's length.
    pub fn encoded_len(self) -> usize {
        match self {
            Val::Str(s) => field_len(s.len()),
            Val::Bytes(b) => field_len(b.len()),
            Val::Bool(_) => 2,
            Val::Int(i) => 1 + varint_len(i as u64),
            Val::Double(_) => 9,
        }
    }
}

/// A `KeyValue` as field `field` of its parent (attributes are field 9 of a span, 1 of a
/// resource). A oneof member is written even when it holds its type's default, as prost does.
pub fn put_kv(buf: &mut Vec<u8>, field: u8, k: &str, v: Val<'_>) {
    let any = v.encoded_len();
    // An empty key is proto3's default: left out, as prost does.
    let key_len = if k.is_empty() { 0 } else { field_len(k.len()) };
    let body = key_len + field_len(any);
    // Room for all of it at once: the writes below never grow the buffer one by one.
    buf.reserve(field_len(body));
    put_len(buf, field, body);
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
        Val::Bytes(b) => put_bytes(buf, 7, b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::common::v1::{AnyValue, KeyValue, any_value::Value};
    use prost::Message;

    /// Each value kind, defaults and empty keys included, as prost writes it.
    #[test]
    fn put_kv_equals_prost() {
        let cases: Vec<(&str, Val<'_>, Value)> = vec![
            ("k", Val::Str("v"), Value::StringValue("v".into())),
            ("", Val::Str(""), Value::StringValue(String::new())),
            ("b", Val::Bool(false), Value::BoolValue(false)),
            ("b", Val::Bool(true), Value::BoolValue(true)),
            ("i", Val::Int(-3), Value::IntValue(-3)),
            ("i", Val::Int(0), Value::IntValue(0)),
            ("d", Val::Double(0.0), Value::DoubleValue(0.0)),
            ("d", Val::Double(-1.5), Value::DoubleValue(-1.5)),
            ("x", Val::Bytes(&[]), Value::BytesValue(Vec::new().into())),
            (
                "x",
                Val::Bytes(&[0, 255]),
                Value::BytesValue(vec![0, 255].into()),
            ),
        ];
        for (k, v, want) in cases {
            let mut got = Vec::new();
            put_kv(&mut got, 1, k, v);
            let kv = KeyValue {
                key: k.into(),
                value: Some(AnyValue { value: Some(want) }),
                ..Default::default()
            };
            let mut expect = Vec::new();
            put_len(&mut expect, 1, kv.encoded_len());
            kv.encode_raw(&mut expect);
            assert_eq!(got, expect, "{k:?} {v:?}");
        }
    }
}
