//! Fuzzes the Prometheus text 0.0.4 / OpenMetrics parser (first byte picks the format), its
//! render/parse round trip and the conversion to OTLP.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrotel_fuzz::prometheus_text(data));
