//! `network`: per-interface counters from /proc/net/dev, TCP connections by state from
//! /proc/net/tcp and tcp6, conntrack from /proc/sys/net/netfilter.

use ferrotel_pdata::proto::metrics::v1::ResourceMetrics;
use ferrotel_runtime::config::ConfigError;

use super::{ScrapeContext, Scraper};
use crate::config::{IncludeExclude, NetworkConfig, metrics_for};
use crate::emit::{Kind, MetricDef, Recorder, Value, def, resource_metrics};
use crate::procfs::file_error;

pub static NETWORK_METRICS: [MetricDef; 7] = [
    def(
        "system.network.packets",
        "The number of packets transferred.",
        "{packets}",
        Kind::Sum(true),
        true,
    ),
    def(
        "system.network.dropped",
        "The number of packets dropped.",
        "{packets}",
        Kind::Sum(true),
        true,
    ),
    def(
        "system.network.errors",
        "The number of errors encountered.",
        "{errors}",
        Kind::Sum(true),
        true,
    ),
    def(
        "system.network.io",
        "The number of bytes transmitted and received.",
        "By",
        Kind::Sum(true),
        true,
    ),
    def(
        "system.network.connections",
        "The number of connections.",
        "{connections}",
        Kind::Sum(false),
        true,
    ),
    def(
        "system.network.conntrack.count",
        "The count of entries in conntrack table.",
        "{entries}",
        Kind::Sum(false),
        false,
    ),
    def(
        "system.network.conntrack.max",
        "The limit for entries in the conntrack table.",
        "{entries}",
        Kind::Sum(false),
        false,
    ),
];
const PACKETS: usize = 0;
const DROPPED: usize = 1;
const ERRORS: usize = 2;
const IO: usize = 3;
const CONNECTIONS: usize = 4;
const CONNTRACK_COUNT: usize = 5;
const CONNTRACK_MAX: usize = 6;

/// The states the Go receiver always reports (zero when absent), in its order.
const TCP_STATES: [&str; 12] = [
    "CLOSE_WAIT",
    "CLOSE",
    "CLOSING",
    "DELETE",
    "ESTABLISHED",
    "FIN_WAIT_1",
    "FIN_WAIT_2",
    "LAST_ACK",
    "LISTEN",
    "SYN_SENT",
    "SYN_RECEIVED",
    "TIME_WAIT",
];

/// The kernel's state codes (`st` column) as gopsutil names them. Its FIN_WAIT1, FIN_WAIT2
/// and SYN_RECV differ from the Go receiver's pre-filled names, so they are counted under
/// their own keys, exactly as the Go receiver ends up reporting them.
fn tcp_state_name(code: &str) -> Option<&'static str> {
    Some(match code {
        "01" => "ESTABLISHED",
        "02" => "SYN_SENT",
        "03" => "SYN_RECV",
        "04" => "FIN_WAIT1",
        "05" => "FIN_WAIT2",
        "06" => "TIME_WAIT",
        "07" => "CLOSE",
        "08" => "CLOSE_WAIT",
        "09" => "LAST_ACK",
        "0A" => "LISTEN",
        "0B" => "CLOSING",
        _ => return None,
    })
}

pub struct NetworkScraper {
    rec: Recorder,
    filter: IncludeExclude,
    /// Counts per state name, reused across collections.
    counts: Vec<(&'static str, i64)>,
}

impl NetworkScraper {
    pub fn new(c: &NetworkConfig) -> Result<Self, ConfigError> {
        let enabled = metrics_for("scrapers::network", &NETWORK_METRICS, &c.metrics)?;
        Ok(NetworkScraper {
            rec: Recorder::new(&NETWORK_METRICS, enabled),
            filter: IncludeExclude {
                include: c.include.compile("scrapers::network::include")?,
                exclude: c.exclude.compile("scrapers::network::exclude")?,
            },
            counts: Vec::new(),
        })
    }

    fn count_connections(&mut self, cx: &mut ScrapeContext<'_>) -> Result<(), String> {
        self.counts.clear();
        self.counts.extend(TCP_STATES.iter().map(|s| (*s, 0)));
        for rel in ["proc/net/tcp", "proc/net/tcp6"] {
            if let Err(e) = cx.host.read_into(rel, cx.buf) {
                // A kernel without IPv6 has no tcp6.
                if rel.ends_with('6') && e.kind() == std::io::ErrorKind::NotFound {
                    continue;
                }
                return Err(file_error(cx.host, rel, e));
            }
            for line in cx.buf.lines().skip(1) {
                let Some(st) = line.split_ascii_whitespace().nth(3) else {
                    continue;
                };
                let Some(name) = tcp_state_name(st) else {
                    continue;
                };
                match self.counts.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, c)) => *c += 1,
                    None => self.counts.push((name, 1)),
                }
            }
        }
        for (state, n) in &self.counts {
            self.rec.record(
                CONNECTIONS,
                Value::Int(*n),
                &[("protocol", "tcp"), ("state", state)],
            );
        }
        Ok(())
    }
}

impl Scraper for NetworkScraper {
    fn name(&self) -> &'static str {
        "network"
    }

    fn scrape(
        &mut self,
        cx: &mut ScrapeContext<'_>,
        out: &mut Vec<ResourceMetrics>,
    ) -> Result<(), String> {
        self.rec.now_ns = cx.now_ns;
        self.rec.start_ns = cx.boot_ns;
        cx.host
            .read_into("proc/net/dev", cx.buf)
            .map_err(|e| file_error(cx.host, "proc/net/dev", e))?;
        // Two header lines, then `iface: rx(8 columns) tx(8 columns)`.
        for line in cx.buf.lines().skip(2) {
            let Some((name, cols)) = line.split_once(':') else {
                continue;
            };
            let device = name.trim();
            if !self.filter.allows(device) {
                continue;
            }
            let mut n = [0u64; 16];
            for (slot, c) in n.iter_mut().zip(cols.split_ascii_whitespace()) {
                *slot = c.parse().unwrap_or(0);
            }
            let rx = [("device", device), ("direction", "receive")];
            let tx = [("device", device), ("direction", "transmit")];
            self.rec.record(PACKETS, Value::Int(n[9] as i64), &tx);
            self.rec.record(PACKETS, Value::Int(n[1] as i64), &rx);
            self.rec.record(DROPPED, Value::Int(n[11] as i64), &tx);
            self.rec.record(DROPPED, Value::Int(n[3] as i64), &rx);
            self.rec.record(ERRORS, Value::Int(n[10] as i64), &tx);
            self.rec.record(ERRORS, Value::Int(n[2] as i64), &rx);
            self.rec.record(IO, Value::Int(n[8] as i64), &tx);
            self.rec.record(IO, Value::Int(n[0] as i64), &rx);
        }
        let mut result = Ok(());
        if self.rec.on(CONNECTIONS) {
            result = self.count_connections(cx);
        }
        if self.rec.on(CONNTRACK_COUNT) || self.rec.on(CONNTRACK_MAX) {
            for (i, rel) in [
                (CONNTRACK_COUNT, "proc/sys/net/netfilter/nf_conntrack_count"),
                (CONNTRACK_MAX, "proc/sys/net/netfilter/nf_conntrack_max"),
            ] {
                match cx.host.read_into(rel, cx.buf) {
                    Ok(()) => {
                        if let Ok(v) = cx.buf.trim().parse::<i64>() {
                            self.rec.record(i, Value::Int(v), &[]);
                        }
                    }
                    Err(e) => result = result.and(Err(file_error(cx.host, rel, e))),
                }
            }
        }
        out.push(resource_metrics(
            "network",
            Vec::new(),
            self.rec.take_metrics(),
        ));
        result
    }
}
