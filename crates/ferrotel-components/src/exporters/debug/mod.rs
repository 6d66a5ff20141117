//! `debug` exporter: prints what passes through to stderr (the collector's log), or with
//! `use_internal_logger: false` to `output_paths` (stdout by default), as the Go Collector's does.
//!
//! `basic` prints one summary line per request, `normal` one line per item, `detailed` the
//! whole request as pretty OTLP/JSON. `sampling_initial`/`sampling_thereafter` thin the output
//! per second, like the Go exporter's zap sampler.

use std::io::Write;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Instant;

use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_runtime::config::ConfigError;
use ferrotel_runtime::exporter_helper::{
    QueueSettings, QueuedExporter, RetrySettings, SendFailure, Sender,
};
use ferrotel_runtime::*;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Verbosity {
    #[default]
    Basic,
    Normal,
    Detailed,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DebugConfig {
    pub verbosity: Verbosity,
    /// Requests printed per second before sampling starts.
    pub sampling_initial: u64,
    /// After that, print every Nth request within the second.
    pub sampling_thereafter: u64,
    /// Print with the collector's own log output (stderr); false: to `output_paths`.
    pub use_internal_logger: bool,
    /// With `use_internal_logger: false`: `stdout`, `stderr` or file paths (appended to);
    /// `["stdout"]` when absent.
    pub output_paths: Option<Vec<String>>,
    pub sending_queue: QueueSettings,
}

impl Default for DebugConfig {
    fn default() -> Self {
        DebugConfig {
            verbosity: Verbosity::Basic,
            sampling_initial: 2,
            sampling_thereafter: 1,
            use_internal_logger: true,
            output_paths: None,
            sending_queue: QueueSettings::disabled(),
        }
    }
}

impl ComponentConfig for DebugConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.sampling_thereafter == 0 {
            return Err(ConfigError::field(
                "sampling_thereafter",
                "must be at least 1",
            ));
        }
        match &self.output_paths {
            Some(_) if self.use_internal_logger => {
                return Err(ConfigError::field(
                    "output_paths",
                    "output_paths is not supported when use_internal_logger is true",
                ));
            }
            Some(paths) if paths.is_empty() => {
                return Err(ConfigError::field(
                    "output_paths",
                    "output_paths must not be empty when use_internal_logger is false",
                ));
            }
            _ => {}
        }
        self.sending_queue.validate()
    }
}

/// Where the printed text goes.
enum Output {
    Stdout,
    Stderr,
    File(Mutex<std::fs::File>),
}

impl Output {
    fn open(path: &str) -> Result<Output, ComponentError> {
        Ok(match path {
            "stdout" => Output::Stdout,
            "stderr" => Output::Stderr,
            _ => Output::File(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| {
                        ComponentError::new(format!("output_paths: cannot open \"{path}\": {e}"))
                    })?,
            )),
        })
    }

    fn write(&self, text: &[u8]) {
        let _ = match self {
            Output::Stdout => std::io::stdout().lock().write_all(text),
            Output::Stderr => std::io::stderr().lock().write_all(text),
            Output::File(f) => f.lock().unwrap_or_else(|e| e.into_inner()).write_all(text),
        };
    }
}

/// Factory of the `debug` exporter.
pub struct DebugExporterFactory;

impl ExporterFactory for DebugExporterFactory {
    type Config = DebugConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new("debug", "Prints data to stderr (basic, normal, detailed)")
            .all_signals(Stability::Development)
            .aliases(&["logging"])
    }

    fn create(
        &self,
        ctx: CreateContext,
        config: Self::Config,
        _signals: &[Signal],
    ) -> Result<Arc<dyn Exporter>, ComponentError> {
        let outputs = if config.use_internal_logger {
            vec![Output::Stderr]
        } else {
            match &config.output_paths {
                Some(paths) => paths
                    .iter()
                    .map(|p| Output::open(p))
                    .collect::<Result<_, _>>()?,
                None => vec![Output::Stdout],
            }
        };
        let sender = Arc::new(DebugSender {
            config: config.clone(),
            outputs,
            window: Mutex::new((Instant::now(), 0)),
        });
        let retry = RetrySettings {
            enabled: false,
            ..Default::default()
        };
        Ok(Arc::new(QueuedExporter::new(
            &ctx,
            sender,
            &config.sending_queue,
            retry,
            std::time::Duration::from_secs(30),
        )?))
    }
}

struct DebugSender {
    config: DebugConfig,
    outputs: Vec<Output>,
    /// (start of the current second, requests seen in it)
    window: Mutex<(Instant, u64)>,
}

impl DebugSender {
    fn sampled(&self) -> bool {
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        if w.0.elapsed().as_secs() >= 1 {
            *w = (Instant::now(), 0);
        }
        w.1 += 1;
        let n = w.1;
        n <= self.config.sampling_initial
            || (n - self.config.sampling_initial).is_multiple_of(self.config.sampling_thereafter)
    }
}

/// The one-line summary the Go debug exporter prints at `basic`.
pub fn summary(payload: &Payload) -> String {
    let what = match payload.signal() {
        Signal::Traces => "Traces",
        Signal::Metrics => "Metrics",
        Signal::Logs => "Logs",
        Signal::Profiles => "Profiles",
    };
    format!(
        "{what}\t{{\"{}\": {}}}",
        payload.signal().item_metric_noun(),
        payload.items()
    )
}

fn item_lines(request: &Request, out: &mut String) {
    use std::fmt::Write as _;
    match request {
        Request::Traces(r) => {
            for rs in &r.resource_spans {
                for ss in &rs.scope_spans {
                    for s in &ss.spans {
                        let _ = writeln!(
                            out,
                            "{} {} {} kind={} attributes={}",
                            s.name,
                            hex(&s.trace_id),
                            hex(&s.span_id),
                            s.kind,
                            s.attributes.len()
                        );
                    }
                }
            }
        }
        Request::Metrics(r) => {
            for rm in &r.resource_metrics {
                for sm in &rm.scope_metrics {
                    for m in &sm.metrics {
                        let _ = writeln!(
                            out,
                            "{} {} points={}",
                            m.name,
                            m.unit,
                            ferrotel_pdata::payload::metric_point_count(m)
                        );
                    }
                }
            }
        }
        Request::Logs(r) => {
            for rl in &r.resource_logs {
                for sl in &rl.scope_logs {
                    for l in &sl.log_records {
                        let body = l
                            .body
                            .as_ref()
                            .and_then(|b| b.value.as_ref())
                            .map(|v| format!("{v:?}"))
                            .unwrap_or_default();
                        let _ = writeln!(out, "{} {} {body}", l.severity_text, l.event_name);
                    }
                }
            }
        }
        Request::Profiles(r) => {
            for rp in &r.resource_profiles {
                for sp in &rp.scope_profiles {
                    for p in &sp.profiles {
                        let _ = writeln!(
                            out,
                            "profile {} samples={}",
                            hex(&p.profile_id),
                            p.samples.len()
                        );
                    }
                }
            }
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Sender for DebugSender {
    fn send(&self, payload: Payload, _ctx: Context) -> BoxFuture<'_, Result<(), SendFailure>> {
        Box::pin(async move {
            if !self.sampled() {
                return Ok(());
            }
            let mut out = summary(&payload);
            out.push('\n');
            match self.config.verbosity {
                Verbosity::Basic => {}
                Verbosity::Normal => {
                    let request = payload
                        .to_request()
                        .map_err(|e| SendFailure::permanent(e.to_string()))?;
                    item_lines(&request, &mut out);
                }
                Verbosity::Detailed => {
                    let request = payload
                        .to_request()
                        .map_err(|e| SendFailure::permanent(e.to_string()))?;
                    let json = ferrotel_pdata::json::encode(&request);
                    match serde_json::from_slice::<serde_json::Value>(&json)
                        .and_then(|v| serde_json::to_string_pretty(&v))
                    {
                        Ok(pretty) => out.push_str(&pretty),
                        Err(_) => out.push_str(&String::from_utf8_lossy(&json)),
                    }
                    out.push('\n');
                }
            }
            for output in &self.outputs {
                output.write(out.as_bytes());
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests;
