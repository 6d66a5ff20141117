//! The output of a rewrite, written as the walk goes.

use super::attrs::Entry;
use super::plan::Plan;
use crate::wire::reader::{put_varint, put_varint_into, put_varint_raw};

/// The output, written as the walk goes.
///
/// Input bytes are copied lazily: everything before `synced` is in `out` (edited where an
/// edit happened), everything from `synced` on is pending and copied in one piece when an
/// edit needs to write after it, or at the end. A request nothing changed is never copied,
/// and an edited item costs one copy of its unchanged bytes plus its new attributes.
///
/// Length prefixes of enclosing messages (scope, resource) are only known once their items
/// were edited: they are written as they were and patched when the message ends, in place
/// when the new length takes as many bytes (nearly always), otherwise by shifting what
/// follows.
pub(super) struct Writer<'a> {
    pub(super) input: &'a [u8],
    pub(super) out: Vec<u8>,
    pub(super) synced: usize,
    /// New attribute entries of the item being edited, and replaced item fields.
    pub(super) arena: Vec<u8>,
    pub(super) changed: bool,
}

impl Writer<'_> {
    /// Output offset minus input offset for pending input (constant until the next edit).
    #[inline(always)]
    pub(super) fn delta(&self) -> isize {
        self.out.len() as isize - self.synced as isize
    }

    /// Copies pending input up to `at`.
    #[inline(always)]
    pub(super) fn sync_to(&mut self, at: usize) {
        if !self.changed {
            self.changed = true;
            // Edits rarely grow a request by more than an eighth.
            self.out.reserve(self.input.len() + self.input.len() / 8);
        }
        if at > self.synced {
            self.out.extend_from_slice(&self.input[self.synced..at]);
            self.synced = at;
        }
    }

    /// Starts replacing the input field `header_start..`: pending input before it is copied,
    /// then the field's key and its new length are written.
    #[inline(always)]
    pub(super) fn begin_field(&mut self, header_start: usize, key: u64, len: usize) {
        self.sync_to(header_start);
        put_varint(&mut self.out, key);
        put_varint(&mut self.out, len as u64);
    }

    /// Writes the input field at `header` (key `key`) with its body `start..end` followed by
    /// `added`: what an insert does to every item without the key.
    ///
    /// Written by hand, with one capacity check for the three pieces: through `Vec::push`
    /// and `extend_from_slice` the length and capacity are reloaded and checked per piece
    /// and per varint byte, which was a third of the cost of such an item.
    #[inline(always)]
    pub(super) fn item_with(
        &mut self,
        header: usize,
        key: u64,
        (start, end): (usize, usize),
        added: &[u8],
    ) {
        self.sync_to(header);
        let body = &self.input[start..end];
        let new_len = body.len() + added.len();
        let mut head = [0u8; 20];
        let k = put_varint_into(&mut head, key);
        let n = k + put_varint_into(&mut head[k..], new_len as u64);
        self.out.reserve(head.len() + new_len);
        let at = self.out.len();
        // SAFETY: `reserve` made room for all of `head` and both slices past `at`; every
        // write stays in that spare capacity, the slices do not overlap the output, and the
        // new length covers exactly the bytes written (the head's unused tail is overwritten
        // or left beyond the length).
        unsafe {
            let dst = self.out.as_mut_ptr().add(at);
            std::ptr::copy_nonoverlapping(head.as_ptr(), dst, head.len());
            std::ptr::copy_nonoverlapping(body.as_ptr(), dst.add(n), body.len());
            std::ptr::copy_nonoverlapping(added.as_ptr(), dst.add(n + body.len()), added.len());
            self.out.set_len(at + n + new_len);
        }
        self.synced = end;
    }

    /// Writes the item `f` as `plan` (see [`AttrLeaf::replay`]) edits it: its body, `len`
    /// bytes long, is the input with the plan's replacements at `slots`, then the plan's
    /// appended bytes. One capacity check for all pieces, as in [`Writer::item_with`].
    #[inline(always)]
    pub(super) fn item_spliced(
        &mut self,
        f: ItemField,
        len: usize,
        slots: &[(usize, usize)],
        plan: &Plan,
    ) {
        self.sync_to(f.header);
        // Two varints of at most 10 bytes each, then the body.
        self.out.reserve(20 + len);
        let at = self.out.len();
        let input = self.input;
        // SAFETY: `reserve` made room for 20 + `len` bytes past `at`. The head is two
        // varints of at most 10 bytes. The pieces written after it are input
        // `f.start..f.end` with each replaced slot `s..t` swapped for its replacement, then
        // the appended bytes: their lengths telescope to `(f.end - f.start) - Σ(t - s) + Σ
        // replacements + appended`, which is `len` as the caller computed it from the same
        // slots and plan (the slicing panics before any piece out of order could be
        // written). Nothing overlaps the output; the new length covers exactly the bytes
        // written.
        unsafe {
            let base = self.out.as_mut_ptr();
            let mut dst = put_varint_raw(base.add(at), f.key);
            dst = put_varint_raw(dst, len as u64);
            let mut put = |piece: &[u8]| {
                // Pieces are often empty (nothing appended, an attribute at an end): no call.
                if !piece.is_empty() {
                    std::ptr::copy_nonoverlapping(piece.as_ptr(), dst, piece.len());
                    dst = dst.add(piece.len());
                }
            };
            let mut from = f.start;
            for (&(s, t), op) in slots.iter().zip(&plan.slots) {
                if let Some((a, b)) = *op {
                    put(&input[from..s]);
                    put(&plan.bytes[a..b]);
                    from = t;
                }
            }
            put(&input[from..f.end]);
            put(&plan.bytes[plan.appended.0..plan.appended.1]);
            self.out.set_len(dst.offset_from(base) as usize);
        }
        self.synced = f.end;
    }

    /// Writes the item `f` with its input bytes `s..t` (one attribute) replaced by
    /// `replacement` (empty: deleted): the commonest plan, an update or delete of one key,
    /// without [`Writer::item_spliced`]'s loop.
    #[inline(always)]
    pub(super) fn item_replacing(
        &mut self,
        f: ItemField,
        (s, t): (usize, usize),
        replacement: &[u8],
    ) {
        let input = self.input;
        let (before, after) = (&input[f.start..s], &input[t..f.end]);
        let len = before.len() + replacement.len() + after.len();
        self.sync_to(f.header);
        self.out.reserve(20 + len);
        let at = self.out.len();
        // SAFETY: `reserve` made room for 20 + `len` bytes past `at`: two varints of at most
        // 10 bytes, then the three slices whose lengths make `len`. Nothing overlaps the
        // output; the new length covers exactly the bytes written.
        unsafe {
            let base = self.out.as_mut_ptr();
            let mut dst = put_varint_raw(base.add(at), f.key);
            dst = put_varint_raw(dst, len as u64);
            for piece in [before, replacement, after] {
                std::ptr::copy_nonoverlapping(piece.as_ptr(), dst, piece.len());
                dst = dst.add(piece.len());
            }
            self.out.set_len(dst.offset_from(base) as usize);
        }
        self.synced = f.end;
    }

    #[inline(always)]
    pub(super) fn copy(&mut self, (start, end): (usize, usize)) {
        if start < end {
            self.out.extend_from_slice(&self.input[start..end]);
        }
    }

    /// Adds input bytes `piece` to the pending copy `run`, writing `run` first unless
    /// `piece` continues it.
    #[inline(always)]
    pub(super) fn copy_run(&mut self, run: &mut (usize, usize), piece: (usize, usize)) {
        if piece.0 == run.1 {
            run.1 = piece.1;
        } else {
            self.copy(*run);
            *run = piece;
        }
    }

    /// Writes an attribute entry after the pending copy `run` (or adds it to the run).
    #[inline(always)]
    pub(super) fn entry(&mut self, run: &mut (usize, usize), e: &Entry) {
        if e.in_arena {
            self.copy(*run);
            *run = (usize::MAX, usize::MAX);
            self.out
                .extend_from_slice(&self.arena[e.field.0..e.field.1]);
        } else {
            self.copy_run(run, e.field);
        }
    }

    /// Drops the input field `header_start..end`, which may be partly written already (from
    /// `header_out` in the output, where it began).
    pub(super) fn drop_field(&mut self, header_start: usize, header_out: usize, end: usize) {
        if self.synced <= header_start {
            self.sync_to(header_start);
        } else {
            self.out.truncate(header_out);
        }
        self.synced = end;
    }

    /// Fixes the length prefix at output offset `len_out` (input bytes `len_in..body_start`)
    /// of a message whose body is now `new_len` bytes long.
    pub(super) fn patch_length(
        &mut self,
        len_out: usize,
        len_in: usize,
        body_start: usize,
        new_len: usize,
    ) {
        let old_size = body_start - len_in;
        let mut buf = [0u8; 10];
        let n = put_varint_into(&mut buf, new_len as u64);
        if n == old_size {
            self.out[len_out..len_out + n].copy_from_slice(&buf[..n]);
        } else {
            // The length crossed a varint boundary (or the input used a padded varint):
            // shift what was written of the body.
            self.out
                .splice(len_out..len_out + old_size, buf[..n].iter().copied());
        }
    }
}

/// One item (span, log record, data point, resource) as a field of the input.
#[derive(Clone, Copy)]
pub(super) struct ItemField {
    /// The field's key, as written before its length.
    pub(super) key: u64,
    /// Where the field (key, length, body) starts.
    pub(super) header: usize,
    /// The body `start..end`; `header == start == end` for an absent item to create if the
    /// edit adds something.
    pub(super) start: usize,
    pub(super) end: usize,
    /// Field number of the item's `repeated KeyValue attributes`.
    pub(super) attr_field: u32,
}
