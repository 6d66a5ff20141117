//! The HTTP server on `ui.endpoint`: routes each request to the UI's files, ferrotel's own API
//! (`/api/v1`), Tempo's (`/tempo/api`) or Jaeger's (`/api`). Queries run on the blocking pool:
//! a search scans the store and must not stall the runtime's workers.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use ferrotel_store::TelemetryStore;

use crate::params::Query;
use crate::{api, assets, jaeger, tempo};

pub type Response = http::Response<Full<Bytes>>;

/// What the handlers read of a request.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// The path, still percent-encoded (segments are decoded by the routes that take them).
    pub path: String,
    pub query: Query,
    pub accept: String,
    pub if_none_match: Option<String>,
}

impl Request {
    /// A GET of `path_and_query`, for tests and in-process callers.
    pub fn get(path_and_query: &str) -> Request {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        Request {
            method: Method::GET,
            path: path.to_string(),
            query: Query::parse(query),
            accept: String::new(),
            if_none_match: None,
        }
    }

    pub fn accepts(&self, media_type: &str) -> bool {
        self.accept
            .split(',')
            .any(|t| t.split(';').next().unwrap_or("").trim() == media_type)
    }
}

pub fn respond(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response {
    let mut r = http::Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

pub fn json(status: StatusCode, value: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => respond(status, "application/json", body),
        Err(e) => respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain; charset=utf-8",
            format!("cannot encode the response: {e}"),
        ),
    }
}

/// Answers every route from one store.
#[derive(Clone)]
pub struct Handler {
    pub store: Arc<dyn TelemetryStore>,
}

/// The UI's pages: the index serves them all, its script routes on the path.
fn is_ui_page(path: &str) -> bool {
    matches!(path, "/" | "/search" | "/logs" | "/metrics" | "/index.html")
        || path
            .strip_prefix("/trace/")
            .is_some_and(|id| !id.is_empty())
}

impl Handler {
    pub fn new(store: Arc<dyn TelemetryStore>) -> Self {
        Handler { store }
    }

    pub fn handle(&self, req: &Request) -> Response {
        if req.method != Method::GET && req.method != Method::HEAD {
            let mut r = respond(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain; charset=utf-8",
                format!(
                    "{} is not supported: the query APIs are read-only (GET)",
                    req.method
                ),
            );
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return r;
        }
        let path = req.path.as_str();
        let store = self.store.as_ref();
        if let Some(rest) = path.strip_prefix("/api/v1/") {
            api::handle(store, rest, req)
        } else if path == "/tempo" || path.starts_with("/tempo/") {
            tempo::handle(store, &path["/tempo".len()..], req)
        } else if let Some(rest) = path.strip_prefix("/api/") {
            jaeger::handle(store, rest, req)
        } else if let Some(name) = path.strip_prefix("/static/") {
            match assets::find(name) {
                Some(a) => asset(a, req, "public, max-age=3600"),
                None => not_found(path),
            }
        } else if is_ui_page(path) {
            // Never cached: a new binary's page must load its new scripts.
            asset(assets::index(), req, "no-cache")
        } else {
            not_found(path)
        }
    }
}

fn not_found(path: &str) -> Response {
    respond(
        StatusCode::NOT_FOUND,
        "text/plain; charset=utf-8",
        format!("no page or API at {path}"),
    )
}

fn asset(a: &'static assets::Asset, req: &Request, cache: &'static str) -> Response {
    let etag = assets::etag(a);
    let mut r = if req.if_none_match.as_deref() == Some(etag.as_str()) {
        let mut r = respond(StatusCode::NOT_MODIFIED, a.content_type, Bytes::new());
        r.headers_mut().remove(header::CONTENT_TYPE);
        r
    } else {
        respond(StatusCode::OK, a.content_type, Bytes::from_static(a.body))
    };
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// The running server: its accept loop owns every connection, so stopping it closes them all.
#[derive(Default)]
pub struct Server {
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Server {
    /// Binds `addr` and serves `handler` until [`Server::stop`]. Returns the bound address
    /// (port 0 picks a free one).
    pub async fn start(&self, addr: SocketAddr, handler: Handler) -> Result<SocketAddr, String> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let (stream, _) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of file descriptors and the like: wait rather than spin.
                        tracing::warn!("local_store UI server: accept failed: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                };
                // Reap finished connections so the set does not grow with every request.
                while connections.try_join_next().is_some() {}
                let handler = handler.clone();
                connections.spawn(async move {
                    let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let handler = handler.clone();
                        async move { Ok::<_, Infallible>(serve_one(handler, req).await) }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        *self.task.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
        Ok(bound)
    }

    pub fn stop(&self) {
        if let Some(t) = self.task.lock().unwrap_or_else(|e| e.into_inner()).take() {
            t.abort();
        }
    }
}

async fn serve_one(handler: Handler, req: http::Request<hyper::body::Incoming>) -> Response {
    let header_text = |name: header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let request = Request {
        method: req.method().clone(),
        path: req.uri().path().to_string(),
        query: Query::parse(req.uri().query()),
        accept: header_text(header::ACCEPT).unwrap_or_default(),
        if_none_match: header_text(header::IF_NONE_MATCH),
    };
    let head = request.method == Method::HEAD;
    let mut response = match tokio::task::spawn_blocking(move || handler.handle(&request)).await {
        Ok(r) => r,
        Err(e) => respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain; charset=utf-8",
            format!("the query failed: {e}"),
        ),
    };
    if head {
        *response.body_mut() = Full::new(Bytes::new());
    }
    response
}
