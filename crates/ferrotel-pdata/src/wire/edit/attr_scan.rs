//! Finding the attributes of an item the filter admits: the fast walk for key-filtered
//! edits, and the general field reader.

use super::attr_leaf::AttrLeaf;
use super::attrs::{Entry, parse_entry};
use super::keys::{KeyFilter, KeySet};
use super::rewriter::Unsupported;
use super::scan::{skip_leading_fields, skip_small_field, walk_usual};
use crate::wire::reader::{LEN, Reader};

impl<F> AttrLeaf<'_, F> {
    /// Finds the item's attributes the filter admits; the rest is only skipped over.
    #[inline(always)]
    pub(super) fn scan(
        &mut self,
        input: &[u8],
        start: usize,
        end: usize,
        attr_field: u32,
        ctx: u32,
    ) -> Result<(), Unsupported> {
        // Every item type has its attributes at a field below 16: a one-byte key.
        debug_assert!(attr_field < 16);
        let attr_key = (attr_field << 3) as u8 | LEN;
        let keys = match self.filter {
            KeyFilter::Keys(set) => Some(set),
            KeyFilter::All => None,
        };
        let skipping = keys.is_some();
        let item = &input[..end];
        let mut pos = if skipping {
            skip_leading_fields(item, start, attr_field)
        } else {
            start
        };
        loop {
            // Fast path: fields the walk passes over by their head, and attributes in the
            // usual form; those the set's prefilter admits are recorded here too.
            if let Some(set) = keys {
                let (next, done) = walk_usual(item, pos, attr_key, set, |at, attr, key_len| {
                    let Some(index) = set.position_unfiltered(&attr[4..4 + key_len]) else {
                        return false;
                    };
                    if !self.first_of(set, index) {
                        return false;
                    }
                    let key = (at + 4, at + 4 + key_len);
                    self.slots.push((at, at + attr.len()));
                    // A keys-only edit's entries are only made if its plan is not known yet.
                    if !set.keys_only {
                        self.entries.push(Entry {
                            anchor: self.slots.len() as u32 - 1,
                            in_arena: false,
                            field: (at, at + attr.len()),
                            key,
                            value: Some((key.1 + 2, at + attr.len())),
                        });
                    }
                    self.has_every_key(set)
                });
                if done {
                    return Ok(());
                }
                pos = next;
            }
            if pos >= end {
                break;
            }
            // Filtered edits rarely get here (an unusual field or KeyValue): out of line, so
            // the skip loop's function stays small; an unfiltered edit parses every
            // attribute here, inline.
            let next = if skipping {
                self.field_out_of_line(input, pos, end, attr_field, ctx)?
            } else {
                self.field(input, pos, end, attr_field, ctx)?
            };
            match next {
                Some(next) => pos = next,
                None => return Ok(()),
            }
        }
        Ok(())
    }

    #[inline(never)]
    pub(super) fn field_out_of_line(
        &mut self,
        input: &[u8],
        pos: usize,
        end: usize,
        attr_field: u32,
        ctx: u32,
    ) -> Result<Option<usize>, Unsupported> {
        self.field(input, pos, end, attr_field, ctx)
    }

    /// Reads the item's field at `pos` (recording it if it is an attribute the filter
    /// admits); where the next field starts, or None when the rest of the item needs no
    /// reading.
    #[inline(always)]
    pub(super) fn field(
        &mut self,
        input: &[u8],
        pos: usize,
        end: usize,
        attr_field: u32,
        ctx: u32,
    ) -> Result<Option<usize>, Unsupported> {
        let attr_key = (attr_field << 3) as u8 | LEN;
        let item = &input[..end];
        let tag = item[pos];
        if tag == attr_key
            && let Some(&len) = item.get(pos + 1)
            && len < 0x80
        {
            // An attribute with a one-byte length (nearly all of them).
            let kv_start = pos + 2;
            let field_end = kv_start + usize::from(len);
            let Some(kv) = item.get(kv_start..field_end) else {
                return Err(Unsupported::Malformed);
            };
            if self.filter.may_touch(kv) {
                let entry = parse_entry(kv, kv_start, pos, field_end, ctx)?;
                if self.push_entry(input, entry) {
                    return Ok(None);
                }
            }
            return Ok(Some(field_end));
        }
        if tag != attr_key
            && let Some(field_end) = skip_small_field(item, pos, end)
        {
            return Ok(Some(field_end));
        }
        let mut r = Reader::new(&item[pos..]);
        let (field, wt) = r.key()?;
        if field == attr_field {
            if wt != LEN {
                return Err(Unsupported::Malformed);
            }
            let kv = r.bytes()?;
            let field_end = end - r.left();
            let kv_start = field_end - kv.len();
            let entry = parse_entry(kv, kv_start, pos, field_end, ctx)?;
            if self.push_entry(input, entry) {
                return Ok(None);
            }
        } else {
            r.skip(field, wt, ctx)?;
        }
        Ok(Some(end - r.left()))
    }

    /// Records a parsed attribute, unless the filter passes over its key (a KeyValue not in
    /// the usual key-first form is only known after parsing); true when the rest of the item
    /// needs no reading ([`KeySet::reads_keys_only`]: every key seen).
    #[inline(always)]
    pub(super) fn push_entry(&mut self, input: &[u8], mut entry: Entry) -> bool {
        if let KeyFilter::Keys(set) = self.filter {
            let Some(index) = set.position(&input[entry.key.0..entry.key.1]) else {
                return false;
            };
            if !self.first_of(set, index) {
                return false;
            }
        }
        entry.anchor = self.slots.len() as u32;
        self.slots.push(entry.field);
        match self.filter {
            KeyFilter::Keys(set) if set.keys_only => self.has_every_key(set),
            _ => {
                self.entries.push(entry);
                false
            }
        }
    }

    /// The entries of the attributes in `slots`, for a keys-only edit whose plan is not
    /// known yet (its scan records only the slots).
    pub(super) fn entries_of_slots(&mut self, input: &[u8], ctx: u32) -> Result<(), Unsupported> {
        for (i, &(s, t)) in self.slots.iter().enumerate() {
            let mut r = Reader::new(&input[s..t]);
            r.key()?;
            let kv = r.bytes()?;
            let mut entry = parse_entry(kv, t - kv.len(), s, t, ctx)?;
            entry.anchor = i as u32;
            self.entries.push(entry);
        }
        Ok(())
    }

    /// For a keys-only set, whether every key of the set was seen in the item (the edit
    /// reads no later attribute).
    #[inline(always)]
    pub(super) fn has_every_key(&self, set: &KeySet) -> bool {
        set.keys_only && self.keys_seen.len() == set.keys.len()
    }
}
