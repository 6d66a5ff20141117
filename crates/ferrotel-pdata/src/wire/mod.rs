//! Operations on encoded protobuf export requests that do not decode them.
//!
//! Hand-written over the protobuf wire format (prost has no lazy/partial decoding): walking the
//! tag/length structure and skipping what an operation does not need is what makes counting,
//! splitting and merging an order of magnitude cheaper than a full decode.
//!
//! STUB: signatures fixed; implementation in progress.

use bytes::Bytes;

use crate::{DecodeError, Signal};

/// Validates an encoded export request completely (wire types, lengths, UTF-8 strings, id
/// lengths, AnyValue nesting depth) and returns its item count.
pub fn validate(signal: Signal, buf: &[u8]) -> Result<usize, DecodeError> {
    let _ = (signal, buf);
    todo!()
}

/// Counts the items of an encoded request, checking only the structure it walks.
pub fn count(signal: Signal, buf: &[u8]) -> Result<usize, DecodeError> {
    let _ = (signal, buf);
    todo!()
}

/// Splits an encoded request into requests of at most `max_items` items each.
pub fn split(signal: Signal, buf: &Bytes, max_items: usize) -> Result<Vec<Bytes>, DecodeError> {
    let _ = (signal, buf, max_items);
    todo!()
}

/// Merges encoded requests of one signal into one.
pub fn merge(signal: Signal, parts: &[Bytes]) -> Result<Bytes, DecodeError> {
    let _ = (signal, parts);
    todo!()
}
