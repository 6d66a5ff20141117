//! Property tests: any request survives OTLP/JSON encode → decode unchanged.
//!
//! Equality is checked on the protobuf encoding, which is deterministic and compares NaN
//! doubles by bits (the strategies only produce canonical NaN), where `PartialEq` would call
//! two NaN-holding requests different.

#[path = "common/arbitrary.rs"]
mod arbitrary;

use arbitrary::arb_request;
use ferrotel_pdata::{Request, Signal, json};
use proptest::prelude::*;

fn roundtrip(original: &Request) -> Result<(), TestCaseError> {
    let encoded = json::encode(original);
    // The output must be valid JSON to any parser, not only to ours.
    prop_assert!(
        serde_json::from_slice::<serde_json::Value>(&encoded).is_ok(),
        "invalid JSON: {}",
        String::from_utf8_lossy(&encoded)
    );
    let decoded = json::decode(original.signal(), &encoded).map_err(|e| {
        TestCaseError::fail(format!(
            "decode failed: {e}\n{}",
            String::from_utf8_lossy(&encoded)
        ))
    })?;
    prop_assert_eq!(decoded.signal(), original.signal());
    prop_assert_eq!(
        decoded.encode_proto(),
        original.encode_proto(),
        "JSON: {}",
        String::from_utf8_lossy(&encoded)
    );
    // Encoding is deterministic: the decoded copy encodes to the very same bytes.
    prop_assert_eq!(json::encode(&decoded), encoded);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn traces_roundtrip(req in arb_request(Signal::Traces)) {
        roundtrip(&req)?;
    }

    #[test]
    fn metrics_roundtrip(req in arb_request(Signal::Metrics)) {
        roundtrip(&req)?;
    }

    #[test]
    fn logs_roundtrip(req in arb_request(Signal::Logs)) {
        roundtrip(&req)?;
    }

    #[test]
    fn profiles_roundtrip(req in arb_request(Signal::Profiles)) {
        roundtrip(&req)?;
    }

    /// Pretty-printed input (whitespace everywhere) decodes to the same request.
    #[test]
    fn whitespace_is_insignificant(req in arb_request(Signal::Logs)) {
        let compact = json::encode(&req);
        let mut spaced = Vec::with_capacity(compact.len() * 2);
        let mut in_string = false;
        let mut escaped = false;
        for &b in &compact {
            if in_string {
                spaced.push(b);
                if escaped { escaped = false } else if b == b'\\' { escaped = true } else if b == b'"' { in_string = false }
                continue;
            }
            match b {
                b'"' => { in_string = true; spaced.push(b) }
                b'{' | b'[' | b',' | b':' => { spaced.push(b); spaced.extend_from_slice(b"\n\t ") }
                b'}' | b']' => { spaced.extend_from_slice(b"\r\n "); spaced.push(b) }
                _ => spaced.push(b),
            }
        }
        let decoded = json::decode(Signal::Logs, &spaced).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(decoded.encode_proto(), req.encode_proto());
    }

    /// Export responses round-trip for every signal.
    #[test]
    fn export_response_roundtrip(rejected in any::<i64>(), msg in "\\PC{0,12}", s in 0..4usize) {
        let signal = Signal::ALL[s];
        let encoded = json::encode_export_response(signal, rejected, &msg);
        let decoded = json::decode_export_response(signal, &encoded).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(decoded, (rejected, msg));
    }

    /// Arbitrary bytes never panic the decoder.
    #[test]
    fn garbage_never_panics(buf in proptest::collection::vec(any::<u8>(), 0..64), s in 0..4usize) {
        let _ = json::decode(Signal::ALL[s], &buf);
        let _ = json::decode_export_response(Signal::ALL[s], &buf);
    }

    /// Truncating or corrupting one byte of a valid encoding gives an error or a request,
    /// never a panic.
    #[test]
    fn mutated_input_never_panics(req in arb_request(Signal::Traces), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut encoded = json::encode(&req);
        let i = at.index(encoded.len());
        let _ = json::decode(Signal::Traces, &encoded[..i]);
        encoded[i] = byte;
        let _ = json::decode(Signal::Traces, &encoded);
    }
}
