//! The OTLP transport layer: gRPC and HTTP servers and clients, free of the collector runtime.
//!
//! [`server`] accepts OTLP export requests over gRPC ([`server::start_grpc`]) and HTTP
//! ([`server::start_http`]), with TLS/mTLS, request decompression under a size limit, auth and
//! CORS, and hands each request to an [`server::ExportHandler`] as a [`ferrotel_pdata::Payload`]
//! that was validated but not decoded (protobuf) — the gRPC path never runs prost on the request.
//! Errors map to gRPC status and HTTP status codes exactly as the OTLP specification says.
//! [`client`] sends payloads ([`client::OtlpClient`]) over gRPC (hyper's HTTP/2 client with our own
//! framing, so encoded payloads go out as they are), HTTP/protobuf or HTTP/JSON, and
//! classifies failures as retryable or permanent the way the OTLP spec and the Go exporters do;
//! retrying is left to the caller's queue.
//!
//! The collector's `otlp` receiver and `otlp_grpc`/`otlp_http` exporters are thin glue over this.

mod body;
pub mod client;
pub mod compression;
mod grpc_status;
pub mod server;
mod tls;

/// Entry points for the fuzz targets (`fuzz/`), not an API.
#[doc(hidden)]
pub mod fuzzing {
    use crate::compression::{DecompressError, Encoding, compress, decompress};

    /// Every content coding the receivers accept.
    pub const CODINGS: &[&str] = &[
        "gzip",
        "zstd",
        "deflate",
        "snappy",
        "x-snappy-framed",
        "lz4",
    ];

    /// Decodes `data` as `coding` under `limit`: never panics, never returns more than `limit`
    /// bytes; and `plain` compressed by our encoders comes back unchanged.
    pub fn check(coding: &str, data: &[u8], plain: &[u8], limit: usize) {
        let Some(enc) = Encoding::parse(coding) else {
            return;
        };
        match decompress(enc, bytes::Bytes::copy_from_slice(data), limit) {
            Ok(out) => assert!(out.len() <= limit, "{coding}: {} > {limit}", out.len()),
            Err(DecompressError::TooLarge | DecompressError::Corrupt(_)) => {}
        }
        let c = compress(enc, plain).expect("compressing");
        let back = decompress(enc, c.into(), plain.len()).expect("our own output decodes");
        assert_eq!(&back[..], plain, "{coding} round trip");
    }
}

use std::net::SocketAddr;

/// The answer to a successful export. `Default` is full success.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartialSuccess {
    /// Items the server rejected (0 = all accepted).
    pub rejected: i64,
    /// Why items were rejected, or a warning; empty for none.
    pub message: String,
}

/// Setting up a server or client failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The listen address could not be bound (in use, no permission, ...).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// TLS material could not be loaded or is unusable.
    #[error("TLS: {0}")]
    Tls(String),
    /// A setting is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
}
