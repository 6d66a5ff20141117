//! `jaeger` receiver: Jaeger agents' UDP ports (`thrift_compact`, `thrift_binary`: agent.thrift
//! `emitBatch`), the collector's HTTP endpoint (`thrift_http`: `POST /api/traces`, a Thrift
//! binary `Batch`) and its gRPC service (`grpc`: `jaeger.api_v2.CollectorService/PostSpans`).
//! Every protocol decodes into one model and translates as `crate::to_otlp` says.

pub mod config;
mod http;
#[cfg(test)]
mod tests;
mod udp;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_runtime::config::parse_endpoint;
use ferrotel_runtime::telemetry::obs::ReceiverObs;
use ferrotel_runtime::*;

pub use self::config::JaegerReceiverConfig;
use self::config::{DEFAULT_THRIFT_BINARY, DEFAULT_THRIFT_COMPACT};
use crate::thrift::Protocol;
use ferrotel_otlp::server::PlainHttpServer as Server;

/// Factory of the `jaeger` receiver.
pub struct JaegerReceiverFactory;

impl ReceiverFactory for JaegerReceiverFactory {
    type Config = JaegerReceiverConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "jaeger",
            "Receives Jaeger spans: Thrift compact and binary over UDP, Thrift over HTTP, gRPC",
        )
        .signal(Signal::Traces, Stability::Beta)
    }

    fn create(
        &self,
        ctx: CreateContext,
        config: Self::Config,
        outputs: SignalOutputs,
    ) -> Result<Arc<dyn Receiver>, ComponentError> {
        let next = single_signal_output(outputs, Signal::Traces, "jaeger")?;
        Ok(Arc::new(JaegerReceiver::new(&ctx, config, next)))
    }
}

/// What the UDP ports dropped, by reason (each drop is also logged, sparsely).
#[derive(Debug, Default)]
pub struct UdpDrops {
    pub too_large: AtomicU64,
    pub queue_full: AtomicU64,
    pub undecodable: AtomicU64,
    pub refused: AtomicU64,
}

impl UdpDrops {
    /// (too_large, queue_full, undecodable, refused by the pipeline).
    pub fn snapshot(&self) -> (u64, u64, u64, u64) {
        (
            self.too_large.load(Ordering::Relaxed),
            self.queue_full.load(Ordering::Relaxed),
            self.undecodable.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
        )
    }
}

/// Counts a drop; logs the 1st, 2nd, 4th, 8th, … of each kind, so a flood does not flood the log.
pub(crate) fn count_drop(id: &str, counter: &AtomicU64, what: &str) {
    let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
    if n.is_power_of_two() {
        tracing::warn!(receiver = %id, dropped = n, "dropped a Jaeger packet: {what}");
    }
}

pub(crate) struct Shared {
    id: String,
    next: ConsumerRef,
    obs_udp: ReceiverObs,
    obs_http: ReceiverObs,
    obs_grpc: ReceiverObs,
    drops: UdpDrops,
}

impl Shared {
    /// Hands translated spans to the pipeline, counting them.
    async fn deliver(
        &self,
        request: ExportTraceServiceRequest,
        obs: &ReceiverObs,
    ) -> Result<(), ConsumeError> {
        self.deliver_payload(Payload::from_request(Request::Traces(request)), obs)
            .await
    }

    /// Thrift through the direct path (OTLP bytes and span count) when it answers, else
    /// through the reference decoder and `to_otlp`, whose error stands.
    async fn deliver_thrift(
        &self,
        input: &[u8],
        protocol: Protocol,
        agent: bool,
        obs: &ReceiverObs,
    ) -> Result<Result<(), ConsumeError>, crate::thrift::DecodeError> {
        use crate::thrift::jaeger::{AgentMessage, decode_agent_message, decode_batch};
        let direct = if agent {
            crate::direct::translate_agent(input, protocol)
        } else {
            crate::direct::translate_batch(input, protocol)
        };
        let payload = match direct {
            Some((bytes, spans)) => Payload::from_encoded(Signal::Traces, bytes.into(), spans),
            None => {
                let batch = if agent {
                    decode_agent_message(input, protocol).map(|AgentMessage::EmitBatch(b)| b)?
                } else {
                    decode_batch(input, protocol)?
                };
                let request = crate::to_otlp::to_otlp(vec![batch]);
                Payload::from_request(Request::Traces(request))
            }
        };
        Ok(self.deliver_payload(payload, obs).await)
    }

    async fn deliver_payload(
        &self,
        payload: Payload,
        obs: &ReceiverObs,
    ) -> Result<(), ConsumeError> {
        let items = payload.items();
        if items == 0 {
            return Ok(());
        }
        match self.next.consume(payload, Context::default()).await {
            Ok(()) => {
                obs.accepted(Signal::Traces, items);
                Ok(())
            }
            Err(e) => {
                obs.refused(Signal::Traces, items);
                Err(e)
            }
        }
    }
}

/// Where each protocol listens once started.
#[derive(Debug, Clone, Copy, Default)]
pub struct Addresses {
    pub grpc: Option<SocketAddr>,
    pub thrift_http: Option<SocketAddr>,
    pub thrift_compact: Option<SocketAddr>,
    pub thrift_binary: Option<SocketAddr>,
}

pub struct JaegerReceiver {
    shared: Arc<Shared>,
    config: JaegerReceiverConfig,
    http: Server,
    grpc: Server,
    udp: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    addresses: Mutex<Addresses>,
}

impl JaegerReceiver {
    pub fn new(ctx: &CreateContext, config: JaegerReceiverConfig, next: ConsumerRef) -> Self {
        let id = ctx.id.to_string();
        JaegerReceiver {
            shared: Arc::new(Shared {
                obs_udp: ReceiverObs::new(&ctx.telemetry, &id, "udp"),
                obs_http: ReceiverObs::new(&ctx.telemetry, &id, "http"),
                obs_grpc: ReceiverObs::new(&ctx.telemetry, &id, "grpc"),
                id,
                next,
                drops: UdpDrops::default(),
            }),
            config,
            http: Server::default(),
            grpc: Server::default(),
            udp: Mutex::new(Vec::new()),
            addresses: Mutex::new(Addresses::default()),
        }
    }

    pub fn addresses(&self) -> Addresses {
        *self.addresses.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn udp_drops(&self) -> &UdpDrops {
        &self.shared.drops
    }

    async fn start_all(&self) -> Result<Addresses, String> {
        let mut out = Addresses::default();
        let Some(p) = &self.config.protocols else {
            return Ok(out);
        };
        let id = &self.shared.id;
        if let Some(h) = &p.thrift_http {
            let addr = parse_endpoint(&h.endpoint)?;
            let state = Arc::new(http::ThriftHttp {
                shared: self.shared.clone(),
                max_body: h.max_request_body_size,
            });
            let handler = move |req| state.clone().handle(req);
            let bound = self
                .http
                .start(&format!("receiver {id}"), addr, None, handler)
                .await?;
            tracing::info!(receiver = %id, "Jaeger Thrift over HTTP on http://{bound}/api/traces");
            out.thrift_http = Some(bound);
        }
        if let Some(g) = &p.grpc {
            let addr = parse_endpoint(&g.endpoint)?;
            let state = Arc::new(http::Grpc {
                shared: self.shared.clone(),
                max_message: g.max_recv_msg_size_mib.saturating_mul(1 << 20),
            });
            let handler = move |req| state.clone().handle(req);
            let bound = self
                .grpc
                .start(&format!("receiver {id}"), addr, None, handler)
                .await?;
            tracing::info!(receiver = %id, "Jaeger gRPC on {bound}");
            out.grpc = Some(bound);
        }
        for (cfg, default, protocol) in [
            (&p.thrift_compact, DEFAULT_THRIFT_COMPACT, Protocol::Compact),
            (&p.thrift_binary, DEFAULT_THRIFT_BINARY, Protocol::Binary),
        ] {
            let Some(u) = cfg else { continue };
            let addr = parse_endpoint(u.endpoint_or(default))?;
            let (bound, tasks) = udp::start(self.shared.clone(), addr, protocol, u)?;
            tracing::info!(receiver = %id, "Jaeger agent UDP ({protocol:?} Thrift) on {bound}");
            self.udp
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(tasks);
            match protocol {
                Protocol::Compact => out.thrift_compact = Some(bound),
                Protocol::Binary => out.thrift_binary = Some(bound),
            }
        }
        Ok(out)
    }

    fn stop_all(&self) {
        self.http.stop();
        self.grpc.stop();
        for t in self.udp.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
            t.abort();
        }
    }
}

impl Lifecycle for JaegerReceiver {
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            match self.start_all().await {
                Ok(a) => {
                    *self.addresses.lock().unwrap_or_else(|e| e.into_inner()) = a;
                    Ok(())
                }
                Err(e) => {
                    self.stop_all();
                    Err(ComponentError::new(format!(
                        "receiver {}: {e}",
                        self.shared.id
                    )))
                }
            }
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move {
            self.stop_all();
            Ok(())
        })
    }
}

impl Receiver for JaegerReceiver {}
