//! The stanza operator pipeline, as the Go Collector's `filelog` (and other stanza-based)
//! receivers configure it with `operators:`: an [`Entry`] flows through parsers and
//! transformers, and the entries that come out become OTLP log records.
//!
//! The API is what a receiver needs: build a [`Pipeline`] from its [`OperatorsConfig`], feed it
//! entries, flush what time-based operators (recombine) hold, convert the output with
//! [`into_resource_logs`].
//!
//! Operators are grouped by family (`ops/parsers.rs`, `ops/transform.rs`, ...) rather than one
//! folder each: most are a config struct and a few lines of logic sharing the parser helper.

mod convert;
mod encode;
mod entry;
mod expr;
mod field;
mod json;
mod map;
mod ops;
mod pipeline;
mod severity;
mod time;

#[cfg(test)]
mod tests;

pub use convert::into_resource_logs;
pub use encode::{LineValue, LogsEncoder};
pub use entry::{Entry, Key, Map, Value, text_from_bytes};
pub use pipeline::{BuildError, OperatorsConfig, Pipeline};
pub use severity::severity_name;

/// Go's `%T`-like name of a value's type, for error messages.
pub(crate) fn value_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Double(_) => "float64",
        Value::Str(_) => "string",
        Value::Bytes(_) => "[]byte",
        Value::Array(_) => "[]interface {}",
        Value::Map(_) => "map[string]interface {}",
    }
}
