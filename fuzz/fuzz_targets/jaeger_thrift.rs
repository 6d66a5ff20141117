//! Fuzzes the jaeger receiver's Thrift decoder: any bytes, as a bare `Batch` (thrift_http) or an
//! agent `emitBatch` message (UDP), in the binary and the compact protocol — and as Jaeger
//! protobuf (gRPC, a kafka span record) or a kafka `jaeger_json` record — decode to an error or
//! translate to OTLP and back to Jaeger, never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrotel_jaeger::fuzz_decode(data));
