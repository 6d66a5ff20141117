//! The OTLP data model and its codecs.
//!
//! - [`proto`]: the prost types generated from the OTLP protos (all four signals).
//! - [`Payload`]: what flows through a ferrotel pipeline. It keeps a request in the form it
//!   arrived in (protobuf bytes) and decodes only when a component asks for the fields, so a
//!   pipeline that does not modify data never pays for a decode and re-encode.
//! - [`wire`]: operations on encoded protobuf requests without decoding them: validate and
//!   count in one pass, split, merge, read resource attributes and trace ids.
//! - [`json`]: OTLP/JSON exactly as the OTLP specification defines it.
//! - [`text`]: attribute values as the Go Collector writes them into text/JSON tags.
//!
//! This crate knows nothing of transports or runtimes.

pub mod error;
pub mod json;
pub mod payload;
pub mod proto;
pub mod signal;
pub mod text;
pub mod wire;

pub use error::DecodeError;
pub use payload::{Payload, Request};
pub use signal::Signal;
