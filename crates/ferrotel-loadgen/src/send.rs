//! The sender: workers that draw requests from the template pool (or a corpus), pace them to
//! the requested rate, retry retryable refusals, and count what happened.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use bytes::Bytes;
use ferrotel_otlp::client::{
    ClientSettings, ClientTls, OtlpClient, PostClient, PostSettings, SendError,
};
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::{Payload, Signal};
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use prost::Message;

use crate::args::{LoadArgs, Rate};
use crate::generate::Pool;
use crate::hist::Histogram;
use crate::report::{Latency, Report};

/// Where requests come from.
enum Source {
    /// Generated: item ids `make_id(nonce, seq)` with `seq` from 1.
    Generated { pool: Pool, nonce: u32 },
    /// A fixed corpus, sent `repeat` times.
    Corpus {
        requests: Vec<(Bytes, usize)>,
        repeat: u64,
    },
}

struct Shared {
    source: Source,
    signal: Signal,
    batch: usize,
    count: Option<u64>,
    deadline: Option<Instant>,
    next_item: AtomicU64,
    next_request: AtomicU64,
}

/// One worker's counts.
#[derive(Default)]
struct Tally {
    sent: u64,
    requests: u64,
    acknowledged: u64,
    refused_permanent: u64,
    refused_retryable_requests: u64,
    retried: u64,
    dropped: u64,
    last_error: Option<String>,
    latency: Histogram,
}

impl Tally {
    fn add(&mut self, o: Tally) {
        self.sent += o.sent;
        self.requests += o.requests;
        self.acknowledged += o.acknowledged;
        self.refused_permanent += o.refused_permanent;
        self.refused_retryable_requests += o.refused_retryable_requests;
        self.retried += o.retried;
        self.dropped += o.dropped;
        if o.last_error.is_some() {
            self.last_error = o.last_error;
        }
        self.latency.merge(&o.latency);
    }
}

/// A random 24-bit nonce, never 0.
pub fn random_nonce() -> u32 {
    rand::random_range(1..0x100_0000)
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

impl Shared {
    /// The next request to send, or `None` when done.
    fn next(&self) -> Option<(Bytes, usize)> {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        match &self.source {
            Source::Generated { pool, nonce } => {
                let batch = self.batch as u64;
                let first = self.next_item.fetch_add(batch, Ordering::Relaxed);
                let n = match self.count {
                    Some(c) if first >= c => return None,
                    Some(c) => batch.min(c - first),
                    None => batch,
                } as usize;
                let k = self.next_request.fetch_add(1, Ordering::Relaxed);
                let t = pool.get(k, n);
                let base = now_ns().saturating_sub(10_000_000);
                Some((t.instantiate(*nonce, first + 1, base).into(), n))
            }
            Source::Corpus { requests, repeat } => {
                let k = self.next_request.fetch_add(1, Ordering::Relaxed);
                if k >= requests.len() as u64 * repeat {
                    return None;
                }
                let r = &requests[(k % requests.len() as u64) as usize];
                if let Some(c) = self.count {
                    let first = self.next_item.fetch_add(r.1 as u64, Ordering::Relaxed);
                    if first >= c {
                        return None;
                    }
                }
                Some(r.clone())
            }
        }
    }
}

/// Builds the source and sends until `--duration` or `--count` is reached.
pub async fn run(signal: Signal, args: &LoadArgs) -> anyhow::Result<Report> {
    if args.shape.batch_size == 0 || args.workers == 0 {
        bail!("--batch-size and --workers must be at least 1");
    }
    let (source, request_bytes) = match &args.corpus {
        Some(path) => {
            let (s, reqs) = crate::corpus::read(path)?;
            if s != signal {
                bail!("{} holds {s}, not {signal}", path.display());
            }
            if reqs.is_empty() {
                bail!("{} is empty", path.display());
            }
            let mut requests = Vec::with_capacity(reqs.len());
            for r in reqs {
                let n = ferrotel_pdata::wire::validate(signal, &r)
                    .context("corpus request does not validate")?;
                requests.push((r, n));
            }
            let size = requests[0].0.len();
            let repeat = args.repeat;
            (Source::Corpus { requests, repeat }, size)
        }
        None => {
            let pool = Pool::new(signal, args.shape.shape(), args.shape.batch_size);
            let size = pool.request_size();
            let nonce = args.shape.nonce.unwrap_or_else(random_nonce);
            (Source::Generated { pool, nonce }, size)
        }
    };
    let duration = match (args.duration, args.count, &source) {
        (Some(d), _, _) => Some(d),
        (None, None, Source::Generated { .. }) => Some(Duration::from_secs(10)),
        _ => None,
    };
    let client = Arc::new(match args.protocol.protocol() {
        Some(protocol) => Client::Otlp(
            OtlpClient::new(ClientSettings {
                protocol,
                endpoint: args.endpoint(),
                compression: args.compression.compression(),
                timeout: args.timeout,
                tls: ClientTls {
                    insecure: true,
                    ..Default::default()
                },
                ..Default::default()
            })
            .context("building the OTLP client")?,
        ),
        None => {
            if signal != Signal::Traces {
                bail!("{} carries traces only", args.protocol.as_str());
            }
            let proto = args.protocol == crate::args::ProtocolArg::ZipkinProto;
            Client::Zipkin {
                client: Box::new(
                    PostClient::new(PostSettings {
                        url: args.endpoint(),
                        timeout: args.timeout,
                        ..Default::default()
                    })
                    .context("building the Zipkin client")?,
                ),
                proto,
                content_type: [(
                    CONTENT_TYPE,
                    HeaderValue::from_static(if proto {
                        "application/x-protobuf"
                    } else {
                        "application/json"
                    }),
                )],
            }
        }
    });
    let start = Instant::now();
    let shared = Arc::new(Shared {
        source,
        signal,
        batch: args.shape.batch_size,
        count: args.count,
        deadline: duration.map(|d| start + d),
        next_item: AtomicU64::new(0),
        next_request: AtomicU64::new(0),
    });
    let interval = match args.rate {
        Rate::Max => None,
        Rate::PerSecond(r) => Some(Duration::from_secs_f64(
            (args.shape.batch_size * args.workers) as f64 / r,
        )),
    };
    let workers: Vec<_> = (0..args.workers)
        .map(|w| {
            let offset = interval.map(|i| i.mul_f64(w as f64 / args.workers as f64));
            tokio::spawn(worker(
                shared.clone(),
                client.clone(),
                args.max_retries,
                interval,
                offset,
            ))
        })
        .collect();
    let mut total = Tally::default();
    for w in workers {
        total.add(w.await.context("worker panicked")?);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let ms = |us: u64| us as f64 / 1000.0;
    let h = &total.latency;
    Ok(Report {
        signal: signal.to_string(),
        protocol: args.protocol.as_str().into(),
        sent: total.sent,
        requests: total.requests,
        acknowledged: total.acknowledged,
        refused_permanent: total.refused_permanent,
        refused_retryable_requests: total.refused_retryable_requests,
        retried: total.retried,
        dropped: total.dropped,
        last_error: total.last_error,
        elapsed_s: elapsed,
        items_per_s: total.acknowledged as f64 / elapsed.max(1e-9),
        request_bytes,
        latency_ms: Latency {
            p50: ms(h.quantile_us(0.5)),
            p90: ms(h.quantile_us(0.9)),
            p99: ms(h.quantile_us(0.99)),
            max: ms(h.max_us()),
        },
    })
}

/// Where requests go: an OTLP endpoint, or a Zipkin one (each request translated with the
/// zipkin exporter's own translation, so the receiver sees what ferrotel's exporter sends).
enum Client {
    Otlp(OtlpClient),
    Zipkin {
        client: Box<PostClient>,
        proto: bool,
        content_type: [(HeaderName, HeaderValue); 1],
    },
}

impl Client {
    /// Sends one request of `n` items (`raw` is the payload's protobuf); the number the
    /// server rejected.
    async fn send(&self, payload: &Payload, raw: &Bytes, n: u64) -> Result<u64, SendError> {
        match self {
            Client::Otlp(c) => c
                .export(payload)
                .await
                .map(|ps| (ps.rejected.max(0) as u64).min(n)),
            Client::Zipkin {
                client,
                proto,
                content_type,
            } => {
                let req =
                    ExportTraceServiceRequest::decode(raw.clone()).map_err(|e| SendError {
                        retryable: false,
                        retry_after: None,
                        message: e.to_string(),
                        status: "encode".into(),
                    })?;
                let spans = ferrotel_zipkin::from_otlp::from_otlp(&req, "loadgen");
                let body = if *proto {
                    ferrotel_zipkin::proto::encode(&spans)
                } else {
                    ferrotel_zipkin::json::encode(&spans)
                };
                client.post(body.into(), content_type).await.map(|()| 0)
            }
        }
    }
}

async fn worker(
    shared: Arc<Shared>,
    client: Arc<Client>,
    max_retries: u32,
    interval: Option<Duration>,
    offset: Option<Duration>,
) -> Tally {
    let mut t = Tally::default();
    let mut next_at = tokio::time::Instant::now() + offset.unwrap_or_default();
    while let Some((bytes, n)) = shared.next() {
        if let Some(i) = interval {
            tokio::time::sleep_until(next_at).await;
            next_at += i;
        }
        let n = n as u64;
        let raw = bytes.clone();
        let payload = match Payload::from_proto(shared.signal, bytes) {
            Ok(p) => p,
            Err(e) => {
                t.last_error = Some(format!("generated an invalid request: {e}"));
                t.dropped += n;
                continue;
            }
        };
        t.sent += n;
        let mut attempt = 0;
        loop {
            t.requests += 1;
            let began = Instant::now();
            let result = client.send(&payload, &raw, n).await;
            t.latency.record(began.elapsed());
            match result {
                Ok(rejected) => {
                    t.acknowledged += n - rejected;
                    t.refused_permanent += rejected;
                    break;
                }
                Err(e) if e.retryable => {
                    t.refused_retryable_requests += 1;
                    t.last_error = Some(e.to_string());
                    if attempt >= max_retries {
                        t.dropped += n;
                        break;
                    }
                    let backoff = Duration::from_millis(10 << attempt.min(6));
                    let wait = e.retry_after.unwrap_or(backoff).min(Duration::from_secs(1));
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    t.retried += n;
                }
                Err(e) => {
                    t.refused_permanent += n;
                    t.last_error = Some(e.to_string());
                    break;
                }
            }
        }
    }
    t
}

/// Generates `count` items as requests of `--batch-size` for a corpus file.
pub fn generate_requests(
    signal: Signal,
    shape: &crate::args::ShapeArgs,
    count: u64,
) -> impl Iterator<Item = Vec<u8>> {
    let pool = Pool::new(signal, shape.shape(), shape.batch_size);
    let nonce = shape.nonce.unwrap_or_else(random_nonce);
    let batch = shape.batch_size as u64;
    let base = now_ns();
    (0..count.div_ceil(batch)).map(move |k| {
        let first = k * batch;
        let n = batch.min(count - first) as usize;
        pool.get(k, n).instantiate(nonce, first + 1, base)
    })
}
