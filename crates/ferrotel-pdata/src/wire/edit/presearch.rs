//! Substring search for the keys of a [`KeyFilter::Keys`](super::keys::KeyFilter::Keys) ahead of the walk.

use memchr::memmem;

use super::keys::KeySet;

/// Where each key of a [`KeyFilter::Keys`] next occurs in the input, as a substring.
///
/// An item whose bytes contain none of the keys has none of them as an attribute key (a key
/// is stored as contiguous bytes, whatever the form of its KeyValue), so the edit's result on
/// an empty list applies to it without walking its fields: the walk of a span costs ~30
/// instructions per field, the search (memchr's AVX2/SSE2 `memmem`) ~10 per 32 bytes, done
/// once per request where the keys occur nowhere. An upsert on spans of 10 attributes takes
/// 359 instructions per span instead of 780; on log records of a 1 KiB body and 5 attributes,
/// the least favourable shape (many bytes, few fields), 687 instead of 869, equal in time
/// (`cargo bench -p ferrotel-components --bench processors`, `consume_attributes_1_upsert*`).
/// After a hit, items up to it are still clean and the search resumes after the item that
/// held it. Relies on the input being a validated request ([`Payload`](crate::Payload) bytes
/// are): a clean item's fields are not checked.
#[derive(Default)]
pub(super) struct Presearch {
    /// Per key, where it next occurs at or after the last offset looked from (`usize::MAX`:
    /// nowhere); empty until the first look.
    pub(super) hits: Vec<usize>,
}

impl Presearch {
    /// The offset up to which no item from `from` on can contain one of `set`'s keys: an
    /// item ending there or before holds none of them. Items come in input order, so one
    /// search serves every item up to the key's next occurrence; a key found nowhere is
    /// searched for once per request.
    #[inline]
    pub(super) fn clean_until(&mut self, set: &KeySet, input: &[u8], from: usize) -> usize {
        let search = |finder: &memmem::Finder<'_>| {
            finder
                .find(&input[from..])
                .map_or(usize::MAX, |at| from + at)
        };
        if self.hits.len() != set.finders.len() {
            self.hits = set.finders.iter().map(search).collect();
        }
        let mut until = usize::MAX;
        for (hit, finder) in self.hits.iter_mut().zip(&set.finders) {
            if *hit < from {
                *hit = search(finder);
            }
            // An occurrence that starts at `hit` lies in no item ending before its last byte.
            let len = finder.needle().len().max(1);
            until = until.min(hit.saturating_add(len - 1));
        }
        until
    }
}
