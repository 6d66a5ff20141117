//! The stanza operator pipeline, as the Go Collector's `filelog` (and other stanza-based)
//! receivers configure it with `operators:`: an [`Entry`] flows through parsers and
//! transformers, and the entries that come out become OTLP log records.
//!
//! The API is what a receiver needs: build a [`Pipeline`] from its [`OperatorsConfig`], feed it
//! entries, flush what time-based operators (recombine) hold, convert the output with
//! [`into_resource_logs`].

mod convert;
mod entry;
mod pipeline;

pub use convert::into_resource_logs;
pub use entry::{Entry, Map, Value};
pub use pipeline::{BuildError, OperatorsConfig, Pipeline};
