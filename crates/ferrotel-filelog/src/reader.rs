//! Finding files and reading them: each poll matches the globs, identifies each file by its
//! fingerprint (its first `fingerprint_size` bytes), and reads what was added since the last
//! poll. A file keeps its identity across renames (move/create rotation) and copies
//! (copytruncate: the copy has the old fingerprint, the truncated original starts anew), so no
//! record is lost or read twice.
//!
//! Cost per poll: one `readdir` per directory the globs walk and one `stat` per matched path; a
//! file whose size, time and inode did not change is not opened, and a changed one is found
//! again by (device, inode) or through the fingerprint index (`index`), never by comparing it
//! with every known file. Reading uses one buffer reused for every file, split with memchr.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use ferrotel_stanza::{Map, OperatorsConfig, Pipeline, Value};
use regex::bytes::Regex;

use crate::checkpoint::{Checkpoint, Store, from_hex, to_hex};
use crate::config::{Compression, FileLogConfig};
use crate::discover::{Finder, Found};
use crate::emit::{Body, Emitter, FileAttrs};
use crate::index::{KnownIndex, PrefixHash};
use crate::split::{Encoding, Splitter, decode_utf8};

/// Polls after which a file not seen any more is forgotten (Go keeps three polls).
const FORGET_AFTER_POLLS: u64 = 3;
/// The read buffer's starting size; it grows up to `max_log_size` when a record needs it.
const READ_BUFFER: usize = 256 * 1024;

/// What identifies a file's content on disk between polls without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
}

impl Stat {
    fn of(m: &std::fs::Metadata) -> Stat {
        Stat {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
        }
    }
}

/// One known file.
struct FileState {
    fingerprint: Vec<u8>,
    /// Bytes read and handed on (for gzip: of the decompressed stream).
    offset: u64,
    record_number: u64,
    path: Option<PathBuf>,
    /// Kept open until the next batch, to finish reading a file that was moved away.
    file: Option<File>,
    stat: Option<Stat>,
    attrs: FileAttrs,
    /// Where the unterminated last record ends, and since when it has not grown.
    partial: Option<(u64, Instant)>,
    last_seen: u64,
    /// Still reading header lines (a new file with `header` configured).
    in_header: bool,
    fp_hash: u64,
    /// The batch that last matched this file (a file is read at most once per batch).
    stamp: u64,
}

/// Settings the read loop needs, from the config.
pub struct Settings {
    finder: Finder,
    exclude_older_than: Duration,
    start_at_beginning: bool,
    fingerprint_size: usize,
    batch_files: usize,
    max_batches: usize,
    delete_after_read: bool,
    force_flush_period: Duration,
    compression: Compression,
    max_log_size: usize,
    include_name: bool,
    include_path: bool,
    include_name_resolved: bool,
    include_path_resolved: bool,
    include_record_number: bool,
    include_record_offset: bool,
    header: Option<(Regex, OperatorsConfig)>,
}

/// The receiver's state: known files, the reused buffer, the emitter.
pub struct Tracker {
    settings: Settings,
    splitter: Splitter,
    emitter: Emitter,
    buf: Vec<u8>,
    files: Vec<FileState>,
    index: KnownIndex,
    poll: u64,
    batch: u64,
    store: Option<Store>,
    /// A digest of the checkpoints last written.
    saved: Option<u64>,
}

impl Tracker {
    pub fn new(
        config: &FileLogConfig,
        emitter: Emitter,
        store: Option<Store>,
    ) -> Result<Tracker, String> {
        let (settings, splitter) = build_parts(config)?;
        let mut files = Vec::new();
        if let Some(store) = &store {
            for c in store.load()? {
                if let Some(fingerprint) = from_hex(&c.fingerprint) {
                    let fp_hash = PrefixHash::of(&fingerprint);
                    files.push(FileState {
                        fingerprint,
                        offset: c.offset,
                        record_number: c.record_number,
                        path: None,
                        file: None,
                        stat: None,
                        attrs: FileAttrs::default(),
                        partial: None,
                        last_seen: 0,
                        in_header: false,
                        fp_hash,
                        stamp: 0,
                    });
                }
            }
        }
        let buf_len = READ_BUFFER.min(settings.max_log_size.next_power_of_two().max(4096));
        let mut tracker = Tracker {
            splitter,
            settings,
            emitter,
            buf: vec![0; buf_len],
            files,
            index: KnownIndex::default(),
            poll: 0,
            batch: 0,
            store,
            saved: None,
        };
        tracker.reindex();
        Ok(tracker)
    }

    pub fn emitter(&mut self) -> &mut Emitter {
        &mut self.emitter
    }

    /// Rebuilds the (device, inode) and fingerprint indexes (after files were forgotten, which
    /// shifts indices).
    fn reindex(&mut self) {
        self.index.clear();
        for (i, f) in self.files.iter().enumerate() {
            if let Some(s) = &f.stat {
                self.index.set_inode((s.dev, s.ino), i);
            }
            self.index.insert_fingerprint(&f.fingerprint, f.fp_hash, i);
        }
    }

    /// One poll: find files, read what is new, hand it on, save the checkpoint.
    pub fn poll(&mut self) {
        self.poll += 1;
        let found = self.settings.finder.find();
        let now = SystemTime::now();
        // Fingerprint hash → file read under it this poll (a second path to the same
        // content is skipped, as Go skips duplicates).
        let mut seen: HashMap<u64, usize> = HashMap::new();
        let mut to_delete: Vec<usize> = Vec::new();
        // At least one (maybe empty) batch, so files open since the last poll are finished
        // even when nothing matches any more.
        let mut batches: Vec<&[Found]> = found.chunks(self.settings.batch_files).collect();
        if batches.is_empty() {
            batches.push(&[]);
        }
        for (b, batch) in batches.into_iter().enumerate() {
            if self.settings.max_batches > 0 && b >= self.settings.max_batches {
                break;
            }
            self.batch += 1;
            let stamp = self.batch;
            for Found { path, meta } in batch {
                let Some(meta) = meta else {
                    continue;
                };
                if !meta.is_file() {
                    continue;
                }
                if !self.settings.exclude_older_than.is_zero()
                    && let Ok(mtime) = meta.modified()
                    && now.duration_since(mtime).unwrap_or_default()
                        > self.settings.exclude_older_than
                {
                    continue;
                }
                let stat = Stat::of(meta);
                let by_inode = self.index.by_inode((stat.dev, stat.ino));
                if let Some(i) = by_inode {
                    let f = &mut self.files[i];
                    if f.stat == Some(stat)
                        && f.partial.is_none()
                        && f.last_seen + 1 == self.poll
                        && f.stamp != stamp
                        && f.path.as_deref() == Some(path.as_path())
                    {
                        // Unchanged since the last poll: nothing to read, no need to open it.
                        f.last_seen = self.poll;
                        f.stamp = stamp;
                        seen.entry(f.fp_hash).or_insert(i);
                        continue;
                    }
                }
                let Ok(file) = File::open(path) else {
                    continue;
                };
                let fingerprint = read_fingerprint(&file, self.settings.fingerprint_size);
                if fingerprint.is_empty() {
                    continue; // empty files wait for content
                }
                let fp_hash = PrefixHash::of(&fingerprint);
                if let Some(&j) = seen.get(&fp_hash)
                    && self.files[j].fingerprint == fingerprint
                {
                    continue;
                }
                let files = &self.files;
                let fits = |i: usize| {
                    let f = &files[i];
                    f.stamp != stamp
                        && !f.fingerprint.is_empty()
                        && fingerprint.starts_with(&f.fingerprint)
                };
                let known = by_inode
                    .filter(|&i| fits(i))
                    .or_else(|| self.index.find_by_fingerprint(&fingerprint, fits));
                let i = match known {
                    Some(i) => {
                        let f = &mut self.files[i];
                        if stat.size < f.offset && self.settings.compression == Compression::None {
                            // Truncated (copytruncate, or `>`) and rewritten: read it from the start.
                            f.offset = 0;
                            f.record_number = 0;
                            f.partial = None;
                        }
                        if f.path.as_deref() != Some(path.as_path()) {
                            f.attrs.attrs = file_attrs(&self.settings, path);
                            f.path = Some(path.clone());
                        }
                        if f.fingerprint != fingerprint {
                            self.index.remove_fingerprint(&f.fingerprint, f.fp_hash, i);
                            self.index.insert_fingerprint(&fingerprint, fp_hash, i);
                            f.fingerprint = fingerprint;
                            f.fp_hash = fp_hash;
                        }
                        i
                    }
                    None => {
                        let start_at_end = self.poll == 1 && !self.settings.start_at_beginning;
                        let i = self.files.len();
                        self.index.insert_fingerprint(&fingerprint, fp_hash, i);
                        self.files.push(FileState {
                            offset: if start_at_end { stat.size } else { 0 },
                            record_number: 0,
                            path: Some(path.clone()),
                            file: None,
                            stat: None,
                            attrs: FileAttrs {
                                attrs: file_attrs(&self.settings, path),
                                header: Map::new(),
                            },
                            partial: None,
                            last_seen: self.poll,
                            in_header: self.settings.header.is_some() && !start_at_end,
                            fingerprint,
                            fp_hash,
                            stamp,
                        });
                        i
                    }
                };
                seen.insert(fp_hash, i);
                self.index.set_inode((stat.dev, stat.ino), i);
                let f = &mut self.files[i];
                f.stamp = stamp;
                f.last_seen = self.poll;
                f.stat = Some(stat);
                let eof = self.read(i, file);
                if eof && self.settings.delete_after_read {
                    to_delete.push(i);
                }
            }
            // Files open since the last batch and not matched now were moved or deleted:
            // finish them through the open handle, then let them go.
            for i in 0..self.files.len() {
                if self.files[i].stamp != stamp
                    && let Some(file) = self.files[i].file.take()
                {
                    self.read(i, file);
                    self.files[i].file = None;
                }
            }
        }
        for &i in &to_delete {
            if let Some(p) = self.files[i].path.take() {
                if let Err(e) = std::fs::remove_file(&p) {
                    tracing::warn!(path = %p.display(), error = %e, "filelog: delete_after_read failed");
                }
                self.files[i].file = None;
                self.files[i].last_seen = 0;
            }
        }
        let poll = self.poll;
        let before = self.files.len();
        self.files
            .retain(|f| f.file.is_some() || poll.saturating_sub(f.last_seen) <= FORGET_AFTER_POLLS);
        if self.files.len() != before {
            self.reindex();
        }
        self.emitter.send_all(false);
        self.save_checkpoint();
    }

    /// Reads file `i` from its offset to the end. True when it reached the end with nothing
    /// held back.
    fn read(&mut self, i: usize, mut file: File) -> bool {
        let f = &mut self.files[i];
        let gzip = match self.settings.compression {
            Compression::Gzip => true,
            Compression::Auto => f
                .path
                .as_ref()
                .is_some_and(|p| p.extension().is_some_and(|e| e == "gz")),
            Compression::None => false,
        };
        let mut ctx = ReadCtx {
            settings: &self.settings,
            splitter: &self.splitter,
            emitter: &mut self.emitter,
            buf: &mut self.buf,
        };
        if gzip {
            // A gzip stream cannot be sought: decompress from the start and skip what was read.
            let Ok(clone) = file.try_clone() else {
                return false;
            };
            let mut decoder = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(clone));
            let skipped = std::io::copy(&mut (&mut decoder).take(f.offset), &mut std::io::sink());
            if skipped.map_or(true, |n| n < f.offset) {
                return false; // not complete yet (being written) or shorter: try next poll
            }
            ctx.read_stream(&mut decoder, f)
        } else {
            if file.seek(SeekFrom::Start(f.offset)).is_err() {
                return false;
            }
            let done = ctx.read_stream(&mut file, f);
            f.file = Some(file);
            done
        }
    }

    fn save_checkpoint(&mut self) {
        let Some(store) = &self.store else {
            return;
        };
        // Most polls of many files change nothing: skip rewriting the same checkpoints.
        let signature = self.files.iter().fold(self.files.len() as u64, |h, f| {
            (h.rotate_left(7) ^ f.fp_hash ^ f.offset.wrapping_mul(31) ^ f.record_number)
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        });
        if self.saved == Some(signature) {
            return;
        }
        let checkpoints: Vec<Checkpoint> = self
            .files
            .iter()
            .filter(|f| !f.fingerprint.is_empty())
            .map(|f| Checkpoint {
                fingerprint: to_hex(&f.fingerprint),
                offset: f.offset,
                record_number: f.record_number,
            })
            .collect();
        match store.save(&checkpoints) {
            Ok(()) => self.saved = Some(signature),
            Err(e) => tracing::error!(error = %e, "filelog: saving checkpoints failed"),
        }
    }

    /// On shutdown: hand on everything, including what operators hold, and save.
    pub fn stop(&mut self) {
        self.emitter.send_all(true);
        self.save_checkpoint();
    }
}

fn read_fingerprint(file: &File, size: usize) -> Vec<u8> {
    let mut fp = vec![0; size];
    let mut n = 0;
    while n < size {
        match file.read_at(&mut fp[n..], n as u64) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    fp.truncate(n);
    fp
}

fn file_attrs(s: &Settings, path: &Path) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    if s.include_name {
        out.push(("log.file.name", name(path)));
    }
    if s.include_path {
        out.push(("log.file.path", path.to_string_lossy().into_owned()));
    }
    if s.include_name_resolved || s.include_path_resolved {
        let resolved = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if s.include_name_resolved {
            out.push(("log.file.name_resolved", name(&resolved)));
        }
        if s.include_path_resolved {
            out.push((
                "log.file.path_resolved",
                resolved.to_string_lossy().into_owned(),
            ));
        }
    }
    out
}

fn now_unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

struct ReadCtx<'a> {
    settings: &'a Settings,
    splitter: &'a Splitter,
    emitter: &'a mut Emitter,
    buf: &'a mut Vec<u8>,
}

impl ReadCtx<'_> {
    /// Reads `r` (positioned at `f.offset`) to its end, emitting every complete record, and
    /// the partial last one once it has not grown for `force_flush_period`.
    fn read_stream(&mut self, r: &mut dyn Read, f: &mut FileState) -> bool {
        let mut pending = 0usize;
        loop {
            if pending == self.buf.len() {
                // Only when a record may still be longer than the buffer (max_log_size > buffer).
                let grown = (self.buf.len() * 2).min(self.settings.max_log_size + 8);
                if grown <= self.buf.len() {
                    // The splitter always cuts at max_log_size, so this cannot happen.
                    return false;
                }
                self.buf.resize(grown, 0);
            }
            let n = match r.read(&mut self.buf[pending..]) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!(path = ?f.path, error = %e, "filelog: read failed");
                    return false;
                }
            };
            pending += n;
            let eof = n == 0;
            let mut flush = false;
            if eof && pending > 0 {
                let end = f.offset + pending as u64;
                let now = Instant::now();
                match f.partial {
                    Some((e, since)) if e == end => {
                        flush = self.settings.delete_after_read
                            || (!self.settings.force_flush_period.is_zero()
                                && now.duration_since(since) >= self.settings.force_flush_period);
                    }
                    _ => f.partial = Some((end, now)),
                }
                flush |= self.settings.delete_after_read;
            }
            let observed = now_unix_nanos();
            let mut pos = 0;
            while let Some(t) = self.splitter.next(&self.buf[pos..pending], eof && flush) {
                let start = pos + t.token.start;
                let end = pos + t.token.end;
                let record_offset = f.offset + pos as u64;
                pos += t.advance;
                f.record_number += 1;
                self.emit(f, start..end, record_offset, observed);
                if t.advance == 0 {
                    break;
                }
            }
            f.offset += pos as u64;
            if pos > 0 {
                self.buf.copy_within(pos..pending, 0);
                pending -= pos;
                if !eof {
                    f.partial = None;
                }
            }
            if eof {
                if pending == 0 {
                    f.partial = None;
                }
                return pending == 0;
            }
        }
    }

    fn emit(
        &mut self,
        f: &mut FileState,
        range: std::ops::Range<usize>,
        offset: u64,
        observed: u64,
    ) {
        let raw = &self.buf[range];
        let body = match self.splitter.encoding() {
            Encoding::Nop => {
                if raw.is_empty() {
                    return;
                }
                Body::Bytes(raw)
            }
            Encoding::Utf8 => {
                let t = self.splitter.trim(raw);
                if t.is_empty() {
                    return;
                }
                Body::Text(decode_utf8(t))
            }
            Encoding::Other(_) => {
                let s = self.splitter.decode_other(raw);
                if s.is_empty() {
                    return;
                }
                Body::Text(Cow::Owned(s))
            }
        };
        if f.in_header {
            if let Some((re, ops)) = &self.settings.header
                && let Body::Text(text) = &body
                && re.is_match(text.as_bytes())
            {
                header_line(ops, text, &mut f.attrs.header);
                return;
            }
            f.in_header = false;
        }
        self.emitter.record(
            body,
            &f.attrs,
            self.settings
                .include_record_number
                .then_some(f.record_number),
            self.settings.include_record_offset.then_some(offset),
            observed,
        );
    }
}

/// Runs a header line through `metadata_operators`; the attributes it ends with apply to every
/// later record of the file.
fn header_line(ops: &OperatorsConfig, text: &str, into: &mut Map) {
    let Ok(mut pipeline) = Pipeline::build(ops) else {
        return;
    };
    let mut out = Vec::new();
    pipeline.process(
        ferrotel_stanza::Entry::from_line(text.to_owned(), now_unix_nanos()),
        &mut out,
    );
    pipeline.flush_all(&mut out);
    for e in out {
        for (k, v) in e.attributes {
            if !matches!(v, Value::Null) {
                into.insert(k, v);
            }
        }
    }
}

/// The read settings and split function of a config; fails on what cannot be built (regexes,
/// encoding, header operators).
pub fn build_parts(config: &FileLogConfig) -> Result<(Settings, Splitter), String> {
    let encoding = Encoding::lookup(&config.encoding)?;
    let multiline = match &config.multiline {
        Some(m) => crate::split::Multiline::build(m)?,
        None => None,
    };
    let header = match &config.header {
        Some(h) => {
            // Fail at build time, not on the first file, when the operators cannot be built.
            Pipeline::build(&h.metadata_operators).map_err(|e| format!("header::metadata_{e}"))?;
            let re = Regex::new(&h.pattern)
                .map_err(|e| format!("header::pattern: invalid regex: {e}"))?;
            Some((re, h.metadata_operators.clone()))
        }
        None => None,
    };
    let mut max_log_size = config.max_log_size as usize;
    if matches!(encoding, Encoding::Other(e) if !e.is_ascii_compatible()) {
        max_log_size &= !1; // keep UTF-16 code units whole
    }
    let settings = Settings {
        finder: Finder::new(&config.include, &config.exclude)?,
        exclude_older_than: config.exclude_older_than,
        start_at_beginning: config.start_at_beginning(),
        fingerprint_size: config.fingerprint_size as usize,
        batch_files: (config.max_concurrent_files / 2).max(1),
        max_batches: config.max_batches,
        delete_after_read: config.delete_after_read,
        force_flush_period: config.force_flush_period,
        compression: config.compression(),
        max_log_size,
        include_name: config.include_file_name,
        include_path: config.include_file_path,
        include_name_resolved: config.include_file_name_resolved,
        include_path_resolved: config.include_file_path_resolved,
        include_record_number: config.include_file_record_number,
        include_record_offset: config.include_file_record_offset,
        header,
    };
    let splitter = Splitter::new(
        encoding,
        multiline,
        max_log_size,
        config.preserve_leading_whitespaces,
        config.preserve_trailing_whitespaces,
    );
    Ok((settings, splitter))
}
