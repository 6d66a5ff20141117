//! `zpages` extension: HTML pages describing the running collector, at the Go Collector's paths
//! (default `localhost:55679`): `/debug/servicez` (build, start time, uptime, config summary),
//! `/debug/pipelinez` (pipelines, their components and state), `/debug/extensionz`,
//! `/debug/featurez` (feature gates) and `/debug/tracez` (ferrotel records no spans of its
//! own: the page says so).

use std::fmt::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use serde::Deserialize;

use crate::extensions::http_server::ServerTask;

use ferrotel_runtime::config::{ConfigError, parse_endpoint};
use ferrotel_runtime::*;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZpagesConfig {
    pub endpoint: String,
    /// confignet's transport; the pages are served over `tcp`.
    pub transport: String,
    /// Accepted as in the Go Collector; `/debug/expvarz` is not served.
    pub expvar: Option<serde_json::Value>,
}

impl Default for ZpagesConfig {
    fn default() -> Self {
        ZpagesConfig {
            endpoint: "localhost:55679".into(),
            transport: "tcp".into(),
            expvar: None,
        }
    }
}

impl ComponentConfig for ZpagesConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.transport != "tcp" {
            return Err(ConfigError::field(
                "transport",
                format!(
                    "unsupported transport {:?} (the zpages server listens on tcp)",
                    self.transport
                ),
            ));
        }
        parse_endpoint(&self.endpoint).map_err(|e| ConfigError::field("endpoint", e))?;
        Ok(())
    }

    fn listen_addresses(&self) -> Vec<String> {
        vec![self.endpoint.clone()]
    }
}

/// Factory of the `zpages` extension.
pub struct ZpagesFactory;

impl ExtensionFactory for ZpagesFactory {
    type Config = ZpagesConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "zpages",
            "HTML pages on the running collector: service, pipelines, extensions, feature gates",
        )
        .stability(Stability::Beta)
    }

    fn create(
        &self,
        _ctx: CreateContext,
        config: Self::Config,
    ) -> Result<Arc<dyn Extension>, ComponentError> {
        Ok(Arc::new(Zpages {
            config,
            state: Arc::new(State {
                info: OnceLock::new(),
                ready: AtomicBool::new(false),
                started: Instant::now(),
                started_at: SystemTime::now(),
            }),
            server: ServerTask::default(),
        }))
    }
}

struct Zpages {
    config: ZpagesConfig,
    state: Arc<State>,
    server: ServerTask,
}

struct State {
    info: OnceLock<Arc<ServiceInfo>>,
    ready: AtomicBool,
    started: Instant,
    started_at: SystemTime,
}

/// Escapes text for HTML (component ids are restricted, but pages never trust their input).
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title></head><body>\n\
         <h1>{t}</h1>\n<p><a href=\"/debug/servicez\">servicez</a> · <a href=\"/debug/pipelinez\">pipelinez</a> · \
         <a href=\"/debug/extensionz\">extensionz</a> · <a href=\"/debug/featurez\">featurez</a> · \
         <a href=\"/debug/tracez\">tracez</a></p>\n{body}</body></html>\n",
        t = esc(title)
    )
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        return "<em>none</em>".into();
    }
    items.iter().map(|i| esc(i)).collect::<Vec<_>>().join(", ")
}

impl State {
    fn status(&self) -> &'static str {
        if self.ready.load(Ordering::Acquire) {
            "Ready"
        } else {
            "Not ready"
        }
    }

    /// The page at `path`, or `None` (404).
    fn render(&self, path: &str) -> Option<String> {
        let empty = Arc::new(ServiceInfo::default());
        let info = self.info.get().unwrap_or(&empty);
        let mut b = String::new();
        match path {
            "/debug/servicez" => {
                let _ = write!(
                    b,
                    "<table>\n<tr><td>Command</td><td>ferrotel</td></tr>\n\
                     <tr><td>Version</td><td>{}</td></tr>\n\
                     <tr><td>Start time</td><td>{} (Unix seconds)</td></tr>\n\
                     <tr><td>Uptime</td><td>{:.0} s</td></tr>\n\
                     <tr><td>Status</td><td>{}</td></tr>\n\
                     <tr><td>Pipelines</td><td>{}</td></tr>\n\
                     <tr><td>Extensions</td><td>{}</td></tr>\n</table>\n<h2>Components</h2>\n<table>\n",
                    env!("CARGO_PKG_VERSION"),
                    self.started_at
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_secs(),
                    self.started.elapsed().as_secs_f64(),
                    self.status(),
                    info.pipelines.len(),
                    info.extensions.len(),
                );
                for (kind, id) in &info.components {
                    let _ = writeln!(
                        b,
                        "<tr><td>{}</td><td>{}</td></tr>",
                        kind.section(),
                        esc(id)
                    );
                }
                b.push_str("</table>\n");
                Some(page("Service", &b))
            }
            "/debug/pipelinez" => {
                b.push_str(
                    "<table border=\"1\">\n<tr><th>Pipeline</th><th>Receivers</th><th>Processors</th><th>Exporters</th><th>Status</th></tr>\n",
                );
                for p in &info.pipelines {
                    let _ = writeln!(
                        b,
                        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        esc(&p.id),
                        list(&p.receivers),
                        list(&p.processors),
                        list(&p.exporters),
                        self.status()
                    );
                }
                b.push_str("</table>\n");
                Some(page("Pipelines", &b))
            }
            "/debug/extensionz" => {
                b.push_str("<table border=\"1\">\n<tr><th>Extension</th><th>Status</th></tr>\n");
                for e in &info.extensions {
                    let _ = writeln!(b, "<tr><td>{}</td><td>{}</td></tr>", esc(e), self.status());
                }
                b.push_str("</table>\n");
                Some(page("Extensions", &b))
            }
            "/debug/featurez" => Some(page(
                "Feature gates",
                "<p>ferrotel has no feature gates: every feature is on or configured in the config.</p>\n",
            )),
            "/debug/tracez" => Some(page(
                "Traces",
                "<p>ferrotel records no spans of its own, so there are no sampled spans to show. \
                 Its own metrics are on <code>service::telemetry::metrics</code>.</p>\n",
            )),
            _ => None,
        }
    }
}

impl Lifecycle for Zpages {
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        let state = self.state.clone();
        Box::pin(self.server.start(&self.config.endpoint, None, move |req| {
            let page = state.render(req.uri().path());
            async move {
                match page {
                    Some(html) => http::Response::builder()
                        .header("content-type", "text/html; charset=utf-8")
                        .body(Full::new(Bytes::from(html))),
                    None => http::Response::builder()
                        .status(404)
                        .body(Full::new(Bytes::from_static(b"404 page not found\n"))),
                }
                .expect("valid response")
            }
        }))
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        self.server.stop();
        Box::pin(async { Ok(()) })
    }
}

impl Extension for Zpages {
    fn on_ready(&self, ready: bool) {
        self.state.ready.store(ready, Ordering::Release);
    }

    fn on_service(&self, info: &Arc<ServiceInfo>) {
        let _ = self.state.info.set(info.clone());
    }
}

#[cfg(test)]
mod tests;
