//! OTLP/JSON profiles decoding: never panics, and whatever decodes re-encodes to JSON that
//! decodes to the same request (compared on the protobuf encoding, so NaNs compare by bits).
#![no_main]

use ferrotel_pdata::{Signal, json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = json::decode(Signal::Profiles, data) {
        let encoded = json::encode(&request);
        let again = json::decode(Signal::Profiles, &encoded)
            .unwrap_or_else(|e| panic!("re-encoded JSON does not decode: {e}"));
        assert_eq!(again.encode_proto(), request.encode_proto());
        assert_eq!(json::encode(&again), encoded);
    }
});
