//! Reading the host's /proc, /sys and /etc under `root_path`, into one reused buffer, and the
//! small text formats the scrapers need. Parsing is by hand: each file is a few lines of
//! `key value` or whitespace-separated columns, and only a few fields of each are used.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// USER_HZ: the unit of /proc tick counts. Linux fixes it at 100 for user space on every
/// architecture the Go receiver supports (gopsutil assumes the same).
pub const CLOCK_TICKS: f64 = 100.0;

/// The host's filesystem root (`/`, or the `root_path` a container mounts the host at).
#[derive(Debug, Clone)]
pub struct Host {
    root: PathBuf,
}

impl Host {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Host { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `rel` (like `proc/stat`) under the root.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Reads `rel` into `buf` (cleared first), reusing its capacity.
    pub fn read_into(&self, rel: &str, buf: &mut String) -> io::Result<()> {
        read_path_into(&self.root.join(rel), buf)
    }
}

pub fn read_path_into(path: &Path, buf: &mut String) -> io::Result<()> {
    buf.clear();
    File::open(path)?.read_to_string(buf).map(|_| ())
}

/// An error naming the file that could not be read or parsed.
pub fn file_error(host: &Host, rel: &str, e: impl std::fmt::Display) -> String {
    format!("{}: {e}", host.path(rel).display())
}

/// The value of `key:` in a `key: value [unit]` file (/proc/meminfo, /proc/pid/status), as
/// its first number.
pub fn field_u64(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(key)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// The text after `key:` (trimmed).
pub fn field_str<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| Some(l.strip_prefix(key)?.strip_prefix(':')?.trim()))
}

/// Parsed /proc/meminfo, in bytes (the file says kB).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MemInfo {
    pub total: u64,
    pub free: u64,
    pub available: u64,
    pub buffers: u64,
    pub cached: u64,
    pub sreclaimable: u64,
    pub sunreclaim: u64,
    pub dirty: u64,
    pub swap_total: u64,
    pub swap_free: u64,
    pub swap_cached: u64,
    pub has_available: bool,
}

pub fn parse_meminfo(text: &str) -> MemInfo {
    let mut m = MemInfo::default();
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let Some(v) = rest
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
        else {
            continue;
        };
        let v = v * 1024;
        match key {
            "MemTotal" => m.total = v,
            "MemFree" => m.free = v,
            "MemAvailable" => {
                m.available = v;
                m.has_available = true;
            }
            "Buffers" => m.buffers = v,
            "Cached" => m.cached = v,
            "SReclaimable" => m.sreclaimable = v,
            "SUnreclaim" => m.sunreclaim = v,
            "Dirty" => m.dirty = v,
            "SwapTotal" => m.swap_total = v,
            "SwapFree" => m.swap_free = v,
            "SwapCached" => m.swap_cached = v,
            _ => {}
        }
    }
    // gopsutil counts reclaimable slab as cache, and so does the Go receiver's `cached`.
    m.cached += m.sreclaimable;
    m
}

/// `btime` from /proc/stat: boot time in seconds since the epoch.
pub fn boot_time(host: &Host, buf: &mut String) -> Result<u64, String> {
    host.read_into("proc/stat", buf)
        .map_err(|e| file_error(host, "proc/stat", e))?;
    buf.lines()
        .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
        .ok_or_else(|| file_error(host, "proc/stat", "no btime line"))
}

/// Per-CPU tick counts from a `cpuN ...` line of /proc/stat, in seconds.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct CpuTimes {
    pub user: f64,
    pub nice: f64,
    pub system: f64,
    pub idle: f64,
    pub iowait: f64,
    pub irq: f64,
    pub softirq: f64,
    pub steal: f64,
}

impl CpuTimes {
    /// The sum the utilization divides by (guest time is already inside user and nice).
    pub fn total(&self) -> f64 {
        self.user
            + self.nice
            + self.system
            + self.idle
            + self.iowait
            + self.irq
            + self.softirq
            + self.steal
    }
}

/// Parses the columns after `cpuN`.
pub fn parse_cpu_line(cols: &str) -> Option<CpuTimes> {
    let mut it = cols.split_ascii_whitespace().map(|v| v.parse::<u64>().ok());
    let mut next = || it.next().flatten().map(|t| t as f64 / CLOCK_TICKS);
    let user = next()?;
    let nice = next()?;
    let system = next()?;
    let idle = next()?;
    // Columns after idle appeared over kernel versions; absent means zero.
    Some(CpuTimes {
        user,
        nice,
        system,
        idle,
        iowait: next().unwrap_or(0.0),
        irq: next().unwrap_or(0.0),
        softirq: next().unwrap_or(0.0),
        steal: next().unwrap_or(0.0),
    })
}

/// The number of `cpuN` lines of /proc/stat: the logical CPU count.
pub fn logical_cpus(stat: &str) -> usize {
    stat.lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count()
}

/// Decodes the octal escapes (`\040` for space) the kernel writes in mount paths.
pub fn unescape_octal(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('\\') {
        return std::borrow::Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    std::borrow::Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// The user name of `uid` from `etc/passwd` under the root ("" when unknown, as the Go
/// receiver reports a failed lookup).
pub fn user_name(passwd: &str, uid: u32) -> Option<&str> {
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let _pw = f.next()?;
        (f.next()?.parse::<u32>().ok()? == uid).then_some(name)
    })
}

pub fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as u64 } else { 4096 }
}

pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The value of a `key value` line (/proc/stat, /proc/vmstat).
pub fn field_u64_spaced(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(key)?.strip_prefix(' ')?;
        rest.trim().parse().ok()
    })
}
