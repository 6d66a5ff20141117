//! OTLP/gRPC over a tonic channel with a raw-bytes codec: the payload's encoded bytes are
//! framed as they are, never decoded and re-encoded.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use ferrotel_pdata::Payload;
use http::uri::PathAndQuery;
use tonic::Code;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::MetadataMap;
use tonic::transport::{Channel, Endpoint};

use super::{ClientAuth, ClientSettings, Compression, PartialSuccess, SendError, header_map};
use crate::TransportError;
use crate::grpc_status::{decode_response_proto, retry_delay_from_status};

pub(super) struct GrpcClient {
    grpc: tonic::client::Grpc<Channel>,
    headers: http::HeaderMap,
    auth: Option<Arc<dyn ClientAuth>>,
    timeout: Duration,
}

/// `(uri, tls)` for a gRPC endpoint as the Go exporter accepts it.
fn endpoint_uri(endpoint: &str, insecure: bool) -> Result<(String, bool), TransportError> {
    let ep = endpoint.trim();
    if ep.is_empty() {
        return Err(TransportError::Config("endpoint is empty".into()));
    }
    let (uri, tls) = if let Some(rest) = ep.strip_prefix("http://") {
        (format!("http://{rest}"), false)
    } else if let Some(rest) = ep.strip_prefix("https://") {
        (format!("https://{rest}"), true)
    } else if insecure {
        (format!("http://{ep}"), false)
    } else {
        (format!("https://{ep}"), true)
    };
    let parsed: http::Uri = uri
        .parse()
        .map_err(|e| TransportError::Config(format!("endpoint {endpoint:?}: {e}")))?;
    let Some(authority) = parsed.authority() else {
        return Err(TransportError::Config(format!(
            "endpoint {endpoint:?} has no host"
        )));
    };
    let scheme = if tls { "https" } else { "http" };
    Ok((format!("{scheme}://{authority}"), tls))
}

impl GrpcClient {
    pub(super) fn new(s: &ClientSettings) -> Result<Self, TransportError> {
        let encoding = match s.compression {
            Compression::None => None,
            Compression::Gzip => Some(CompressionEncoding::Gzip),
            Compression::Zstd => Some(CompressionEncoding::Zstd),
            other => {
                return Err(TransportError::Config(format!(
                    "compression {:?} is not supported over gRPC (use gzip, zstd or none)",
                    other.as_str()
                )));
            }
        };
        let (uri, use_tls) = endpoint_uri(&s.endpoint, s.tls.insecure)?;
        let connector = super::connector(&s.tls, use_tls, s.timeout, true)?;
        let endpoint = Endpoint::from_shared(uri)
            .map_err(|e| TransportError::Config(format!("endpoint {:?}: {e}", s.endpoint)))?
            .connect_timeout(s.timeout)
            .tcp_nodelay(true)
            // Responses are a few bytes: no adaptive window (its PINGs cost more than they
            // save); what we send is governed by the server's window.
            .http2_adaptive_window(false)
            .user_agent(concat!("ferrotel-otlp/", env!("CARGO_PKG_VERSION")))
            .map_err(|e| TransportError::Config(e.to_string()))?;
        let channel = endpoint.connect_with_connector_lazy(connector);
        let mut grpc = tonic::client::Grpc::new(channel)
            // Responses are tiny; the limit only guards against a hostile server.
            .max_decoding_message_size(4 * 1024 * 1024)
            .max_encoding_message_size(usize::MAX);
        if let Some(enc) = encoding {
            grpc = grpc.send_compressed(enc);
        }
        grpc = grpc
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd);
        Ok(GrpcClient {
            grpc,
            headers: header_map(&s.headers)?,
            auth: s.auth.clone(),
            timeout: s.timeout,
        })
    }

    pub(super) async fn export(&self, payload: &Payload) -> Result<PartialSuccess, SendError> {
        let mut headers = self.headers.clone();
        if let Some(a) = &self.auth {
            a.apply(&mut headers)
                .map_err(|m| SendError::permanent("auth", m))?;
        }
        let mut req = tonic::Request::new(payload.to_proto());
        *req.metadata_mut() = MetadataMap::from_headers(headers);
        req.set_timeout(self.timeout);
        let path = PathAndQuery::from_static(payload.signal().grpc_path());
        let mut grpc = self.grpc.clone();
        let call = async move {
            grpc.ready()
                .await
                .map_err(|e| tonic::Status::unavailable(format!("connection: {e}")))?;
            grpc.unary(req, path, RawCodec).await
        };
        let resp = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| {
                SendError::retryable(
                    "gRPC DeadlineExceeded",
                    format!("no response within {:?}", self.timeout),
                )
            })?;
        match resp {
            Ok(r) => {
                let (rejected, message) = decode_response_proto(r.get_ref()).unwrap_or_default();
                Ok(PartialSuccess { rejected, message })
            }
            Err(status) => Err(classify(&status)),
        }
    }
}

/// Retryable per the OTLP spec: Cancelled, DeadlineExceeded, Aborted, OutOfRange, Unavailable,
/// DataLoss; ResourceExhausted only when the server sent RetryInfo.
///
/// A status that carries a source error was made here from a transport failure (connection
/// reset or closed, GOAWAY, stream reset), not sent by the server: tonic labels most of those
/// `Unknown: transport error` or `Internal: h2 protocol error`. grpc-go reports them as
/// `Unavailable`, and so do we: the server may never have seen the request, so dropping it
/// would lose data (a retry may duplicate it instead, which at-least-once delivery allows).
fn classify(status: &tonic::Status) -> SendError {
    let retry_after = retry_delay_from_status(status.details());
    if std::error::Error::source(status).is_some()
        && matches!(status.code(), Code::Unknown | Code::Internal)
    {
        return SendError {
            retryable: true,
            retry_after: None,
            message: format!("{}: {}", status.message(), source_chain(status)),
            status: "gRPC Unavailable".to_owned(),
        };
    }
    let retryable = match status.code() {
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unavailable
        | Code::DataLoss => true,
        Code::ResourceExhausted => retry_after.is_some(),
        _ => false,
    };
    SendError {
        retryable,
        retry_after: if retryable { retry_after } else { None },
        message: status.message().to_owned(),
        status: format!("gRPC {:?}", status.code()),
    }
}

/// `a: b: c` from an error's sources, for a message that says what broke.
fn source_chain(status: &tonic::Status) -> String {
    let mut parts = Vec::new();
    let mut next = std::error::Error::source(status);
    while let Some(e) = next {
        parts.push(e.to_string());
        next = e.source();
    }
    parts.join(": ")
}

/// A codec whose messages are already-encoded protobuf bytes.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }
    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Self::Error> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(
            endpoint_uri("localhost:4317", false).unwrap(),
            ("https://localhost:4317".into(), true)
        );
        assert_eq!(
            endpoint_uri("localhost:4317", true).unwrap(),
            ("http://localhost:4317".into(), false)
        );
        assert_eq!(
            endpoint_uri("http://h:1", false).unwrap(),
            ("http://h:1".into(), false)
        );
        assert_eq!(
            endpoint_uri("https://h:1/", true).unwrap(),
            ("https://h:1".into(), true)
        );
        assert!(endpoint_uri("", true).is_err());
    }

    #[test]
    fn classification() {
        let s = tonic::Status::new(Code::ResourceExhausted, "x");
        assert!(!classify(&s).retryable);
        let details = crate::grpc_status::encode_status(8, "x", Some(Duration::from_secs(2)));
        let s = tonic::Status::with_details(Code::ResourceExhausted, "x", details.into());
        let e = classify(&s);
        assert!(e.retryable);
        assert_eq!(e.retry_after, Some(Duration::from_secs(2)));
        assert!(classify(&tonic::Status::new(Code::DataLoss, "")).retryable);
        assert!(!classify(&tonic::Status::new(Code::InvalidArgument, "")).retryable);
        assert_eq!(
            classify(&tonic::Status::unavailable("")).status,
            "gRPC Unavailable"
        );
        // Sent by a server, Unknown and Internal are permanent...
        assert!(!classify(&tonic::Status::unknown("x")).retryable);
        assert!(!classify(&tonic::Status::internal("x")).retryable);
        // ...made here from a broken connection, they are not.
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        let s = tonic::Status::from_error(Box::new(reset));
        assert_eq!(s.code(), Code::Unknown);
        let e = classify(&s);
        assert!(e.retryable, "{e:?}");
        assert_eq!(e.status, "gRPC Unavailable");
        assert!(e.message.contains("reset by peer"), "{}", e.message);
    }
}
