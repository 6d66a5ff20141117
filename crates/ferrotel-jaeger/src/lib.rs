//! The `jaeger` receiver (issue 17, the Jaeger half of the migration story): Jaeger clients'
//! and agents' traffic in, OTLP out.
//!
//! - `thrift`: our own Thrift decoder (binary and compact protocols) for jaeger.thrift and the
//!   agent's `emitBatch`, bounded against hostile input.
//! - `direct`: Thrift straight to OTLP bytes, the receiver's fast path (the reference is
//!   `thrift` + `to_otlp`, which it falls back to).
//! - `model`: the span model Thrift and protobuf decode into.
//! - `proto`: Jaeger protobuf (`jaeger.api_v2`) for the gRPC `PostSpans` call.
//! - `receiver`: the `jaeger` receiver and its config.
//! - `to_otlp`: the translation (docs/migration.md, "Jaeger", lists each rule and its test).
//! - `from_otlp`: the way back, OTLP → Jaeger protobuf (for the kafka exporter's
//!   `jaeger_proto`/`jaeger_json`), and `jsonpb`: a span as protobuf JSON.

pub mod direct;
#[cfg(test)]
mod direct_tests;
pub mod from_otlp;
#[cfg(test)]
mod from_otlp_tests;
mod http_body;
pub mod jsonpb;
pub mod model;
pub mod proto;
pub mod receiver;
pub mod thrift;
pub mod to_otlp;
#[cfg(test)]
mod translation_tests;

pub use receiver::JaegerReceiverFactory;

/// Entry point for the fuzz target (`fuzz/fuzz_targets/jaeger_thrift.rs`), not an API: any
/// bytes, as a bare `Batch` or an agent message in either protocol, as a gRPC
/// `PostSpansRequest`, or as one Kafka span record (protobuf or protobuf JSON), decode to an
/// error or translate to OTLP and back to Jaeger's protobuf and JSON, never panic; and the
/// Thrift direct path (`direct`) agrees with the reference wherever it answers.
#[doc(hidden)]
pub fn fuzz_decode(data: &[u8]) {
    use thrift::Protocol::{Binary, Compact};
    let mut batches = Vec::new();
    for p in [Binary, Compact] {
        for agent in [true, false] {
            // The receiver's direct path answers only with the reference's bytes.
            if let Err(e) = direct::check_agrees(data, p, agent) {
                panic!("{p:?} agent={agent}: {e}");
            }
        }
        if let Ok(b) = thrift::jaeger::decode_batch(data, p) {
            batches.push(b);
        }
        if let Ok(thrift::jaeger::AgentMessage::EmitBatch(b)) =
            thrift::jaeger::decode_agent_message(data, p)
        {
            batches.push(b);
        }
    }
    batches.extend(proto::decode_post_spans(data));
    batches.extend(proto::decode_span(data));
    batches.extend(jsonpb::decode_span(data).and_then(proto::span_batch));
    for b in batches {
        let otlp = to_otlp::to_otlp(vec![b]);
        for back in from_otlp::from_otlp(&otlp) {
            for s in &back.spans {
                let _ = jsonpb::encode_span(&proto::span_to_proto(s, back.process.as_ref()));
            }
        }
    }
}
