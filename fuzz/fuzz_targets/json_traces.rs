//! Fuzzes OTLP/JSON decoding of traces requests (round trip through the encoder).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrotel_fuzz::json(
    ferrotel_pdata::Signal::Traces,
    data
));
