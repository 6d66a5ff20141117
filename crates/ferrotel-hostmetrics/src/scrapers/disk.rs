//! `disk`: /proc/diskstats (sectors of 512 bytes, times in ms), devices whose counters are
//! all zero left out as gopsutil does.

use ferrotel_pdata::proto::metrics::v1::ResourceMetrics;
use ferrotel_runtime::config::ConfigError;

use super::{ScrapeContext, Scraper};
use crate::config::{DiskConfig, IncludeExclude, metrics_for};
use crate::emit::{Kind, MetricDef, Recorder, Value, def, resource_metrics};
use crate::procfs::file_error;

pub static DISK_METRICS: [MetricDef; 7] = [
    def(
        "system.disk.io",
        "Disk bytes transferred.",
        "By",
        Kind::Sum(true),
        true,
    ),
    def(
        "system.disk.operations",
        "Disk operations count.",
        "{operations}",
        Kind::Sum(true),
        true,
    ),
    def(
        "system.disk.io_time",
        "Time disk spent activated. On Windows, this is calculated as the inverse of disk idle time.",
        "s",
        Kind::Sum(true),
        true,
    ),
    def(
        "system.disk.operation_time",
        "Time spent in disk operations.",
        "s",
        Kind::Sum(true),
        true,
    ),
    def(
        "system.disk.weighted_io_time",
        "Time disk spent activated multiplied by the queue length.",
        "s",
        Kind::Sum(true),
        true,
    ),
    def(
        "system.disk.pending_operations",
        "The queue size of pending I/O operations.",
        "{operations}",
        Kind::Sum(false),
        true,
    ),
    def(
        "system.disk.merged",
        "The number of disk reads/writes merged into single physical disk access operations.",
        "{operations}",
        Kind::Sum(true),
        true,
    ),
];
const IO: usize = 0;
const OPERATIONS: usize = 1;
const IO_TIME: usize = 2;
const OPERATION_TIME: usize = 3;
const WEIGHTED_IO_TIME: usize = 4;
const PENDING: usize = 5;
const MERGED: usize = 6;

const SECTOR_SIZE: u64 = 512;

pub struct DiskScraper {
    rec: Recorder,
    filter: IncludeExclude,
}

impl DiskScraper {
    pub fn new(c: &DiskConfig) -> Result<Self, ConfigError> {
        let enabled = metrics_for("scrapers::disk", &DISK_METRICS, &c.metrics)?;
        Ok(DiskScraper {
            rec: Recorder::new(&DISK_METRICS, enabled),
            filter: IncludeExclude {
                include: c.include.compile("scrapers::disk::include")?,
                exclude: c.exclude.compile("scrapers::disk::exclude")?,
            },
        })
    }
}

impl Scraper for DiskScraper {
    fn name(&self) -> &'static str {
        "disk"
    }

    fn scrape(
        &mut self,
        cx: &mut ScrapeContext<'_>,
        out: &mut Vec<ResourceMetrics>,
    ) -> Result<(), String> {
        self.rec.now_ns = cx.now_ns;
        self.rec.start_ns = cx.boot_ns;
        cx.host
            .read_into("proc/diskstats", cx.buf)
            .map_err(|e| file_error(cx.host, "proc/diskstats", e))?;
        for line in cx.buf.lines() {
            let mut cols = line.split_ascii_whitespace();
            let (Some(_major), Some(_minor), Some(device)) =
                (cols.next(), cols.next(), cols.next())
            else {
                continue;
            };
            let mut n = [0u64; 11];
            let mut got = 0;
            for (slot, c) in n.iter_mut().zip(cols) {
                *slot = c.parse().unwrap_or(0);
                got += 1;
            }
            // Malformed (too short) lines are skipped, like gopsutil.
            if got < 11 || n.iter().all(|v| *v == 0) || !self.filter.allows(device) {
                continue;
            }
            let [
                reads,
                merged_reads,
                sectors_read,
                read_ms,
                writes,
                merged_writes,
                sectors_written,
                write_ms,
                in_progress,
                io_ms,
                weighted_ms,
            ] = n;
            let r = [("device", device), ("direction", "read")];
            let w = [("device", device), ("direction", "write")];
            let d = [("device", device)];
            self.rec
                .record(IO, Value::Int((sectors_read * SECTOR_SIZE) as i64), &r);
            self.rec
                .record(IO, Value::Int((sectors_written * SECTOR_SIZE) as i64), &w);
            self.rec.record(OPERATIONS, Value::Int(reads as i64), &r);
            self.rec.record(OPERATIONS, Value::Int(writes as i64), &w);
            self.rec
                .record(IO_TIME, Value::Double(io_ms as f64 / 1000.0), &d);
            self.rec
                .record(OPERATION_TIME, Value::Double(read_ms as f64 / 1000.0), &r);
            self.rec
                .record(OPERATION_TIME, Value::Double(write_ms as f64 / 1000.0), &w);
            self.rec.record(
                WEIGHTED_IO_TIME,
                Value::Double(weighted_ms as f64 / 1000.0),
                &d,
            );
            self.rec.record(PENDING, Value::Int(in_progress as i64), &d);
            self.rec.record(MERGED, Value::Int(merged_reads as i64), &r);
            self.rec
                .record(MERGED, Value::Int(merged_writes as i64), &w);
        }
        out.push(resource_metrics(
            "disk",
            Vec::new(),
            self.rec.take_metrics(),
        ));
        Ok(())
    }
}
