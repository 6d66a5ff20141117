//! Encoded request templates with placeholders, and cheap instantiation.
//!
//! A generator builds a request once with placeholder span ids, trace ids, timestamps and
//! `loadgen.seq` values, encodes it, and [`Template::new`] records where the placeholders sit
//! in the bytes. [`Template::instantiate`] then copies the bytes and overwrites the
//! placeholders in place (all of them are fixed-width), so each request costs a `memcpy` and a
//! few stores per item instead of building and encoding a message.

use crate::ids::{make_id, write_hex};

const SPAN_MAGIC: [u8; 4] = [0xF5, 0xE6, 0xD7, 0xC8];
const TRACE_MAGIC: [u8; 12] = [
    0xF9, 0xEA, 0xDB, 0xCC, 0xF9, 0xEA, 0xDB, 0xCC, 0xF9, 0xEA, 0xDB, 0xCC,
];
/// The high half of a placeholder timestamp (fixed64, little-endian on the wire).
const TS_HIGH: u64 = 0xC4D3_E2F1;
const TS_HIGH_LE: [u8; 4] = [0xF1, 0xE2, 0xD3, 0xC4];
const SEQ_MAGIC: &[u8; 4] = b"#SQ#";

/// The placeholder span id of item `index` of a request.
pub fn span_placeholder(index: usize) -> Vec<u8> {
    let mut v = SPAN_MAGIC.to_vec();
    v.extend_from_slice(&(index as u32).to_be_bytes());
    v
}

/// The placeholder trace id of the trace whose root is item `root_index`.
pub fn trace_placeholder(root_index: usize) -> Vec<u8> {
    let mut v = TRACE_MAGIC.to_vec();
    v.extend_from_slice(&(root_index as u32).to_be_bytes());
    v
}

/// A placeholder timestamp `offset_ns` after the request's base time.
pub fn ts(offset_ns: u64) -> u64 {
    debug_assert!(offset_ns < 1 << 28);
    (TS_HIGH << 32) | (offset_ns & 0x0fff_ffff)
}

/// The placeholder `loadgen.seq` value of item `index`.
pub fn seq_placeholder(index: usize) -> String {
    format!("#SQ#{index:012}")
}

/// An encoded request with the positions of its placeholders.
#[derive(Debug, Clone)]
pub struct Template {
    bytes: Vec<u8>,
    items: usize,
    /// (offset, item index): 8-byte span ids and parent span ids.
    span_ids: Vec<(usize, u32)>,
    /// (offset, root item index): 16-byte trace ids.
    trace_ids: Vec<(usize, u32)>,
    /// (offset, ns after base): 8-byte little-endian timestamps.
    timestamps: Vec<(usize, u32)>,
    /// (offset, item index): 16-byte hex `loadgen.seq` values.
    seqs: Vec<(usize, u32)>,
}

impl Template {
    /// Scans `bytes` for placeholders. `items` is the number of items; every item must carry
    /// an id placeholder (checked).
    pub fn new(bytes: Vec<u8>, items: usize) -> Self {
        let mut t = Template {
            items,
            span_ids: Vec::new(),
            trace_ids: Vec::new(),
            timestamps: Vec::new(),
            seqs: Vec::new(),
            bytes: Vec::new(),
        };
        let b = &bytes;
        let idx = |at: usize| u32::from_be_bytes(b[at..at + 4].try_into().unwrap());
        let mut i = 0;
        while i + 8 <= b.len() {
            if b[i..].starts_with(&TRACE_MAGIC) && i + 16 <= b.len() {
                t.trace_ids.push((i, idx(i + 12)));
                i += 16;
            } else if b[i..].starts_with(&SPAN_MAGIC) {
                t.span_ids.push((i, idx(i + 4)));
                i += 8;
            } else if b[i..].starts_with(SEQ_MAGIC) && i + 16 <= b.len() {
                let digits = std::str::from_utf8(&b[i + 4..i + 16]).ok();
                let n = digits
                    .and_then(|d| d.parse::<u32>().ok())
                    .expect("seq placeholder");
                t.seqs.push((i, n));
                i += 16;
            } else if b[i + 4..i + 8] == TS_HIGH_LE {
                let off = u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
                t.timestamps.push((i, off));
                i += 8;
            } else {
                i += 1;
            }
        }
        let ids = t.span_ids.len().max(t.seqs.len());
        assert!(
            ids >= items,
            "template has {ids} id placeholders for {items} items"
        );
        t.bytes = bytes;
        t
    }

    /// Items in one instance.
    pub fn items(&self) -> usize {
        self.items
    }

    /// Encoded size of one instance.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// A copy with item `i` getting id `make_id(nonce, first_seq + i)` and timestamps
    /// relative to `base_ns`.
    pub fn instantiate(&self, nonce: u32, first_seq: u64, base_ns: u64) -> Vec<u8> {
        let mut out = self.bytes.clone();
        let id = |i: u32| make_id(nonce, first_seq + u64::from(i));
        for &(at, i) in &self.span_ids {
            out[at..at + 8].copy_from_slice(&id(i).to_be_bytes());
        }
        for &(at, root) in &self.trace_ids {
            let hi = 0x6c67_0000_0000_0000u64 | u64::from(nonce & 0xff_ffff) << 16;
            out[at..at + 8].copy_from_slice(&hi.to_be_bytes());
            out[at + 8..at + 16].copy_from_slice(&id(root).to_be_bytes());
        }
        for &(at, off) in &self.timestamps {
            out[at..at + 8].copy_from_slice(&(base_ns + u64::from(off)).to_le_bytes());
        }
        for &(at, i) in &self.seqs {
            write_hex(id(i), &mut out[at..at + 16]);
        }
        out
    }
}
