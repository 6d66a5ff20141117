//! `cpu`: per-CPU time by state from /proc/stat (ticks / USER_HZ), utilization between
//! collections, CPU counts and frequencies.

use ferrotel_pdata::proto::metrics::v1::ResourceMetrics;
use ferrotel_runtime::config::ConfigError;

use super::{ScrapeContext, Scraper};
use crate::config::{CpuConfig, metrics_for};
use crate::emit::{Kind, MetricDef, Recorder, Value, def, resource_metrics};
use crate::procfs::{CpuTimes, file_error, logical_cpus, parse_cpu_line};

pub static CPU_METRICS: [MetricDef; 5] = [
    def(
        "system.cpu.time",
        "Total seconds each logical CPU spent on each mode.",
        "s",
        Kind::Sum(true),
        true,
    ),
    def(
        "system.cpu.utilization",
        "Difference in system.cpu.time since the last measurement per logical CPU, divided by the elapsed time (value in interval [0,1]).",
        "1",
        Kind::Gauge,
        false,
    ),
    def(
        "system.cpu.physical.count",
        "Number of available physical CPUs.",
        "{cpu}",
        Kind::Sum(false),
        false,
    ),
    def(
        "system.cpu.logical.count",
        "Number of available logical CPUs.",
        "{cpu}",
        Kind::Sum(false),
        false,
    ),
    def(
        "system.cpu.frequency",
        "Current frequency of the CPU core in Hz.",
        "Hz",
        Kind::Gauge,
        false,
    ),
];
const TIME: usize = 0;
const UTILIZATION: usize = 1;
const PHYSICAL: usize = 2;
const LOGICAL: usize = 3;
const FREQUENCY: usize = 4;

pub struct CpuScraper {
    rec: Recorder,
    /// The previous collection's times per CPU, for utilization.
    previous: Vec<(String, CpuTimes)>,
    current: Vec<(String, CpuTimes)>,
}

impl CpuScraper {
    pub fn new(c: &CpuConfig) -> Result<Self, ConfigError> {
        let enabled = metrics_for("scrapers::cpu", &CPU_METRICS, &c.metrics)?;
        Ok(CpuScraper {
            rec: Recorder::new(&CPU_METRICS, enabled),
            previous: Vec::new(),
            current: Vec::new(),
        })
    }
}

/// The Go receiver's states, in its order, with how each is read.
type StateReader = fn(&CpuTimes) -> f64;
const STATES: [(&str, StateReader); 8] = [
    ("user", |t| t.user),
    ("system", |t| t.system),
    ("idle", |t| t.idle),
    ("interrupt", |t| t.irq),
    ("nice", |t| t.nice),
    ("softirq", |t| t.softirq),
    ("steal", |t| t.steal),
    ("wait", |t| t.iowait),
];

impl Scraper for CpuScraper {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn scrape(
        &mut self,
        cx: &mut ScrapeContext<'_>,
        out: &mut Vec<ResourceMetrics>,
    ) -> Result<(), String> {
        self.rec.now_ns = cx.now_ns;
        self.rec.start_ns = cx.boot_ns;
        cx.host
            .read_into("proc/stat", cx.buf)
            .map_err(|e| file_error(cx.host, "proc/stat", e))?;
        std::mem::swap(&mut self.previous, &mut self.current);
        self.current.clear();
        for line in cx.buf.lines() {
            let Some(rest) = line.strip_prefix("cpu") else {
                continue;
            };
            if !rest.starts_with(|c: char| c.is_ascii_digit()) {
                continue;
            }
            let (id, cols) = rest.split_once(' ').unwrap_or((rest, ""));
            let times = parse_cpu_line(cols)
                .ok_or_else(|| file_error(cx.host, "proc/stat", format!("bad line {line:?}")))?;
            // The Go receiver names CPUs as gopsutil does: `cpu0`.
            let name = match self.previous.iter().find(|(n, _)| &n[3..] == id) {
                Some((n, _)) => n.clone(),
                None => format!("cpu{id}"),
            };
            self.current.push((name, times));
        }
        for (cpu, t) in &self.current {
            for (state, get) in STATES {
                self.rec.record(
                    TIME,
                    Value::Double(get(t)),
                    &[("cpu", cpu), ("state", state)],
                );
            }
        }
        if self.rec.on(UTILIZATION) {
            for (cpu, t) in &self.current {
                let Some((_, p)) = self.previous.iter().find(|(n, _)| n == cpu) else {
                    continue;
                };
                let elapsed = t.total() - p.total();
                for (state, get) in STATES {
                    let u = if elapsed > 0.0 {
                        (get(t) - get(p)) / elapsed
                    } else {
                        0.0
                    };
                    self.rec.record(
                        UTILIZATION,
                        Value::Double(u),
                        &[("cpu", cpu), ("state", state)],
                    );
                }
            }
        }
        if self.rec.on(LOGICAL) {
            let n = logical_cpus(cx.buf) as i64;
            self.rec.record(LOGICAL, Value::Int(n), &[]);
        }
        if self.rec.on(PHYSICAL) || self.rec.on(FREQUENCY) {
            let logical = self.current.len();
            cx.host
                .read_into("proc/cpuinfo", cx.buf)
                .map_err(|e| file_error(cx.host, "proc/cpuinfo", e))?;
            if self.rec.on(PHYSICAL) {
                let n = physical_cores(cx.buf).unwrap_or(logical);
                self.rec.record(PHYSICAL, Value::Int(n as i64), &[]);
            }
            if self.rec.on(FREQUENCY) {
                let mhz: Vec<(u32, f64)> = cpuinfo_mhz(cx.buf);
                for (cpu, mut mhz) in mhz {
                    // gopsutil prefers cpufreq's maximum where sysfs has it.
                    let rel = format!("sys/devices/system/cpu/cpu{cpu}/cpufreq/cpuinfo_max_freq");
                    if cx.host.read_into(&rel, cx.buf).is_ok()
                        && let Ok(khz) = cx.buf.trim().parse::<f64>()
                    {
                        mhz = khz / 1000.0;
                    }
                    self.rec.record(
                        FREQUENCY,
                        Value::Double(mhz * 1e6),
                        &[("cpu", &cpu.to_string())],
                    );
                }
            }
        }
        out.push(resource_metrics("cpu", Vec::new(), self.rec.take_metrics()));
        Ok(())
    }
}

/// Distinct (physical id, core id) pairs of /proc/cpuinfo; `None` when it has no core ids
/// (some virtual machines and architectures).
fn physical_cores(cpuinfo: &str) -> Option<usize> {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for block in cpuinfo.split("\n\n") {
        let mut phys = "";
        let mut core = None;
        for l in block.lines() {
            if let Some((k, v)) = l.split_once(':') {
                match k.trim() {
                    "physical id" => phys = v.trim(),
                    "core id" => core = Some(v.trim()),
                    _ => {}
                }
            }
        }
        if let Some(core) = core
            && !seen.contains(&(phys, core))
        {
            seen.push((phys, core));
        }
    }
    (!seen.is_empty()).then_some(seen.len())
}

/// (processor, MHz) from /proc/cpuinfo.
fn cpuinfo_mhz(cpuinfo: &str) -> Vec<(u32, f64)> {
    let mut out = Vec::new();
    let mut processor = None;
    for l in cpuinfo.lines() {
        let Some((k, v)) = l.split_once(':') else {
            continue;
        };
        match k.trim() {
            "processor" => processor = v.trim().parse().ok(),
            "cpu MHz" => {
                if let (Some(p), Ok(m)) = (processor, v.trim().parse()) {
                    out.push((p, m));
                }
            }
            _ => {}
        }
    }
    out
}
