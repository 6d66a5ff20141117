//! Fuzzes the zipkin receiver's decoders: any body, as v2 JSON, v2 protobuf, v1 JSON or v1 Thrift,
//! decodes to an error or translates to OTLP and back to Zipkin, never panics; the receiver's
//! direct path (v2 JSON and protobuf straight to OTLP bytes) gives the reference's bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ferrotel_zipkin::fuzz_decode(data)
});
