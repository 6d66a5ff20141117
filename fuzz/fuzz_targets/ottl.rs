//! Fuzzes the OTTL parser and compiler (statements and conditions in every context) and runs
//! what compiles on a span.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrotel_fuzz::ottl(data));
