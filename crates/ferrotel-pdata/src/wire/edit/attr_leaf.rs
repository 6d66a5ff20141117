//! The attribute edit at each item: the memo of the edit on an empty list, the
//! keys-only plans and their replay, and the general edit of parsed entries.

use super::attrs::{Entry, WireAttrs};
use super::keys::{KeyFilter, KeySet, same_bytes};
use super::plan::{MAX_PLANS, Plan};
use super::presearch::Presearch;
use super::rewriter::{Leaf, Unsupported};
use super::scan::{skip_leading_fields, walk_usual};
use super::writer::{ItemField, Writer};
use crate::wire::reader::LEN;

/// The attribute edit at each item.
pub(super) struct AttrLeaf<'f, F> {
    /// Scratch for the item being edited, reused across items. A keys-only set's scan leaves
    /// it empty; it is filled from `slots` when the item's plan is not known yet.
    pub(super) entries: Vec<Entry>,
    /// Scratch: the input ranges of the attributes the filter admits (one per entry), in
    /// order; the bytes between them are copied as they are.
    pub(super) slots: Vec<(usize, usize)>,
    /// What the edit does to an empty list (once known) in items whose attributes are field
    /// `.0`: nothing, or append these encoded attributes. Items with nothing the filter
    /// admits reuse it instead of running the edit.
    pub(super) on_empty: Option<(u32, Option<Vec<u8>>)>,
    /// Finds the items that cannot hold a filtered key, so the memo serves them unscanned
    /// (items that are most of the request's bytes: spans, log records, data points).
    pub(super) presearch: Option<Presearch>,
    /// Scratch: for a keys-only set ([`KeySet::reads_keys_only`]), the set indices of the
    /// keys at `slots`, in order (each key once).
    pub(super) keys_seen: Vec<u8>,
    /// Scratch: the same keys as a bit set (a keys-only set has at most 64).
    pub(super) seen: u64,
    /// Scratch: the last 8 of those keys, one byte each (index + 1), oldest highest: the
    /// whole sequence when it has at most 8 keys, so one compare finds its plan.
    pub(super) sequence: u64,
    /// For a keys-only set: the edit's result per key sequence met in this request.
    pub(super) plans: Vec<Plan>,
    /// For a keys-only set of one key (an update or delete of one attribute, the commonest
    /// edit after an insert): the plan of items holding it, once known, and the attributes
    /// field of the items it serves. Such items take [`AttrLeaf::one_key_item`].
    pub(super) one_key_plan: Option<(u32, usize)>,
    pub(super) filter: &'f KeyFilter,
    pub(super) edit: F,
}

impl<F: FnMut(&mut WireAttrs<'_>)> Leaf for AttrLeaf<'_, F> {
    /// Parses one item's attribute list (the keys the filter admits), runs the edit, and
    /// writes the item if it changed.
    #[inline(always)]
    fn item(&mut self, w: &mut Writer<'_>, f: ItemField, ctx: u32) -> Result<usize, Unsupported> {
        if self.clean_until(w.input, f.start, f.attr_field) >= f.end {
            Self::write_memo(w, f, self.appended());
            return Ok(1);
        }
        self.item_not_clean(w, f, ctx)
    }

    #[inline(always)]
    fn item_not_clean(
        &mut self,
        w: &mut Writer<'_>,
        f: ItemField,
        ctx: u32,
    ) -> Result<usize, Unsupported> {
        if let Some((field, plan)) = self.one_key_plan
            && field == f.attr_field
            && self.one_key_item(w, f, plan)
        {
            return Ok(1);
        }
        self.entries.clear();
        self.slots.clear();
        self.keys_seen.clear();
        self.seen = 0;
        self.sequence = 0;
        self.scan(w.input, f.start, f.end, f.attr_field, ctx)?;
        if self.slots.is_empty()
            && let Some((field, result)) = &self.on_empty
            && *field == f.attr_field
        {
            Self::write_memo(w, f, result.as_deref());
            return Ok(1);
        }
        // Only keys-only sets record key sequences.
        if !self.keys_seen.is_empty()
            && let Some(plan) = (self.plans.iter()).find(|p| {
                // Sequences of up to 8 keys are equal when their packed forms are.
                p.sequence == self.sequence
                    && p.field == f.attr_field
                    && p.keys.len() == self.keys_seen.len()
                    && (p.keys.len() <= 8 || p.keys[..] == self.keys_seen[..])
            })
        {
            Self::replay(w, f, &self.slots, plan);
            return Ok(1);
        }
        if !self.keys_seen.is_empty() {
            self.entries_of_slots(w.input, ctx)?;
        }
        self.edit_item(w, f);
        Ok(1)
    }

    /// With the edit's result on an empty list known, items without the filter's keys in
    /// their bytes need no walk ([`Presearch`]).
    #[inline]
    fn clean_until(&mut self, input: &[u8], from: usize, attr_field: u32) -> usize {
        match (&self.on_empty, self.filter, &mut self.presearch) {
            (Some((field, _)), KeyFilter::Keys(set), Some(presearch)) if *field == attr_field => {
                presearch.clean_until(set, input, from)
            }
            _ => 0,
        }
    }

    fn appended(&self) -> Option<&[u8]> {
        self.on_empty
            .as_ref()
            .and_then(|(_, added)| added.as_deref())
    }
}

impl<F> AttrLeaf<'_, F> {
    /// Writes an item with nothing the filter admits: as it is, plus what the edit adds to an
    /// empty list (`added`), if anything. Out of line: most such items are written by the
    /// fast item loop of [`Rewriter::message`], and the item path's frame stays smaller.
    #[inline(never)]
    pub(super) fn write_memo(w: &mut Writer<'_>, f: ItemField, added: Option<&[u8]>) {
        if let Some(added) = added {
            w.item_with(f.header, f.key, (f.start, f.end), added);
        }
    }

    /// Writes an item whose keys match `plan`'s (its parsed attributes are `slots`) as the
    /// edit wrote the item the plan was made from.
    #[inline(always)]
    pub(super) fn replay(w: &mut Writer<'_>, f: ItemField, slots: &[(usize, usize)], plan: &Plan) {
        if !plan.changes {
            return;
        }
        if let Some((slot, (a, b))) = plan.single {
            w.item_replacing(f, slots[slot], &plan.bytes[a..b]);
            return;
        }
        let mut len = f.end - f.start + plan.written;
        for (&(s, t), op) in slots.iter().zip(&plan.slots) {
            if op.is_some() {
                len -= t - s;
            }
        }
        w.item_spliced(f, len, slots, plan);
    }
}

impl<F: FnMut(&mut WireAttrs<'_>)> AttrLeaf<'_, F> {
    /// Runs the edit on the parsed attributes and writes the item if it changed. Out of line:
    /// items the memo of the empty-list edit serves (most, for an insert or upsert) never
    /// get here, and the scan loop keeps its registers.
    #[inline(never)]
    pub(super) fn edit_item(&mut self, w: &mut Writer<'_>, f: ItemField) {
        let ItemField {
            key,
            header,
            start,
            end,
            attr_field,
        } = f;
        // The arena holds only the item being edited: it is emptied after each one.
        debug_assert!(w.arena.is_empty());
        let mut attrs = WireAttrs {
            input: w.input,
            entries: &mut self.entries,
            arena: &mut w.arena,
            field: attr_field,
            changed: false,
        };
        (self.edit)(&mut attrs);
        let changed = attrs.changed;
        if !self.keys_seen.is_empty() && self.plans.len() < MAX_PLANS {
            let plan = self.plan_of(&w.arena, attr_field, changed);
            if let KeyFilter::Keys(set) = self.filter
                && set.keys.len() == 1
                && (!plan.changes || plan.single.is_some())
            {
                self.one_key_plan = Some((attr_field, self.plans.len()));
            }
            self.plans.push(plan);
        }
        let empty = self.slots.is_empty();
        if !changed {
            if empty {
                self.on_empty = Some((attr_field, None));
            }
            w.arena.clear();
            return;
        }
        if empty {
            // Only additions are possible on an empty list.
            let mut added = Vec::new();
            for e in &self.entries {
                added.extend_from_slice(&w.arena[e.field.0..e.field.1]);
            }
            self.on_empty = Some((attr_field, Some(added)));
        }
        let removed: usize = self.slots.iter().map(|(s, t)| t - s).sum();
        let added: usize = self.entries.iter().map(|e| e.field.1 - e.field.0).sum();
        w.begin_field(header, key, end - start - removed + added);
        // The input with each parsed attribute replaced by the entries anchored to it (none
        // if it was deleted), then the added entries. Adjacent input pieces (a kept
        // attribute and the bytes around it) go out as one copy.
        let mut run = (start, start);
        let mut next = 0;
        let mut from = start;
        for (slot, &(s, t)) in self.slots.iter().enumerate() {
            w.copy_run(&mut run, (from, s));
            while let Some(e) = self.entries.get(next)
                && e.anchor as usize == slot
            {
                w.entry(&mut run, e);
                next += 1;
            }
            from = t;
        }
        w.copy_run(&mut run, (from, end));
        for e in &self.entries[next..] {
            w.entry(&mut run, e);
        }
        w.copy(run);
        w.synced = end;
        w.arena.clear();
    }
}

impl<F> AttrLeaf<'_, F> {
    /// An item under a keys-only set of one key whose plan (`plans[plan]`) is known: the walk
    /// looks for that key only, and the plan is applied without the general scan's
    /// bookkeeping (the recorded slots and key sequence, the plan lookup). False, with
    /// nothing written, when the item needs the general path: a field the fast walk does not
    /// know comes before the key, or the item lacks the key and the edit's result on such
    /// items is not known yet.
    #[inline(always)]
    pub(super) fn one_key_item(&self, w: &mut Writer<'_>, f: ItemField, plan: usize) -> bool {
        let KeyFilter::Keys(set) = self.filter else {
            return false;
        };
        let key = &set.keys[0];
        let item = &w.input[..f.end];
        let attr_key = (f.attr_field << 3) as u8 | LEN;
        let mut found = None;
        let start = skip_leading_fields(item, f.start, f.attr_field);
        let (walked_to, _) = walk_usual(item, start, attr_key, set, |at, attr, key_len| {
            let hit = same_bytes(key, &attr[4..4 + key_len]);
            if hit {
                found = Some((at, at + attr.len()));
            }
            hit
        });
        if let Some(slot) = found {
            let plan = &self.plans[plan];
            if let Some((_, (a, b))) = plan.single {
                w.item_replacing(f, slot, &plan.bytes[a..b]);
            }
            return true;
        }
        // Walked to the end without the key: the edit's result on an empty list, if known.
        if walked_to >= f.end
            && let Some((field, result)) = &self.on_empty
            && *field == f.attr_field
        {
            Self::write_memo(w, f, result.as_deref());
            return true;
        }
        false
    }

    /// The [`Plan`] of the edit just run on the parsed attributes (`changed`: whether it
    /// changed anything), for the key sequence in `keys_seen` of items with their
    /// attributes at `field`.
    pub(super) fn plan_of(&self, arena: &[u8], field: u32, changed: bool) -> Plan {
        let mut bytes = Vec::new();
        let mut slots = vec![None; self.slots.len()];
        let mut appended = (0, 0);
        if changed {
            // A slot without an entry anchored to it was deleted; an entry from the input
            // is the slot's own attribute, kept; one in the arena replaced it.
            slots.fill(Some((0, 0)));
            let mut copy = |range: (usize, usize)| {
                let at = bytes.len();
                bytes.extend_from_slice(&arena[range.0..range.1]);
                (at, bytes.len())
            };
            let mut added = None::<(usize, usize)>;
            for e in self.entries.iter() {
                let written = e.in_arena.then(|| copy(e.field));
                match slots.get_mut(e.anchor as usize) {
                    Some(slot) => *slot = written,
                    // Added entries come last, their bytes one after the other.
                    None => {
                        let (at, end) = written.unwrap_or_default();
                        added = Some(added.map_or((at, end), |(first, _)| (first, end)));
                    }
                }
            }
            appended = added.unwrap_or_default();
        }
        let mut replaced = slots
            .iter()
            .enumerate()
            .filter_map(|(i, op)| Some((i, (*op)?)));
        let single = match (replaced.next(), replaced.next()) {
            (Some(only), None) if appended.0 == appended.1 => Some(only),
            _ => None,
        };
        Plan {
            field,
            keys: self.keys_seen.as_slice().into(),
            sequence: self.sequence,
            single,
            changes: changed,
            written: bytes.len(),
            slots: slots.into(),
            appended,
            bytes,
        }
    }

    /// Whether the attribute with the set's key `index` goes to the edit: always, unless
    /// the set is keys-only and an earlier attribute of the item had that key.
    #[inline(always)]
    pub(super) fn first_of(&mut self, set: &KeySet, index: usize) -> bool {
        if !set.keys_only {
            return true;
        }
        let bit = 1 << index;
        if self.seen & bit != 0 {
            return false;
        }
        self.seen |= bit;
        self.keys_seen.push(index as u8);
        self.sequence = self.sequence << 8 | (index as u64 + 1);
        true
    }
}
