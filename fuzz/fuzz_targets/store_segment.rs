//! Fuzzes the local store's segment decoder and its indexer over unvalidated OTLP (what a
//! damaged data directory could hand it): never panics, whatever the bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    use ferrotel_pdata::Signal;
    match selector % 4 {
        0 => ferrotel_store::fuzzing::segment(rest),
        1 => ferrotel_store::fuzzing::request(Signal::Traces, rest),
        2 => ferrotel_store::fuzzing::request(Signal::Logs, rest),
        _ => ferrotel_store::fuzzing::request(Signal::Metrics, rest),
    }
});
