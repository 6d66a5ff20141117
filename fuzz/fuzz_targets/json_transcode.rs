//! Fuzzes OTLP/JSON → protobuf transcoding against decode + encode, for all four signals.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrotel_fuzz::json_transcode(data));
