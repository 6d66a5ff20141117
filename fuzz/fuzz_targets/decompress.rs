//! Fuzzes request decompression (every content coding the receivers accept): arbitrary bytes
//! never panic nor expand past the limit; arbitrary data round-trips through our encoders.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let codings = ferrotel_otlp::fuzzing::CODINGS;
    let coding = codings[selector as usize % codings.len()];
    // Small limits reach the too-large paths; the plain side is the input itself.
    let limit = [16, 4096, 1 << 20][(selector as usize / codings.len()) % 3];
    ferrotel_otlp::fuzzing::check(coding, rest, rest, limit);
});
