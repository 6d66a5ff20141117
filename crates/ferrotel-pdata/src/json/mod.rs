//! OTLP/JSON, exactly as the OTLP specification defines it ("JSON Protobuf Encoding").
//!
//! The encoding is proto3's JSON mapping with the OTLP deviations, which this module follows:
//!
//! - `traceId`, `spanId`, `parentSpanId` (and, like the collector, `profileId`) are hex strings,
//!   not base64. Decoding accepts either case; encoding writes lowercase. An empty string is an
//!   empty (absent) id; any other length than the id's is an error.
//! - Enums are integers. The specification says enum name strings "MUST NOT be used", so a
//!   name is rejected with an error saying so, where plain protobuf JSON would accept it.
//! - Keys are lowerCamelCase only. The specification states that original (`snake_case`)
//!   field names "are not valid to use as keys", and that unknown fields MUST be ignored; a
//!   `snake_case` key is therefore skipped as unknown, not decoded.
//! - Unknown fields are ignored, whatever their value; `null` means absent.
//!
//! From plain proto3 JSON: 64-bit integers are written as decimal strings and read from
//! strings or numbers; doubles are numbers, with `"NaN"`, `"Infinity"`, `"-Infinity"` for
//! the non-finite values; bytes other than ids are base64; default values and empty lists
//! are omitted when encoding.
//!
//! Decoding is a streaming scan straight into the prost types (no JSON tree). Errors name
//! the failing field in JSON spelling, e.g.
//! `resourceSpans[0].scopeSpans[1].spans[3].traceId: expected 32 hex characters, got 31`.
//!
//! [`transcode`] turns OTLP/JSON into the protobuf encoding of the same request without the
//! prost types (what the OTLP/HTTP receiver uses): same scanner, same acceptance, same errors.

mod decode;
mod encode;
mod read;
mod transcode;

/// The streaming JSON scanner under the OTLP/JSON decoders, for other JSON formats.
pub mod scan {
    pub use super::read::{Error, HEX_VALUES, Reader, Res};
}

pub use transcode::{transcode, transcode_fast};

use crate::{DecodeError, Request, Signal};

/// Deepest nesting of AnyValues (`arrayValue`/`kvlistValue` inside one another) that
/// [`decode`] accepts; an attribute value that is not nested has depth 1.
///
/// Bounded so that hostile input cannot exhaust the stack. 32 keeps requests this decoder
/// accepts within prost's default recursion limit of 100 nested messages once re-encoded as
/// protobuf (an AnyValue level is two messages through an array, three through a kvlist),
/// except one case: 32 kvlist levels in a metrics exemplar's `filteredAttributes` come to 101
/// messages. The OTLP/HTTP receiver refuses that with a 400 when it validates the transcoded
/// bytes (see `deepest_accepted_nesting` in tests/json_transcode.rs).
pub const MAX_ANY_VALUE_DEPTH: usize = 32;

/// Decodes an OTLP/JSON export request of `signal` (an `Export*ServiceRequest`).
///
/// Never panics; any malformed input gives a [`DecodeError`] naming the field, or the line and
/// column for invalid JSON syntax.
pub fn decode(signal: Signal, buf: &[u8]) -> Result<Request, DecodeError> {
    let mut r = read::Reader::new(buf);
    let result = match signal {
        Signal::Traces => decode::traces(&mut r).map(Request::Traces),
        Signal::Metrics => decode::metrics(&mut r).map(Request::Metrics),
        Signal::Logs => decode::logs(&mut r).map(Request::Logs),
        Signal::Profiles => decode::profiles(&mut r).map(Request::Profiles),
    }
    .and_then(|req| r.end().map(|()| req));
    result.map_err(|e| e.into_decode_error())
}

/// Encodes an export request as OTLP/JSON.
pub fn encode(request: &Request) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    match request {
        Request::Traces(m) => encode::traces(&mut out, m),
        Request::Metrics(m) => encode::metrics(&mut out, m),
        Request::Logs(m) => encode::logs(&mut out, m),
        Request::Profiles(m) => encode::profiles(&mut out, m),
    }
    out
}

/// The name of the `rejected_*` field of `signal`'s `Export*PartialSuccess` in OTLP/JSON.
pub fn rejected_field(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "rejectedSpans",
        Signal::Metrics => "rejectedDataPoints",
        Signal::Logs => "rejectedLogRecords",
        Signal::Profiles => "rejectedProfiles",
    }
}

/// Encodes an `Export*ServiceResponse` of `signal`:
/// `{"partialSuccess":{"rejectedSpans":"3","errorMessage":"..."}}`, or `{}` for full success
/// (`rejected == 0` and no message), which the specification says leaves `partialSuccess`
/// unset.
pub fn encode_export_response(signal: Signal, rejected: i64, error_message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + error_message.len());
    encode::export_response(&mut out, rejected_field(signal), rejected, error_message);
    out
}

/// Decodes an OTLP/JSON `Export*ServiceResponse` of `signal` into
/// `(rejected items, error message)`; `(0, "")` when `partialSuccess` is absent.
pub fn decode_export_response(signal: Signal, buf: &[u8]) -> Result<(i64, String), DecodeError> {
    let mut r = read::Reader::new(buf);
    decode::export_response(&mut r, rejected_field(signal))
        .and_then(|resp| r.end().map(|()| resp))
        .map_err(|e| e.into_decode_error())
}
