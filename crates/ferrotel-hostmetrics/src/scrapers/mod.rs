//! The scrapers, one file each, behind one small trait; [`build_all`] compiles a config into
//! the enabled ones.

mod cpu;
mod disk;
mod filesystem;
mod load;
mod memory;
mod network;
mod paging;
mod process;
mod processes;
mod system;

use ferrotel_pdata::proto::metrics::v1::ResourceMetrics;
use ferrotel_runtime::config::ConfigError;

use crate::config::HostMetricsConfig;
use crate::procfs::Host;

pub use cpu::CPU_METRICS;
pub use disk::DISK_METRICS;
pub use filesystem::FILESYSTEM_METRICS;
#[cfg(test)]
pub use filesystem::statvfs as statvfs_for_tests;
pub use load::LOAD_METRICS;
pub use memory::MEMORY_METRICS;
pub use network::NETWORK_METRICS;
pub use paging::PAGING_METRICS;
pub use process::{PROCESS_METRICS, PROCESS_RESOURCE_ATTRIBUTES};
pub use processes::PROCESSES_METRICS;
pub use system::SYSTEM_METRICS;

/// What every scrape of one collection shares.
pub struct ScrapeContext<'a> {
    pub host: &'a Host,
    /// A reused read buffer.
    pub buf: &'a mut String,
    pub now_ns: u64,
    /// Boot time (start time of the host's cumulative counters).
    pub boot_ns: u64,
}

/// One scraper: reads the host and appends its resource metrics.
pub trait Scraper: Send {
    /// The Go scraper's name (`cpu`), also the end of its scope name.
    fn name(&self) -> &'static str;

    /// Appends this collection's metrics to `out`. A failure to read one item (a process that
    /// exited, a filesystem that cannot be stat'ed) is returned as a partial error after the
    /// rest is emitted.
    fn scrape(
        &mut self,
        cx: &mut ScrapeContext<'_>,
        out: &mut Vec<ResourceMetrics>,
    ) -> Result<(), String>;
}

/// The enabled scrapers of `config`, in the Go receiver's alphabetical order.
pub fn build_all(config: &HostMetricsConfig) -> Result<Vec<Box<dyn Scraper>>, ConfigError> {
    let s = &config.scrapers;
    let mut out: Vec<Box<dyn Scraper>> = Vec::new();
    if let Some(c) = &s.cpu {
        out.push(Box::new(cpu::CpuScraper::new(c)?));
    }
    if let Some(c) = &s.disk {
        out.push(Box::new(disk::DiskScraper::new(c)?));
    }
    if let Some(c) = &s.filesystem {
        out.push(Box::new(filesystem::FilesystemScraper::new(c)?));
    }
    if let Some(c) = &s.load {
        out.push(Box::new(load::LoadScraper::new(c)?));
    }
    if let Some(c) = &s.memory {
        out.push(Box::new(memory::MemoryScraper::new(c)?));
    }
    if let Some(c) = &s.network {
        out.push(Box::new(network::NetworkScraper::new(c)?));
    }
    if let Some(c) = &s.paging {
        out.push(Box::new(paging::PagingScraper::new(c)?));
    }
    if let Some(c) = &s.process {
        out.push(Box::new(process::ProcessScraper::new(c)?));
    }
    if let Some(c) = &s.processes {
        out.push(Box::new(processes::ProcessesScraper::new(c)?));
    }
    if let Some(c) = &s.system {
        out.push(Box::new(system::SystemScraper::new(c)?));
    }
    Ok(out)
}
