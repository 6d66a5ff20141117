//! Zipkin both ways (issue 17): the `zipkin` receiver (`/api/v2/spans` JSON and protobuf,
//! `/api/v1/spans` JSON and Thrift, gzip/zstd bodies) and the `zipkin` exporter (v2 JSON or protobuf,
//! behind the shared queue and retry), with the OpenTelemetry specification's Zipkin mapping
//! and the Go Collector's conventions for what the specification leaves open.
//!
//! - `model`: one Zipkin v2 span model every wire format decodes into and encodes from.
//! - `json`, `proto`, `v1`: the wire formats (v1, JSON or Thrift, is converted to v2 as
//!   Zipkin's own `V1SpanConverter` does; Thrift is read with `ferrotel-thrift`'s bounded reader).
//! - `to_otlp`, `from_otlp`: the translation (docs/migration.md lists each rule and its test).
//! - `direct`: the receiver's fast path, v2 JSON and protobuf straight to OTLP protobuf bytes
//!   by the same rules, falling back to `json`/`proto` + `to_otlp` for anything unusual.
//!
//! The Jaeger half of the migration story belongs in its own crate beside this one; the two
//! share OTLP and the Thrift protocol reader.

pub mod direct;
pub mod exporter;
pub mod from_otlp;
pub mod json;
pub mod model;
pub mod proto;
pub mod receiver;
pub mod to_otlp;
#[cfg(test)]
mod translation_tests;
pub mod v1;

pub use exporter::ZipkinExporterFactory;
pub use receiver::ZipkinReceiverFactory;

/// Entry point for the fuzz target (`fuzz/fuzz_targets/zipkin.rs`), not an API: decoding any
/// body in any format never panics, what decodes translates to OTLP and back, and the direct
/// path agrees with the reference wherever it answers.
#[doc(hidden)]
pub fn fuzz_decode(data: &[u8]) {
    let opts = to_otlp::Options {
        parse_string_tags: true,
    };
    let decoded = [
        json::decode(data).ok(),
        proto::decode(data).ok(),
        v1::decode(data).ok(),
        v1::thrift::decode(data).ok(),
    ];
    use receiver::Format;
    for format in [Format::V2Json, Format::V2Proto] {
        if let Err(e) = direct::check_agrees(format, data, &opts) {
            panic!("{format:?}: {e}");
        }
    }
    for spans in decoded.into_iter().flatten() {
        {
            let req = to_otlp::to_otlp(spans, &opts);
            let back = from_otlp::from_otlp(&req, "<missing service name>");
            let _ = json::encode(&back);
            let _ = proto::encode(&back);
        }
    }
}
