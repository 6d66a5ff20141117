//! `system`: uptime, whole seconds since boot (gopsutil's `host.Uptime`).

use ferrotel_pdata::proto::metrics::v1::ResourceMetrics;
use ferrotel_runtime::config::ConfigError;

use super::{ScrapeContext, Scraper};
use crate::config::{SystemConfig, metrics_for};
use crate::emit::{Kind, MetricDef, Recorder, Value, def, resource_metrics};

pub static SYSTEM_METRICS: [MetricDef; 1] = [def(
    "system.uptime",
    "The time the system has been running",
    "s",
    Kind::Gauge,
    true,
)];

pub struct SystemScraper {
    rec: Recorder,
}

impl SystemScraper {
    pub fn new(c: &SystemConfig) -> Result<Self, ConfigError> {
        let enabled = metrics_for("scrapers::system", &SYSTEM_METRICS, &c.metrics)?;
        Ok(SystemScraper {
            rec: Recorder::new(&SYSTEM_METRICS, enabled),
        })
    }
}

impl Scraper for SystemScraper {
    fn name(&self) -> &'static str {
        "system"
    }

    fn scrape(
        &mut self,
        cx: &mut ScrapeContext<'_>,
        out: &mut Vec<ResourceMetrics>,
    ) -> Result<(), String> {
        self.rec.now_ns = cx.now_ns;
        let uptime = cx.now_ns.saturating_sub(cx.boot_ns) / 1_000_000_000;
        self.rec.record(0, Value::Double(uptime as f64), &[]);
        out.push(resource_metrics(
            "system",
            Vec::new(),
            self.rec.take_metrics(),
        ));
        Ok(())
    }
}
