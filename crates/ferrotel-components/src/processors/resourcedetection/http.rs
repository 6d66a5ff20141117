//! A minimal HTTP/1.1 client for metadata services (cloud instance metadata over TCP, the
//! Docker Engine API over its unix socket): one request per connection, bounded by the
//! detection deadline. Detection runs once at start, so pooling buys nothing.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

/// Why a request got no answer: the service is absent (nothing listens, no route, timed out)
/// or it answered badly.
#[derive(Debug, Clone, PartialEq)]
pub enum HttpError {
    Unreachable(String),
    Status(u16, String),
    Other(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Unreachable(m) | HttpError::Other(m) => f.write_str(m),
            HttpError::Status(code, url) => write!(f, "{url}: HTTP status {code}"),
        }
    }
}

/// Where a request goes.
#[derive(Debug, Clone)]
pub enum Target {
    /// `host:port`.
    Tcp(String),
    /// A unix socket path.
    Unix(String),
}

async fn send<S>(
    stream: S,
    method: &str,
    authority: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<(u16, Bytes), HttpError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| HttpError::Other(format!("http handshake with {authority}: {e}")))?;
    let conn = tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, authority);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(Empty::<Bytes>::new())
        .map_err(|e| HttpError::Other(format!("building request {path}: {e}")))?;
    let url = format!("http://{authority}{path}");
    let result = async {
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| HttpError::Unreachable(format!("{method} {url}: {e}")))?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| HttpError::Other(format!("{method} {url}: reading the body: {e}")))?
            .to_bytes();
        Ok((status, body))
    }
    .await;
    conn.abort();
    result
}

/// Sends one request and returns the body of a 200 answer; gives up at `deadline`.
pub async fn request(
    target: &Target,
    authority: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    deadline: Instant,
) -> Result<Bytes, HttpError> {
    let url = format!("http://{authority}{path}");
    let attempt = async {
        let (status, body) = match target {
            Target::Tcp(addr) => {
                let s = tokio::net::TcpStream::connect(addr.as_str())
                    .await
                    .map_err(|e| HttpError::Unreachable(format!("{method} {url}: {e}")))?;
                send(s, method, authority, path, headers).await?
            }
            Target::Unix(p) => {
                let s = tokio::net::UnixStream::connect(p.as_str())
                    .await
                    .map_err(|e| HttpError::Unreachable(format!("{method} {url} via {p}: {e}")))?;
                send(s, method, authority, path, headers).await?
            }
        };
        if status != 200 {
            return Err(HttpError::Status(status, format!("{method} {url}")));
        }
        Ok(body)
    };
    tokio::time::timeout_at(deadline, attempt)
        .await
        .unwrap_or_else(|_| {
            Err(HttpError::Unreachable(format!(
                "{method} {url}: no answer within the timeout"
            )))
        })
}

/// [`request`] with a text body.
pub async fn get_text(
    target: &Target,
    authority: &str,
    path: &str,
    headers: &[(&str, &str)],
    deadline: Instant,
) -> Result<String, HttpError> {
    let body = request(target, authority, "GET", path, headers, deadline).await?;
    String::from_utf8(body.to_vec())
        .map_err(|_| HttpError::Other(format!("http://{authority}{path}: body is not UTF-8")))
}
