//! `load`: /proc/loadavg, optionally per logical CPU (`cpu_average`).

use ferrotel_pdata::proto::metrics::v1::ResourceMetrics;
use ferrotel_runtime::config::ConfigError;

use super::{ScrapeContext, Scraper};
use crate::config::{LoadConfig, metrics_for};
use crate::emit::{Kind, MetricDef, Recorder, Value, def, resource_metrics};
use crate::procfs::{file_error, logical_cpus};

pub static LOAD_METRICS: [MetricDef; 3] = [
    def(
        "system.cpu.load_average.1m",
        "Average CPU Load over 1 minute.",
        "{thread}",
        Kind::Gauge,
        true,
    ),
    def(
        "system.cpu.load_average.5m",
        "Average CPU Load over 5 minutes.",
        "{thread}",
        Kind::Gauge,
        true,
    ),
    def(
        "system.cpu.load_average.15m",
        "Average CPU Load over 15 minutes.",
        "{thread}",
        Kind::Gauge,
        true,
    ),
];

pub struct LoadScraper {
    rec: Recorder,
    cpu_average: bool,
}

impl LoadScraper {
    pub fn new(c: &LoadConfig) -> Result<Self, ConfigError> {
        let enabled = metrics_for("scrapers::load", &LOAD_METRICS, &c.metrics)?;
        Ok(LoadScraper {
            rec: Recorder::new(&LOAD_METRICS, enabled),
            cpu_average: c.cpu_average,
        })
    }
}

impl Scraper for LoadScraper {
    fn name(&self) -> &'static str {
        "load"
    }

    fn scrape(
        &mut self,
        cx: &mut ScrapeContext<'_>,
        out: &mut Vec<ResourceMetrics>,
    ) -> Result<(), String> {
        self.rec.now_ns = cx.now_ns;
        let divisor = if self.cpu_average {
            cx.host
                .read_into("proc/stat", cx.buf)
                .map_err(|e| file_error(cx.host, "proc/stat", e))?;
            logical_cpus(cx.buf).max(1) as f64
        } else {
            1.0
        };
        cx.host
            .read_into("proc/loadavg", cx.buf)
            .map_err(|e| file_error(cx.host, "proc/loadavg", e))?;
        let mut it = cx.buf.split_ascii_whitespace().map(str::parse::<f64>);
        for i in 0..3 {
            let v = it.next().and_then(Result::ok).ok_or_else(|| {
                file_error(cx.host, "proc/loadavg", format!("bad content {:?}", cx.buf))
            })?;
            self.rec.record(i, Value::Double(v / divisor), &[]);
        }
        out.push(resource_metrics(
            "load",
            Vec::new(),
            self.rec.take_metrics(),
        ));
        Ok(())
    }
}
