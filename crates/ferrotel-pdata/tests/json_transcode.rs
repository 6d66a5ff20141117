//! `json::transcode` (OTLP/JSON → protobuf without the prost structs) against the reference
//! `json::decode` + prost encode: for every input both accept, the transcoded bytes decode to
//! the same request; for every input either refuses, both fail with the same message.
//!
//! Inputs: generated requests of all four signals as `json::encode` writes them, the same
//! JSON perturbed in ways the specification allows (key order, unknown fields, nulls,
//! numbers as strings and strings as numbers, uppercase hex, escapes, whitespace), corrupted
//! JSON, and hand-written constructs that take the fallback path.

#[path = "common/arbitrary.rs"]
mod arbitrary;

use arbitrary::arb_request;
use ferrotel_pdata::{Request, Signal, json, wire};
use proptest::prelude::*;
use serde_json::Value;

/// Checks that transcode and decode agree on `input`; returns whether the input is valid.
fn agree(signal: Signal, input: &[u8]) -> Result<bool, TestCaseError> {
    let text = || String::from_utf8_lossy(input).into_owned();
    let reference = json::decode(signal, input);
    let transcoded = json::transcode(signal, input);
    match (&reference, &transcoded) {
        (Ok(request), Ok(bytes)) => {
            let again = Request::decode_proto(signal, bytes.clone())
                .map_err(|e| TestCaseError::fail(format!("prost refuses the output: {e}")))?;
            // Compared as prost encodings, so NaNs compare by bits.
            prop_assert_eq!(
                again.encode_proto(),
                request.encode_proto(),
                "input: {}",
                text()
            );
            // The receiver's `Payload::from_proto` accepts it with the same item count.
            prop_assert_eq!(wire::validate(signal, bytes), Ok(request.item_count()));
        }
        (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string(), "input: {}", text()),
        (a, b) => prop_assert!(
            false,
            "decode {:?} but transcode {:?} on {}",
            a.as_ref().map(|_| "accepts"),
            b.as_ref().map(|_| "accepts"),
            text()
        ),
    }
    // The fast path alone never accepts what the reference refuses, and agrees when it accepts.
    if let Some(fast) = json::transcode_fast(signal, input) {
        prop_assert!(reference.is_ok(), "fast path accepts invalid {}", text());
        prop_assert_eq!(Some(&fast), transcoded.as_ref().ok());
    }
    Ok(reference.is_ok())
}

/// Valid input that must take the fast path (no fallback) and agree with the reference.
fn agree_fast(signal: Signal, input: &[u8]) -> Result<Request, TestCaseError> {
    prop_assert!(
        agree(signal, input)?,
        "refused: {}",
        String::from_utf8_lossy(input)
    );
    prop_assert!(
        json::transcode_fast(signal, input).is_some(),
        "fell back on {}",
        String::from_utf8_lossy(input)
    );
    Ok(json::decode(signal, input).unwrap())
}

/// A small deterministic generator for the perturbations (seeded by proptest).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// True one time in `n`.
    fn one_in(&mut self, n: u64) -> bool {
        self.next().is_multiple_of(n)
    }
}

/// Keys whose values are enums: integers only, so never written as strings.
const ENUM_KEYS: [&str; 4] = ["kind", "code", "severityNumber", "aggregationTemporality"];

/// Keys holding 64-bit integers, which `json::encode` writes as strings and which may be
/// numbers too.
fn is_int64_key(key: &str) -> bool {
    key.ends_with("UnixNano")
        || matches!(
            key,
            "intValue"
                | "asInt"
                | "count"
                | "zeroCount"
                | "durationNano"
                | "period"
                | "memoryStart"
                | "memoryLimit"
                | "fileOffset"
                | "address"
                | "line"
                | "column"
                | "startLine"
                | "bucketCounts"
                | "values"
        )
}

/// Rewrites a JSON value with the perturbations OTLP/JSON allows, keeping its meaning.
fn perturb(v: &Value, key: &str, rng: &mut Rng, out: &mut String) {
    if rng.one_in(6) {
        out.push_str(["\n", " ", "\t", "\r\n  "][(rng.next() % 4) as usize]);
    }
    match v {
        Value::Object(map) => {
            out.push('{');
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            for i in (1..entries.len()).rev() {
                entries.swap(i, (rng.next() % (i as u64 + 1)) as usize);
            }
            let mut first = true;
            // Writes one member; `key` is already quoted (and perhaps escaped).
            let mut member = |out: &mut String, key: &str, write: &mut dyn FnMut(&mut String)| {
                if !std::mem::take(&mut first) {
                    out.push(',');
                }
                out.push_str(key);
                out.push(':');
                write(out);
            };
            let quote = |k: &str| serde_json::to_string(k).unwrap();
            for (k, v) in entries {
                if rng.one_in(5) {
                    // Unknown fields of any shape, including snake_case spellings.
                    let junk = [
                        r#"{"a":[1,"2",{"z":null}],"w":-0.5e-3}"#,
                        "[]",
                        "\"x\"",
                        "true",
                        "12.5",
                        "null",
                    ][(rng.next() % 6) as usize];
                    member(
                        out,
                        &quote(&format!("unknown_{}", rng.next() % 100)),
                        &mut |o| o.push_str(junk),
                    );
                }
                if rng.one_in(5) {
                    // null is absent, so a null for a known key adds nothing.
                    member(out, &quote(k), &mut |o| o.push_str("null"));
                }
                let key = if k.len() > 1 && rng.one_in(8) {
                    // An escaped key still matches.
                    format!("\"\\u{:04x}{}\"", k.as_bytes()[0], &k[1..])
                } else {
                    quote(k)
                };
                member(out, &key, &mut |o| perturb(v, k, rng, o));
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                perturb(item, key, rng, out);
            }
            out.push(']');
        }
        Value::String(s) => {
            let is_hex_id = matches!(s.len(), 16 | 32) && s.bytes().all(|b| b.is_ascii_hexdigit());
            if is_int64_key(key) && s.parse::<i128>().is_ok() && rng.one_in(2) {
                out.push_str(s); // a 64-bit integer as a JSON number
            } else if is_hex_id && rng.one_in(2) {
                out.push_str(&format!("\"{}\"", s.to_ascii_uppercase()));
            } else if rng.one_in(3) {
                // Escapes: `\/` and `\u00XX` for ASCII letters.
                out.push('"');
                for c in s.chars() {
                    match c {
                        '/' => out.push_str("\\/"),
                        'a'..='z' | 'A'..='Z' if rng.one_in(3) => {
                            out.push_str(&format!("\\u{:04X}", c as u32))
                        }
                        _ => {
                            let quoted = serde_json::to_string(&c.to_string()).unwrap();
                            out.push_str(&quoted[1..quoted.len() - 1]);
                        }
                    }
                }
                out.push('"');
            } else {
                out.push_str(&serde_json::to_string(s).unwrap());
            }
        }
        Value::Number(n) if !ENUM_KEYS.contains(&key) && rng.one_in(2) => {
            out.push_str(&format!("\"{n}\"")); // numbers of every non-enum type as strings
        }
        other => out.push_str(&other.to_string()),
    }
}

fn perturbed(encoded: &[u8], seed: u64) -> String {
    let value: Value = serde_json::from_slice(encoded).unwrap();
    let mut out = String::new();
    perturb(&value, "", &mut Rng(seed | 1), &mut out);
    out
}

fn as_generated(req: &Request) -> Result<(), TestCaseError> {
    let encoded = json::encode(req);
    let decoded = agree_fast(req.signal(), &encoded)?;
    prop_assert_eq!(decoded.encode_proto(), req.encode_proto());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn traces_as_encoded(req in arb_request(Signal::Traces)) { as_generated(&req)?; }

    #[test]
    fn metrics_as_encoded(req in arb_request(Signal::Metrics)) { as_generated(&req)?; }

    #[test]
    fn logs_as_encoded(req in arb_request(Signal::Logs)) { as_generated(&req)?; }

    #[test]
    fn profiles_as_encoded(req in arb_request(Signal::Profiles)) { as_generated(&req)?; }

    /// Key order, unknown fields, nulls, numbers as strings and back, uppercase hex,
    /// escapes and whitespace change nothing, and take the fast path.
    #[test]
    fn perturbed_json(s in 0..4usize, seed in any::<u64>(), req_seed in any::<u64>()) {
        let signal = Signal::ALL[s];
        let mut runner = proptest::test_runner::TestRunner::new_with_rng(
            ProptestConfig::default(),
            proptest::test_runner::TestRng::from_seed(
                proptest::test_runner::RngAlgorithm::ChaCha,
                &{ let mut k = [0u8; 32]; k[..8].copy_from_slice(&req_seed.to_le_bytes()); k },
            ),
        );
        let req = arb_request(signal).new_tree(&mut runner).unwrap().current();
        let input = perturbed(&json::encode(&req), seed);
        let decoded = agree_fast(signal, input.as_bytes())?;
        // Not compared with `req` field by field: serde_json's float parsing is not always
        // correctly rounded, so a perturbed double may differ in its last bit.
        prop_assert_eq!(decoded.item_count(), req.item_count());
    }

    /// Corrupted JSON (a byte replaced, inserted or cut off): both accept the same inputs
    /// and fail with the same messages.
    #[test]
    fn corrupted_json(req in arb_request(Signal::Traces), s in 0..4usize,
                      at in any::<prop::sample::Index>(), byte in any::<u8>(), how in 0..3u8) {
        let signal = Signal::ALL[s];
        let mut input = json::encode(&req);
        let i = at.index(input.len() + 1);
        match how {
            0 if i < input.len() => input[i] = byte,
            1 => input.insert(i, byte),
            _ => input.truncate(i),
        }
        agree(signal, &input)?;
        // The same request under another signal's name is also compared.
        agree(req.signal(), &input)?;
    }

    /// Arbitrary bytes and JSON-looking garbage.
    #[test]
    fn garbage(buf in proptest::collection::vec(any::<u8>(), 0..64), s in 0..4usize) {
        agree(Signal::ALL[s], &buf)?;
    }

    #[test]
    fn json_shaped_garbage(text in r#"[\{\}\[\]":,0-9a-zA-Z\- .]{0,80}"#, s in 0..4usize) {
        agree(Signal::ALL[s], text.as_bytes())?;
        let wrapped = format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{text}]}}]}}]}}"#);
        agree(Signal::Traces, wrapped.as_bytes())?;
    }
}

fn span(members: &str) -> String {
    format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{{members}}}]}}]}}]}}"#)
}

/// Constructs the fast path leaves to the reference: the results still agree.
#[test]
fn fallbacks_agree() {
    let cases = [
        // A repeated key: JSON keeps the last value.
        span(r#""name":"a","name":"""#),
        span(r#""name":"a","name":"b""#),
        span(r#""status":{"code":2},"status":{"message":"m"}"#),
        span(r#""attributes":[{"key":"a"}],"attributes":[{"key":"b"}]"#),
        span(r#""attributes":[{"key":"a","key":"b","value":{"intValue":1}}]"#),
        // Two members of one oneof: the last wins.
        span(r#""attributes":[{"key":"a","value":{"stringValue":"x","intValue":"0"}}]"#),
        r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"gauge":{"dataPoints":[{}]},"sum":{}}]}]}]}"#.into(),
    ];
    for input in &cases {
        let signal = if input.contains("resourceMetrics") {
            Signal::Metrics
        } else {
            Signal::Traces
        };
        assert!(
            json::transcode_fast(signal, input.as_bytes()).is_none(),
            "{input}"
        );
        assert!(agree(signal, input.as_bytes()).unwrap(), "{input}");
    }
}

/// Values prost writes or omits in particular ways.
#[test]
fn defaults_and_presence() {
    let cases = [
        // Defaults of plain fields are omitted, including -0.0 and an explicit "0".
        span(r#""name":"","kind":0,"flags":"0","startTimeUnixNano":"0","traceId":"""#),
        // Oneof members are written even when zero; so are empty messages.
        span(r#""attributes":[{"key":"","value":{"stringValue":""}},{"value":{"intValue":0}},{"value":{"doubleValue":-0.0}},{"value":{"boolValue":false}},{"value":{"bytesValue":""}},{"value":{}},{}],"status":{}"#),
        // Negative int32 values are 10-byte varints.
        span(r#""kind":-1,"attributes":[{"key":"k","value":{"stringValueStrindex":-2147483648},"keyStrindex":-5}]"#),
        // A span longer than 127 bytes and a long string: multi-byte lengths.
        span(&format!(r#""name":"{}","attributes":[{{"key":"{}"}}]"#, "n".repeat(300), "k".repeat(20000))),
        // Optional doubles are written when zero, plain ones not; packed lists.
        r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"histogram":{"dataPoints":[{"sum":0,"min":-0.0,"max":"NaN","bucketCounts":[],"explicitBounds":[0,"-Infinity",1e300]}]}},{"exponentialHistogram":{"dataPoints":[{"scale":-3,"zeroThreshold":-0.0,"positive":{"offset":-7,"bucketCounts":["1",2,0]},"negative":{}}]}},{"summary":{"dataPoints":[{"sum":-0.0,"quantileValues":[{},{"quantile":0.5,"value":1}]}]}}]}]}]}"#.into(),
        // Bytes: standard and URL-safe base64, padded or not, escaped slashes.
        r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"bytesValue":"+/8="},"attributes":[{"key":"a","value":{"bytesValue":"-_8"}},{"key":"b","value":{"bytesValue":"\/w"}}]}]}]}]}"#.into(),
        r#"{"resourceProfiles":[{"scopeProfiles":[{"profiles":[{"profileId":"00112233445566778899AABBCCDDEEFF","originalPayload":"","attributeIndices":[-1,0,1]}]}]}],"dictionary":{"stringTable":["",""],"stackTable":[{}]}}"#.into(),
    ];
    for input in &cases {
        let signal = if input.contains("resourceMetrics") {
            Signal::Metrics
        } else if input.contains("resourceLogs") {
            Signal::Logs
        } else if input.contains("resourceProfiles") {
            Signal::Profiles
        } else {
            Signal::Traces
        };
        let decoded = agree_fast(signal, input.as_bytes()).unwrap();
        // These keys come in field-number order, so the bytes are prost's exactly.
        if signal == Signal::Traces {
            assert_eq!(
                json::transcode(signal, input.as_bytes()).unwrap(),
                decoded.encode_proto(),
                "{input}"
            );
        }
    }
}

/// AnyValue nesting: accepted at the limit, refused past it with the decoder's message.
#[test]
fn nesting_limit() {
    let nested = |depth: usize| {
        let open = r#"{"kvlistValue":{"values":[{"key":"k","value":"#.repeat(depth - 1);
        let close = "}]}}".repeat(depth - 1);
        format!(
            r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"body":{open}{{"intValue":"1"}}{close}}}]}}]}}]}}"#
        )
    };
    assert!(json::transcode_fast(Signal::Logs, nested(32).as_bytes()).is_some());
    assert!(agree(Signal::Logs, nested(32).as_bytes()).unwrap());
    assert!(!agree(Signal::Logs, nested(33).as_bytes()).unwrap());
    assert!(!agree(Signal::Logs, nested(10_000).as_bytes()).unwrap());
    let deep_unknown = format!(r#"{{"x":{}{}}}"#, "[".repeat(100_000), "]".repeat(100_000));
    assert!(!agree(Signal::Logs, deep_unknown.as_bytes()).unwrap());
}

/// Integers at the edges of the reader's plain-digit fast path agree with the general path.
#[test]
fn integer_forms() {
    let values = [
        "0",
        "-0",
        "7",
        "01",
        "1e3",
        "1E+3",
        "12.0",
        "12.5",
        "1-",
        "1.",
        "-",
        "--1",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "-9223372036854775809",
        "18446744073709551615",
        "18446744073709551616",
        "1844674407370955161500",
        "99999999999999999999",
        "4294967295",
        "4294967296",
        "-1",
        "1844674407370955161",
        "0000000000000000001",
    ];
    for v in values {
        for key in ["startTimeUnixNano", "droppedAttributesCount", "kind"] {
            for form in [v.to_string(), format!("\"{v}\""), format!("\" {v}\"")] {
                let input = span(&format!(r#""{key}":{form}"#));
                agree(Signal::Traces, input.as_bytes()).unwrap();
            }
        }
        let input = span(&format!(
            r#""attributes":[{{"key":"k","value":{{"intValue":{v}}}}}]"#
        ));
        agree(Signal::Traces, input.as_bytes()).unwrap();
    }
}

/// The deepest AnyValues JSON accepts (32 levels of kvlists, three messages each) in the
/// deepest places each signal has for them.
///
/// Known gap, older than the transcoder: in a metrics exemplar that is 101 nested messages,
/// past prost's limit of 100, so `json::decode` accepts what no protobuf decoder can read
/// back. The transcoder agrees with `decode` (byte for byte here), and the receiver's
/// `Payload::from_proto` refuses it with a 400, where it used to accept it and forward bytes
/// the next collector would refuse.
#[test]
fn deepest_accepted_nesting() {
    let kvlist = |depth: usize| {
        let open = r#"{"kvlistValue":{"values":[{"key":"k","value":"#.repeat(depth - 1);
        let close = "}]}}".repeat(depth - 1);
        format!(r#"[{{"key":"a","value":{open}{{"intValue":"1"}}{close}}}]"#)
    };
    let attrs = kvlist(32);
    let cases = [
        (
            Signal::Traces,
            format!(
                r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"events":[{{"attributes":{attrs}}}],"links":[{{"attributes":{attrs}}}]}}]}}]}}]}}"#
            ),
        ),
        (
            Signal::Metrics,
            format!(
                r#"{{"resourceMetrics":[{{"scopeMetrics":[{{"metrics":[{{"sum":{{"dataPoints":[{{"exemplars":[{{"filteredAttributes":{attrs}}}]}}]}}}}]}}]}}]}}"#
            ),
        ),
        (
            Signal::Logs,
            format!(
                r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{{"attributes":{attrs}}}]}}]}}]}}"#
            ),
        ),
        (
            Signal::Profiles,
            format!(
                r#"{{"dictionary":{{"attributeTable":[{{"value":{{"kvlistValue":{{"values":{attrs}}}}}}}]}}}}"#
            ),
        ),
    ];
    for (signal, input) in &cases {
        if *signal == Signal::Metrics {
            let decoded = json::decode(*signal, input.as_bytes()).unwrap();
            let transcoded = json::transcode(*signal, input.as_bytes()).unwrap();
            assert_eq!(transcoded, decoded.encode_proto());
            let refused = wire::validate(*signal, &transcoded).unwrap_err();
            assert!(refused.message.contains("deeper than 100"), "{refused}");
            continue;
        }
        agree(*signal, input.as_bytes()).unwrap_or_else(|e| panic!("{signal:?}: {e}"));
    }
}
