//! Fast paths over an item's fields: the leading fields encoders write first, and the
//! fields and usual-form attributes a key-filtered walk passes over by their first bytes.

use super::keys::KeySet;

/// Where the walk of an item's fields starts: past a span's (or span link's) leading 16-byte
/// trace id and 8-byte span id (fields 1 and 2, which encoders write first), which one check
/// skips in any item whose attributes are not field 1 or 2; then, in items whose attributes
/// are field 9 (spans), past what encoders write next in field order when it has its usual
/// size: parent span id (4), name (5), kind (6), start and end times (7, 8). Each is one
/// compare here instead of a turn of [`walk_usual`]'s loop, and each is skipped by its own
/// encoded size, as the walk would (none of these fields is the attributes').
#[inline(always)]
pub(super) fn skip_leading_fields(item: &[u8], start: usize, attr_field: u32) -> usize {
    let mut pos = start;
    if attr_field > 2
        && let Some(ids) = item.get(pos..pos + 28)
        && ids[..2] == [0x0a, 16]
        && ids[18..20] == [0x12, 8]
    {
        pos += 28;
    }
    if attr_field != 9 {
        return pos;
    }
    let mut rest = &item[pos..];
    if let [0x22, 8, tail @ ..] = rest
        && let Some(tail) = tail.get(8..)
    {
        rest = tail;
    }
    if let [0x2a, len, tail @ ..] = rest
        && *len < 0x80
        && let Some(tail) = tail.get(usize::from(*len)..)
    {
        rest = tail;
    }
    if let [0x30, kind, tail @ ..] = rest
        && *kind < 0x80
    {
        rest = tail;
    }
    for key in [0x39, 0x41] {
        if let [first, tail @ ..] = rest
            && *first == key
            && let Some(tail) = tail.get(8..)
        {
            rest = tail;
        }
    }
    item.len() - rest.len()
}

/// The filtered walk's fast path over an item's fields from `pos` (to the end of `item`):
/// fields it knows by their first bytes (ids, name, timestamps, kind, flags) are passed over
/// by their length, and attributes in the usual form (the value runs to the attribute's end,
/// so the KeyValue has no second key) after a word compare and a check of the value's
/// two-byte header. Those whose key `set`'s prefilter admits go to `at_attr(offset, field,
/// key length)`, which returns true to stop there. Returns where the walk stopped (a field it
/// does not know, or the end) and whether `at_attr` stopped it (then the offset is of no use).
#[inline(always)]
pub(super) fn walk_usual<'a>(
    item: &'a [u8],
    pos: usize,
    attr_key: u8,
    set: &KeySet,
    mut at_attr: impl FnMut(usize, &'a [u8], usize) -> bool,
) -> (usize, bool) {
    let usual_head = u32::from(attr_key) | 0x0a << 16;
    let end = item.len();
    let mut rest = &item[pos..];
    while let Some(head) = rest.first_chunk::<4>() {
        // Tag, a one-byte length (high bit clear), the KeyValue's key tag, key length.
        let head = u32::from_le_bytes(*head);
        if head & 0x00ff_80ff != usual_head {
            // Another field: ids, name, timestamps (the commonest, tested first), kind,
            // flags are skipped here.
            let tag = head as u8;
            let skip = if head & 0x8087 == 0x0002 && tag != attr_key && tag >= 8 {
                2 + (head >> 8 & 0xff) as usize
            } else if tag & 0x87 == 0x01 && tag >= 8 {
                9
            } else {
                match small_field_size(head, attr_key) {
                    0 => break,
                    size => size,
                }
            };
            let Some(next) = rest.get(skip..) else {
                break;
            };
            rest = next;
            continue;
        }
        let len = (head >> 8 & 0xff) as usize;
        let key_len = (head >> 24) as usize;
        if key_len + 4 > len {
            break;
        }
        let Some(attr) = rest.get(..2 + len) else {
            break;
        };
        // The value's tag and one-byte length, running to the attribute's end.
        let value = &attr[4 + key_len..];
        if u16::from_le_bytes([value[0], value[1]]) as usize != 0x12 | (len - key_len - 4) << 8 {
            break;
        }
        // For the empty key this is its length byte, 0: the `last` of the empty key.
        let last = attr[3 + key_len];
        if KeySet::may_contain(&set.slots, key_len, last)
            && at_attr(end - rest.len(), attr, key_len)
        {
            return (end - rest.len(), true);
        }
        rest = &rest[attr.len()..];
    }
    (end - rest.len(), false)
}

/// The end of the field at `pos` when its key is one byte and it is a fixed-size scalar, a
/// varint or a length-delimited field with a one-byte length (nearly every field of an item);
/// `None` sends it to the general reader.
#[inline(always)]
pub(super) fn skip_small_field(input: &[u8], pos: usize, end: usize) -> Option<usize> {
    let key = input[pos];
    if !(8..0x80).contains(&key) {
        return None;
    }
    let field_end = match key & 7 {
        0 => {
            // A varint of up to 10 bytes.
            let body = input.get(pos + 1..end.min(pos + 11))?;
            pos + 2 + body.iter().position(|b| b & 0x80 == 0)?
        }
        1 => pos + 9,
        2 => {
            let len = *input.get(pos + 1)?;
            if len >= 0x80 {
                return None;
            }
            pos + 2 + usize::from(len)
        }
        5 => pos + 5,
        _ => return None,
    };
    (field_end <= end).then_some(field_end)
}

/// The size of the item field whose first four bytes are `head` (little-endian) when the
/// skip loop can pass over it unread, else 0: a field other than the attributes (key
/// `attr_key`) with a one-byte key, or a two-byte one (fields 16 to 2047: a span's `flags`),
/// holding a fixed32, a fixed64, a one-byte varint or a length-delimited body of a one-byte
/// length. A padded key (second byte 0) goes to the general reader: it may be the
/// attributes'.
#[inline(always)]
pub(super) fn small_field_size(head: u32, attr_key: u8) -> usize {
    let [b0, b1, b2, _] = head.to_le_bytes();
    let (key_len, wire_type, next) = if b0 < 0x80 {
        if b0 < 8 || b0 == attr_key {
            return 0;
        }
        (1, b0 & 7, b1)
    } else if b1 != 0 && b1 < 0x80 {
        (2, b0 & 7, b2)
    } else {
        return 0;
    };
    key_len
        + match wire_type {
            0 if next < 0x80 => 1,
            1 => 8,
            2 if next < 0x80 => 1 + usize::from(next),
            5 => 4,
            _ => return 0,
        }
}
