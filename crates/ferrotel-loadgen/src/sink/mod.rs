//! The sink: an OTLP server (gRPC and HTTP, from `ferrotel-otlp`) that acknowledges and counts
//! what it receives, optionally records every item id to detect loss and duplicates exactly,
//! and injects failures, latency and outages on demand.

mod idset;
pub mod stats_http;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use ferrotel_otlp::server::{
    ErrorKind, ExportError, ExportHandler, ExportRequest, GrpcServerSettings, HttpServerSettings,
    PartialSuccess, ServerHandle,
};
use ferrotel_pdata::Signal;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::args::parse_duration;
use crate::ids::for_each_id;
pub use idset::IdSet;

/// A window of time since start during which the sink refuses everything.
fn parse_window(s: &str) -> Result<(Duration, Duration), String> {
    let (a, b) = s
        .split_once("..")
        .or_else(|| s.split_once('-'))
        .ok_or_else(|| format!("invalid window {s:?} (expected FROM..TO, e.g. 5s..8s)"))?;
    Ok((parse_duration(a)?, parse_duration(b)?))
}

/// `ferrotel-loadgen sink`.
#[derive(Debug, Clone, Args)]
pub struct SinkArgs {
    /// OTLP/gRPC listen address (port 0 picks a free port).
    #[arg(long)]
    pub grpc: Option<SocketAddr>,
    /// OTLP/HTTP listen address.
    #[arg(long)]
    pub http: Option<SocketAddr>,
    /// Address of the `GET /stats` JSON endpoint.
    #[arg(long)]
    pub stats: Option<SocketAddr>,
    /// Record every item id to count unique ids and duplicates exactly.
    #[arg(long)]
    pub record_ids: bool,
    /// Fraction of requests refused with a retryable error (HTTP 503 / gRPC Unavailable).
    #[arg(long, default_value_t = 0.0)]
    pub fail_rate: f64,
    /// Fraction of requests refused permanently (HTTP 400 / gRPC InvalidArgument).
    #[arg(long, default_value_t = 0.0)]
    pub refuse_permanent_rate: f64,
    /// Delay before answering each request.
    #[arg(long, value_parser = parse_duration)]
    pub latency: Option<Duration>,
    /// Refuse everything (retryable) for this long after start.
    #[arg(long, value_parser = parse_duration)]
    pub down_for: Option<Duration>,
    /// Refuse everything between these times since start (`5s..8s`); repeatable.
    #[arg(long, value_parser = parse_window)]
    pub down_between: Vec<(Duration, Duration)>,
    /// How often to print counts on stderr (0 = never).
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    pub interval: Duration,
}

impl Default for SinkArgs {
    fn default() -> Self {
        SinkArgs {
            grpc: None,
            http: None,
            stats: None,
            record_ids: true,
            fail_rate: 0.0,
            refuse_permanent_rate: 0.0,
            latency: None,
            down_for: None,
            down_between: Vec::new(),
            interval: Duration::ZERO,
        }
    }
}

/// Counts for one signal.
#[derive(Debug, Default)]
struct Counts {
    requests: u64,
    items: u64,
    without_id: u64,
    refused_retryable: u64,
    refused_permanent: u64,
    ids: IdSet,
}

/// A signal's counts as reported.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SignalSummary {
    /// Requests accepted.
    pub requests: u64,
    /// Items accepted (duplicates included).
    pub items: u64,
    /// Distinct item ids (with --record-ids).
    pub unique_ids: u64,
    /// Items whose id had been seen before (with --record-ids).
    pub duplicates: u64,
    /// Items without a loadgen id (with --record-ids).
    pub without_id: u64,
    /// Requests refused with a retryable error (injected).
    pub refused_retryable: u64,
    /// Requests refused permanently (injected).
    pub refused_permanent: u64,
}

/// The sink's summary: `GET /stats` and the final line on SIGTERM.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    pub elapsed_s: f64,
    pub record_ids: bool,
    pub signals: BTreeMap<String, SignalSummary>,
}

impl Summary {
    /// The counts of `signal` (zero if nothing arrived).
    pub fn signal(&self, signal: Signal) -> SignalSummary {
        self.signals
            .get(signal.as_str())
            .cloned()
            .unwrap_or_default()
    }
}

/// Shared state of a running sink.
pub struct State {
    opts: SinkArgs,
    started: Instant,
    counts: [Mutex<Counts>; 3],
}

fn slot(signal: Signal) -> Option<usize> {
    match signal {
        Signal::Traces => Some(0),
        Signal::Metrics => Some(1),
        Signal::Logs => Some(2),
        Signal::Profiles => None,
    }
}

const SIGNALS: [Signal; 3] = [Signal::Traces, Signal::Metrics, Signal::Logs];

impl State {
    fn counts(&self, signal: Signal) -> Option<std::sync::MutexGuard<'_, Counts>> {
        slot(signal).map(|i| self.counts[i].lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn is_down(&self) -> bool {
        let t = self.started.elapsed();
        self.opts.down_for.is_some_and(|d| t < d)
            || self.opts.down_between.iter().any(|&(a, b)| t >= a && t < b)
    }

    /// The current counts.
    pub fn summary(&self) -> Summary {
        let mut signals = BTreeMap::new();
        for s in SIGNALS {
            let c = self.counts(s).expect("signal slot");
            signals.insert(
                s.as_str().to_owned(),
                SignalSummary {
                    requests: c.requests,
                    items: c.items,
                    unique_ids: c.ids.unique(),
                    duplicates: c.ids.duplicates(),
                    without_id: c.without_id,
                    refused_retryable: c.refused_retryable,
                    refused_permanent: c.refused_permanent,
                },
            );
        }
        Summary {
            elapsed_s: self.started.elapsed().as_secs_f64(),
            record_ids: self.opts.record_ids,
            signals,
        }
    }

    pub fn summary_json(&self) -> String {
        serde_json::to_string(&self.summary()).unwrap_or_default()
    }

    /// Clears every count and recorded id.
    pub fn reset(&self) {
        for s in SIGNALS {
            *self.counts(s).expect("signal slot") = Counts::default();
        }
    }

    fn handle(&self, req: &ExportRequest) -> Result<(), ExportError> {
        let signal = req.payload.signal();
        let Some(mut c) = self.counts(signal) else {
            return Ok(());
        };
        if self.is_down()
            || (self.opts.fail_rate > 0.0 && rand::random_bool(self.opts.fail_rate.min(1.0)))
        {
            c.refused_retryable += 1;
            return Err(ExportError::unavailable("sink: injected failure", None));
        }
        if self.opts.refuse_permanent_rate > 0.0
            && rand::random_bool(self.opts.refuse_permanent_rate.min(1.0))
        {
            c.refused_permanent += 1;
            return Err(ExportError::new(
                ErrorKind::InvalidArgument,
                "sink: injected permanent refusal",
            ));
        }
        c.requests += 1;
        c.items += req.payload.items() as u64;
        if self.opts.record_ids {
            let bytes = req.payload.to_proto();
            let Counts {
                ids, without_id, ..
            } = &mut *c;
            for_each_id(signal, &bytes, |id| match id {
                Some(id) => {
                    ids.insert(id);
                }
                None => *without_id += 1,
            });
        }
        Ok(())
    }
}

struct Handler(Arc<State>);

impl ExportHandler for Handler {
    fn export(
        &self,
        req: ExportRequest,
    ) -> BoxFuture<'static, Result<PartialSuccess, ExportError>> {
        let state = self.0.clone();
        Box::pin(async move {
            if let Some(d) = state.opts.latency {
                tokio::time::sleep(d).await;
            }
            state.handle(&req).map(|()| PartialSuccess::default())
        })
    }
}

/// A running sink.
pub struct Sink {
    state: Arc<State>,
    grpc: Option<ServerHandle>,
    http: Option<ServerHandle>,
    stats: Option<SocketAddr>,
}

impl Sink {
    /// Starts the servers `opts` asks for (within a Tokio runtime).
    pub async fn start(opts: SinkArgs) -> anyhow::Result<Sink> {
        let state = Arc::new(State {
            opts: opts.clone(),
            started: Instant::now(),
            counts: Default::default(),
        });
        let handler: Arc<dyn ExportHandler> = Arc::new(Handler(state.clone()));
        let grpc = match opts.grpc {
            Some(endpoint) => Some(
                ferrotel_otlp::server::start_grpc(
                    GrpcServerSettings {
                        endpoint,
                        max_recv_msg_size: 64 << 20,
                        ..Default::default()
                    },
                    handler.clone(),
                )
                .await?,
            ),
            None => None,
        };
        let http = match opts.http {
            Some(endpoint) => Some(
                ferrotel_otlp::server::start_http(
                    HttpServerSettings {
                        endpoint,
                        max_request_body_size: 64 << 20,
                        ..Default::default()
                    },
                    handler,
                )
                .await?,
            ),
            None => None,
        };
        let stats = match opts.stats {
            Some(a) => Some(stats_http::serve(a, state.clone()).await?),
            None => None,
        };
        Ok(Sink {
            state,
            grpc,
            http,
            stats,
        })
    }

    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc.as_ref().map(ServerHandle::local_addr)
    }

    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().map(ServerHandle::local_addr)
    }

    pub fn stats_addr(&self) -> Option<SocketAddr> {
        self.stats
    }

    pub fn state(&self) -> &Arc<State> {
        &self.state
    }

    pub fn summary(&self) -> Summary {
        self.state.summary()
    }

    /// Stops the servers, letting in-flight requests finish for up to `grace`.
    pub async fn shutdown(self, grace: Duration) -> Summary {
        for h in [self.grpc, self.http].into_iter().flatten() {
            h.shutdown(grace).await;
        }
        self.state.summary()
    }
}

/// One stderr line of counts.
pub fn progress_line(s: &Summary, last: &Summary, every: Duration) -> String {
    let mut parts = vec![format!("sink t={:.0}s", s.elapsed_s)];
    for sig in SIGNALS {
        let now = s.signal(sig);
        let then = last.signal(sig);
        if now.items == 0 && now.refused_retryable == 0 && now.refused_permanent == 0 {
            continue;
        }
        let rate = (now.items - then.items.min(now.items)) as f64 / every.as_secs_f64();
        parts.push(format!(
            "{sig}={} ({rate:.0}/s, dup {}, refused {}+{})",
            now.items, now.duplicates, now.refused_retryable, now.refused_permanent
        ));
    }
    parts.join("  ")
}
