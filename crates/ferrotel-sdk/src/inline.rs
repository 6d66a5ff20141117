//! Small attribute values kept inline in [`SpanData`] (a `tracing` span's first
//! [`INLINE_ATTRIBUTES`] fields, when they are booleans, numbers or strings of up to
//! [`INLINE_STR`] bytes), so recording and dropping them allocates nothing; they become `KeyValue`s only when read, and are encoded straight from here.
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

use std::mem::MaybeUninit;

use opentelemetry::{KeyValue, Value};

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
        let b = s.as_bytes();
        let n = b.len();
        if n > INLINE_STR {
            return None;
        }
        let mut bytes = [0; INLINE_STR];
        // Two overlapping copies of a fixed size rather than one of `n` bytes: moves, where a
        // variable length is a `memcpy` call.
        if n >= 16 {
            copy_ends::<16>(&mut bytes, b);
        } else if n >= 8 {
            copy_ends::<8>(&mut bytes, b);
        } else if n >= 4 {
            copy_ends::<4>(&mut bytes, b);
        } else {
            for (d, s) in bytes.iter_mut().zip(b) {
                *d = *s;
            }
        }
        Some(InlineStr {
            len: n as u8,
            bytes,
        })
    }

    #[inline]
    pub fn as_str(&self) -> &str {
        // Copied whole from a `&str` (`new`), never changed: valid UTF-8.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

/// `src`'s first and last `K` bytes to the same places in `dst` (`K <= src.len() <= dst.len()`,
/// so the two cover `src`).
#[inline(always)]
fn copy_ends<const K: usize>(dst: &mut [u8; INLINE_STR], src: &[u8]) {
    let n = src.len();
    if let (Some(d), Some(s)) = (dst.first_chunk_mut::<K>(), src.first_chunk::<K>()) {
        *d = *s;
    }
    if let (Some(d), Some(s)) = (dst[..n].last_chunk_mut::<K>(), src.last_chunk::<K>()) {
        *d = *s;
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

/// How many values a span keeps inline; more go to [`SpanData::attributes`], after these.
///
/// [`SpanData::attributes`]: crate::SpanData::attributes
pub const INLINE_ATTRIBUTES: usize = 4;

type Entry = (&'static str, InlineValue);

/// A span's inline attributes (see the [module](self) docs): a fixed array, so adding one is a
/// bounds test and a store, and dropping them costs nothing.
#[derive(Clone, Copy)]
pub struct InlineAttributes {
    len: u8,
    /// How many more may be added: set by the bridge from the count limit (the span's shared
    /// attributes count too), 0 until then.
    room: u8,
    /// `entries[..len]` are initialised.
    entries: [MaybeUninit<Entry>; INLINE_ATTRIBUTES],
}

impl Default for InlineAttributes {
    #[inline]
    fn default() -> Self {
        InlineAttributes {
            len: 0,
            room: 0,
            entries: [MaybeUninit::uninit(); INLINE_ATTRIBUTES],
        }
    }
}

impl PartialEq for InlineAttributes {
    fn eq(&self, other: &Self) -> bool {
        self.entries() == other.entries()
    }
}

impl InlineAttributes {
    #[inline]
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The keys and values, in order.
    #[inline]
    pub fn entries(&self) -> &[(&'static str, InlineValue)] {
        let init = &self.entries[..self.len()];
        // SAFETY: `entries[..len]` are initialised (`push` writes one before counting it), and
        // `MaybeUninit<Entry>` has `Entry`'s layout.
        unsafe { std::slice::from_raw_parts(init.as_ptr().cast::<Entry>(), init.len()) }
    }

    /// Whether one of them has this key.
    pub fn contains_key(&self, key: &str) -> bool {
        self.entries().iter().any(|(k, _)| *k == key)
    }

    /// As `KeyValue`s, in order (strings copied).
    pub fn iter(&self) -> impl Iterator<Item = KeyValue> + '_ {
        self.entries()
            .iter()
            .map(|(k, v)| KeyValue::new(*k, v.to_value()))
    }

    /// Allows `n` more values (at most what the array holds).
    #[cfg(feature = "tracing")]
    #[inline]
    pub(crate) fn allow(&mut self, n: usize) {
        self.room = n.min(INLINE_ATTRIBUTES - self.len()) as u8;
    }

    /// Adds a value if there is room; `false` otherwise.
    #[cfg(feature = "tracing")]
    #[inline]
    pub(crate) fn push(&mut self, key: &'static str, value: InlineValue) -> bool {
        if self.room == 0 {
            return false;
        }
        // `room` never exceeds the free entries (`allow`).
        let len = self.len();
        if let Some(e) = self.entries.get_mut(len) {
            e.write((key, value));
            self.len += 1;
            self.room -= 1;
            return true;
        }
        false
    }

    /// Makes `*p` empty by writing its counts only: the entries stay uninitialised (a span's
    /// data is written field by field, see `tracer::new_span_data`).
    ///
    /// # Safety
    /// `p` is valid for writes and aligned.
    #[inline]
    pub(crate) unsafe fn write_empty(p: *mut InlineAttributes) {
        // SAFETY: the caller's; `len` and `room` are plain bytes, and uninitialised
        // `MaybeUninit` entries are a valid value.
        unsafe {
            std::ptr::addr_of_mut!((*p).len).write(0);
            std::ptr::addr_of_mut!((*p).room).write(0);
        }
    }

    /// Removes them all; none may be added again.
    pub(crate) fn clear(&mut self) {
        self.len = 0;
        self.room = 0;
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
        // Every length, each copy path of `new`.
        let all: String = ('a'..='z').collect();
        for n in 0..=INLINE_STR {
            let inline = InlineStr::new(&all[..n]).unwrap();
            assert_eq!(inline.as_str(), &all[..n]);
            // Equal however the bytes after `n` were left (zeroed, not copied).
            let copy = String::from(&all[..n]);
            assert!(inline == InlineStr::new(&copy).unwrap());
        }
        assert!(InlineStr::new(&"x".repeat(INLINE_STR + 1)).is_none());
    }
}
