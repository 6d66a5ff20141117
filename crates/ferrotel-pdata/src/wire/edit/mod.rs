//! Attribute edits on encoded requests: rewrite the attribute lists of every item (span, log
//! record, metric data point) or of every resource without decoding the rest of the request.
//!
//! Decoding a request with prost allocates every string of every item; an `attributes` or
//! `resource` processor that inserts one key paid ~10× its own work for that decode and the
//! re-encode after it. Here the request is walked down to the attribute lists only: each list
//! is parsed into borrowed entries (key and encoded value), the caller's edit runs on them, and
//! the output is assembled from slices of the input, re-encoded entries and recomputed length
//! prefixes. Items whose attributes did not change are copied as they are, and a request where
//! nothing changed is returned without a copy. With a [`KeyFilter`] naming the keys an edit can
//! touch, the other attributes are not even parsed: they are copied like the item's other
//! fields, in place.
//!
//! The output is written as the walk goes ([`Writer`]): unchanged input is copied lazily, in
//! one piece up to the next edited item, and the length prefixes of the enclosing messages
//! (scope, resource), only known once their items were edited, are patched in place when
//! each message ends.
//!
//! Per span, the work left for a key-filtered edit is the walk itself: each attribute costs
//! one word compare and one bit test ([`KeySet`]'s prefilter), and the edit's result on an
//! empty list is computed once per request. Items whose bytes do not contain any of the
//! filter's keys (a SIMD substring search, [`Presearch`]) take that result without a walk, so
//! inserting `env = prod` into every span is a copy per span.
//!
//! The modules, from the bottom: `keys` (what an edit reads), `levels` (the schema walked),
//! `plan`, `attrs` (the list an edit sees), `writer` (the output), `scan` (fast field
//! skipping), `rewriter` (the walk), `presearch`, `attr_leaf` and `attr_scan` (the
//! attribute edit at an item), `items` (keep/drop at an item).

mod attr_leaf;
mod attr_scan;
mod attrs;
mod items;
mod keys;
mod levels;
mod plan;
mod presearch;
mod rewriter;
mod scan;
mod writer;

use bytes::Bytes;

pub use attrs::{EncodedAttr, WireAttrs};
pub use items::{ItemDecision, ItemOut, ItemView};
pub use keys::{KeyFilter, KeySet};
pub use rewriter::Unsupported;

use crate::Signal;
use attr_leaf::AttrLeaf;
use items::ItemLeaf;
use levels::{LOGS_ITEMS, METRICS_ITEMS, RESOURCE_LEVEL, TRACES_ITEMS};
use presearch::Presearch;
use rewriter::Rewriter;

/// Which attribute lists [`edit_attributes`] hands to the edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrTarget {
    /// The attributes of each span, log record or metric data point.
    Items,
    /// The attributes of each resource.
    Resources,
}

/// Rewrites every attribute list selected by `target` with `edit`.
///
/// Returns `Ok(None)` when no edit changed anything (the input stands as it is) and the new
/// encoding otherwise; item counts never change. Unknown fields are kept.
///
/// The edit must depend only on the list it is handed: for the items whose list is empty
/// (after the key filter, see [`edit_attributes_of`]) it runs once per request and its result
/// is reused, which makes the commonest edit, adding a configured attribute to every span,
/// a copy per item.
pub fn edit_attributes(
    signal: Signal,
    input: &[u8],
    target: AttrTarget,
    edit: impl FnMut(&mut WireAttrs<'_>),
) -> Result<Option<Bytes>, Unsupported> {
    edit_attributes_of(signal, input, target, &KeyFilter::All, edit)
}

/// [`edit_attributes`], handing the edit only the attributes `filter` admits; the others stay
/// where they are in the output, byte for byte.
pub fn edit_attributes_of(
    signal: Signal,
    input: &[u8],
    target: AttrTarget,
    filter: &KeyFilter,
    edit: impl FnMut(&mut WireAttrs<'_>),
) -> Result<Option<Bytes>, Unsupported> {
    let level = match (signal, target) {
        (Signal::Traces, AttrTarget::Items) => &TRACES_ITEMS,
        (Signal::Logs, AttrTarget::Items) => &LOGS_ITEMS,
        (Signal::Metrics, AttrTarget::Items) => &METRICS_ITEMS,
        (Signal::Traces | Signal::Logs | Signal::Metrics, AttrTarget::Resources) => &RESOURCE_LEVEL,
        (Signal::Profiles, _) => return Err(Unsupported::Signal),
    };
    let leaf = AttrLeaf {
        entries: Vec::new(),
        slots: Vec::new(),
        on_empty: None,
        // A resource's attributes are a small part of its bytes (the spans follow): walking
        // them is cheaper than searching everything.
        presearch: (target == AttrTarget::Items).then(Presearch::default),
        keys_seen: Vec::new(),
        seen: 0,
        sequence: 0,
        plans: Vec::new(),
        one_key_plan: None,
        filter,
        edit,
    };
    Ok(Rewriter::new(input, leaf, false)
        .run(level)?
        .map(|(bytes, _)| bytes))
}

/// Reads each span (traces) or log record (logs) of an encoded request lazily, in order, until
/// `f` returns false: policies and conditions that need a few fields of each item, without a
/// decode.
pub fn for_each_item(
    signal: Signal,
    input: &[u8],
    mut f: impl FnMut(&ItemView<'_>) -> bool,
) -> Result<(), Unsupported> {
    let mut more = true;
    edit_items(signal, input, |view, _| {
        if more {
            more = f(view);
        }
        ItemDecision::Keep
    })
    .map(drop)
}

/// Keeps or drops each span (traces) or log record (logs) of an encoded request, and may
/// replace one string field of a kept item (e.g. a span's `trace_state`). Scopes and resources
/// left without items are removed, as pdata's `RemoveIf` leaves them.
///
/// Returns `Ok(None)` when every item was kept unchanged (the input stands), otherwise the new
/// encoding and the number of items kept.
pub fn edit_items(
    signal: Signal,
    input: &[u8],
    decide: impl FnMut(&ItemView<'_>, &mut ItemOut<'_>) -> ItemDecision,
) -> Result<Option<(Bytes, usize)>, Unsupported> {
    let level = match signal {
        Signal::Traces => &TRACES_ITEMS,
        Signal::Logs => &LOGS_ITEMS,
        Signal::Metrics | Signal::Profiles => return Err(Unsupported::Signal),
    };
    let leaf = ItemLeaf {
        pieces: Vec::new(),
        enclosing: [(0, 0); 2],
        decide,
    };
    Rewriter::new(input, leaf, true).run(level)
}
