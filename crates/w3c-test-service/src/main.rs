//! `w3c-test-service --listen 127.0.0.1:PORT`: an HTTP service instrumented with ferrotel's SDK
//! that speaks the W3C trace-context test harness protocol (github.com/w3c/trace-context,
//! `test/`). On `POST /test` with a JSON list of `{"url": ..., "arguments": [...]}` it POSTs
//! each `arguments` as JSON to its `url`, each call a CLIENT span under the SERVER span that
//! continues the incoming trace, then answers 200.
//!
//! Configured like any SDK user: `OTEL_PROPAGATORS` (default `tracecontext,baggage`),
//! `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_*`, `OTEL_TRACES_SAMPLER`.
//! SIGTERM or Ctrl-C stops accepting, flushes the spans and exits 0.
//!
//! It uses the `opentelemetry` API (what instrumentation libraries call) with explicit
//! contexts, which is correct across `.await` points without task-local plumbing.

use bytes::Bytes;
use ferrotel_propagation::{HeaderExtractor, HeaderInjector};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{FutureExt as _, SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue, global};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

type HttpClient = Client<HttpConnector, Full<Bytes>>;

struct App {
    propagator: Box<dyn TextMapPropagator + Send + Sync>,
    client: HttpClient,
}

fn usage() -> ! {
    eprintln!("usage: w3c-test-service [--listen 127.0.0.1:PORT]");
    std::process::exit(2);
}

fn listen_addr() -> SocketAddr {
    let mut args = std::env::args().skip(1);
    let mut addr: SocketAddr = ([127, 0, 0, 1], 5000).into();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => match args.next().and_then(|a| a.parse().ok()) {
                Some(a) => addr = a,
                None => usage(),
            },
            _ => match arg.strip_prefix("--listen=").and_then(|a| a.parse().ok()) {
                Some(a) => addr = a,
                None => usage(),
            },
        }
    }
    addr
}

fn main() {
    let addr = listen_addr();
    let provider = match ferrotel_sdk::init() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("w3c-test-service: {e}");
            std::process::exit(1);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(serve(addr));
    // Flush outside the runtime: the exporter may block on its own threads.
    drop(runtime);
    if let Err(e) = provider.shutdown() {
        eprintln!("w3c-test-service: flushing spans: {e}");
    }
    if let Err(e) = result {
        eprintln!("w3c-test-service: {e}");
        std::process::exit(1);
    }
}

async fn serve(addr: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    // Tests and scripts wait for this line (and read the port when asked for port 0).
    println!(
        "w3c-test-service listening on http://{}",
        listener.local_addr()?
    );
    let app = Arc::new(App {
        propagator: Box::new(ferrotel_propagation::from_env()),
        client: Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(5))
            .build_http(),
    });
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let app = app.clone();
                let conn = hyper::server::conn::http1::Builder::new().serve_connection(
                    TokioIo::new(stream),
                    service_fn(move |req| {
                        let app = app.clone();
                        async move { Ok::<_, std::convert::Infallible>(handle(&app, req).await) }
                    }),
                );
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    // Let in-flight requests finish (bounded), then the caller flushes.
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
    Ok(())
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *resp.status_mut() = status;
    resp
}

async fn handle(app: &App, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let parent = app
        .propagator
        .extract_with_context(&Context::new(), &HeaderExtractor(req.headers()));
    let tracer = global::tracer("w3c-test-service");
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let span = tracer
        .span_builder(format!("{method} {path}"))
        .with_kind(SpanKind::Server)
        .with_attributes([
            KeyValue::new("http.request.method", method.as_str().to_owned()),
            KeyValue::new("url.path", path.clone()),
            KeyValue::new("url.scheme", "http"),
        ])
        .start_with_context(&tracer, &parent);
    let cx = parent.with_span(span);
    let resp = respond(app, req, &method, &path, &cx)
        .with_context(cx.clone())
        .await;
    let span = cx.span();
    span.set_attribute(KeyValue::new(
        "http.response.status_code",
        i64::from(resp.status().as_u16()),
    ));
    if resp.status().is_server_error() {
        span.set_status(Status::error(resp.status().to_string()));
    }
    span.end();
    resp
}

async fn respond(
    app: &App,
    req: Request<Incoming>,
    method: &Method,
    path: &str,
    cx: &Context,
) -> Response<Full<Bytes>> {
    if path != "/test" {
        return text(StatusCode::NOT_FOUND, "not found\n");
    }
    if method != Method::POST {
        return text(StatusCode::METHOD_NOT_ALLOWED, "POST only\n");
    }
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return text(StatusCode::BAD_REQUEST, "unreadable body\n"),
    };
    let Ok(serde_json::Value::Array(calls)) = serde_json::from_slice::<serde_json::Value>(&body)
    else {
        return text(
            StatusCode::BAD_REQUEST,
            "expected a JSON list of {url, arguments}\n",
        );
    };
    for call in &calls {
        let Some(url) = call.get("url").and_then(|u| u.as_str()) else {
            return text(StatusCode::BAD_REQUEST, "each element needs a url\n");
        };
        let arguments = call
            .get("arguments")
            .cloned()
            .unwrap_or(serde_json::Value::Array(Vec::new()));
        call_out(app, cx, url, &arguments).await;
    }
    text(StatusCode::OK, "")
}

/// POSTs `arguments` to `url` under its own CLIENT span, with the propagation headers.
async fn call_out(app: &App, parent: &Context, url: &str, arguments: &serde_json::Value) {
    let tracer = global::tracer("w3c-test-service");
    let mut attrs = vec![
        KeyValue::new("http.request.method", "POST"),
        KeyValue::new("url.full", url.to_owned()),
    ];
    let uri: Option<http::Uri> = url.parse().ok();
    if let Some(uri) = &uri {
        if let Some(host) = uri.host() {
            attrs.push(KeyValue::new("server.address", host.to_owned()));
        }
        if let Some(port) = uri.port_u16() {
            attrs.push(KeyValue::new("server.port", i64::from(port)));
        }
    }
    let span = tracer
        .span_builder("POST")
        .with_kind(SpanKind::Client)
        .with_attributes(attrs)
        .start_with_context(&tracer, parent);
    let cx = parent.with_span(span);
    let result = match uri {
        Some(uri) => {
            let mut req = Request::post(uri)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::from(arguments.to_string())))
                .expect("a parsed URI makes a request");
            app.propagator
                .inject_context(&cx, &mut HeaderInjector(req.headers_mut()));
            match tokio::time::timeout(Duration::from_secs(10), app.client.request(req)).await {
                Ok(Ok(resp)) => {
                    let status = resp.status();
                    // Drain the body so the connection can be reused.
                    let _ = resp.into_body().collect().await;
                    Ok(status)
                }
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("timed out".to_owned()),
            }
        }
        None => Err(format!("invalid url {url:?}")),
    };
    let span = cx.span();
    match result {
        Ok(status) => {
            span.set_attribute(KeyValue::new(
                "http.response.status_code",
                i64::from(status.as_u16()),
            ));
            if status.is_client_error() || status.is_server_error() {
                span.set_status(Status::error(status.to_string()));
            }
        }
        Err(e) => {
            span.set_attribute(KeyValue::new("error.type", "request_failed"));
            span.set_status(Status::error(e));
        }
    }
    span.end();
}
