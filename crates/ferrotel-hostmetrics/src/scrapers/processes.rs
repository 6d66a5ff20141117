//! `processes`: process counts by state (each /proc/<pid>/stat's state letter, with running
//! and blocked taken from /proc/stat's `procs_running` / `procs_blocked` as the Go receiver
//! does) and the number of processes created since boot (`processes`).

use ferrotel_pdata::proto::metrics::v1::ResourceMetrics;
use ferrotel_runtime::config::ConfigError;

use super::{ScrapeContext, Scraper};
use crate::config::{ProcessesConfig, metrics_for};
use crate::emit::{Kind, MetricDef, Recorder, Value, def, resource_metrics};
use crate::procfs::{field_u64_spaced, file_error, read_path_into};

pub static PROCESSES_METRICS: [MetricDef; 2] = [
    def(
        "system.processes.created",
        "Total number of created processes.",
        "{processes}",
        Kind::Sum(true),
        true,
    ),
    def(
        "system.processes.count",
        "Total number of processes in each state.",
        "{processes}",
        Kind::Sum(false),
        true,
    ),
];
const CREATED: usize = 0;
const COUNT: usize = 1;

/// gopsutil's state letters mapped to the Go receiver's `status` values.
fn status_of(state: u8) -> &'static str {
    match state {
        b'A' => "daemon",
        b'D' => "blocked",
        b'E' => "detached",
        b'I' => "idle",
        b'L' => "locked",
        b'O' => "orphan",
        b'R' => "running",
        b'S' => "sleeping",
        b'T' => "stopped",
        b'W' => "paging",
        b'Y' => "system",
        b'Z' => "zombies",
        _ => "unknown",
    }
}

pub struct ProcessesScraper {
    rec: Recorder,
    counts: Vec<(&'static str, i64)>,
    stat_path: std::path::PathBuf,
}

impl ProcessesScraper {
    pub fn new(c: &ProcessesConfig) -> Result<Self, ConfigError> {
        let enabled = metrics_for("scrapers::processes", &PROCESSES_METRICS, &c.metrics)?;
        Ok(ProcessesScraper {
            rec: Recorder::new(&PROCESSES_METRICS, enabled),
            counts: Vec::new(),
            stat_path: std::path::PathBuf::new(),
        })
    }
}

/// The state letter of a /proc/<pid>/stat line (after the parenthesized command).
pub fn stat_state(stat: &str) -> Option<u8> {
    let after = &stat[stat.rfind(')')? + 1..];
    after.trim_start().bytes().next()
}

impl Scraper for ProcessesScraper {
    fn name(&self) -> &'static str {
        "processes"
    }

    fn scrape(
        &mut self,
        cx: &mut ScrapeContext<'_>,
        out: &mut Vec<ResourceMetrics>,
    ) -> Result<(), String> {
        self.rec.now_ns = cx.now_ns;
        self.rec.start_ns = cx.boot_ns;
        self.counts.clear();
        if self.rec.on(COUNT) {
            let proc_dir = cx.host.path("proc");
            let dir =
                std::fs::read_dir(&proc_dir).map_err(|e| format!("{}: {e}", proc_dir.display()))?;
            for entry in dir.flatten() {
                let name = entry.file_name();
                let Some(pid) = name
                    .to_str()
                    .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
                else {
                    continue;
                };
                self.stat_path.clear();
                self.stat_path.push(&proc_dir);
                self.stat_path.push(pid);
                self.stat_path.push("stat");
                // A process that exits meanwhile is not counted, as in Go.
                if read_path_into(&self.stat_path, cx.buf).is_err() {
                    continue;
                }
                let status = stat_state(cx.buf).map_or("unknown", status_of);
                match self.counts.iter_mut().find(|(s, _)| *s == status) {
                    Some((_, c)) => *c += 1,
                    None => self.counts.push((status, 1)),
                }
            }
        }
        cx.host
            .read_into("proc/stat", cx.buf)
            .map_err(|e| file_error(cx.host, "proc/stat", e))?;
        let get = |k| field_u64_spaced(cx.buf, k).map(|v| v as i64);
        let (created, running, blocked) =
            (get("processes"), get("procs_running"), get("procs_blocked"));
        // /proc/stat is one consistent read; the per-process walk undercounts what changes.
        for (status, v) in [("running", running), ("blocked", blocked)] {
            let v = v.unwrap_or(0);
            match self.counts.iter_mut().find(|(s, _)| *s == status) {
                Some((_, c)) => *c = v,
                None => self.counts.push((status, v)),
            }
        }
        for (status, n) in &self.counts {
            self.rec
                .record(COUNT, Value::Int(*n), &[("status", status)]);
        }
        if let Some(c) = created {
            self.rec.record(CREATED, Value::Int(c), &[]);
        }
        out.push(resource_metrics(
            "processes",
            Vec::new(),
            self.rec.take_metrics(),
        ));
        Ok(())
    }
}
