//! Decode and validation errors that say where in the payload the problem is.

use std::fmt;

/// A payload could not be decoded or failed validation.
///
/// `path` names the field in OTLP/JSON spelling, e.g.
/// `resourceSpans[0].scopeSpans[1].spans[3].traceId`, so the same message helps whether the
/// payload was JSON or protobuf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Where the problem is; empty for the request itself.
    pub path: String,
    /// What is wrong there.
    pub message: String,
}

impl DecodeError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        DecodeError {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for DecodeError {}
