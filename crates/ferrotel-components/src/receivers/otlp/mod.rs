//! `otlp` receiver: OTLP over gRPC (4317) and HTTP (4318), all four signals.
//!
//! The transports live in `ferrotel-otlp`; this is the glue between them and the pipelines:
//! config, auth lookup, `otelcol_receiver_*` counts, and mapping pipeline refusals to the
//! status codes the OTLP spec prescribes (retryable → Unavailable/503 + Retry-After,
//! permanent → InvalidArgument/400).

pub mod config;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrotel_otlp::server::{
    self, CorsSettings, ExportError, ExportHandler, ExportRequest, GrpcServerSettings,
    HttpServerSettings, KeepaliveSettings, PartialSuccess, ServerAuth, ServerHandle,
    TlsServerSettings,
};
use ferrotel_pdata::Signal;
use ferrotel_runtime::telemetry::obs::ReceiverObs;
use ferrotel_runtime::*;

pub use config::OtlpReceiverConfig;

/// Factory of the `otlp` receiver.
pub struct OtlpReceiverFactory;

impl ReceiverFactory for OtlpReceiverFactory {
    type Config = OtlpReceiverConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new("otlp", "OTLP over gRPC and HTTP (protobuf and JSON)")
            .signal(Signal::Traces, Stability::Stable)
            .signal(Signal::Metrics, Stability::Stable)
            .signal(Signal::Logs, Stability::Stable)
            .signal(Signal::Profiles, Stability::Development)
    }

    fn create(
        &self,
        ctx: CreateContext,
        config: Self::Config,
        outputs: SignalOutputs,
    ) -> Result<Arc<dyn Receiver>, ComponentError> {
        let signals: Vec<Signal> = outputs.iter().map(|(s, _)| *s).collect();
        let mut grpc = None;
        if let Some(g) = &config.protocols.grpc {
            let (endpoint, unix_socket) =
                config::listen_on(&g.transport, &g.endpoint).map_err(ComponentError::new)?;
            let settings = GrpcServerSettings {
                endpoint,
                unix_socket,
                max_recv_msg_size: (g.max_recv_msg_size_mib as usize) << 20,
                tls: tls_settings(&g.tls),
                keepalive: KeepaliveSettings {
                    max_connection_idle: g.keepalive.server_parameters.max_connection_idle,
                    max_connection_age: g.keepalive.server_parameters.max_connection_age,
                    max_connection_age_grace: g
                        .keepalive
                        .server_parameters
                        .max_connection_age_grace,
                    time: g.keepalive.server_parameters.time,
                    timeout: g.keepalive.server_parameters.timeout,
                    min_time: g.keepalive.enforcement_policy.min_time,
                    permit_without_stream: g.keepalive.enforcement_policy.permit_without_stream,
                },
                include_metadata: g.include_metadata,
                auth: auth(&ctx, &g.auth)?,
                signals: signals.clone(),
            };
            grpc = Some((settings, handler(&ctx, &outputs, "grpc")));
        }
        let mut http = None;
        if let Some(h) = &config.protocols.http {
            let paths: HashMap<Signal, String> = [
                (Signal::Traces, h.traces_url_path.clone()),
                (Signal::Metrics, h.metrics_url_path.clone()),
                (Signal::Logs, h.logs_url_path.clone()),
                (Signal::Profiles, h.profiles_url_path.clone()),
            ]
            .into();
            let (endpoint, unix_socket) =
                config::listen_on(&h.transport, &h.endpoint).map_err(ComponentError::new)?;
            let settings = HttpServerSettings {
                endpoint,
                unix_socket,
                paths,
                max_request_body_size: h.max_request_body_size as usize,
                cors: h.cors.as_ref().map(|c| CorsSettings {
                    allowed_origins: c.allowed_origins.clone(),
                    allowed_headers: c.allowed_headers.clone(),
                    max_age: (c.max_age > 0).then(|| Duration::from_secs(c.max_age)),
                }),
                tls: tls_settings(&h.tls),
                include_metadata: h.include_metadata,
                auth: auth(&ctx, &h.auth)?,
                signals,
                read_header_timeout: h.read_header_timeout,
                read_timeout: h.read_timeout,
            };
            http = Some((settings, handler(&ctx, &outputs, "http")));
        }
        Ok(Arc::new(OtlpReceiver {
            id: ctx.id,
            grpc,
            http,
            servers: Mutex::new(Vec::new()),
        }))
    }
}

pub(crate) fn tls_settings(tls: &Option<config::ServerTls>) -> Option<TlsServerSettings> {
    tls.as_ref().map(|t| TlsServerSettings {
        cert_file: PathBuf::from(t.cert_file.clone().unwrap_or_default()),
        key_file: PathBuf::from(t.key_file.clone().unwrap_or_default()),
        client_ca_file: t.client_ca_file.clone().map(PathBuf::from),
        min_version: t.min_version.clone(),
    })
}

fn auth(
    ctx: &CreateContext,
    auth: &Option<config::AuthConfig>,
) -> Result<Option<Arc<dyn ServerAuth>>, ComponentError> {
    auth.as_ref()
        .map(|a| {
            ctx.extension_capability::<Arc<dyn ServerAuth>>(
                &a.authenticator,
                "server authentication",
            )
        })
        .transpose()
}

fn handler(ctx: &CreateContext, outputs: &SignalOutputs, transport: &str) -> Arc<PipelineHandler> {
    Arc::new(PipelineHandler {
        outputs: outputs.iter().map(|(s, c)| (*s, c.clone())).collect(),
        obs: ReceiverObs::new(&ctx.telemetry, &ctx.id.to_string(), transport),
    })
}

/// Hands requests to the pipelines and maps their answer to the wire.
struct PipelineHandler {
    outputs: Vec<(Signal, ConsumerRef)>,
    obs: ReceiverObs,
}

fn to_export_error(e: ConsumeError) -> ExportError {
    match e.kind {
        ConsumeErrorKind::Retryable { retry_after } => {
            ExportError::unavailable(e.message, retry_after)
        }
        ConsumeErrorKind::Permanent => {
            ExportError::new(server::ErrorKind::InvalidArgument, e.message)
        }
    }
}

impl ExportHandler for PipelineHandler {
    fn admit(&self, signal: Signal) -> Result<(), ExportError> {
        match self.outputs.iter().find(|(s, _)| *s == signal) {
            Some((_, next)) => next.admit(signal).map_err(to_export_error),
            None => Ok(()),
        }
    }

    fn export(
        &self,
        req: ExportRequest,
    ) -> BoxFuture<'static, Result<PartialSuccess, ExportError>> {
        let signal = req.payload.signal();
        let Some(next) = self
            .outputs
            .iter()
            .find(|(s, _)| *s == signal)
            .map(|(_, c)| c.clone())
        else {
            return Box::pin(async move {
                Err(ExportError::new(
                    server::ErrorKind::InvalidArgument,
                    format!("this receiver is not configured for {signal}"),
                ))
            });
        };
        let obs = self.obs.clone();
        let client = req.client;
        let ctx = Context {
            client: Some(Arc::new(ClientInfo {
                addr: client.addr,
                metadata: client.metadata,
                auth_subject: client.auth.map(|a| a.subject.clone()),
            })),
        };
        Box::pin(async move {
            let items = req.payload.items();
            match next.consume(req.payload, ctx).await {
                Ok(()) => {
                    obs.accepted(signal, items);
                    Ok(PartialSuccess::default())
                }
                Err(e) => {
                    obs.refused(signal, items);
                    Err(match e.kind {
                        ConsumeErrorKind::Retryable { retry_after } => {
                            ExportError::unavailable(e.message, retry_after)
                        }
                        ConsumeErrorKind::Permanent => {
                            ExportError::new(server::ErrorKind::InvalidArgument, e.message)
                        }
                    })
                }
            }
        })
    }
}

/// The running receiver: up to two servers.
pub struct OtlpReceiver {
    id: ferrotel_runtime::config::ComponentId,
    grpc: Option<(GrpcServerSettings, Arc<PipelineHandler>)>,
    http: Option<(HttpServerSettings, Arc<PipelineHandler>)>,
    servers: Mutex<Vec<ServerHandle>>,
}

impl OtlpReceiver {
    /// The bound addresses (gRPC first), once started; useful with port 0 in tests.
    pub fn local_addrs(&self) -> Vec<std::net::SocketAddr> {
        self.servers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|s| s.local_addr())
            .collect()
    }
}

impl Lifecycle for OtlpReceiver {
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let mut started = Vec::new();
            if let Some((settings, handler)) = &self.grpc {
                let h =
                    server::start_grpc(settings.clone(), handler.clone() as Arc<dyn ExportHandler>)
                        .await
                        .map_err(|e| ComponentError::new(format!("protocols::grpc: {e}")))?;
                tracing::info!(receiver = %self.id, endpoint = %h.local_addr(), "OTLP/gRPC listening");
                started.push(h);
            }
            if let Some((settings, handler)) = &self.http {
                match server::start_http(
                    settings.clone(),
                    handler.clone() as Arc<dyn ExportHandler>,
                )
                .await
                {
                    Ok(h) => {
                        tracing::info!(receiver = %self.id, endpoint = %h.local_addr(), "OTLP/HTTP listening");
                        started.push(h);
                    }
                    Err(e) => {
                        for s in started {
                            s.shutdown(Duration::from_secs(1)).await;
                        }
                        return Err(ComponentError::new(format!("protocols::http: {e}")));
                    }
                }
            }
            *self.servers.lock().unwrap_or_else(|e| e.into_inner()) = started;
            Ok(())
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            let servers =
                std::mem::take(&mut *self.servers.lock().unwrap_or_else(|e| e.into_inner()));
            // In-flight requests are answered; the service's shutdown_timeout bounds the whole drain.
            for s in servers {
                s.shutdown(Duration::from_secs(10)).await;
            }
            Ok(())
        })
    }
}

impl Receiver for OtlpReceiver {}
