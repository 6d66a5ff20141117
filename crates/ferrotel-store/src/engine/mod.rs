//! [`Store`], the indexed engine: encoded requests kept as they arrived (in memory and in
//! append-only segment files), compact indexes over them (see `index`), queries that decode
//! only what they return or must check (see `query`). Design and figures: docs/local-store.md.

mod bloom;
mod index;
mod query;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
use ferrotel_pdata::{DecodeError, Payload, Signal};

use crate::segment::{self, DataDir, Decoded, Writer};
use crate::*;
use index::Index;

/// How often appends sync the current segment to disk (and `close` always does).
const SYNC_EVERY: Duration = Duration::from_secs(1);
/// Largest segment: the unit of pruning, so a fraction of `max_bytes`.
const MAX_SEGMENT: u64 = 64 << 20;

struct Disk {
    dir: Option<DataDir>,
    writer: Option<(u64, Writer)>,
    /// The segment appends go to: id, bytes so far, arrival of its first chunk.
    current: Option<(u64, u64, u64)>,
    next_segment: u64,
    /// Files written since the last background sync (closed segments and the current one).
    unsynced: Vec<Arc<std::fs::File>>,
    closed: bool,
}

/// The indexed [`TelemetryStore`].
pub struct Store {
    config: StoreConfig,
    index: RwLock<Index>,
    /// Serializes appends and owns the files; reads never take it.
    disk: Mutex<Disk>,
    segment_bytes: u64,
    /// A segment also closes after this long, so retention prunes in steps of it.
    segment_age: u64,
}

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn malformed() -> StoreError {
    StoreError::Decode(DecodeError::new("", "malformed request"))
}

impl Store {
    /// Opens a store; with a directory, locks it and reloads what it holds (a damaged segment
    /// is quarantined with a warning, a foreign directory set aside).
    pub fn open(config: StoreConfig) -> Result<Arc<Store>, StoreError> {
        let segment_bytes = (config.max_bytes / 16).clamp(1, MAX_SEGMENT);
        let segment_age = if config.retention.is_zero() {
            u64::MAX
        } else {
            (config.retention / 16)
                .max(Duration::from_millis(100))
                .as_nanos() as u64
        };
        let mut disk = Disk {
            dir: None,
            writer: None,
            current: None,
            next_segment: 1,
            unsynced: Vec::new(),
            closed: false,
        };
        map_large_allocations();
        let mut index = Index::default();
        if let Some(path) = &config.directory {
            let dir = DataDir::open(path)?;
            for (id, file) in dir.segments()? {
                disk.next_segment = disk.next_segment.max(id + 1);
                load_segment(&mut index, id, &file);
            }
            disk.dir = Some(dir);
        }
        let store = Store {
            config,
            index: RwLock::new(index),
            disk: Mutex::new(disk),
            segment_bytes,
            segment_age,
        };
        let background_sync = store.config.directory.is_some();
        {
            let mut disk = store.lock_disk();
            let pruned = store.prune(&mut store.write(), now_nanos(), 0);
            store.delete_segments(&mut disk, &pruned);
        }
        let store = Arc::new(store);
        if background_sync {
            spawn_sync(&store);
        }
        Ok(store)
    }

    fn read(&self) -> RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_disk(&self) -> MutexGuard<'_, Disk> {
        self.disk.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Prunes the oldest segments past `max_bytes` and those past retention; returns their
    /// ids.
    fn prune(&self, ix: &mut Index, now: u64, incoming: u64) -> Vec<u64> {
        let mut pruned = Vec::new();
        while ix.bytes() + incoming > self.config.max_bytes {
            match ix.prune_oldest() {
                Some(id) => pruned.push(id),
                None => break,
            }
        }
        if !self.config.retention.is_zero() {
            let keep = self.config.retention.as_nanos() as u64;
            while ix
                .segments
                .front()
                .is_some_and(|s| now.saturating_sub(s.newest) > keep)
            {
                pruned.extend(ix.prune_oldest());
            }
        }
        pruned
    }

    fn delete_segments(&self, disk: &mut Disk, ids: &[u64]) {
        for &id in ids {
            if disk.current.is_some_and(|c| c.0 == id) {
                disk.current = None;
            }
            if disk.writer.as_ref().is_some_and(|w| w.0 == id) {
                disk.writer = None;
            }
            if let Some(dir) = &disk.dir {
                let path = dir.path.join(segment::segment_name(id));
                if let Err(e) = std::fs::remove_file(&path)
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    tracing::warn!(path = %path.display(), "local store: cannot delete a pruned segment: {e}");
                }
            }
        }
    }

    /// Prunes what retention expired when no append came to do it. Skipped while an append
    /// holds the files (it prunes itself), so reads never wait.
    fn expire(&self) {
        if self.config.retention.is_zero() {
            return;
        }
        let now = now_nanos();
        let keep = self.config.retention.as_nanos() as u64;
        let due = self
            .read()
            .segments
            .front()
            .is_some_and(|s| now.saturating_sub(s.newest) > keep);
        if !due {
            return;
        }
        if let Ok(mut disk) = self.disk.try_lock() {
            let pruned = self.prune(&mut self.write(), now, 0);
            self.delete_segments(&mut disk, &pruned);
        }
    }

    fn append_bytes(&self, signal: Signal, bytes: Bytes) -> Result<(), StoreError> {
        let mut disk = self.lock_disk();
        if disk.closed {
            return Err(StoreError::Io("the store is closed".into()));
        }
        let arrival = now_nanos();
        // Room for the request first, so the store stays under its cap while it holds it
        // (before the segment is chosen: this may prune the current one).
        let pre = self.prune(&mut self.write(), arrival, bytes.len() as u64);
        self.delete_segments(&mut disk, &pre);
        let rotate = disk.current.is_none_or(|(_, len, first)| {
            len >= self.segment_bytes || arrival.saturating_sub(first) >= self.segment_age
        });
        if rotate {
            let id = disk.next_segment;
            disk.next_segment += 1;
            disk.current = Some((id, 0, arrival));
        }
        let Some((seg, _, _)) = disk.current else {
            return Ok(());
        };
        let (stored, pruned) = {
            let mut ix = self.write();
            let before = ix.mem;
            let stored = ix
                .ingest(signal, bytes.clone(), seg, arrival)
                .map_err(|_| malformed())?;
            let added = ix.mem - before;
            if let Some(c) = disk.current.as_mut() {
                c.1 += added;
            }
            (stored, self.prune(&mut ix, arrival, 0))
        };
        let kept = stored && !pruned.contains(&seg);
        self.delete_segments(&mut disk, &pruned);
        if !pruned.is_empty() || !pre.is_empty() {
            release_freed();
        }
        if kept {
            self.persist(&mut disk, seg, signal, arrival, &bytes);
        }
        Ok(())
    }

    /// Writes a stored request to its segment file. A failing disk is reported and the data
    /// stays served from memory: the exporter must not retry what is already stored.
    fn persist(&self, disk: &mut Disk, seg: u64, signal: Signal, arrival: u64, bytes: &[u8]) {
        let Some(dir) = &disk.dir else { return };
        if disk.writer.as_ref().is_none_or(|w| w.0 != seg) {
            match Writer::create(&dir.path, seg) {
                Ok(w) => disk.writer = Some((seg, w)),
                Err(e) => {
                    tracing::warn!("local store: cannot create a segment: {e}");
                    return;
                }
            }
        }
        let Some((_, w)) = disk.writer.as_mut() else {
            return;
        };
        if let Err(e) = w.append(signal, arrival, bytes) {
            tracing::warn!("local store: cannot write: {e}");
        }
        let file = w.file.clone();
        if !disk.unsynced.iter().any(|f| Arc::ptr_eq(f, &file)) {
            disk.unsynced.push(file);
        }
    }
}

/// Hands memory freed by pruning back to the OS. glibc keeps freed chunks (a pruned
/// segment's requests, the posting lists' old fronts) in its arenas, so without this the RSS
/// stays at its high-water mark over the cap; a pruning happens once per 1/16 of the cap.
fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel; no pointer is involved.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Has glibc serve allocations of 128 KiB and more (stored requests: a batch is a few MiB;
/// received requests) with their own mappings, returned to the OS when freed. Its default
/// threshold rises to the largest block freed, after which pruned requests leave holes in the
/// heap arenas that new ones only partly refill: 5–7 MiB more peak RSS at a 256 MiB cap
/// (docs/benchmarks.md). Process-wide; fixing the threshold stops glibc's adjusting it.
fn map_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes an allocator parameter; no pointer is involved.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
    }
}

/// Fsyncs what appends wrote, every [`SYNC_EVERY`], on its own thread: neither appends nor
/// reads wait for the disk. Ends with the store (or at `close`).
fn spawn_sync(store: &Arc<Store>) {
    let weak = Arc::downgrade(store);
    let spawned = std::thread::Builder::new()
        .name("ferrotel-store-sync".into())
        .spawn(move || {
            loop {
                std::thread::sleep(SYNC_EVERY);
                let Some(store) = weak.upgrade() else { return };
                let files = {
                    let mut disk = store.lock_disk();
                    if disk.closed {
                        return;
                    }
                    std::mem::take(&mut disk.unsynced)
                };
                drop(store);
                for f in files {
                    if let Err(e) = f.sync_data() {
                        tracing::warn!("local store: cannot sync a segment: {e}");
                    }
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("local store: no background sync thread ({e}); data is synced at close");
    }
}

/// Reads one segment file into the index. Damage is reported and set aside, never fatal.
fn load_segment(index: &mut Index, id: u64, file: &Path) {
    let quarantine = |problem: &str| {
        match segment::set_aside(file) {
            Ok(to) => tracing::warn!(
                path = %file.display(),
                moved_to = %to.display(),
                "local store: segment {problem}; quarantined, the rest is served"
            ),
            Err(e) => tracing::warn!(
                path = %file.display(),
                "local store: segment {problem}; cannot quarantine it ({e}), skipped"
            ),
        };
    };
    let buf = match std::fs::read(file) {
        Ok(b) => Bytes::from(b),
        Err(e) => {
            tracing::warn!(path = %file.display(), "local store: cannot read segment: {e}");
            return;
        }
    };
    let records = match segment::decode_segment(&buf) {
        Decoded::Ok(r) => r,
        Decoded::Torn { records, valid_len } => {
            tracing::warn!(
                path = %file.display(),
                "local store: segment ends in a partly written record (a crash?); truncated to {valid_len} bytes"
            );
            let truncated = std::fs::OpenOptions::new()
                .write(true)
                .open(file)
                .and_then(|f| f.set_len(valid_len as u64));
            if let Err(e) = truncated {
                tracing::warn!(path = %file.display(), "local store: cannot truncate: {e}");
            }
            records
        }
        Decoded::Corrupt(problem) => return quarantine(&problem),
    };
    // Requests were validated before they were written and the CRC says they are unchanged,
    // so they are not validated again (it would double the reload time). Indexing still
    // checks the structure it walks, and queries skip what fails to decode.
    for r in records {
        if index
            .ingest(r.signal, buf.slice(r.range), id, r.arrival)
            .is_err()
        {
            tracing::warn!(path = %file.display(), "local store: a record could not be indexed; skipped");
        }
    }
}

impl TelemetryStore for Store {
    fn append(&self, payload: &Payload) -> Result<(), StoreError> {
        let signal = payload.signal();
        if signal == Signal::Profiles {
            return Ok(());
        }
        let bytes = payload.to_proto();
        if bytes.is_empty() {
            return Ok(());
        }
        self.append_bytes(signal, bytes)
    }

    fn stats(&self) -> StoreStats {
        self.expire();
        self.read().stats
    }

    fn services(&self) -> Vec<String> {
        self.expire();
        self.read().services()
    }

    fn operations(&self, service: &str, kind: Option<i32>) -> Vec<Operation> {
        self.expire();
        self.read().operations(service, kind)
    }

    fn find_traces(&self, query: &TraceQuery) -> Vec<TraceSummary> {
        self.expire();
        self.read().find_traces(query)
    }

    fn trace(&self, id: &TraceId) -> Option<ExportTraceServiceRequest> {
        self.expire();
        self.read().trace(id)
    }

    fn tag_names(&self) -> Vec<String> {
        self.expire();
        self.read().tag_names()
    }

    fn tag_values(&self, tag: &str, limit: usize) -> Vec<String> {
        self.expire();
        self.read().tag_values(tag, limit)
    }

    fn find_logs(&self, query: &LogQuery) -> ExportLogsServiceRequest {
        self.expire();
        self.read().find_logs(query)
    }

    fn metrics(&self, service: Option<&str>) -> Vec<MetricInfo> {
        self.expire();
        self.read().metrics(service)
    }

    fn metric_points(&self, query: &MetricQuery) -> ExportMetricsServiceRequest {
        self.expire();
        self.read().metric_points(query)
    }

    fn close(&self) -> Result<(), StoreError> {
        let mut disk = self.lock_disk();
        let mut res = Ok(());
        for f in std::mem::take(&mut disk.unsynced) {
            if let Err(e) = f.sync_data() {
                res = Err(StoreError::Io(format!("sync: {e}")));
            }
        }
        if let Some((_, mut w)) = disk.writer.take()
            && let Err(e) = w.sync()
        {
            res = Err(e);
        }
        disk.dir = None;
        disk.closed = true;
        res
    }
}

/// Entry points for the `store_segment` fuzz target: damaged segments and unvalidated OTLP
/// reach the indexer and the queries without a panic.
#[doc(hidden)]
pub mod fuzzing {
    use super::*;

    /// Decodes `data` as a segment, indexes its records without validating them (as a reload
    /// whose CRCs matched would), then runs every query.
    pub fn segment(data: &[u8]) {
        let buf = Bytes::copy_from_slice(data);
        let records = match segment::decode_segment(&buf) {
            Decoded::Ok(r) | Decoded::Torn { records: r, .. } => r,
            Decoded::Corrupt(_) => return,
        };
        let mut ix = Index::default();
        for r in records {
            let _ = ix.ingest(r.signal, buf.slice(r.range), 1, r.arrival);
        }
        queries(&mut ix);
    }

    /// Indexes `data` as a request of `signal` without validating it, then queries.
    pub fn request(signal: Signal, data: &[u8]) {
        let mut ix = Index::default();
        let _ = ix.ingest(signal, Bytes::copy_from_slice(data), 1, 1);
        queries(&mut ix);
    }

    fn queries(ix: &mut Index) {
        let _ = ix.services();
        let _ = ix.tag_names();
        for tag in ["error", "k", "otel.scope.name", "service.name"] {
            let _ = ix.tag_values(tag, 0);
        }
        let all = ix.find_traces(&TraceQuery {
            tags: vec![("k".into(), "v".into())],
            min_duration: Some(Duration::from_nanos(1)),
            limit: 100,
            ..Default::default()
        });
        for t in ix.find_traces(&TraceQuery::default()).iter().chain(&all) {
            let _ = ix.trace(&t.trace_id);
        }
        let _ = ix.find_logs(&LogQuery {
            body_contains: Some("a".into()),
            trace_id: Some([1; 16]),
            ..Default::default()
        });
        let _ = ix.find_logs(&LogQuery::default());
        for m in ix.metrics(None) {
            let _ = ix.metric_points(&MetricQuery {
                name: m.name,
                ..Default::default()
            });
        }
        while ix.prune_oldest().is_some() {}
    }
}
