//! OTLP/JSON, exactly as the OTLP specification defines it.
//!
//! STUB: signatures fixed; implementation in progress.

use crate::{DecodeError, Request, Signal};

/// Decodes an OTLP/JSON export request of `signal`.
pub fn decode(signal: Signal, buf: &[u8]) -> Result<Request, DecodeError> {
    let _ = (signal, buf);
    todo!()
}

/// Encodes an export request as OTLP/JSON.
pub fn encode(request: &Request) -> Vec<u8> {
    let _ = request;
    todo!()
}
