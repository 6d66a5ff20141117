//! `ferrotel`: the collector binary.
//!
//! `ferrotel [--config SRC]...` runs the pipelines of an OpenTelemetry Collector config (or the
//! embedded default); `validate`, `components` and `otlp` are the tools around it.

mod otlp_tools;
mod own_telemetry;
mod query;

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use ferrotel_runtime::config::{self, Config, ConfigErrors};
use ferrotel_runtime::telemetry::export::OwnResource;
use ferrotel_runtime::{Kind, Service, Telemetry};

/// The embedded default config, run when no --config is given.
pub const DEFAULT_CONFIG: &str = include_str!("default.yaml");

#[derive(Parser)]
#[command(name = "ferrotel", version, about = "An OpenTelemetry collector: OTLP in, processing, OTLP/files/... out", long_about = None)]
struct Cli {
    /// Config source: a file path, file:PATH, env:VAR or 'yaml:key::path: value'. Repeatable;
    /// later sources merge over earlier ones. Without it, the embedded default runs.
    #[arg(long = "config", short = 'c', global = true)]
    config: Vec<String>,

    /// Keep the local store's data in DIR across restarts (sets
    /// exporters::local_store::directory, in the embedded default or over --config).
    #[arg(long = "data-dir", value_name = "DIR")]
    data_dir: Option<String>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Checks a config and lists every problem (exit 1 if any).
    Validate,
    /// Lists every receiver, processor, exporter, connector and extension.
    Components,
    /// Prints the embedded default config.
    DefaultConfig,
    /// OTLP payload file tools: convert, inspect, validate.
    Otlp {
        #[command(subcommand)]
        tool: otlp_tools::OtlpTool,
    },
    /// Queries the local store of a running ferrotel: services, traces, a trace, logs.
    Query {
        /// The instance's UI and query API address.
        #[arg(long, default_value = "http://127.0.0.1:16686")]
        endpoint: String,
        #[command(subcommand)]
        what: query::QueryCommand,
    },
}

/// Loads and checks a config, with every error in one run: the graph checks (component types
/// and configs, references) run on whatever the sections gave, even when one of them (say the
/// telemetry) has errors.
fn check(
    specs: &[String],
    data_dir: Option<&str>,
    registry: &ferrotel_runtime::Registry,
) -> Result<(Config, ferrotel_runtime::graph::Plan), ConfigErrors> {
    let (config, mut errors) = Config::parse(load_root(specs, data_dir)?);
    if config.service.pipelines.is_empty() && !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    match ferrotel_runtime::graph::validate(&config, registry) {
        Ok(plan) if errors.is_empty() => Ok((config, plan)),
        Ok(_) => Err(ConfigErrors(errors)),
        Err(graph_errors) => {
            errors.extend(graph_errors.0);
            Err(ConfigErrors(errors))
        }
    }
}

fn load_root(specs: &[String], data_dir: Option<&str>) -> Result<config::node::Node, ConfigErrors> {
    let root = if specs.is_empty() {
        config::node::parse_yaml(DEFAULT_CONFIG, "<embedded default>")
            .map_err(|e| config::ConfigError::new("", e.to_string()))?
    } else {
        config::load_sources(specs, &config::process_env)?
    };
    let mut root = root;
    if specs.is_empty() {
        config::expand::expand_node(&mut root, &config::process_env, &mut Vec::new())
            .map_err(|e| config::ConfigError::new("", e))?;
    }
    if let Some(dir) = data_dir {
        // A JSON string is a YAML scalar that keeps any path as it is.
        let quoted = serde_json::Value::String(dir.to_string()).to_string();
        let over = config::load_source(
            &format!("yaml:exporters::local_store::directory: {quoted}"),
            &config::process_env,
        )?;
        root.merge(over);
    }
    Ok(root)
}

fn print_errors(errors: &ConfigErrors) {
    for e in &errors.0 {
        eprintln!("error: {e}");
    }
}

/// glibc malloc settings for a small, steady footprint (measured at 10 k spans/s through
/// OTLP/gRPC → batch → OTLP/gRPC; see docs/benchmarks.md):
/// - one arena: with two (one per runtime worker) anonymous memory was 5.1 MiB, with one 3.0;
/// - fixed mmap and trim thresholds: with glibc's defaults the heap top holding the batch
///   buffers (hundreds of KiB) was returned to the kernel and faulted back in again, ~1,500
///   page faults a second, ~20 % of the collector's CPU. Blocks up to 4 MiB now come from the
///   heap and stay there while the heap's free top is under 4 MiB: no faults in steady state.
///
/// An explicit `MALLOC_ARENA_MAX`, `MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_` or
/// `GLIBC_TUNABLES` in the environment wins over these.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_malloc() {
    let set = |var: &str, param: libc::c_int, value: libc::c_int| {
        if std::env::var_os(var).is_none() && std::env::var_os("GLIBC_TUNABLES").is_none() {
            // SAFETY: mallopt only changes allocator parameters; called before other threads.
            unsafe { libc::mallopt(param, value) };
        }
    };
    set("MALLOC_ARENA_MAX", libc::M_ARENA_MAX, 1);
    set("MALLOC_MMAP_THRESHOLD_", libc::M_MMAP_THRESHOLD, 4 << 20);
    set("MALLOC_TRIM_THRESHOLD_", libc::M_TRIM_THRESHOLD, 4 << 20);
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}

fn main() -> ExitCode {
    tune_malloc();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Otlp { tool }) => otlp_tools::run(tool),
        Some(Command::Query { endpoint, what }) => query::run(&endpoint, what),
        Some(Command::Components) => {
            print_components();
            ExitCode::SUCCESS
        }
        Some(Command::DefaultConfig) => {
            print!("{DEFAULT_CONFIG}");
            ExitCode::SUCCESS
        }
        Some(Command::Validate) => validate(&cli.config, cli.data_dir.as_deref()),
        None => run(&cli.config, cli.data_dir.as_deref()),
    }
}

fn validate(specs: &[String], data_dir: Option<&str>) -> ExitCode {
    let registry = ferrotel_components::registry();
    let result = check(specs, data_dir, &registry);
    match result {
        Ok((config, plan)) => {
            for w in &plan.warnings {
                eprintln!("warning: {w}");
            }
            for line in ferrotel_runtime::graph::describe(&config, &plan) {
                println!("{line}");
            }
            println!("config is valid");
            ExitCode::SUCCESS
        }
        Err(errors) => {
            print_errors(&errors);
            ExitCode::FAILURE
        }
    }
}

fn print_components() {
    let registry = ferrotel_components::registry();
    for kind in [
        Kind::Receiver,
        Kind::Processor,
        Kind::Exporter,
        Kind::Connector,
        Kind::Extension,
    ] {
        println!("{}:", kind.section());
        for info in registry.list(kind) {
            let aliases = if info.aliases.is_empty() {
                String::new()
            } else {
                format!(" (alias: {})", info.aliases.join(", "))
            };
            let signals = if kind == Kind::Connector {
                info.connects
                    .iter()
                    .map(|(a, b)| format!("{a}->{b}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            } else if kind == Kind::Extension {
                info.stability.as_str().to_string()
            } else {
                info.signals
                    .iter()
                    .map(|(s, st)| format!("{s}: {}", st.as_str()))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            println!(
                "  {:<14} {signals}{aliases}\n  {:<14} {}",
                info.type_name, "", info.description
            );
        }
    }
}

fn run(specs: &[String], data_dir: Option<&str>) -> ExitCode {
    let config = match check(specs, data_dir, &ferrotel_components::registry()) {
        Ok((c, _)) => c,
        Err(e) => {
            print_errors(&e);
            return ExitCode::FAILURE;
        }
    };
    // Before anything logs: records logged until the runtime runs wait in the export queues.
    let logs = ferrotel_runtime::telemetry::logs::init(&config.service.telemetry.logs);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let resource = Arc::new(OwnResource::new(&config.service.telemetry));
        let push = own_telemetry::sender_factory();
        if let Err(e) = logs.start(&push, resource.clone()) {
            eprintln!("error: cannot start: {e}");
            return ExitCode::FAILURE;
        }
        let code = serve(&config, specs, data_dir, push, resource).await;
        // After the service's own last lines, so they are exported too.
        logs.shutdown().await;
        code
    })
}

async fn serve(
    config: &Config,
    specs: &[String],
    data_dir: Option<&str>,
    push: ferrotel_runtime::telemetry::export::SenderFactory,
    resource: Arc<OwnResource>,
) -> ExitCode {
    // Before anything starts: a SIGTERM from here on is a clean shutdown, never a kill.
    let signals = ferrotel_runtime::service::catch_signals();
    if config.service.telemetry.traces_configured {
        tracing::warn!(
            "service::telemetry::traces: ferrotel records no spans of its own; nothing is exported"
        );
    }
    let registry = ferrotel_components::registry();
    let mut service = match Service::build(config, &registry, Telemetry::new()) {
        Ok(s) => s,
        Err(e) => {
            print_errors(&e);
            return ExitCode::FAILURE;
        }
    };
    service.set_telemetry_push(push, resource);
    for w in &service.warnings {
        tracing::warn!("{w}");
    }
    let started = std::time::Instant::now();
    if let Err(e) = service.start().await {
        eprintln!("error: cannot start: {e}");
        return ExitCode::FAILURE;
    }
    let metrics: String = service
        .metrics_addresses()
        .await
        .iter()
        .map(|a| format!("; own metrics on http://{a}/metrics"))
        .collect();
    if specs.is_empty() {
        let kept = match data_dir {
            Some(dir) => format!("kept in {dir}"),
            None => "kept in memory (--data-dir DIR keeps it)".to_string(),
        };
        eprintln!(
            "ferrotel {} ready in {} ms: OTLP on 127.0.0.1:4317 (gRPC) and http://127.0.0.1:4318 (HTTP); data {kept}; UI and query APIs: http://127.0.0.1:16686{metrics}",
            env!("CARGO_PKG_VERSION"),
            started.elapsed().as_millis()
        );
    } else {
        eprintln!(
            "ferrotel {} ready in {} ms{metrics}",
            env!("CARGO_PKG_VERSION"),
            started.elapsed().as_millis()
        );
    }
    // The Go Collector's line, for whoever watches the exported logs.
    tracing::info!("Everything is ready. Begin running and processing data.");
    service.run_until(signals).await;
    ExitCode::SUCCESS
}
