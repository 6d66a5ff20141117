//! `prometheus` exporter: serves the latest value of every metric point on `/metrics` for
//! Prometheus to scrape, in the text format 0.0.4 or, when `enable_open_metrics` is set and the
//! scraper asks for it, OpenMetrics 1.0 (with `# UNIT`, exemplars and `# EOF`).
//!
//! When the scraper prefers the delimited protobuf exposition (Prometheus with
//! `--enable-feature=native-histograms`), everything is served in it and exponential histograms
//! become native histograms; in the text formats they are classic histograms (one `le` bucket
//! per exponential bucket), as the specification says.

pub mod accumulator;
pub mod config;
pub mod protobuf;
pub mod render;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_runtime::config::parse_endpoint;
use ferrotel_runtime::*;
use http::{Method, StatusCode, header};
use http_body_util::Full;

use self::accumulator::{Accumulator, Settings};
pub use self::config::PrometheusExporterConfig;
use crate::naming::{MetricNamer, TranslationStrategy};
use crate::series::LabelOptions;
use ferrotel_otlp::server::{PlainHttpServer as Server, PlainRequest, text_response as text};

/// Factory of the `prometheus` exporter.
pub struct PrometheusExporterFactory;

impl ExporterFactory for PrometheusExporterFactory {
    type Config = PrometheusExporterConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "prometheus",
            "Serves metrics on /metrics for Prometheus to scrape (text 0.0.4, OpenMetrics)",
        )
        .signal(Signal::Metrics, Stability::Beta)
    }

    fn create(
        &self,
        ctx: CreateContext,
        c: Self::Config,
        _signals: &[Signal],
    ) -> Result<Arc<dyn Exporter>, ComponentError> {
        Ok(Arc::new(PrometheusExporter::new(&ctx.id.to_string(), c)))
    }
}

pub struct PrometheusExporter {
    id: String,
    config: PrometheusExporterConfig,
    state: Arc<Mutex<Accumulator>>,
    server: Server,
    address: Mutex<Option<SocketAddr>>,
}

impl PrometheusExporter {
    pub fn new(id: &str, config: PrometheusExporterConfig) -> Self {
        let strategy =
            TranslationStrategy::resolve(config.translation_strategy, config.add_metric_suffixes);
        let settings = Settings {
            namer: MetricNamer::new(&config.namespace, strategy),
            labels: LabelOptions {
                strategy,
                resource_to_telemetry: config.resource_to_telemetry_conversion.enabled,
                scope_info: !config.without_scope_info,
            },
            const_labels: config
                .const_labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            target_info: config.target_info.enabled,
            expiration: config.metric_expiration,
        };
        PrometheusExporter {
            id: id.to_owned(),
            config,
            state: Arc::new(Mutex::new(Accumulator::new(settings))),
            server: Server::default(),
            address: Mutex::new(None),
        }
    }

    /// Where `/metrics` is served once started (the bound port for `:0`).
    pub fn address(&self) -> Option<SocketAddr> {
        *self.address.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes in a request's metrics, as `consume` does.
    pub fn ingest(
        &self,
        request: &ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest,
    ) {
        let problems = self
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .ingest(request, Instant::now());
        for p in problems {
            tracing::warn!(exporter = %self.id, "{p}");
        }
    }

    /// The protobuf exposition (what a scraper preferring it gets).
    pub fn scrape_protobuf(&self) -> Vec<u8> {
        self.scrape_for(protobuf::CONTENT_TYPE).1
    }

    /// What a scrape that names no escaping gets: text 0.0.4, or OpenMetrics if asked for and
    /// enabled.
    pub fn scrape(&self, open_metrics: bool) -> String {
        let serving = self.serving();
        let names = render::Names::for_scrape(serving.strategy, "");
        let mut acc = self.state.lock().unwrap_or_else(|e| e.into_inner());
        acc.expire(Instant::now());
        render::render(
            &acc,
            open_metrics && serving.open_metrics,
            serving.timestamps,
            names,
        )
    }

    /// What a scrape with this `Accept` header gets: (content type, body).
    pub fn scrape_for(&self, accept: &str) -> (&'static str, Vec<u8>) {
        self.serving().respond(&self.state, accept)
    }

    fn serving(&self) -> Serving {
        Serving {
            open_metrics: self.config.enable_open_metrics,
            timestamps: self.config.send_timestamps,
            strategy: TranslationStrategy::resolve(
                self.config.translation_strategy,
                self.config.add_metric_suffixes,
            ),
        }
    }
}

/// What decides the answer to a scrape besides the `Accept` header.
#[derive(Debug, Clone, Copy)]
struct Serving {
    open_metrics: bool,
    timestamps: bool,
    strategy: TranslationStrategy,
}

impl Serving {
    /// Negotiates the format (protobuf if preferred, OpenMetrics if asked for and enabled,
    /// else text 0.0.4) and the names' escaping, and renders.
    fn respond(self, state: &Mutex<Accumulator>, accept: &str) -> (&'static str, Vec<u8>) {
        let names = render::Names::for_scrape(self.strategy, accept);
        let mut acc = state.lock().unwrap_or_else(|e| e.into_inner());
        acc.expire(Instant::now());
        if protobuf::preferred(accept) {
            let utf8 = names != render::Names::Underscores;
            return (
                protobuf::CONTENT_TYPE,
                protobuf::render(&acc, self.timestamps, utf8),
            );
        }
        let om = self.open_metrics && wants_open_metrics(accept);
        let body = render::render(&acc, om, self.timestamps, names).into_bytes();
        let content_type = match (om, names == render::Names::Quoted) {
            (true, false) => render::OPENMETRICS_CONTENT_TYPE,
            (true, true) => render::OPENMETRICS_UTF8_CONTENT_TYPE,
            (false, false) => render::TEXT_CONTENT_TYPE,
            (false, true) => render::TEXT_UTF8_CONTENT_TYPE,
        };
        (content_type, body)
    }
}

/// Whether the scraper's `Accept` asks for OpenMetrics (Prometheus sends it first when it
/// wants it).
fn wants_open_metrics(accept: &str) -> bool {
    accept
        .split(',')
        .any(|part| part.trim().starts_with("application/openmetrics-text"))
}

impl Consumer for PrometheusExporter {
    fn consume(&self, payload: Payload, _ctx: Context) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            if payload.signal() != Signal::Metrics {
                return Ok(());
            }
            let request = payload.into_request().map_err(|e| {
                ConsumeError::permanent(format!("exporter {}: undecodable metrics: {e}", self.id))
            })?;
            if let Request::Metrics(m) = &request {
                self.ingest(m);
            }
            Ok(())
        })
    }
}

impl Lifecycle for PrometheusExporter {
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let addr = parse_endpoint(&self.config.endpoint)
                .map_err(|e| ComponentError::new(format!("exporter {}: {e}", self.id)))?;
            let state = self.state.clone();
            let serving = self.serving();
            let handler = move |req: PlainRequest| {
                let state = state.clone();
                Box::pin(async move {
                    if req.uri().path() != "/metrics" {
                        return text(StatusCode::NOT_FOUND, "metrics are served on /metrics\n");
                    }
                    if req.method() != Method::GET && req.method() != Method::HEAD {
                        return text(StatusCode::METHOD_NOT_ALLOWED, "GET /metrics\n");
                    }
                    let accept = req
                        .headers()
                        .get(header::ACCEPT)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    let head = req.method() == Method::HEAD;
                    // Rendering 100 k series takes tens of milliseconds: off the async workers.
                    let (content_type, body) =
                        tokio::task::spawn_blocking(move || serving.respond(&state, &accept))
                            .await
                            .unwrap_or((render::TEXT_CONTENT_TYPE, Vec::new()));
                    let mut r = http::Response::new(Full::new(if head {
                        Bytes::new()
                    } else {
                        Bytes::from(body)
                    }));
                    r.headers_mut().insert(
                        header::CONTENT_TYPE,
                        http::HeaderValue::from_static(content_type),
                    );
                    r
                })
            };
            let tls = (self.config.tls.as_ref())
                .map(|t| t.acceptor())
                .transpose()
                .map_err(|e| ComponentError::new(format!("exporter {}: {e}", self.id)))?;
            let bound = self
                .server
                .start(&format!("exporter {}", self.id), addr, tls, handler)
                .await
                .map_err(|e| ComponentError::new(format!("exporter {}: {e}", self.id)))?;
            *self.address.lock().unwrap_or_else(|e| e.into_inner()) = Some(bound);
            let scheme = if self.config.tls.is_some() {
                "https"
            } else {
                "http"
            };
            tracing::info!(exporter = %self.id, "serving metrics on {scheme}://{bound}/metrics");
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            self.server.stop();
            Ok(())
        })
    }
}

impl Exporter for PrometheusExporter {}
