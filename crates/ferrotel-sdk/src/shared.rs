//! Attributes a span shares with every other span of its `tracing` callsite and thread
//! (`code.*`, `thread.*`, `level`, `target`), kept by reference in [`SpanData`] and written out
//! only when exported: the bridge then builds, stores and drops none of them per span.
//!
//! They come before the span's own attributes, as if set first. Whatever would make them
//! differ from that (a field of the same key, the count limit reached) first copies them into
//! [`SpanData::attributes`] ([`SpanData::resolve_attributes`]), so what is exported is
//! the same either way. Without the `tracing` feature the type is empty.
//!
//! [`SpanData`]: crate::SpanData
//! [`SpanData::attributes`]: crate::SpanData::attributes
//! [`SpanData::resolve_attributes`]: crate::SpanData::resolve_attributes

use opentelemetry::KeyValue;

/// A span's shared attributes (see the [module](self) docs); empty except on `tracing` spans.
#[derive(Clone, Copy, Default)]
pub struct SharedAttributes {
    #[cfg(feature = "tracing")]
    callsite: Option<Callsite>,
}

#[cfg(feature = "tracing")]
#[derive(Clone, Copy)]
struct Callsite {
    meta: &'static tracing::Metadata<'static>,
    thread_id: i64,
    thread_name: Option<&'static str>,
    /// The attributes present, bits of [`KEYS`] (in export order).
    which: u8,
}

/// The keys, in the order the bridge sets them; bit `i` of `Callsite::which` is `KEYS[i]`.
pub(crate) const KEYS: [&str; 7] = [
    "code.file.path",
    "code.module.name",
    "code.line.number",
    "thread.id",
    "thread.name",
    "level",
    "target",
];

impl SharedAttributes {
    /// How many there are.
    #[inline]
    pub fn len(&self) -> usize {
        #[cfg(feature = "tracing")]
        if let Some(c) = &self.callsite {
            return c.which.count_ones() as usize;
        }
        0
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether one of them has this key.
    pub fn contains_key(&self, key: &str) -> bool {
        self.keys().any(|k| k == key)
    }

    fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        (0..KEYS.len()).filter(|i| self.has(*i)).map(|i| KEYS[i])
    }

    #[inline]
    fn has(&self, _i: usize) -> bool {
        #[cfg(feature = "tracing")]
        if let Some(c) = &self.callsite {
            return c.which & (1 << _i) != 0;
        }
        false
    }

    /// The attributes, in order (made on the fly: borrowed strings, no allocation).
    pub fn iter(&self) -> impl Iterator<Item = KeyValue> + '_ {
        (0..KEYS.len())
            .filter(|i| self.has(*i))
            .filter_map(|i| self.value(i))
    }

    #[cfg(not(feature = "tracing"))]
    fn value(&self, _i: usize) -> Option<KeyValue> {
        None
    }

    #[cfg(feature = "tracing")]
    fn value(&self, i: usize) -> Option<KeyValue> {
        let c = self.callsite.as_ref()?;
        let m = c.meta;
        let key = KEYS[i];
        Some(match i {
            0 => KeyValue::new(key, m.file()?),
            1 => KeyValue::new(key, m.module_path()?),
            2 => KeyValue::new(key, i64::from(m.line()?)),
            3 => KeyValue::new(key, c.thread_id),
            4 => KeyValue::new(key, c.thread_name?),
            5 => KeyValue::new(key, m.level().as_str()),
            _ => KeyValue::new(key, m.target()),
        })
    }
}

#[cfg(feature = "tracing")]
impl SharedAttributes {
    /// What the bridge records of `meta` and the thread: `location` (`code.*`), `thread`
    /// (`thread.id` and, when the thread has one, `thread.name`), `level`, `target`.
    #[inline]
    pub(crate) fn callsite(
        meta: &'static tracing::Metadata<'static>,
        thread: Option<(i64, Option<&'static str>)>,
        [location, level, target]: [bool; 3],
    ) -> SharedAttributes {
        let bit = |on: bool, i: u8| u8::from(on) << i;
        let (thread_id, thread_name) = thread.unwrap_or((0, None));
        let which = if location {
            bit(meta.file().is_some(), 0)
                | bit(meta.module_path().is_some(), 1)
                | bit(meta.line().is_some(), 2)
        } else {
            0
        } | bit(thread.is_some(), 3)
            | bit(thread_name.is_some(), 4)
            | bit(level, 5)
            | bit(target, 6);
        SharedAttributes {
            callsite: (which != 0).then_some(Callsite {
                meta,
                thread_id,
                thread_name,
                which,
            }),
        }
    }
}

impl PartialEq for SharedAttributes {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl std::fmt::Debug for SharedAttributes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}
