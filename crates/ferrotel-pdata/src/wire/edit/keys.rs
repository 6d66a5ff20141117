//! Which attributes an edit reads: [`KeyFilter`] and its [`KeySet`] with the one-bit prefilter.

use memchr::memmem;

/// Which attributes an edit can read or change, so the walk parses only those.
///
/// An `attributes` processor that upserts `env` and deletes `password` never looks at the
/// other keys of a span; with [`KeyFilter::Keys`] those attributes are not parsed into entries
/// at all but copied through like the item's other fields. That makes the per-span cost of a
/// key-based edit almost independent of how many attributes a span has.
#[derive(Debug, Clone, Default)]
pub enum KeyFilter {
    /// Every attribute (edits that match keys by pattern, or iterate over all of them).
    #[default]
    All,
    /// Only attributes with one of these keys.
    Keys(KeySet),
}

/// A small set of keys with a one-bit-test prefilter on a key's length and last byte: keys
/// of attributes often share a length (`http.method`, `http.target`, `span.attr.3`), rarely
/// also their last byte, so one bit test rejects nearly every key not in the set.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    /// Bit [`KeySet::slot`] set for every key.
    pub(super) slots: [u64; 4],
    pub(super) keys: Vec<Box<[u8]>>,
    /// A substring searcher per key, in `keys`' order: an item whose bytes do not contain any
    /// key has none of them as an attribute ([`Presearch`]).
    pub(super) finders: Vec<memmem::Finder<'static>>,
    /// See [`KeySet::reads_keys_only`].
    pub(super) keys_only: bool,
}

impl KeySet {
    pub fn new<K: AsRef<[u8]>>(keys: impl IntoIterator<Item = K>) -> Self {
        let mut set = KeySet::default();
        for k in keys {
            let k = k.as_ref();
            if set.keys.iter().any(|x| &x[..] == k) {
                continue;
            }
            let n = Self::slot(k.len(), k.last().copied().unwrap_or(0));
            set.slots[n / 64] |= 1 << (n % 64);
            set.keys.push(k.into());
            set.finders.push(memmem::Finder::new(k).into_owned());
        }
        set
    }

    /// The prefilter bit of a key of length `len` ending in `last` (0 for the empty key):
    /// keys of one length and different last bytes never share a bit.
    #[inline(always)]
    pub(super) fn slot(len: usize, last: u8) -> usize {
        (len.wrapping_mul(0x9d) ^ usize::from(last)) & 255
    }

    #[inline(always)]
    pub(super) fn may_contain(slots: &[u64; 4], len: usize, last: u8) -> bool {
        let n = Self::slot(len, last);
        slots[n / 64] & (1 << (n % 64)) != 0
    }

    #[inline(always)]
    pub fn contains(&self, key: &[u8]) -> bool {
        self.position(key).is_some()
    }

    /// The key's index in the set (the order keys were first given in).
    #[inline(always)]
    pub(super) fn position(&self, key: &[u8]) -> Option<usize> {
        if !Self::may_contain(&self.slots, key.len(), key.last().copied().unwrap_or(0)) {
            return None;
        }
        self.position_unfiltered(key)
    }

    /// [`KeySet::position`] of a key the prefilter admitted.
    #[inline(always)]
    pub(super) fn position_unfiltered(&self, key: &[u8]) -> Option<usize> {
        self.keys.iter().position(|k| same_bytes(k, key))
    }

    /// Declares that the edit reads no attribute values and, of each key, only the first
    /// attribute holding it: it finds, sets, removes and appends by key, as the
    /// `insert`/`update`/`upsert` of a constant and the `delete` of a key do, and never
    /// looks for a key again after removing it (that would find the key's next attribute).
    /// Its result on a list is then a function of which of the set's keys the list holds,
    /// in which order.
    ///
    /// The wire edit then stops reading an item's attributes once it has seen every key, and
    /// runs the edit once per request and key sequence, replaying its result on the other
    /// items with that sequence ([`Plan`]). Later attributes with an already seen key are
    /// not handed to the edit. Sets of more than 64 keys ignore the declaration.
    pub fn reads_keys_only(mut self) -> Self {
        self.keys_only = self.keys.len() <= 64;
        self
    }
}

impl KeyFilter {
    /// Whether the edit may need the attribute with KeyValue body `kv` (shorter than 128
    /// bytes): false only when it is in the usual form and its key is not admitted.
    #[inline(always)]
    pub(super) fn may_touch(&self, kv: &[u8]) -> bool {
        match self {
            KeyFilter::All => true,
            KeyFilter::Keys(set) => usual_key(kv).is_none_or(|key| set.contains(key)),
        }
    }
}

/// `a == b`, inline for the short keys of attributes: keys of one item often share a length
/// and a prefix (`span.attr.3`, `span.attr.7`), so the last bytes are compared first, and up
/// to 16 bytes take two overlapping word compares instead of a `memcmp` call.
#[inline(always)]
pub(super) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n >= 8 {
        let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().unwrap());
        if word(a, n - 8) != word(b, n - 8) {
            return false;
        }
        return if n <= 16 {
            word(a, 0) == word(b, 0)
        } else {
            a == b
        };
    }
    if n >= 4 {
        let word = |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().unwrap());
        return word(a, n - 4) == word(b, n - 4) && word(a, 0) == word(b, 0);
    }
    a == b
}

/// The key of a KeyValue shorter than 128 bytes in the form every encoder writes (key, then
/// value, nothing else); `None` for any other form, which is parsed in full. Lengths inside
/// such a KeyValue are single bytes.
#[inline(always)]
pub(super) fn usual_key(kv: &[u8]) -> Option<&[u8]> {
    debug_assert!(kv.len() < 0x80);
    let [0x0a, key_len, ..] = *kv else {
        return None;
    };
    let value_at = 2 + usize::from(key_len);
    let key = kv.get(2..value_at)?;
    match kv[value_at..] {
        [] => Some(key),
        [0x12, value_len, ref value @ ..] if usize::from(value_len) == value.len() => Some(key),
        _ => None,
    }
}
