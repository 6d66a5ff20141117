//! `memory`: /proc/meminfo with gopsutil's arithmetic (`cached` includes SReclaimable,
//! `used` = total - free - buffers - cached).

use ferrotel_pdata::proto::metrics::v1::ResourceMetrics;
use ferrotel_runtime::config::ConfigError;

use super::{ScrapeContext, Scraper};
use crate::config::{MemoryConfig, metrics_for};
use crate::emit::{Kind, MetricDef, Recorder, Value, def, resource_metrics};
use crate::procfs::{file_error, page_size, parse_meminfo};

pub static MEMORY_METRICS: [MetricDef; 6] = [
    def(
        "system.memory.usage",
        "Bytes of memory in use.",
        "By",
        Kind::Sum(false),
        true,
    ),
    def(
        "system.memory.utilization",
        "Percentage of memory bytes in use.",
        "1",
        Kind::Gauge,
        false,
    ),
    def(
        "system.memory.limit",
        "Total bytes of memory available.",
        "By",
        Kind::Sum(false),
        false,
    ),
    def(
        "system.memory.page_size",
        "A constant value for the system's configured page size.",
        "By",
        Kind::Gauge,
        false,
    ),
    def(
        "system.linux.memory.available",
        "An estimate of how much memory is available for starting new applications, without swapping. This is a more accurate alternative than system.memory.usage with state=free. (Linux only)",
        "By",
        Kind::Sum(false),
        false,
    ),
    def(
        "system.linux.memory.dirty",
        "The amount of dirty memory according to `/proc/meminfo`.",
        "By",
        Kind::Sum(false),
        false,
    ),
];
const USAGE: usize = 0;
const UTILIZATION: usize = 1;
const LIMIT: usize = 2;
const PAGE_SIZE: usize = 3;
const AVAILABLE: usize = 4;
const DIRTY: usize = 5;

pub struct MemoryScraper {
    rec: Recorder,
}

impl MemoryScraper {
    pub fn new(c: &MemoryConfig) -> Result<Self, ConfigError> {
        let enabled = metrics_for("scrapers::memory", &MEMORY_METRICS, &c.metrics)?;
        Ok(MemoryScraper {
            rec: Recorder::new(&MEMORY_METRICS, enabled),
        })
    }
}

impl Scraper for MemoryScraper {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn scrape(
        &mut self,
        cx: &mut ScrapeContext<'_>,
        out: &mut Vec<ResourceMetrics>,
    ) -> Result<(), String> {
        self.rec.now_ns = cx.now_ns;
        self.rec.start_ns = cx.boot_ns;
        cx.host
            .read_into("proc/meminfo", cx.buf)
            .map_err(|e| file_error(cx.host, "proc/meminfo", e))?;
        let m = parse_meminfo(cx.buf);
        if m.total == 0 {
            return Err(file_error(cx.host, "proc/meminfo", "no MemTotal"));
        }
        // Wrapping as Go's unsigned arithmetic does, should a kernel ever report more cache
        // than memory.
        let used = m
            .total
            .wrapping_sub(m.free)
            .wrapping_sub(m.buffers)
            .wrapping_sub(m.cached);
        let states = [
            ("used", used),
            ("free", m.free),
            ("buffered", m.buffers),
            ("cached", m.cached),
            ("slab_reclaimable", m.sreclaimable),
            ("slab_unreclaimable", m.sunreclaim),
        ];
        for (state, v) in states {
            self.rec
                .record(USAGE, Value::Int(v as i64), &[("state", state)]);
        }
        if self.rec.on(UTILIZATION) {
            for (state, v) in states {
                let u = v as i64 as f64 / m.total as f64;
                self.rec
                    .record(UTILIZATION, Value::Double(u), &[("state", state)]);
            }
        }
        self.rec.record(LIMIT, Value::Int(m.total as i64), &[]);
        self.rec
            .record(PAGE_SIZE, Value::Int(page_size() as i64), &[]);
        self.rec
            .record(AVAILABLE, Value::Int(m.available as i64), &[]);
        self.rec.record(DIRTY, Value::Int(m.dirty as i64), &[]);
        out.push(resource_metrics(
            "memory",
            Vec::new(),
            self.rec.take_metrics(),
        ));
        Ok(())
    }
}
