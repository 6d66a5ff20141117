//! Building and running the `operators:` list.

use std::time::Instant;

use serde::Deserialize;

use crate::Entry;

/// The `operators:` list as written in a receiver's config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct OperatorsConfig {
    operators: Vec<serde_json::Value>,
}

impl OperatorsConfig {
    pub fn is_empty(&self) -> bool {
        self.operators.is_empty()
    }
}

/// Why an `operators:` list cannot be built; `path` says where (`operators[2].regex`).
#[derive(Debug, Clone, PartialEq)]
pub struct BuildError {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for BuildError {}

/// A built operator pipeline. Not shared between threads: each reader task owns one.
#[derive(Debug)]
pub struct Pipeline {}

impl Pipeline {
    pub fn build(config: &OperatorsConfig) -> Result<Pipeline, BuildError> {
        if let Some(op) = config.operators.first() {
            return Err(BuildError {
                path: "operators[0]".into(),
                message: format!("operators are not supported yet: {op}"),
            });
        }
        Ok(Pipeline {})
    }

    /// Runs one entry through the operators; what comes out (zero, one or more entries) is
    /// appended to `out`.
    pub fn process(&mut self, entry: Entry, out: &mut Vec<Entry>) {
        out.push(entry);
    }

    /// The earliest time at which [`Pipeline::flush_expired`] has something to release.
    pub fn next_deadline(&self) -> Option<Instant> {
        None
    }

    /// Releases what time-based operators (recombine's `force_flush_period`) hold past `now`.
    pub fn flush_expired(&mut self, _now: Instant, _out: &mut Vec<Entry>) {}

    /// Releases everything held (on shutdown or end of input).
    pub fn flush_all(&mut self, _out: &mut Vec<Entry>) {}
}
