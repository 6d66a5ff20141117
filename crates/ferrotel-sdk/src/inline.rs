//! Small attribute values kept inline in [`SpanData`] (a `tracing` span's fields: booleans,
//! numbers, strings of up to [`INLINE_STR`] bytes), so recording and dropping them allocates
//! nothing; they become `KeyValue`s only when read, and are encoded straight from here.
//!
//! They follow the span's [`SharedAttributes`] and come before [`SpanData::attributes`], as if
//! set first among those. The bridge stores a field here only while `attributes` is empty and
//! its key is new; whatever else would make the order or the counts differ first copies them
//! into `attributes` ([`SpanData::resolve_attributes`]).
//!
//! [`SpanData`]: crate::SpanData
//! [`SpanData::attributes`]: crate::SpanData::attributes
//! [`SpanData::resolve_attributes`]: crate::SpanData::resolve_attributes
//! [`SharedAttributes`]: crate::SharedAttributes

use opentelemetry::{KeyValue, Value};
use smallvec::SmallVec;

/// The longest string kept inline, in bytes.
pub const INLINE_STR: usize = 22;

/// One inline value.
#[derive(Clone, Copy, PartialEq)]
pub enum InlineValue {
    Bool(bool),
    I64(i64),
    F64(f64),
    Str(InlineStr),
}

/// A string of at most [`INLINE_STR`] bytes.
#[derive(Clone, Copy, PartialEq)]
pub struct InlineStr {
    len: u8,
    bytes: [u8; INLINE_STR],
}

impl InlineStr {
    /// `s` inline, if it fits.
    #[inline]
    pub fn new(s: &str) -> Option<InlineStr> {
        let mut bytes = [0; INLINE_STR];
        bytes.get_mut(..s.len())?.copy_from_slice(s.as_bytes());
        Some(InlineStr {
            len: s.len() as u8,
            bytes,
        })
    }

    #[inline]
    pub fn as_str(&self) -> &str {
        // Copied whole from a `&str` (`new`), never changed: valid UTF-8.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl InlineValue {
    /// As an API value (a string is copied).
    pub fn to_value(&self) -> Value {
        match *self {
            InlineValue::Bool(b) => Value::Bool(b),
            InlineValue::I64(i) => Value::I64(i),
            InlineValue::F64(f) => Value::F64(f),
            InlineValue::Str(s) => Value::from(s.as_str().to_owned()),
        }
    }
}

/// A span's inline attributes (see the [module](self) docs).
#[derive(Clone, Default, PartialEq)]
pub struct InlineAttributes(SmallVec<[(&'static str, InlineValue); 4]>);

impl InlineAttributes {
    #[inline]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether they hold more than fits in the span itself (then dropping them frees memory).
    #[inline]
    pub(crate) fn spilled(&self) -> bool {
        self.0.spilled()
    }

    /// The keys and values, in order.
    pub fn entries(&self) -> &[(&'static str, InlineValue)] {
        &self.0
    }

    /// Whether one of them has this key.
    pub fn contains_key(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| *k == key)
    }

    /// As `KeyValue`s, in order (strings copied).
    pub fn iter(&self) -> impl Iterator<Item = KeyValue> + '_ {
        self.0.iter().map(|(k, v)| KeyValue::new(*k, v.to_value()))
    }

    #[cfg(feature = "tracing")]
    #[inline]
    pub(crate) fn push(&mut self, key: &'static str, value: InlineValue) {
        self.0.push((key, value));
    }

    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }
}

impl std::fmt::Debug for InlineAttributes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl std::fmt::Debug for InlineValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.to_value().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_up_to_the_limit_fit() {
        let s = "é".repeat(INLINE_STR / 2);
        assert_eq!(InlineStr::new(&s).unwrap().as_str(), s);
        assert_eq!(InlineStr::new("").unwrap().as_str(), "");
        assert!(InlineStr::new(&"x".repeat(INLINE_STR + 1)).is_none());
    }
}
