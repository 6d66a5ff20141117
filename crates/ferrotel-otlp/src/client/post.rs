//! A plain HTTP POST client with the OTLP clients' TLS, headers, auth, timeout and failure
//! classification, for exporters that speak other protocols over HTTP (Prometheus remote
//! write). The caller builds the body and its headers.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::{ClientAuth, ClientTls, SendError, error_chain, header_map};
use crate::TransportError;

/// Error bodies are only quoted in messages; this bounds a misbehaving server.
const MAX_RESPONSE: usize = 64 * 1024;

/// Settings of a [`PostClient`].
#[derive(Clone, Default)]
pub struct PostSettings {
    /// The full URL requests go to (`http://` or `https://`).
    pub url: String,
    /// Configured headers (before the per-request ones, which win).
    pub headers: Vec<(String, String)>,
    /// Limit for one request, connecting included.
    pub timeout: Duration,
    pub tls: ClientTls,
    pub auth: Option<Arc<dyn ClientAuth>>,
}

/// Posts bodies to one URL over a pooled connection. Failures are classified as the remote
/// write spec and the Go exporters do: 5xx and 429 (and transport errors) are retryable, any
/// other status permanent.
pub struct PostClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    url: Uri,
    headers: HeaderMap,
    auth: Option<Arc<dyn ClientAuth>>,
    timeout: Duration,
}

impl PostClient {
    /// Builds the client; nothing connects until the first request.
    pub fn new(s: PostSettings) -> Result<Self, TransportError> {
        let url: Uri = s
            .url
            .trim()
            .parse()
            .map_err(|e| TransportError::Config(format!("URL {:?}: {e}", s.url)))?;
        let use_tls = match url.scheme_str() {
            Some("https") if url.authority().is_some() => true,
            Some("http") if url.authority().is_some() => false,
            _ => {
                return Err(TransportError::Config(format!(
                    "URL {:?} must be http:// or https:// with a host",
                    s.url
                )));
            }
        };
        let timeout = if s.timeout.is_zero() {
            Duration::from_secs(30)
        } else {
            s.timeout
        };
        let connector = super::connector(&s.tls, use_tls, timeout, false)?;
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Ok(PostClient {
            client,
            url,
            headers: header_map(&s.headers)?,
            auth: s.auth,
            timeout,
        })
    }

    /// Posts `body` with `headers` added to the configured ones.
    pub async fn post(
        &self,
        body: Bytes,
        headers: &[(header::HeaderName, HeaderValue)],
    ) -> Result<(), SendError> {
        let mut req = Request::post(self.url.clone())
            .body(Full::new(body))
            .map_err(|e| SendError::permanent("encode", e.to_string()))?;
        let h = req.headers_mut();
        *h = self.headers.clone();
        for (k, v) in headers {
            h.insert(k.clone(), v.clone());
        }
        h.entry(header::USER_AGENT)
            .or_insert(HeaderValue::from_static(concat!(
                "ferrotel/",
                env!("CARGO_PKG_VERSION")
            )));
        if let Some(a) = &self.auth {
            a.apply(h).map_err(|m| SendError::permanent("auth", m))?;
        }
        let call = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| SendError::retryable("connection", error_chain(&e)))?;
            let (parts, body) = resp.into_parts();
            // An unreadable error body still leaves the status to classify.
            let body = Limited::new(body, MAX_RESPONSE)
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            Ok::<_, SendError>((parts, body))
        };
        let (parts, body) = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| {
                SendError::retryable("timeout", format!("no response within {:?}", self.timeout))
            })??;
        if parts.status.is_success() {
            return Ok(());
        }
        let retryable =
            parts.status.is_server_error() || parts.status == StatusCode::TOO_MANY_REQUESTS;
        let retry_after = parts
            .headers
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(super::http::parse_retry_after)
            .filter(|_| retryable);
        let text = String::from_utf8_lossy(&body);
        let text = text.trim();
        let message = if text.is_empty() {
            parts
                .status
                .canonical_reason()
                .unwrap_or("error")
                .to_owned()
        } else {
            text.chars().take(512).collect()
        };
        Err(SendError {
            retryable,
            retry_after,
            message,
            status: format!("HTTP {}", parts.status.as_u16()),
        })
    }
}
