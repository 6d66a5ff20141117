//! The few small protobuf messages the transport writes and reads itself: `google.rpc.Status`,
//! `google.rpc.RetryInfo`, and the export response (identical in shape for every signal), plus
//! their OTLP/JSON forms.

use std::time::Duration;

use bytes::Bytes;
use ferrotel_pdata::Signal;
use prost::Message;

pub(crate) const RETRY_INFO_TYPE_URL: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// `google.rpc.Status`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<ProtoAny>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct ProtoAny {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    pub retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct ProtoDuration {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// `ExportXServiceResponse`: every signal's response is `{ partial_success = 1 { rejected = 1,
/// error_message = 2 } }`, so one message type serves all four.
#[derive(Clone, PartialEq, Message)]
pub(crate) struct ExportResponse {
    #[prost(message, optional, tag = "1")]
    pub partial_success: Option<PartialSuccessMsg>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct PartialSuccessMsg {
    #[prost(int64, tag = "1")]
    pub rejected: i64,
    #[prost(string, tag = "2")]
    pub error_message: String,
}

/// gRPC status codes used here.
pub(crate) mod code {
    pub const CANCELLED: i32 = 1;
    pub const UNKNOWN: i32 = 2;
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const DEADLINE_EXCEEDED: i32 = 4;
    pub const PERMISSION_DENIED: i32 = 7;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const UNIMPLEMENTED: i32 = 12;
    pub const INTERNAL: i32 = 13;
    pub const UNAVAILABLE: i32 = 14;
    pub const UNAUTHENTICATED: i32 = 16;
}

/// Encodes a `google.rpc.Status`, with a `RetryInfo` detail when `retry_after` is set.
pub(crate) fn encode_status(code: i32, message: &str, retry_after: Option<Duration>) -> Vec<u8> {
    let details = retry_after
        .map(|d| {
            let info = RetryInfo {
                retry_delay: Some(ProtoDuration {
                    seconds: d.as_secs().min(i64::MAX as u64) as i64,
                    nanos: d.subsec_nanos() as i32,
                }),
            };
            vec![ProtoAny {
                type_url: RETRY_INFO_TYPE_URL.to_owned(),
                value: info.encode_to_vec(),
            }]
        })
        .unwrap_or_default();
    RpcStatus {
        code,
        message: message.to_owned(),
        details,
    }
    .encode_to_vec()
}

/// The `RetryInfo.retry_delay` inside an encoded `google.rpc.Status`, if any.
pub(crate) fn retry_delay_from_status(status: &[u8]) -> Option<Duration> {
    let status = RpcStatus::decode(status).ok()?;
    status
        .details
        .iter()
        .filter(|d| {
            d.type_url.ends_with("/google.rpc.RetryInfo") || d.type_url == "google.rpc.RetryInfo"
        })
        .find_map(|d| RetryInfo::decode(d.value.as_slice()).ok()?.retry_delay)
        .filter(|d| d.seconds >= 0 && d.nanos >= 0)
        .map(|d| Duration::new(d.seconds as u64, d.nanos as u32))
}

/// The OTLP/JSON field name of the rejected count in `signal`'s partial success.
fn rejected_field(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "rejectedSpans",
        Signal::Metrics => "rejectedDataPoints",
        Signal::Logs => "rejectedLogRecords",
        Signal::Profiles => "rejectedProfiles",
    }
}

/// Encodes an export response as protobuf; partial_success is present only when it says
/// something (the spec treats an empty one as absent).
pub(crate) fn encode_response_proto(rejected: i64, message: &str) -> Bytes {
    let partial_success = (rejected != 0 || !message.is_empty()).then(|| PartialSuccessMsg {
        rejected,
        error_message: message.to_owned(),
    });
    ExportResponse { partial_success }.encode_to_vec().into()
}

/// Encodes an export response as OTLP/JSON (int64 as a decimal string, per the protobuf JSON
/// mapping).
pub(crate) fn encode_response_json(signal: Signal, rejected: i64, message: &str) -> Bytes {
    if rejected == 0 && message.is_empty() {
        return Bytes::from_static(b"{}");
    }
    let mut partial = serde_json::Map::new();
    if rejected != 0 {
        partial.insert(rejected_field(signal).into(), rejected.to_string().into());
    }
    if !message.is_empty() {
        partial.insert("errorMessage".into(), message.into());
    }
    let mut root = serde_json::Map::new();
    root.insert("partialSuccess".into(), partial.into());
    serde_json::to_vec(&serde_json::Value::Object(root))
        .unwrap_or_default()
        .into()
}

/// Decodes a protobuf export response into (rejected, message).
pub(crate) fn decode_response_proto(buf: &[u8]) -> Result<(i64, String), String> {
    let r = ExportResponse::decode(buf).map_err(|e| e.to_string())?;
    Ok(r.partial_success
        .map(|p| (p.rejected, p.error_message))
        .unwrap_or_default())
}

/// Decodes an OTLP/JSON export response into (rejected, message). Accepts int64 as a string or
/// a number, as OTLP/JSON receivers must.
pub(crate) fn decode_response_json(signal: Signal, buf: &[u8]) -> Result<(i64, String), String> {
    if buf.iter().all(u8::is_ascii_whitespace) {
        return Ok((0, String::new()));
    }
    let v: serde_json::Value = serde_json::from_slice(buf).map_err(|e| e.to_string())?;
    let Some(p) = v.get("partialSuccess").or_else(|| v.get("partial_success")) else {
        return Ok((0, String::new()));
    };
    let rejected = match p.get(rejected_field(signal)) {
        None | Some(serde_json::Value::Null) => 0,
        Some(serde_json::Value::String(s)) => s.parse().map_err(|_| format!("bad count {s:?}"))?,
        Some(n) => n.as_i64().ok_or_else(|| format!("bad count {n}"))?,
    };
    let message = p
        .get("errorMessage")
        .and_then(|m| m.as_str())
        .unwrap_or_default()
        .to_owned();
    Ok((rejected, message))
}

/// `google.rpc.Status` as OTLP/JSON (the HTTP error body for JSON requests).
pub(crate) fn encode_status_json(code: i32, message: &str) -> Bytes {
    serde_json::to_vec(&serde_json::json!({ "code": code, "message": message }))
        .unwrap_or_default()
        .into()
}

/// The message of an HTTP error body: a `google.rpc.Status` in protobuf or JSON, else the text.
pub(crate) fn status_message_from_body(is_json: bool, body: &[u8]) -> String {
    if body.is_empty() {
        return String::new();
    }
    if is_json {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body)
            && let Some(m) = v.get("message").and_then(|m| m.as_str())
        {
            return m.to_owned();
        }
    } else if let Ok(s) = RpcStatus::decode(body)
        && (!s.message.is_empty() || s.code != 0)
    {
        return s.message;
    }
    String::from_utf8_lossy(&body[..body.len().min(1024)])
        .trim()
        .to_owned()
}

/// Percent-encodes a `grpc-message` value as the gRPC HTTP/2 protocol requires.
pub(crate) fn percent_encode(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    for &b in msg.as_bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes a percent-encoded `grpc-message` (invalid escapes are kept as they are, as gRPC
/// implementations do; the result is read as UTF-8, lossily).
pub(crate) fn percent_decode(v: &[u8]) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        if v[i] == b'%'
            && i + 2 < v.len()
            && let (Some(h), Some(l)) = (hex(v[i + 1]), hex(v[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(v[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_info_round_trip() {
        let s = encode_status(code::UNAVAILABLE, "busy", Some(Duration::from_millis(1500)));
        assert_eq!(
            retry_delay_from_status(&s),
            Some(Duration::from_millis(1500))
        );
        let s = encode_status(code::UNAVAILABLE, "busy", None);
        assert_eq!(retry_delay_from_status(&s), None);
    }

    #[test]
    fn responses() {
        assert!(encode_response_proto(0, "").is_empty());
        let b = encode_response_proto(3, "bad");
        assert_eq!(decode_response_proto(&b).unwrap(), (3, "bad".into()));
        let j = encode_response_json(Signal::Logs, 3, "bad");
        assert_eq!(
            decode_response_json(Signal::Logs, &j).unwrap(),
            (3, "bad".into())
        );
        assert_eq!(
            decode_response_json(Signal::Traces, br#"{"partialSuccess":{"rejectedSpans":7}}"#)
                .unwrap(),
            (7, String::new())
        );
        assert_eq!(percent_encode("a%b\né"), "a%25b%0A%C3%A9");
        assert_eq!(percent_decode(b"a%25b%0A%C3%A9"), "a%b\né");
        assert_eq!(percent_decode(b"100%"), "100%");
        assert_eq!(percent_decode(b"%zz%4"), "%zz%4");
    }
}
