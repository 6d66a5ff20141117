//! `paging`: swap devices from /proc/swaps, paging operations and faults from /proc/vmstat.
//!
//! gopsutil multiplies every /proc/vmstat paging counter (pswpin, pgpgin, pgfault, ...) by
//! 4096, and the Go receiver reports those numbers as operation and fault counts; they are
//! reproduced here so dashboards built on the Go receiver read the same values.

use ferrotel_pdata::proto::metrics::v1::ResourceMetrics;
use ferrotel_runtime::config::ConfigError;

use super::{ScrapeContext, Scraper};
use crate::config::{PagingConfig, metrics_for};
use crate::emit::{Kind, MetricDef, Recorder, Value, def, resource_metrics};
use crate::procfs::{file_error, unescape_octal};

pub static PAGING_METRICS: [MetricDef; 4] = [
    def(
        "system.paging.usage",
        "Swap (unix) or pagefile (windows) usage.",
        "By",
        Kind::Sum(false),
        true,
    ),
    def(
        "system.paging.operations",
        "The number of paging operations.",
        "{operations}",
        Kind::Sum(true),
        true,
    ),
    def(
        "system.paging.faults",
        "The number of page faults.",
        "{faults}",
        Kind::Sum(true),
        true,
    ),
    def(
        "system.paging.utilization",
        "Swap (unix) or pagefile (windows) utilization.",
        "1",
        Kind::Gauge,
        false,
    ),
];
const USAGE: usize = 0;
const OPERATIONS: usize = 1;
const FAULTS: usize = 2;
const UTILIZATION: usize = 3;

/// gopsutil's factor on /proc/vmstat paging counters (see the module comment).
const GOPSUTIL_FACTOR: u64 = 4 * 1024;

pub struct PagingScraper {
    rec: Recorder,
}

impl PagingScraper {
    pub fn new(c: &PagingConfig) -> Result<Self, ConfigError> {
        let enabled = metrics_for("scrapers::paging", &PAGING_METRICS, &c.metrics)?;
        Ok(PagingScraper {
            rec: Recorder::new(&PAGING_METRICS, enabled),
        })
    }
}

impl Scraper for PagingScraper {
    fn name(&self) -> &'static str {
        "paging"
    }

    fn scrape(
        &mut self,
        cx: &mut ScrapeContext<'_>,
        out: &mut Vec<ResourceMetrics>,
    ) -> Result<(), String> {
        self.rec.now_ns = cx.now_ns;
        self.rec.start_ns = cx.boot_ns;
        let mut result = Ok(());
        if self.rec.on(USAGE) || self.rec.on(UTILIZATION) {
            match cx.host.read_into("proc/swaps", cx.buf) {
                Ok(()) => {
                    // `Filename Type Size Used Priority`, sizes in KiB.
                    for line in cx.buf.lines().skip(1) {
                        let cols: [&str; 4] = {
                            let mut it = line.split_ascii_whitespace();
                            match (it.next(), it.next(), it.next(), it.next()) {
                                (Some(a), Some(b), Some(c), Some(d)) => [a, b, c, d],
                                _ => continue,
                            }
                        };
                        let (Ok(size), Ok(used)) = (cols[2].parse::<u64>(), cols[3].parse::<u64>())
                        else {
                            continue;
                        };
                        let device = unescape_octal(cols[0]);
                        let (used, free) = (used * 1024, size.saturating_sub(used) * 1024);
                        self.rec.record(
                            USAGE,
                            Value::Int(used as i64),
                            &[("device", &device), ("state", "used")],
                        );
                        self.rec.record(
                            USAGE,
                            Value::Int(free as i64),
                            &[("device", &device), ("state", "free")],
                        );
                        let total = (used + free) as f64;
                        if total > 0.0 {
                            self.rec.record(
                                UTILIZATION,
                                Value::Double(used as f64 / total),
                                &[("device", &device), ("state", "used")],
                            );
                            self.rec.record(
                                UTILIZATION,
                                Value::Double(free as f64 / total),
                                &[("device", &device), ("state", "free")],
                            );
                        }
                    }
                }
                Err(e) => result = Err(file_error(cx.host, "proc/swaps", e)),
            }
        }
        if self.rec.on(OPERATIONS) || self.rec.on(FAULTS) {
            cx.host
                .read_into("proc/vmstat", cx.buf)
                .map_err(|e| file_error(cx.host, "proc/vmstat", e))?;
            let mut v = [0u64; 6];
            const KEYS: [&str; 6] = [
                "pswpin",
                "pswpout",
                "pgpgin",
                "pgpgout",
                "pgfault",
                "pgmajfault",
            ];
            for line in cx.buf.lines() {
                let Some((k, val)) = line.split_once(' ') else {
                    continue;
                };
                if let Some(i) = KEYS.iter().position(|key| *key == k) {
                    v[i] = val
                        .trim()
                        .parse::<u64>()
                        .unwrap_or(0)
                        .wrapping_mul(GOPSUTIL_FACTOR);
                }
            }
            let [sin, sout, pgin, pgout, fault, majfault] = v;
            let op = |d, t| [("direction", d), ("type", t)];
            self.rec
                .record(OPERATIONS, Value::Int(sin as i64), &op("page_in", "major"));
            self.rec.record(
                OPERATIONS,
                Value::Int(sout as i64),
                &op("page_out", "major"),
            );
            self.rec
                .record(OPERATIONS, Value::Int(pgin as i64), &op("page_in", "minor"));
            self.rec.record(
                OPERATIONS,
                Value::Int(pgout as i64),
                &op("page_out", "minor"),
            );
            self.rec
                .record(FAULTS, Value::Int(majfault as i64), &[("type", "major")]);
            self.rec.record(
                FAULTS,
                Value::Int(fault.wrapping_sub(majfault) as i64),
                &[("type", "minor")],
            );
        }
        out.push(resource_metrics(
            "paging",
            Vec::new(),
            self.rec.take_metrics(),
        ));
        result
    }
}
