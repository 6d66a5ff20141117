//! `process`: one resource per process (pid, parent pid, executable name and path, command,
//! command line, owner), with CPU, memory, disk, paging, thread and descriptor metrics read
//! from /proc/<pid>/{stat,status,statm,io,cmdline,exe,fd}.
//!
//! As in the Go receiver, a process whose name or executable cannot be read (kernel threads,
//! other users' processes without privileges) is skipped, with a partial error unless muted.

use std::collections::HashMap;
use std::path::PathBuf;

use ferrotel_pdata::proto::common::v1::KeyValue;
use ferrotel_pdata::proto::metrics::v1::ResourceMetrics;
use ferrotel_runtime::config::ConfigError;

use super::{ScrapeContext, Scraper};
use crate::config::{IncludeExclude, ProcessConfig, metrics_for, resolve};
use crate::emit::{Kind, MetricDef, Recorder, Value, def, kv, kv_int, resource_metrics};
use crate::procfs::{
    CLOCK_TICKS, field_str, field_u64, page_size, parse_meminfo, read_path_into, user_name,
};

pub static PROCESS_METRICS: [MetricDef; 14] = [
    def(
        "process.cpu.time",
        "Total CPU seconds broken down by different states.",
        "s",
        Kind::Sum(true),
        true,
    ),
    def(
        "process.cpu.utilization",
        "Percentage of total CPU time used by the process since last scrape, expressed as a value between 0 and 1. On the first scrape, no data point is emitted for this metric.",
        "1",
        Kind::Gauge,
        false,
    ),
    def(
        "process.memory.usage",
        "The amount of physical memory in use.",
        "By",
        Kind::Sum(false),
        true,
    ),
    def(
        "process.memory.virtual",
        "Virtual memory size.",
        "By",
        Kind::Sum(false),
        true,
    ),
    def(
        "process.memory.utilization",
        "Percentage of total physical memory that is used by the process.",
        "1",
        Kind::Gauge,
        false,
    ),
    def(
        "process.disk.io",
        "Disk bytes transferred.",
        "By",
        Kind::Sum(true),
        true,
    ),
    def(
        "process.paging.faults",
        "Number of page faults the process has made.",
        "{faults}",
        Kind::Sum(true),
        false,
    ),
    def(
        "process.signals_pending",
        "Number of pending signals for the process.",
        "{signals}",
        Kind::Sum(false),
        false,
    ),
    def(
        "process.threads",
        "Process threads count.",
        "{threads}",
        Kind::Sum(false),
        false,
    ),
    def(
        "process.open_file_descriptors",
        "Number of file descriptors in use by the process.",
        "{count}",
        Kind::Sum(false),
        false,
    ),
    def(
        "process.context_switches",
        "Number of times the process has been context switched.",
        "{count}",
        Kind::Sum(true),
        false,
    ),
    def(
        "process.disk.operations",
        "Number of disk operations performed by the process.",
        "{operations}",
        Kind::Sum(true),
        false,
    ),
    def(
        "process.uptime",
        "The time the process has been running.",
        "s",
        Kind::Gauge,
        false,
    ),
    def(
        "process.handles",
        "Number of handles held by the process.",
        "{count}",
        Kind::Sum(false),
        false,
    ),
];
const CPU_TIME: usize = 0;
const CPU_UTIL: usize = 1;
const MEM_USAGE: usize = 2;
const MEM_VIRTUAL: usize = 3;
const MEM_UTIL: usize = 4;
const DISK_IO: usize = 5;
const PAGING_FAULTS: usize = 6;
const SIGNALS: usize = 7;
const THREADS: usize = 8;
const OPEN_FDS: usize = 9;
const CTX_SWITCHES: usize = 10;
const DISK_OPS: usize = 11;
const UPTIME: usize = 12;

/// Resource attributes, with their default enabled flags (as `MetricDef`s for the shared
/// `resource_attributes:` toggle handling).
pub static PROCESS_RESOURCE_ATTRIBUTES: [MetricDef; 8] = [
    def("process.pid", "", "", Kind::Gauge, true),
    def("process.parent_pid", "", "", Kind::Gauge, true),
    def("process.executable.name", "", "", Kind::Gauge, true),
    def("process.executable.path", "", "", Kind::Gauge, true),
    def("process.command", "", "", Kind::Gauge, true),
    def("process.command_line", "", "", Kind::Gauge, true),
    def("process.owner", "", "", Kind::Gauge, true),
    def("process.cgroup", "", "", Kind::Gauge, false),
];

/// What utilization needs from the previous collection.
struct Previous {
    start_ticks: u64,
    cpu: [f64; 3],
    at_ns: u64,
    seen: u64,
}

pub struct ProcessScraper {
    rec: Recorder,
    attrs: Vec<bool>,
    filter: IncludeExclude,
    mute_name: bool,
    mute_exe: bool,
    mute_io: bool,
    mute_user: bool,
    mute_cgroup: bool,
    delay_ns: u64,
    page_size: u64,
    previous: HashMap<u32, Previous>,
    generation: u64,
    path: PathBuf,
    status: String,
    cmdline: String,
    passwd: String,
}

impl ProcessScraper {
    pub fn new(c: &ProcessConfig) -> Result<Self, ConfigError> {
        let at = "scrapers::process";
        let enabled = metrics_for(at, &PROCESS_METRICS, &c.metrics)?;
        for name in c.resource_attributes.keys() {
            if !PROCESS_RESOURCE_ATTRIBUTES.iter().any(|d| d.name == name) {
                let known: Vec<_> = PROCESS_RESOURCE_ATTRIBUTES.iter().map(|d| d.name).collect();
                return Err(ConfigError::new(
                    format!("{at}::resource_attributes::{name}"),
                    format!(
                        "unknown resource attribute; this scraper has {}",
                        known.join(", ")
                    ),
                ));
            }
        }
        let all = c.mute_process_all_errors;
        Ok(ProcessScraper {
            rec: Recorder::new(&PROCESS_METRICS, enabled),
            attrs: resolve(&PROCESS_RESOURCE_ATTRIBUTES, &c.resource_attributes),
            filter: IncludeExclude {
                include: c.include.compile(&format!("{at}::include"))?,
                exclude: c.exclude.compile(&format!("{at}::exclude"))?,
            },
            mute_name: all || c.mute_process_name_error,
            mute_exe: all || c.mute_process_exe_error,
            mute_io: all || c.mute_process_io_error,
            mute_user: all || c.mute_process_user_error,
            mute_cgroup: all || c.mute_process_cgroup_error,
            delay_ns: c.scrape_process_delay.as_nanos() as u64,
            page_size: page_size(),
            previous: HashMap::new(),
            generation: 0,
            path: PathBuf::new(),
            status: String::new(),
            cmdline: String::new(),
            passwd: String::new(),
        })
    }
}

/// `<proc>/<pid>/<file>` in a reused buffer.
fn pid_path<'a>(
    buf: &'a mut PathBuf,
    proc_dir: &std::path::Path,
    pid: &str,
    file: &str,
) -> &'a std::path::Path {
    buf.clear();
    buf.push(proc_dir);
    buf.push(pid);
    buf.push(file);
    buf
}

/// Columns of /proc/<pid>/stat after the command, indexed from the state (field 3) on.
fn stat_fields(stat: &str) -> Option<[u64; 40]> {
    let after = &stat[stat.rfind(')')? + 2..];
    let mut out = [0u64; 40];
    for (slot, c) in out.iter_mut().zip(after.split_ascii_whitespace()).skip(1) {
        *slot = c.parse().unwrap_or(0);
    }
    Some(out)
}
// Indices into `stat_fields` (proc(5) field number - 3).
const PPID: usize = 1;
const MINFLT: usize = 7;
const MAJFLT: usize = 9;
const UTIME: usize = 11;
const STIME: usize = 12;
const STARTTIME: usize = 19;
const BLKIO_TICKS: usize = 39;

impl Scraper for ProcessScraper {
    fn name(&self) -> &'static str {
        "process"
    }

    fn scrape(
        &mut self,
        cx: &mut ScrapeContext<'_>,
        out: &mut Vec<ResourceMetrics>,
    ) -> Result<(), String> {
        self.generation += 1;
        let proc_dir = cx.host.path("proc");
        let mut errors: Vec<String> = Vec::new();
        let mem_total = if self.rec.on(MEM_UTIL) {
            cx.host
                .read_into("proc/meminfo", cx.buf)
                .ok()
                .map(|_| parse_meminfo(cx.buf).total)
        } else {
            None
        };
        let cpus = if self.rec.on(CPU_UTIL) {
            cx.host
                .read_into("proc/stat", cx.buf)
                .ok()
                .map(|_| crate::procfs::logical_cpus(cx.buf).max(1))
        } else {
            None
        };
        if self.attrs[6] && read_path_into(&cx.host.path("etc/passwd"), &mut self.passwd).is_err() {
            self.passwd.clear();
        }
        let dir =
            std::fs::read_dir(&proc_dir).map_err(|e| format!("{}: {e}", proc_dir.display()))?;
        for entry in dir.flatten() {
            let fname = entry.file_name();
            let Some(pid_s) = fname
                .to_str()
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            let Ok(pid) = pid_s.parse::<u32>() else {
                continue;
            };
            // stat and status: a process gone meanwhile is silently skipped.
            let p = pid_path(&mut self.path, &proc_dir, pid_s, "stat");
            if read_path_into(p, cx.buf).is_err() {
                continue;
            }
            let Some(stat) = stat_fields(cx.buf) else {
                continue;
            };
            let p = pid_path(&mut self.path, &proc_dir, pid_s, "status");
            if read_path_into(p, &mut self.status).is_err() {
                continue;
            }
            let create_ms = cx.boot_ns / 1_000_000 + stat[STARTTIME] * 1000 / CLOCK_TICKS as u64;
            let create_ns = create_ms * 1_000_000;
            if self.delay_ns > 0 && cx.now_ns.saturating_sub(create_ns) < self.delay_ns {
                continue;
            }
            let p = pid_path(&mut self.path, &proc_dir, pid_s, "cmdline");
            let cmdline_ok = read_path_into(p, &mut self.cmdline).is_ok();
            let Some(short) = field_str(&self.status, "Name") else {
                if !self.mute_name {
                    errors.push(format!(
                        "error reading process executable for pid {pid}: no name"
                    ));
                }
                continue;
            };
            let args: Vec<&str> = self
                .cmdline
                .trim_end_matches('\0')
                .split('\0')
                .filter(|_| cmdline_ok && !self.cmdline.is_empty())
                .collect();
            // The kernel cuts names at 15 bytes; gopsutil restores them from argv[0].
            let mut name = short;
            if short.len() >= 15
                && let Some(first) = args.first()
            {
                let base = first.rsplit('/').next().unwrap_or(first);
                if base.starts_with(short) {
                    name = base;
                }
            }
            if !self.filter.allows(name) {
                continue;
            }
            let exe = match std::fs::read_link(pid_path(&mut self.path, &proc_dir, pid_s, "exe")) {
                Ok(p) => p,
                Err(e) => {
                    if !self.mute_exe {
                        errors.push(format!(
                            "error reading process executable for pid {pid}: {e}"
                        ));
                    }
                    continue;
                }
            };
            let mut res: Vec<KeyValue> = Vec::with_capacity(8);
            if self.attrs[0] {
                res.push(kv_int("process.pid", pid as i64));
            }
            if self.attrs[1] {
                res.push(kv_int("process.parent_pid", stat[PPID] as i64));
            }
            if self.attrs[2] {
                res.push(kv("process.executable.name", name));
            }
            if self.attrs[3] {
                res.push(kv("process.executable.path", exe.to_string_lossy()));
            }
            if self.attrs[4] {
                res.push(kv("process.command", args.first().copied().unwrap_or("")));
            }
            if self.attrs[5] {
                res.push(kv("process.command_line", args.join(" ")));
            }
            if self.attrs[6] {
                let uid = field_str(&self.status, "Uid")
                    .and_then(|u| u.split_ascii_whitespace().next()?.parse::<u32>().ok());
                let owner = uid.and_then(|u| user_name(&self.passwd, u));
                if owner.is_none() && !self.mute_user {
                    errors.push(format!(
                        "error reading username for process pid {pid}: unknown uid {uid:?}"
                    ));
                }
                res.push(kv("process.owner", owner.unwrap_or("")));
            }
            if self.attrs[7] {
                let p = pid_path(&mut self.path, &proc_dir, pid_s, "cgroup");
                match read_path_into(p, cx.buf) {
                    Ok(()) => res.push(kv("process.cgroup", cx.buf.trim_end_matches('\n'))),
                    Err(e) if !self.mute_cgroup => {
                        errors.push(format!("error reading process cgroup for pid {pid}: {e}"))
                    }
                    Err(_) => {}
                }
            }
            drop(args);

            self.rec.now_ns = cx.now_ns;
            self.rec.start_ns = create_ns;
            let cpu = [
                stat[UTIME] as f64 / CLOCK_TICKS,
                stat[STIME] as f64 / CLOCK_TICKS,
                stat[BLKIO_TICKS] as f64 / CLOCK_TICKS,
            ];
            const CPU_STATES: [&str; 3] = ["user", "system", "wait"];
            for (v, s) in cpu.iter().zip(CPU_STATES) {
                self.rec
                    .record(CPU_TIME, Value::Double(*v), &[("state", s)]);
            }
            let prev = self.previous.entry(pid).or_insert(Previous {
                start_ticks: stat[STARTTIME],
                cpu,
                at_ns: 0,
                seen: 0,
            });
            if let Some(n) = cpus
                && prev.start_ticks == stat[STARTTIME]
                && prev.at_ns > 0
                && cx.now_ns > prev.at_ns
            {
                let elapsed = (cx.now_ns - prev.at_ns) as f64 / 1e9 * n as f64;
                for i in 0..3 {
                    self.rec.record(
                        CPU_UTIL,
                        Value::Double((cpu[i] - prev.cpu[i]) / elapsed),
                        &[("state", CPU_STATES[i])],
                    );
                }
            }
            *prev = Previous {
                start_ticks: stat[STARTTIME],
                cpu,
                at_ns: cx.now_ns,
                seen: self.generation,
            };

            let p = pid_path(&mut self.path, &proc_dir, pid_s, "statm");
            if read_path_into(p, cx.buf).is_ok() {
                let mut it = cx
                    .buf
                    .split_ascii_whitespace()
                    .map(|v| v.parse::<u64>().unwrap_or(0));
                let (vms, rss) = (
                    it.next().unwrap_or(0) * self.page_size,
                    it.next().unwrap_or(0) * self.page_size,
                );
                self.rec.record(MEM_USAGE, Value::Int(rss as i64), &[]);
                self.rec.record(MEM_VIRTUAL, Value::Int(vms as i64), &[]);
                if let Some(total) = mem_total.filter(|t| *t > 0) {
                    self.rec
                        .record(MEM_UTIL, Value::Double(rss as f64 / total as f64), &[]);
                }
            }
            if self.rec.on(DISK_IO) || self.rec.on(DISK_OPS) {
                let p = pid_path(&mut self.path, &proc_dir, pid_s, "io");
                match read_path_into(p, cx.buf) {
                    Ok(()) => {
                        let g = |k| field_u64(cx.buf, k).unwrap_or(0) as i64;
                        self.rec.record(
                            DISK_IO,
                            Value::Int(g("read_bytes")),
                            &[("direction", "read")],
                        );
                        self.rec.record(
                            DISK_IO,
                            Value::Int(g("write_bytes")),
                            &[("direction", "write")],
                        );
                        self.rec
                            .record(DISK_OPS, Value::Int(g("syscr")), &[("direction", "read")]);
                        self.rec.record(
                            DISK_OPS,
                            Value::Int(g("syscw")),
                            &[("direction", "write")],
                        );
                    }
                    Err(e) if !self.mute_io => errors.push(format!(
                        "error reading disk usage for process pid {pid}: {e}"
                    )),
                    Err(_) => {}
                }
            }
            self.rec.record(
                PAGING_FAULTS,
                Value::Int(stat[MAJFLT] as i64),
                &[("type", "major")],
            );
            self.rec.record(
                PAGING_FAULTS,
                Value::Int(stat[MINFLT] as i64),
                &[("type", "minor")],
            );
            if self.rec.on(SIGNALS) {
                let pending =
                    field_str(&self.status, "ShdPnd").and_then(|h| u64::from_str_radix(h, 16).ok());
                self.rec
                    .record(SIGNALS, Value::Int(pending.unwrap_or(0) as i64), &[]);
            }
            if self.rec.on(THREADS) {
                self.rec.record(
                    THREADS,
                    Value::Int(field_u64(&self.status, "Threads").unwrap_or(0) as i64),
                    &[],
                );
            }
            if self.rec.on(OPEN_FDS)
                && let Ok(fds) = std::fs::read_dir(pid_path(&mut self.path, &proc_dir, pid_s, "fd"))
            {
                self.rec
                    .record(OPEN_FDS, Value::Int(fds.count() as i64), &[]);
            }
            if self.rec.on(CTX_SWITCHES) {
                let g = |k| field_u64(&self.status, k).unwrap_or(0) as i64;
                self.rec.record(
                    CTX_SWITCHES,
                    Value::Int(g("nonvoluntary_ctxt_switches")),
                    &[("type", "involuntary")],
                );
                self.rec.record(
                    CTX_SWITCHES,
                    Value::Int(g("voluntary_ctxt_switches")),
                    &[("type", "voluntary")],
                );
            }
            let uptime = cx.now_ns.saturating_sub(create_ns) as f64 / 1e9;
            self.rec.record(UPTIME, Value::Double(uptime), &[]);
            out.push(resource_metrics("process", res, self.rec.take_metrics()));
        }
        let generation = self.generation;
        self.previous.retain(|_, p| p.seen == generation);
        if errors.is_empty() {
            Ok(())
        } else {
            let n = errors.len();
            errors.truncate(5);
            Err(format!("{n} process errors, first: {}", errors.join("; ")))
        }
    }
}
