//! `filesystem`: mounts from /proc/1/mountinfo (as gopsutil reads them, under `root_path`),
//! usage from statvfs on each mount point under `root_path`. Virtual filesystems (types
//! marked `nodev` in /proc/filesystems) are left out unless `include_virtual_filesystems`.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;

use ferrotel_pdata::proto::metrics::v1::ResourceMetrics;
use ferrotel_runtime::config::ConfigError;

use super::{ScrapeContext, Scraper};
use crate::config::{FilesystemConfig, IncludeExclude, metrics_for};
use crate::emit::{Kind, MetricDef, Recorder, Value, def, resource_metrics};
use crate::procfs::{Host, file_error, unescape_octal};

pub static FILESYSTEM_METRICS: [MetricDef; 3] = [
    def(
        "system.filesystem.usage",
        "Filesystem bytes used.",
        "By",
        Kind::Sum(false),
        true,
    ),
    def(
        "system.filesystem.inodes.usage",
        "FileSystem inodes used.",
        "{inodes}",
        Kind::Sum(false),
        true,
    ),
    def(
        "system.filesystem.utilization",
        "Fraction of filesystem bytes used.",
        "1",
        Kind::Gauge,
        false,
    ),
];
const USAGE: usize = 0;
const INODES: usize = 1;
const UTILIZATION: usize = 2;

pub struct FilesystemScraper {
    rec: Recorder,
    devices: IncludeExclude,
    fs_types: IncludeExclude,
    mount_points: IncludeExclude,
    include_virtual: bool,
    /// Filesystem types with a block device, from /proc/filesystems (reused).
    physical_types: Vec<String>,
}

impl FilesystemScraper {
    pub fn new(c: &FilesystemConfig) -> Result<Self, ConfigError> {
        let at = "scrapers::filesystem";
        let enabled = metrics_for(at, &FILESYSTEM_METRICS, &c.metrics)?;
        Ok(FilesystemScraper {
            rec: Recorder::new(&FILESYSTEM_METRICS, enabled),
            devices: IncludeExclude {
                include: c
                    .include_devices
                    .compile(&format!("{at}::include_devices"))?,
                exclude: c
                    .exclude_devices
                    .compile(&format!("{at}::exclude_devices"))?,
            },
            fs_types: IncludeExclude {
                include: c
                    .include_fs_types
                    .compile(&format!("{at}::include_fs_types"))?,
                exclude: c
                    .exclude_fs_types
                    .compile(&format!("{at}::exclude_fs_types"))?,
            },
            mount_points: IncludeExclude {
                include: c
                    .include_mount_points
                    .compile(&format!("{at}::include_mount_points"))?,
                exclude: c
                    .exclude_mount_points
                    .compile(&format!("{at}::exclude_mount_points"))?,
            },
            include_virtual: c.include_virtual_filesystems,
            physical_types: Vec::new(),
        })
    }
}

/// statvfs's numbers, in gopsutil's terms.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    pub total: u64,
    pub free: u64,
    pub used: u64,
    pub inodes_free: u64,
    pub inodes_used: u64,
}

pub fn statvfs(path: &std::path::Path) -> std::io::Result<Usage> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let mut s = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a valid C string and `s` points to writable memory of the right type.
    if unsafe { libc::statvfs(c.as_ptr(), s.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it filled `s`.
    let s = unsafe { s.assume_init() };
    // The field types differ between libc targets (u64 here, u32 on some 32-bit ones).
    #[allow(clippy::unnecessary_cast)]
    let (frsize, blocks, bfree, bavail, files, ffree) = (
        s.f_frsize as u64,
        s.f_blocks as u64,
        s.f_bfree as u64,
        s.f_bavail as u64,
        s.f_files as u64,
        s.f_ffree as u64,
    );
    Ok(Usage {
        total: blocks * frsize,
        free: bavail * frsize,
        used: blocks.saturating_sub(bfree) * frsize,
        inodes_free: ffree,
        inodes_used: files.saturating_sub(ffree),
    })
}

fn mount_mode(opts: &str) -> &'static str {
    if opts.split(',').any(|o| o == "rw") {
        "rw"
    } else if opts.split(',').any(|o| o == "ro") {
        "ro"
    } else {
        "unknown"
    }
}

/// `/dev/root` names no device; gopsutil resolves it from the block device number.
fn resolve_dev_root(host: &Host, major_minor: &str) -> Option<String> {
    let link = std::fs::read_link(host.path(&format!("sys/dev/block/{major_minor}"))).ok()?;
    Some(format!("/dev/{}", link.file_name()?.to_string_lossy()))
}

impl Scraper for FilesystemScraper {
    fn name(&self) -> &'static str {
        "filesystem"
    }

    fn scrape(
        &mut self,
        cx: &mut ScrapeContext<'_>,
        out: &mut Vec<ResourceMetrics>,
    ) -> Result<(), String> {
        self.rec.now_ns = cx.now_ns;
        self.rec.start_ns = cx.boot_ns;
        if !self.include_virtual {
            cx.host
                .read_into("proc/filesystems", cx.buf)
                .map_err(|e| file_error(cx.host, "proc/filesystems", e))?;
            self.physical_types.clear();
            for line in cx.buf.lines() {
                if !line.starts_with("nodev") {
                    self.physical_types.push(line.trim().to_owned());
                }
            }
            // gopsutil lists zfs as physical though the kernel marks it nodev.
            self.physical_types.push("zfs".into());
        }
        let mut rel = "proc/1/mountinfo";
        if cx.host.read_into(rel, cx.buf).is_err() {
            rel = "proc/self/mountinfo";
            cx.host
                .read_into(rel, cx.buf)
                .map_err(|e| file_error(cx.host, rel, e))?;
        }
        let mut errors = Vec::new();
        for line in cx.buf.lines() {
            // `id parent major:minor root mountpoint options [optional...] - fstype source super`
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            // The first six columns (no per-line allocation); optional fields are not needed.
            let mut l = [""; 6];
            let mut cols = left.split(' ');
            let mut complete = true;
            for slot in &mut l {
                match cols.next() {
                    Some(c) => *slot = c,
                    None => complete = false,
                }
            }
            let mut r = right.split(' ');
            let (true, Some(fstype), Some(source)) = (complete, r.next(), r.next()) else {
                continue;
            };
            if !self.include_virtual
                && (source == "none" || !self.physical_types.iter().any(|t| t == fstype))
            {
                continue;
            }
            let mountpoint = unescape_octal(l[4]);
            let device = if source == "/dev/root" {
                resolve_dev_root(cx.host, l[2]).unwrap_or_else(|| source.to_owned())
            } else {
                source.to_owned()
            };
            if !self.devices.allows(&device)
                || !self.fs_types.allows(fstype)
                || !self.mount_points.allows(&mountpoint)
            {
                continue;
            }
            let path = cx.host.root().join(mountpoint.trim_start_matches('/'));
            let u = match statvfs(&path) {
                Ok(u) => u,
                Err(e) => {
                    errors.push(format!("failed to read usage at {}: {e}", path.display()));
                    continue;
                }
            };
            let mode = mount_mode(l[5]);
            let a = |state| {
                [
                    ("device", device.as_str()),
                    ("mode", mode),
                    ("mountpoint", &*mountpoint),
                    ("type", fstype),
                    ("state", state),
                ]
            };
            self.rec
                .record(USAGE, Value::Int(u.used as i64), &a("used"));
            self.rec
                .record(USAGE, Value::Int(u.free as i64), &a("free"));
            let reserved = u.total.wrapping_sub(u.used).wrapping_sub(u.free);
            self.rec
                .record(USAGE, Value::Int(reserved as i64), &a("reserved"));
            self.rec
                .record(INODES, Value::Int(u.inodes_used as i64), &a("used"));
            self.rec
                .record(INODES, Value::Int(u.inodes_free as i64), &a("free"));
            if u.used + u.free > 0 {
                let util = u.used as f64 / (u.used + u.free) as f64;
                self.rec
                    .record(UTILIZATION, Value::Double(util), &a("")[..4]);
            }
        }
        out.push(resource_metrics(
            "filesystem",
            Vec::new(),
            self.rec.take_metrics(),
        ));
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}
