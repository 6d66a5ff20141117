//! Operations on encoded protobuf export requests that do not decode them.
//!
//! Hand-written over the protobuf wire format (prost has no lazy/partial decoding): walking the
//! tag/length structure and skipping what an operation does not need is what makes counting,
//! splitting and merging an order of magnitude cheaper than a full decode.
//!
//! - [`validate`]: full structural check and item count in one allocation-free pass, driven by
//!   static schema tables; whatever it accepts, prost decodes.
//! - [`count`], [`split`], [`merge`]: walk only down to the items and copy item bytes verbatim.
//! - [`edit_attributes`]: insert/update/delete attributes of items or resources, copying
//!   everything else verbatim; [`edit_items`]: keep or drop spans and log records (sampling,
//!   `filter`), reading each item, its resource and its scope lazily ([`ItemView`]).
//! - [`for_each_resource`], [`for_each_trace_id`], [`split_by_trace_id`], [`has_root_span`],
//!   [`coalesce_traces`]: routing, trace-aware load balancing and tail sampling without a
//!   decode.
//!
//! The fast operations check only the structure they walk; when they fail, the error is
//! recomputed by [`validate`] so it always carries an OTLP/JSON path.

mod edit;
mod fast;
mod reader;
mod runs;
mod schema;
mod split;
mod validate;
mod view;
pub mod write;

use bytes::Bytes;

use crate::{DecodeError, Signal};

pub use edit::{
    AttrTarget, EncodedAttr, ItemDecision, ItemOut, ItemView, KeyFilter, KeySet, Unsupported,
    WireAttrs, edit_attributes, edit_attributes_of, edit_items, for_each_item,
};
pub use reader::{put_varint, varint_len};
pub use runs::{
    TraceEnvelope, TracePiece, TraceRun, encode_runs, encoded_len, runs_have_root_span,
    runs_span_count,
};
pub use view::{AnyValueView, Attributes, ResourceView};

/// Deepest AnyValue nesting (arrays and kvlists) that [`validate`] accepts.
pub const MAX_ANY_VALUE_DEPTH: u32 = validate::MAX_ANY_VALUE_DEPTH;

/// Validates an encoded export request completely (wire types, lengths, UTF-8 strings, id
/// lengths, AnyValue nesting depth) and returns its item count.
///
/// One pass, no allocation unless it fails. Unknown fields are skipped as protobuf requires
/// (groups included); repeated occurrences of singular fields are accepted (prost merges them).
/// Nesting past prost's recursion limit of 100 messages is rejected, since prost would fail.
/// The error's path is in OTLP/JSON spelling, e.g.
/// `resourceSpans[0].scopeSpans[1].spans[3].traceId: expected 16 bytes, got 15`.
pub fn validate(signal: Signal, buf: &[u8]) -> Result<usize, DecodeError> {
    validate::validate(signal, buf)
}

/// Counts the items of an encoded request, checking only the structure it walks.
///
/// Items are spans, metric data points, log records or profiles, counted as
/// [`crate::Request::item_count`] counts them (for a Metric whose data oneof appears several
/// times, only the variant prost keeps).
pub fn count(signal: Signal, buf: &[u8]) -> Result<usize, DecodeError> {
    validate::count_fast(signal, buf).map_err(|e| validate::explain(signal, buf, e))
}

/// Splits an encoded request into requests of at most `max_items` items each.
///
/// Item bytes are copied verbatim and keep their order; each output repeats the resource and
/// scope (and for metrics the Metric's name, description, unit, metadata, temporality and
/// monotonicity) of the items it holds. Profiles outputs each carry the request's dictionary.
/// Resources, scopes and metrics without items are dropped when splitting. A request within
/// the limit (or `max_items == 0`) is returned as is, without a copy.
pub fn split(signal: Signal, buf: &Bytes, max_items: usize) -> Result<Vec<Bytes>, DecodeError> {
    split::split(signal, buf, max_items).map_err(|e| validate::explain(signal, buf, e))
}

/// Merges encoded requests of one signal into one.
///
/// For traces, metrics and logs the concatenation of encoded messages is their protobuf merge
/// (the repeated resource list appends), so this is one copy. Profiles requests carry a
/// dictionary that their indices point into, so they merge only when at most one part has
/// items, or when no part with items has a dictionary; otherwise this returns an error.
pub fn merge(signal: Signal, parts: &[Bytes]) -> Result<Bytes, DecodeError> {
    let non_empty: Vec<&Bytes> = parts.iter().filter(|p| !p.is_empty()).collect();
    let parts = if signal == Signal::Profiles {
        profile_parts(&non_empty)?
    } else {
        non_empty
    };
    Ok(match parts.as_slice() {
        [] => Bytes::new(),
        [one] => (*one).clone(),
        many => {
            let mut out = Vec::with_capacity(many.iter().map(|p| p.len()).sum());
            for p in many {
                out.extend_from_slice(p);
            }
            out.into()
        }
    })
}

/// The profiles parts that can be concatenated, or why they cannot.
fn profile_parts<'a>(parts: &[&'a Bytes]) -> Result<Vec<&'a Bytes>, DecodeError> {
    let mut with_items = Vec::with_capacity(parts.len());
    for (i, p) in parts.iter().enumerate() {
        let n = count(Signal::Profiles, p)
            .map_err(|e| DecodeError::new(e.path, format!("part {i}: {}", e.message)))?;
        if n > 0 {
            with_items.push(*p);
        }
    }
    if with_items.len() > 1 && with_items.iter().any(|p| has_dictionary(p)) {
        return Err(DecodeError::new(
            "dictionary",
            "cannot merge profiles requests that carry dictionaries: their indices would clash",
        ));
    }
    Ok(with_items)
}

fn has_dictionary(buf: &[u8]) -> bool {
    let mut r = reader::Reader::new(buf);
    matches!(
        validate::next_len_field(&mut r, 2, reader::RECURSION_LIMIT),
        Ok(Some(_))
    )
}

/// Calls `f` with each resource-level message (`ResourceSpans`, `ResourceMetrics`,
/// `ResourceLogs`, `ResourceProfiles`) of a request, for routing by resource attributes.
///
/// Attributes are read lazily from the view. On malformed input `f` may already have seen the
/// resources before the defect when the error is returned.
pub fn for_each_resource<'a>(
    signal: Signal,
    buf: &'a [u8],
    f: impl FnMut(ResourceView<'a>),
) -> Result<(), DecodeError> {
    view::for_each_resource(buf, f).map_err(|e| validate::explain(signal, buf, e))
}

/// Calls `f` with the trace id of every span of a traces request, in order. Spans without a
/// trace id yield all zeros.
pub fn for_each_trace_id(buf: &[u8], f: impl FnMut([u8; 16])) -> Result<(), DecodeError> {
    view::for_each_trace_id(buf, f).map_err(|e| validate::explain(Signal::Traces, buf, e))
}

/// Merges traces requests into one in which resource and scope messages with byte-identical
/// headers appear once, their spans together (each group's spans in order). `tail_sampling`
/// keeps a trace's pieces cut from several requests of one service this way: the resource
/// and scope once, not once per piece.
pub fn coalesce_traces(parts: &[Bytes]) -> Result<Bytes, DecodeError> {
    let joined = merge(Signal::Traces, parts)?;
    split::coalesce_traces(&joined).map_err(|e| validate::explain(Signal::Traces, &joined, e))
}

/// Whether a traces request holds a root span (one without a parent span id), for
/// `tail_sampling`'s `decision_wait_after_root_received`. Stops at the first root.
pub fn has_root_span(buf: &[u8]) -> Result<bool, DecodeError> {
    view::has_root_span(buf).map_err(|e| validate::explain(Signal::Traces, buf, e))
}

/// Regroups a traces request by trace id as [`split_by_trace_id`] does, but keeps each
/// trace's spans apart from the resource and scope around them, which every trace of the
/// request shares ([`TraceRun`]): `tail_sampling` buffers traces so. [`encode_runs`] writes
/// them as a request again.
pub fn split_trace_runs(buf: &[u8]) -> Result<Vec<TracePiece>, DecodeError> {
    split::split_trace_runs(buf).map_err(|e| validate::explain(Signal::Traces, buf, e))
}

/// Regroups a traces request by trace id: for each trace id, in order of first appearance, an
/// `ExportTraceServiceRequest` holding only that trace's spans (in their original order) with
/// their resource and scope copied. For trace-id load balancing and tail sampling.
pub fn split_by_trace_id(buf: &Bytes) -> Result<Vec<([u8; 16], Bytes)>, DecodeError> {
    split::split_by_trace_id(buf).map_err(|e| validate::explain(Signal::Traces, buf, e))
}
