//! OTLP/HTTP (protobuf or JSON) over a pooled hyper client.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use ferrotel_pdata::{Payload, Signal};
use http::header::{self, HeaderValue};
use http::{HeaderMap, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::{
    ClientAuth, ClientSettings, PartialSuccess, Protocol, SendError, error_chain, header_map,
};
use crate::TransportError;
use crate::compression::{Encoding, compress_into_level};
use crate::grpc_status::{decode_response_json, decode_response_proto, status_message_from_body};

/// Response bodies are small; this only bounds a misbehaving server.
const MAX_RESPONSE: usize = 1024 * 1024;

pub(super) struct HttpClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    urls: [Uri; 4],
    json: bool,
    encoding: Encoding,
    /// `compression_params::level`; `None`: the default.
    level: Option<i32>,
    headers: HeaderMap,
    auth: Option<Arc<dyn ClientAuth>>,
    timeout: Duration,
}

fn signal_index(s: Signal) -> usize {
    match s {
        Signal::Traces => 0,
        Signal::Metrics => 1,
        Signal::Logs => 2,
        Signal::Profiles => 3,
    }
}

fn parse_url(u: &str) -> Result<Uri, TransportError> {
    let uri: Uri = u
        .parse()
        .map_err(|e| TransportError::Config(format!("URL {u:?}: {e}")))?;
    match uri.scheme_str() {
        Some("http") | Some("https") if uri.authority().is_some() => Ok(uri),
        _ => Err(TransportError::Config(format!(
            "URL {u:?} must be http:// or https:// with a host"
        ))),
    }
}

impl HttpClient {
    pub(super) fn new(s: &ClientSettings) -> Result<Self, TransportError> {
        let base = s.endpoint.trim().trim_end_matches('/');
        let mut urls = Vec::with_capacity(4);
        for sig in ferrotel_pdata::Signal::ALL {
            let url = match s.signal_endpoints.get(&sig) {
                Some(u) => parse_url(u.trim())?,
                None if base.is_empty() => {
                    // Unusable, but only an error if this signal is ever sent.
                    Uri::from_static("http://endpoint-not-configured.invalid/")
                }
                None => parse_url(&format!("{base}{}", sig.default_http_path()))?,
            };
            urls.push(url);
        }
        let urls: [Uri; 4] = urls
            .try_into()
            .map_err(|_| TransportError::Config("signal URLs".into()))?;
        let use_tls = urls.iter().any(|u| u.scheme_str() == Some("https"));
        let connector = super::connector(&s.tls, use_tls, s.timeout, false)?;
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        Ok(HttpClient {
            client,
            urls,
            json: s.protocol == Protocol::HttpJson,
            encoding: s.compression.encoding(),
            level: s.compression_level,
            headers: header_map(&s.headers)?,
            auth: s.auth.clone(),
            timeout: s.timeout,
        })
    }

    pub(super) async fn export(&self, payload: &Payload) -> Result<PartialSuccess, SendError> {
        let signal = payload.signal();
        let body: Bytes = if self.json {
            let request = payload
                .to_request()
                .map_err(|e| SendError::permanent("encode", e.to_string()))?;
            std::panic::catch_unwind(|| ferrotel_pdata::json::encode(&request))
                .map_err(|_| SendError::permanent("encode", "JSON encoder failed"))?
                .into()
        } else {
            payload.to_proto()
        };
        let body: Bytes = if self.encoding == Encoding::Identity {
            body
        } else if let (Encoding::Zstd, false, None, Some(stream)) =
            (self.encoding, self.json, self.level, payload.zstd_source())
        {
            // Received as zstd and unchanged since: sent as it came, not compressed again
            // (unless a level was configured: then the data is compressed at that level).
            stream.clone()
        } else {
            let mut out = Vec::new();
            compress_into_level(self.encoding, self.level, &body, &mut out)
                .map_err(|e| SendError::permanent("encode", format!("compressing: {e}")))?;
            out.into()
        };
        let mut req = Request::post(self.urls[signal_index(signal)].clone())
            .body(Full::new(body))
            .map_err(|e| SendError::permanent("encode", e.to_string()))?;
        let h = req.headers_mut();
        *h = self.headers.clone();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(if self.json {
                "application/json"
            } else {
                "application/x-protobuf"
            }),
        );
        if self.encoding != Encoding::Identity {
            h.insert(
                header::CONTENT_ENCODING,
                HeaderValue::from_static(encoding_token(self.encoding)),
            );
        }
        h.insert(
            header::USER_AGENT,
            HeaderValue::from_static(concat!("ferrotel-otlp/", env!("CARGO_PKG_VERSION"))),
        );
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
            let body = Limited::new(body, MAX_RESPONSE)
                .collect()
                .await
                .map(|c| c.to_bytes())
                .map_err(|e| {
                    SendError::retryable("connection", format!("reading response: {e}"))
                })?;
            Ok::<_, SendError>((parts, body))
        };
        let (parts, body) = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| {
                SendError::retryable("timeout", format!("no response within {:?}", self.timeout))
            })??;

        let is_json = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/json")
            });
        if parts.status.is_success() {
            // The data was accepted whatever the body says; an unreadable body means no
            // partial-success details.
            let (rejected, message) = if body.is_empty() {
                (0, String::new())
            } else if is_json {
                decode_response_json(signal, &body).unwrap_or_default()
            } else {
                decode_response_proto(&body).unwrap_or_default()
            };
            return Ok(PartialSuccess { rejected, message });
        }
        let retryable = matches!(
            parts.status,
            StatusCode::TOO_MANY_REQUESTS
                | StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT
        );
        let retry_after = if retryable {
            parts
                .headers
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after)
        } else {
            None
        };
        let mut message = status_message_from_body(is_json, &body);
        if message.is_empty() {
            message = parts
                .status
                .canonical_reason()
                .unwrap_or("error")
                .to_owned();
        }
        Err(SendError {
            retryable,
            retry_after,
            message,
            status: format!("HTTP {}", parts.status.as_u16()),
        })
    }
}

fn encoding_token(e: Encoding) -> &'static str {
    match e {
        Encoding::Identity => "identity",
        Encoding::Gzip => "gzip",
        Encoding::Zstd => "zstd",
        Encoding::Deflate => "deflate",
        Encoding::Snappy => "snappy",
        Encoding::SnappyFramed => "x-snappy-framed",
        Encoding::Lz4 => "lz4",
    }
}

/// `Retry-After`: delay-seconds or an HTTP-date.
pub(super) fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        let later = SystemTime::now() + Duration::from_secs(120);
        let d = parse_retry_after(&httpdate::fmt_http_date(later)).unwrap();
        assert!(d > Duration::from_secs(100) && d <= Duration::from_secs(120));
        assert_eq!(parse_retry_after("soon"), None);
    }
}
