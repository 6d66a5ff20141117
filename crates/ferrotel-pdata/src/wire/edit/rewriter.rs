//! The walk down to the items of a request, handing each item to a [`Leaf`] and fixing the
//! lengths of the messages around edited items.

use bytes::Bytes;

use super::levels::Level;
use super::writer::{ItemField, Writer};
use crate::wire::reader::{LEN, RECURSION_LIMIT, Reader, WireErr, len_key};

/// Why an edit was not done on the wire; the caller decodes and edits the decoded request,
/// which also reports malformed input with a proper path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsupported {
    /// The bytes are not a well-formed request of the signal.
    Malformed,
    /// A singular message field (a resource, a metric's data) occurs more than once: prost
    /// merges the occurrences, so editing each on its own would not be the same edit.
    RepeatedSingular,
    /// The signal has no attribute lists of that kind here (profiles).
    Signal,
}

impl From<WireErr> for Unsupported {
    fn from(_: WireErr) -> Self {
        Unsupported::Malformed
    }
}

/// What happens at an item: an attribute edit or a keep/drop decision.
pub(super) trait Leaf {
    /// Handles one item: writes it if it changes (after [`Writer::begin_field`]) and returns
    /// how many items it leaves (0 or 1).
    fn item(&mut self, w: &mut Writer<'_>, f: ItemField, ctx: u32) -> Result<usize, Unsupported>;

    /// [`Leaf::item`] for an item the caller found past [`Leaf::clean_until`] (a leaf need
    /// not look again).
    #[inline(always)]
    fn item_not_clean(
        &mut self,
        w: &mut Writer<'_>,
        f: ItemField,
        ctx: u32,
    ) -> Result<usize, Unsupported> {
        self.item(w, f, ctx)
    }

    /// The input offset up to which the items from `from` on (with attributes at field
    /// `attr_field`) need not be shown to the leaf: each comes out as it went in, followed
    /// by [`Leaf::appended`]. 0 when every item must be seen.
    fn clean_until(&mut self, _input: &[u8], _from: usize, _attr_field: u32) -> usize {
        0
    }

    /// What [`Leaf::clean_until`]'s items get appended (nothing: they stay as they are).
    fn appended(&self) -> Option<&[u8]> {
        None
    }

    /// Called when the walk enters a message above the items (`depth` 0: a resource-level
    /// message such as `ResourceSpans`, 1: a scope-level one) whose body is `body`.
    #[inline(always)]
    fn enter(&mut self, _depth: usize, _body: (usize, usize)) {}
}

pub(super) struct Rewriter<'a, L> {
    pub(super) w: Writer<'a>,
    pub(super) leaf: L,
    /// Remove non-item messages left without items (scopes, resources).
    pub(super) drop_empty: bool,
}

impl<'a, L: Leaf> Rewriter<'a, L> {
    pub(super) fn new(input: &'a [u8], leaf: L, drop_empty: bool) -> Self {
        Rewriter {
            w: Writer {
                input,
                out: Vec::new(),
                synced: 0,
                arena: Vec::with_capacity(256),
                changed: false,
            },
            leaf,
            drop_empty,
        }
    }

    /// Walks the request from `level`; the new encoding and its item count when anything
    /// changed.
    pub(super) fn run(
        mut self,
        level: &'static Level,
    ) -> Result<Option<(Bytes, usize)>, Unsupported> {
        let input = self.w.input;
        let items = self.message(0, input.len(), level, RECURSION_LIMIT)?;
        if !self.w.changed {
            return Ok(None);
        }
        self.w.sync_to(input.len());
        Ok(Some((self.w.out.into(), items)))
    }

    /// Walks the message body `input[start..end]` (a level above the items); the items left
    /// in it.
    pub(super) fn message(
        &mut self,
        start: usize,
        end: usize,
        level: &'static Level,
        ctx: u32,
    ) -> Result<usize, Unsupported> {
        let input = self.w.input;
        let mut items = 0;
        let mut descended = 0;
        // The run of items of a scope (or a metric's points) with a one-byte key and a length
        // of at most two bytes takes this path; anything else the general one below.
        let item_key = match level.children {
            [(field, child)] if child.attributes != 0 && !level.at_most_one && *field < 16 => {
                Some(((*field << 3) as u8 | LEN, *field, child.attributes))
            }
            _ => None,
        };
        let mut pos = start;
        loop {
            if let Some((key_byte, field, attributes)) = item_key {
                // Items before `clean_end` are written here without the leaf.
                let mut clean_end = self.leaf.clean_until(input, pos, attributes);
                while let [key, b0, rest @ ..] = &input[pos..end]
                    && *key == key_byte
                {
                    let (len, header) = match (*b0, rest) {
                        (b0, _) if b0 < 0x80 => (usize::from(b0), 2),
                        (b0, [b1, ..]) if *b1 < 0x80 => {
                            (usize::from(b0 & 0x7f) | usize::from(*b1) << 7, 3)
                        }
                        _ => break,
                    };
                    let body_end = pos + header + len;
                    if body_end > end {
                        break;
                    }
                    if body_end <= clean_end {
                        if let Some(added) = self.leaf.appended() {
                            self.w.item_with(
                                pos,
                                u64::from(key_byte),
                                (pos + header, body_end),
                                added,
                            );
                        }
                        items += 1;
                        pos = body_end;
                        continue;
                    }
                    let item = ItemField {
                        key: len_key(field),
                        header: pos,
                        start: pos + header,
                        end: body_end,
                        attr_field: attributes,
                    };
                    items += self.leaf.item_not_clean(&mut self.w, item, ctx - 1)?;
                    pos = body_end;
                    clean_end = self.leaf.clean_until(input, pos, attributes);
                }
            }
            if pos >= end {
                break;
            }
            let mut r = Reader::new(&input[pos..end]);
            let field_start = pos;
            let (field, wt) = r.key()?;
            let Some(&(_, child)) = level.children.iter().find(|(f, _)| *f == field) else {
                r.skip(field, wt, ctx)?;
                pos = end - r.left();
                continue;
            };
            if wt != LEN {
                return Err(Unsupported::Malformed);
            }
            descended += 1;
            if level.at_most_one && descended > 1 {
                return Err(Unsupported::RepeatedSingular);
            }
            let len_in = end - r.left();
            let body = r.bytes()?;
            let body_end = end - r.left();
            let body_start = body_end - body.len();
            pos = body_end;
            if child.attributes != 0 {
                let item = ItemField {
                    key: len_key(field),
                    header: field_start,
                    start: body_start,
                    end: body_end,
                    attr_field: child.attributes,
                };
                items += self.leaf.item(&mut self.w, item, ctx - 1)?;
                continue;
            }
            // Output offsets of this field's key and length: pending input maps to the output
            // by a constant shift until something is written.
            let delta = self.w.delta();
            let at = |i: usize| (i as isize + delta) as usize;
            self.leaf
                .enter((RECURSION_LIMIT - ctx) as usize, (body_start, body_end));
            let left = self.message(body_start, body_end, child, ctx - 1)?;
            if self.drop_empty && left == 0 {
                // Emptied (or empty) scope or resource: gone, as pdata removes it.
                self.w.drop_field(field_start, at(field_start), body_end);
                self.w.changed = true;
                continue;
            }
            let growth = self.w.delta() - delta;
            if growth != 0 {
                let new_len = (body.len() as isize + growth) as usize;
                self.w.patch_length(at(len_in), len_in, body_start, new_len);
            }
            items += left;
        }
        if level.create_missing && descended == 0 {
            let (field, child) = level.children[0];
            debug_assert!(child.attributes != 0, "only item levels are created");
            let absent = ItemField {
                key: len_key(field),
                header: end,
                start: end,
                end,
                attr_field: child.attributes,
            };
            items += self.leaf.item(&mut self.w, absent, ctx - 1)?;
        }
        Ok(items)
    }
}
