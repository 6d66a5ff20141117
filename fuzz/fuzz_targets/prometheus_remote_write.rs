//! Fuzzes the prometheusremotewrite receiver's decoder: any body, as remote write 1.0 or 2.0,
//! raw or snappy-compressed, decodes to an error or converts to OTLP, never panics and never
//! allocates past its limits.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ferrotel_prometheus::remote_write::receiver::fuzz_decode(data)
});
