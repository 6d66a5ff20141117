//! Fuzzes the shallow protobuf operations on traces requests against prost.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrotel_fuzz::proto(
    ferrotel_pdata::Signal::Traces,
    data
));
