//! Command-line arguments shared by the binary and by `ferrotel-bench`, which builds them
//! with [`LoadArgs::parse_from_strs`] so a scenario reads like the command it stands for.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, ValueEnum};
use ferrotel_otlp::client::{Compression, Protocol};

/// Parses `10s`, `250ms`, `2m`, `1.5s`, `1h`, `500us` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?} (e.g. 10s, 250ms, 2m)"))?;
    let secs = match unit {
        "" | "s" => v,
        "ms" => v / 1e3,
        "us" | "µs" => v / 1e6,
        "ns" => v / 1e9,
        "m" => v * 60.0,
        "h" => v * 3600.0,
        _ => return Err(format!("invalid duration unit in {s:?}")),
    };
    Ok(Duration::from_secs_f64(secs))
}

/// `max` or a positive number of items per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    Max,
    PerSecond(f64),
}

fn parse_rate(s: &str) -> Result<Rate, String> {
    if s.eq_ignore_ascii_case("max") {
        return Ok(Rate::Max);
    }
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 => Ok(Rate::PerSecond(v)),
        _ => Err(format!("invalid rate {s:?} (items per second, or max)")),
    }
}

/// The wire protocol to send with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProtocolArg {
    Grpc,
    #[value(name = "http/protobuf")]
    HttpProtobuf,
    #[value(name = "http/json")]
    HttpJson,
    /// Zipkin v2 JSON to `/api/v2/spans` (traces only), for the zipkin receiver's benchmark.
    #[value(name = "zipkin/json")]
    ZipkinJson,
    /// Zipkin v2 protobuf (`ListOfSpans`) to `/api/v2/spans`.
    #[value(name = "zipkin/proto")]
    ZipkinProto,
}

impl ProtocolArg {
    /// The OTLP protocol, or `None` for Zipkin.
    pub fn protocol(self) -> Option<Protocol> {
        match self {
            ProtocolArg::Grpc => Some(Protocol::Grpc),
            ProtocolArg::HttpProtobuf => Some(Protocol::HttpProtobuf),
            ProtocolArg::HttpJson => Some(Protocol::HttpJson),
            ProtocolArg::ZipkinJson | ProtocolArg::ZipkinProto => None,
        }
    }

    pub fn is_zipkin(self) -> bool {
        self.protocol().is_none()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolArg::Grpc => "grpc",
            ProtocolArg::HttpProtobuf => "http/protobuf",
            ProtocolArg::HttpJson => "http/json",
            ProtocolArg::ZipkinJson => "zipkin/json",
            ProtocolArg::ZipkinProto => "zipkin/proto",
        }
    }
}

/// Request compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompressionArg {
    None,
    Gzip,
    Zstd,
}

impl CompressionArg {
    pub fn compression(self) -> Compression {
        match self {
            CompressionArg::None => Compression::None,
            CompressionArg::Gzip => Compression::Gzip,
            CompressionArg::Zstd => Compression::Zstd,
        }
    }
}

/// What the generated items look like.
#[derive(Debug, Clone, Args)]
pub struct ShapeArgs {
    /// Extra string attributes per item.
    #[arg(long, default_value_t = 5)]
    pub attributes: usize,
    /// Length of each extra attribute value, in bytes.
    #[arg(long, default_value_t = 20)]
    pub attribute_size: usize,
    /// Distinct resources (services); requests rotate over them.
    #[arg(long, default_value_t = 4)]
    pub services: usize,
    /// Items per request.
    #[arg(long, default_value_t = 100)]
    pub batch_size: usize,
    /// Seed of the generated shapes and values.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// 24-bit run id in the top bits of every item id (random when unset).
    #[arg(long)]
    pub nonce: Option<u32>,
}

impl ShapeArgs {
    pub fn shape(&self) -> crate::generate::Shape {
        crate::generate::Shape {
            attributes: self.attributes,
            attribute_size: self.attribute_size,
            services: self.services.max(1),
            seed: self.seed,
        }
    }
}

/// `ferrotel-loadgen traces|metrics|logs`.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// gRPC `host:port`, or the HTTP base URL (default 127.0.0.1:4317 / http://127.0.0.1:4318).
    #[arg(long)]
    pub endpoint: Option<String>,
    #[arg(long, value_enum, default_value_t = ProtocolArg::Grpc)]
    pub protocol: ProtocolArg,
    /// Items per second over all workers, or `max` (as fast as the server answers).
    #[arg(long, value_parser = parse_rate, default_value = "max")]
    pub rate: Rate,
    /// How long to send (default 10s unless --count is given).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Items to send in total.
    #[arg(long)]
    pub count: Option<u64>,
    /// Concurrent senders (each has one request in flight).
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    #[arg(long, value_enum, default_value_t = CompressionArg::None)]
    pub compression: CompressionArg,
    /// Retries of a request refused with a retryable error before it counts as dropped.
    #[arg(long, default_value_t = 5)]
    pub max_retries: u32,
    /// Limit for one export call.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub timeout: Duration,
    /// Send the requests of this corpus file instead of generating.
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// With --corpus: how many times to send the whole corpus.
    #[arg(long, default_value_t = 1)]
    pub repeat: u64,
    #[command(flatten)]
    pub shape: ShapeArgs,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Parser)]
struct Wrapper {
    #[command(flatten)]
    args: LoadArgs,
}

impl LoadArgs {
    /// Parses arguments as the CLI would (without the program name and subcommand).
    pub fn parse_from_strs<S: AsRef<str>>(args: &[S]) -> Result<LoadArgs, clap::Error> {
        let argv = std::iter::once("ferrotel-loadgen").chain(args.iter().map(AsRef::as_ref));
        Wrapper::try_parse_from(argv).map(|w| w.args)
    }

    /// The endpoint, defaulted by protocol.
    pub fn endpoint(&self) -> String {
        match (&self.endpoint, self.protocol) {
            (Some(e), _) => e.clone(),
            (None, ProtocolArg::Grpc) => "127.0.0.1:4317".into(),
            (None, ProtocolArg::ZipkinJson | ProtocolArg::ZipkinProto) => {
                "http://127.0.0.1:9411/api/v2/spans".into()
            }
            (None, _) => "http://127.0.0.1:4318".into(),
        }
    }
}
