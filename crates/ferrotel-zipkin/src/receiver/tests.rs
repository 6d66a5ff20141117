use proptest::prelude::*;

use super::*;
use crate::to_otlp::Options;

const GOOD: &str = r#"[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","name":"a"}]"#;

/// Bad bodies: each refused with a message naming what was wrong.
#[test]
fn bad_input_is_named() {
    let cases: &[(Format, &[u8], &str)] = &[
        (Format::V2Json, b"", "invalid Zipkin JSON: EOF"),
        (Format::V2Json, b"{", "invalid Zipkin JSON"),
        (Format::V2Json, b"[{\"id\":\"352bff9a74ca9ad2\"}]", "missing field `traceId`"),
        (Format::V2Json, br#"[{"traceId":"xyz","id":"352bff9a74ca9ad2"}]"#, "span[0]: traceId \"xyz\" is not hexadecimal"),
        (Format::V2Json, br#"[{"traceId":"5af7183fb1d4cf","id":"352bff9a74ca9ad2"}]"#, "must be 16 or 32 hex characters"),
        (Format::V2Json, br#"[{"traceId":"5af7183fb1d4cf5f","id":"352bff"}]"#, "span[0]: id \"352bff\" must be 16 hex characters"),
        (Format::V2Json, br#"[{"traceId":"0000000000000000","id":"352bff9a74ca9ad2"}]"#, "traceId is all zeros"),
        (Format::V2Json, br#"[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","kind":"LOCAL"}]"#, "kind \"LOCAL\""),
        (Format::V2Json, br#"[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","timestamp":-1}]"#, "invalid Zipkin JSON"),
        (Format::V2Json, br#"[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","localEndpoint":{"ipv4":"300.1.1.1"}}]"#, "localEndpoint.ipv4 \"300.1.1.1\" is not an IPv4 address"),
        (Format::V2Json, br#"[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","remoteEndpoint":{"port":70000}}]"#, "remoteEndpoint.port 70000 is not a port"),
        (Format::V2Proto, b"\x0a\x05\x0a\x03abc", "span[0]: trace_id has 3 bytes, not 8 or 16"),
        (Format::V2Proto, b"\x0a\xff\xff\xff\xff\x0f", "invalid Zipkin protobuf"),
        (Format::V2Proto, b"\x0a\x16\x0a\x08\x01\x02\x03\x04\x05\x06\x07\x08\x1a\x08\x01\x02\x03\x04\x05\x06\x07\x08\x20\x09", "kind 9 is not a Zipkin span kind"),
        (Format::V1Json, br#"[{"traceId":"5af7183fb1d4cf5f","id":"1"}]"#, "span[0]: id \"1\" must be 16 hex characters"),
        (Format::V1Json, br#"[{"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","annotations":[{"timestamp":1,"value":"cs","endpoint":{"ipv6":"nope"}}]}]"#, "annotations[0].endpoint.ipv6 \"nope\""),
        (Format::V1Thrift, b"\x0c\x7f\xff\xff\xff", "invalid Zipkin Thrift: declared list size 2147483647"),
        (Format::V1Thrift, b"\x0c\x00\x00\x00\x01\x0b\x00\x03\x00\x00\x00\x09ab", "span[0]: declared length 9 is past the end"),
    ];
    for (format, body, want) in cases {
        let err = decode(*format, body, &Options::default()).expect_err(want);
        assert!(
            err.contains(want),
            "{format:?} {:?}: {err:?} lacks {want:?}",
            String::from_utf8_lossy(body)
        );
    }
    assert!(decode(Format::V2Json, GOOD.as_bytes(), &Options::default()).is_ok());
}

#[test]
fn format_from_path_and_content_type() {
    assert_eq!(Format::of("/api/v2/spans", None), Ok(Format::V2Json));
    assert_eq!(
        Format::of("/api/v2/spans", Some("application/json; charset=utf-8")),
        Ok(Format::V2Json)
    );
    assert_eq!(
        Format::of("/api/v2/spans", Some("application/x-protobuf")),
        Ok(Format::V2Proto)
    );
    assert_eq!(
        Format::of("/api/v1/spans", Some("application/json")),
        Ok(Format::V1Json)
    );
    assert_eq!(
        Format::of("/api/v1/spans", Some("application/x-thrift")),
        Ok(Format::V1Thrift)
    );
    assert!(
        Format::of("/api/v2/spans", Some("application/x-thrift"))
            .unwrap_err()
            .contains("Zipkin v2 has no Thrift encoding")
    );
    assert!(
        Format::of("/v1/traces", None)
            .unwrap_err()
            .contains("served on")
    );
}

#[test]
fn config_testdata() {
    ferrotel_runtime::config::testdata::check::<ZipkinReceiverConfig>(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/receiver/testdata"),
    );
}

proptest! {
    /// Arbitrary bytes into every decoder (and through the translation both ways) never panic.
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        crate::fuzz_decode(&data);
    }

    /// Mutated valid JSON (the shape decoders see most) never panics either.
    #[test]
    fn mutated_json_never_panics(at in 0usize..GOOD.len(), byte in any::<u8>()) {
        let mut b = GOOD.as_bytes().to_vec();
        b[at] = byte;
        crate::fuzz_decode(&b);
    }
}
