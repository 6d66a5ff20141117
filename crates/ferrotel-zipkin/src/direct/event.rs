//! An annotation holding the specification's `{"name": {attributes}}` (what the OpenTelemetry
//! SDKs' Zipkin exporters and ferrotel's write for an event with attributes), written as an
//! OTLP event without building `serde_json::Value`s. Only the plain shape is taken here: keys
//! in ascending order (serde_json's map sorts them, so the reference's order is then the
//! input's), values that are strings, booleans or numbers. Anything else (nested values,
//! nulls, unsorted or repeated keys, the Go translator's `name|{…}|dropped`) is `None`, and
//! `to_otlp::event` decides.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};

use super::pb::{Val, field_len, put_fixed64, put_kv, put_len, put_nonempty};

/// Writes the event (field 11 of a span) to `out`, or `None` for the reference to decide.
/// `scratch` holds the attributes while their length is unknown.
pub(super) fn write(
    time: u64,
    value: &str,
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
) -> Option<()> {
    scratch.clear();
    let mut d = serde_json::Deserializer::from_str(value);
    let name = d.deserialize_map(Outer(scratch)).ok()?;
    d.end().ok()?;
    let time = time.saturating_mul(1000);
    let len = if time != 0 { 9 } else { 0 }
        + if name.is_empty() {
            0
        } else {
            field_len(name.len())
        }
        + scratch.len();
    put_len(out, 11, len);
    put_fixed64(out, 1, time);
    put_nonempty(out, 2, name.as_bytes());
    out.extend_from_slice(scratch);
    Some(())
}

/// A string, borrowed when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(TextVisitor(std::marker::PhantomData))
    }
}

struct TextVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
    type Value = Text<'a>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'a>, E> {
        Ok(Text(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Text<'a>, E> {
        Ok(Text(Cow::Owned(v.to_owned())))
    }
}

fn refuse<E: serde::de::Error>() -> E {
    E::custom("left to to_otlp::event")
}

/// `{"name": {…}}`: exactly one member, an object. Yields the name.
struct Outer<'s>(&'s mut Vec<u8>);

impl<'de> Visitor<'de> for Outer<'_> {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let name = map.next_key::<Text>()?.ok_or_else(refuse)?.0;
        map.next_value_seed(Attrs(self.0))?;
        if map.next_key::<Text>()?.is_some() {
            return Err(refuse());
        }
        Ok(name)
    }
}

/// The attributes object, each member written as a `KeyValue` (field 3 of an event).
struct Attrs<'s>(&'s mut Vec<u8>);

impl<'de> DeserializeSeed<'de> for Attrs<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Attrs<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("attributes")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut previous: Option<Cow<'de, str>> = None;
        while let Some(k) = map.next_key::<Text>()? {
            if previous.as_deref().is_some_and(|p| p >= &*k.0) {
                return Err(refuse());
            }
            match map.next_value::<Scalar>()? {
                Scalar::Str(s) => put_kv(self.0, 3, &k.0, Val::Str(&s)),
                Scalar::Bool(b) => put_kv(self.0, 3, &k.0, Val::Bool(b)),
                Scalar::Int(i) => put_kv(self.0, 3, &k.0, Val::Int(i)),
                Scalar::Double(f) => put_kv(self.0, 3, &k.0, Val::Double(f)),
            }
            previous = Some(k.0);
        }
        Ok(())
    }
}

/// A string, boolean or number, typed as `to_otlp`'s `json_value` types it (an integer that
/// fits i64 is an integer, any other number a double).
enum Scalar<'a> {
    Str(Cow<'a, str>),
    Bool(bool),
    Int(i64),
    Double(f64),
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Scalar<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar<'a>, E> {
                Ok(match i64::try_from(v) {
                    Ok(i) => Scalar::Int(i),
                    Err(_) => Scalar::Double(v as f64),
                })
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Double(v))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}
