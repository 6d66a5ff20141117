//! Fuzzes the shallow protobuf operations on logs requests against prost.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrotel_fuzz::proto(ferrotel_pdata::Signal::Logs, data));
