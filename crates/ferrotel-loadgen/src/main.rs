//! The `ferrotel-loadgen` command: `traces|metrics|logs` send load, `sink` receives and counts
//! it, `corpus` writes a fixed corpus file.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use ferrotel_loadgen::args::{LoadArgs, ShapeArgs};
use ferrotel_loadgen::sink::{Sink, SinkArgs, progress_line};
use ferrotel_loadgen::{corpus, send};
use ferrotel_pdata::Signal;

#[derive(Parser)]
#[command(
    name = "ferrotel-loadgen",
    version,
    about = "OTLP load generator and counting sink"
)]
struct Cli {
    /// Runtime worker threads (default: 2, or 1 on a single core).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send spans (trees of 1 to 8 spans per trace).
    Traces(LoadArgs),
    /// Send metric data points (sum, gauge, histogram, exponential histogram).
    Metrics(LoadArgs),
    /// Send log records.
    Logs(LoadArgs),
    /// Receive OTLP, count items and ids, inject failures.
    Sink(SinkArgs),
    /// Write a fixed corpus of requests to a file (send it with --corpus).
    Corpus(CorpusArgs),
}

#[derive(clap::Args)]
struct CorpusArgs {
    #[arg(long, value_parser = ["traces", "metrics", "logs"])]
    signal: String,
    /// Items in the corpus.
    #[arg(long)]
    count: u64,
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    shape: ShapeArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let threads = cli.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get().min(2))
            .unwrap_or(1)
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Traces(a) => load(Signal::Traces, a).await,
            Command::Metrics(a) => load(Signal::Metrics, a).await,
            Command::Logs(a) => load(Signal::Logs, a).await,
            Command::Sink(a) => sink(a).await,
            Command::Corpus(a) => write_corpus(a),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn load(signal: Signal, args: LoadArgs) -> anyhow::Result<()> {
    let report = send::run(signal, &args).await?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", report.table());
    }
    Ok(())
}

fn write_corpus(a: CorpusArgs) -> anyhow::Result<()> {
    let signal: Signal = a.signal.parse().map_err(anyhow::Error::msg)?;
    let n = corpus::write(
        &a.out,
        signal,
        send::generate_requests(signal, &a.shape, a.count),
    )?;
    eprintln!(
        "wrote {} {signal} items in {n} requests to {}",
        a.count,
        a.out.display()
    );
    Ok(())
}

async fn sink(args: SinkArgs) -> anyhow::Result<()> {
    if args.grpc.is_none() && args.http.is_none() {
        anyhow::bail!("give --grpc ADDR and/or --http ADDR");
    }
    let interval = args.interval;
    let sink = Sink::start(args).await?;
    let ready = serde_json::json!({
        "event": "ready",
        "grpc": sink.grpc_addr(),
        "http": sink.http_addr(),
        "stats": sink.stats_addr(),
    });
    println!("{ready}");
    std::io::stdout().flush()?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut last = sink.summary();
    let tick = if interval.is_zero() {
        Duration::from_secs(3600)
    } else {
        interval
    };
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
            _ = tokio::time::sleep(tick) => {
                if !interval.is_zero() {
                    let now = sink.summary();
                    eprintln!("{}", progress_line(&now, &last, interval));
                    last = now;
                }
            }
        }
    }
    let summary = sink.shutdown(Duration::from_secs(1)).await;
    let mut out = serde_json::to_value(&summary)?;
    out["event"] = "summary".into();
    println!("{out}");
    Ok(())
}
