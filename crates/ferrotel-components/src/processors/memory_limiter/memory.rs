//! Where the memory figures come from: the process's resident set, and the memory the
//! percentages refer to.
//!
//! Why RSS: ferrotel has no garbage collector whose heap statistics could be read, and what
//! matters to the OOM killer (and to a container's cgroup limit) is the memory the allocator
//! really holds from the OS — freed memory the allocator keeps for reuse included, fragmentation
//! included. The resident set of `/proc/self/statm` is exactly that, costs one small read, and
//! needs no allocator-specific statistics.

use std::path::Path;

/// The current memory usage, in bytes; `None` when it cannot be measured. Injectable so tests
/// can drive the limiter.
pub trait MemoryUsage: Send + Sync + 'static {
    fn used_bytes(&self) -> Option<u64>;
}

impl<F: Fn() -> Option<u64> + Send + Sync + 'static> MemoryUsage for F {
    fn used_bytes(&self) -> Option<u64> {
        self()
    }
}

/// The resident set size of this process.
pub struct ProcessRss {
    page_size: u64,
}

impl ProcessRss {
    pub fn new() -> Self {
        ProcessRss {
            page_size: page_size(),
        }
    }
}

impl Default for ProcessRss {
    fn default() -> Self {
        ProcessRss::new()
    }
}

impl MemoryUsage for ProcessRss {
    fn used_bytes(&self) -> Option<u64> {
        // `size resident shared text lib data dt`, in pages.
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let resident: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        Some(resident * self.page_size)
    }
}

/// The page size, from the auxiliary vector the kernel gave the process (`AT_PAGESZ`), so no
/// libc call is needed; 4 KiB if it cannot be read.
fn page_size() -> u64 {
    const AT_PAGESZ: u64 = 6;
    if let Ok(auxv) = std::fs::read("/proc/self/auxv") {
        let word = std::mem::size_of::<usize>();
        for pair in auxv.chunks_exact(2 * word) {
            let read = |b: &[u8]| {
                let mut v = [0u8; 8];
                v[..word].copy_from_slice(b);
                u64::from_ne_bytes(v)
            };
            if read(&pair[..word]) == AT_PAGESZ {
                let size = read(&pair[word..]);
                if size.is_power_of_two() {
                    return size;
                }
            }
        }
    }
    4096
}

/// The memory `limit_percentage` refers to: the cgroup limit (v2 `memory.max`, else v1
/// `memory.limit_in_bytes`) when there is one and it is below the machine's memory, else the
/// machine's total from `/proc/meminfo`.
pub fn available_memory() -> Option<u64> {
    available_memory_at(Path::new("/sys/fs/cgroup"), Path::new("/proc/meminfo"))
}

/// [`available_memory`] with the roots given, for tests.
pub fn available_memory_at(cgroup_root: &Path, meminfo: &Path) -> Option<u64> {
    let total = std::fs::read_to_string(meminfo)
        .ok()
        .and_then(|m| parse_meminfo_total(&m));
    let cgroup = read_limit(&cgroup_root.join("memory.max"))
        .or_else(|| read_limit(&cgroup_root.join("memory/memory.limit_in_bytes")));
    match (cgroup, total) {
        // cgroup v1 writes "no limit" as a huge number: the machine is the limit then.
        (Some(c), Some(t)) => Some(c.min(t)),
        (c, t) => c.or(t),
    }
}

fn read_limit(path: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    // v2 writes "max" for no limit.
    text.trim().parse().ok()
}

fn parse_meminfo_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Asks the allocator to give free memory back to the OS, where that is possible (glibc's
/// `malloc_trim`; other allocators return memory on their own schedule).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: malloc_trim only walks glibc's own arenas under their locks; it has no
        // preconditions and is safe to call from any thread at any time.
        unsafe {
            malloc_trim(0);
        }
    }
}
