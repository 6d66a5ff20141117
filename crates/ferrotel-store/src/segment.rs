//! Segment files: the store's append-only on-disk format, the data directory's marker and its
//! exclusive lock.
//!
//! A segment is `FTSEG001` followed by records, one per stored request:
//! `[len u32 LE][crc32 u32 LE][signal u8][arrival u64 LE][len bytes of encoded OTLP]`, the CRC
//! covering signal, arrival and bytes. Records are the requests exactly as received, so
//! reloading is re-indexing; nothing but the encoded OTLP is ever written.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use ferrotel_pdata::Signal;

use crate::StoreError;

pub const MAGIC: &[u8; 8] = b"FTSEG001";
/// Written in a data directory the store created; its absence in a non-empty directory means
/// the directory is someone else's.
pub const MARKER: &str = "FERROTEL-STORE";
const MARKER_TEXT: &str = "ferrotel local store, format 1\n";
const LOCK: &str = "LOCK";
pub const HEADER: usize = 4 + 4 + 1 + 8;
/// Larger records are treated as corruption (a request is capped far below this upstream).
const MAX_RECORD: usize = 1 << 30;

pub fn segment_name(first_chunk: u64) -> String {
    format!("seg-{first_chunk:016x}.fts")
}

fn parse_segment_name(name: &str) -> Option<u64> {
    let hex = name.strip_prefix("seg-")?.strip_suffix(".fts")?;
    u64::from_str_radix(hex, 16).ok()
}

pub fn signal_code(s: Signal) -> u8 {
    match s {
        Signal::Traces => 1,
        Signal::Metrics => 2,
        Signal::Logs => 3,
        Signal::Profiles => 4,
    }
}

pub fn signal_of(code: u8) -> Option<Signal> {
    Some(match code {
        1 => Signal::Traces,
        2 => Signal::Metrics,
        3 => Signal::Logs,
        _ => return None,
    })
}

/// CRC-32 (IEEE), table-driven: enough to notice torn or flipped bytes.
pub fn crc32(parts: &[&[u8]]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *e = c;
        }
        t
    });
    let mut c = !0u32;
    for p in parts {
        for &b in *p {
            c = table[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
        }
    }
    !c
}

/// The header of a record holding `bytes`.
pub fn record_header(signal: Signal, arrival: u64, bytes: &[u8]) -> [u8; HEADER] {
    let code = [signal_code(signal)];
    let at = arrival.to_le_bytes();
    let crc = crc32(&[&code, &at, bytes]);
    let mut out = [0u8; HEADER];
    out[..4].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
    out[4..8].copy_from_slice(&crc.to_le_bytes());
    out[8] = code[0];
    out[9..].copy_from_slice(&at);
    out
}

pub fn encode_record(signal: Signal, arrival: u64, bytes: &[u8]) -> Vec<u8> {
    let mut out = record_header(signal, arrival, bytes).to_vec();
    out.extend_from_slice(bytes);
    out
}

/// One record of a segment: where its bytes are in the segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub signal: Signal,
    pub arrival: u64,
    pub range: std::ops::Range<usize>,
}

/// What reading a segment found.
#[derive(Debug, PartialEq)]
pub enum Decoded {
    /// Every record is intact.
    Ok(Vec<Record>),
    /// The records before a torn last record (a crash during a write): the file should be
    /// truncated to `valid_len`.
    Torn {
        records: Vec<Record>,
        valid_len: usize,
    },
    /// A bad header, checksum or signal: the segment cannot be trusted.
    Corrupt(String),
}

/// Decodes a segment's bytes. Never panics; the OTLP inside is not checked here.
pub fn decode_segment(buf: &[u8]) -> Decoded {
    if buf.len() < MAGIC.len() || &buf[..MAGIC.len()] != MAGIC {
        return Decoded::Corrupt("not a ferrotel segment (bad magic)".into());
    }
    let mut records = Vec::new();
    let mut pos = MAGIC.len();
    while pos < buf.len() {
        let Some(head) = buf.get(pos..pos + HEADER) else {
            return Decoded::Torn {
                records,
                valid_len: pos,
            };
        };
        let u32_at =
            |i: usize| u32::from_le_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
        let len = u32_at(0) as usize;
        let crc = u32_at(4);
        let code = head[8];
        let mut at = [0u8; 8];
        at.copy_from_slice(&head[9..17]);
        if len > MAX_RECORD {
            return Decoded::Corrupt(format!("record at byte {pos}: length {len} too large"));
        }
        let start = pos + HEADER;
        let Some(body) = buf.get(start..start + len) else {
            return Decoded::Torn {
                records,
                valid_len: pos,
            };
        };
        if crc32(&[&[code], &at, body]) != crc {
            return Decoded::Corrupt(format!("record at byte {pos}: checksum mismatch"));
        }
        let Some(signal) = signal_of(code) else {
            return Decoded::Corrupt(format!("record at byte {pos}: unknown signal {code}"));
        };
        records.push(Record {
            signal,
            arrival: u64::from_le_bytes(at),
            range: start..start + len,
        });
        pos = start + len;
    }
    Decoded::Ok(records)
}

fn io(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io(format!("{}: {e}", path.display()))
}

fn now_stamp() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Renames a file or directory out of the way as `<path>.corrupt-<unix seconds>`.
pub fn set_aside(path: &Path) -> Result<PathBuf, StoreError> {
    let mut n = 0;
    loop {
        let suffix = if n == 0 {
            format!(".corrupt-{}", now_stamp())
        } else {
            format!(".corrupt-{}-{n}", now_stamp())
        };
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let to = PathBuf::from(name);
        if !to.exists() {
            fs::rename(path, &to).map_err(|e| io(path, e))?;
            return Ok(to);
        }
        n += 1;
    }
}

/// The data directory, held exclusively while the store is open.
pub struct DataDir {
    pub path: PathBuf,
    /// Holds the `flock` for as long as the store lives.
    _lock: File,
}

impl DataDir {
    /// Opens (creating if needed) and locks a data directory. A directory that is not a
    /// ferrotel store (non-empty without the marker, or not a directory) is set aside with a
    /// warning and a fresh one created; one locked by another process is an error.
    pub fn open(path: &Path) -> Result<DataDir, StoreError> {
        let dir_err = |message: String| StoreError::Directory {
            path: path.display().to_string(),
            message,
        };
        if path.exists() {
            let foreign = if !path.is_dir() {
                Some("not a directory".to_string())
            } else {
                let marker = path.join(MARKER);
                match fs::read_to_string(&marker) {
                    Ok(t) if t == MARKER_TEXT => None,
                    Ok(_) => Some(format!("{MARKER} has unknown contents")),
                    Err(_) => {
                        let empty = fs::read_dir(path)
                            .map_err(|e| dir_err(e.to_string()))?
                            .next()
                            .is_none();
                        (!empty).then(|| format!("not a ferrotel store (no {MARKER} file)"))
                    }
                }
            };
            if let Some(problem) = foreign {
                let to = set_aside(path)?;
                tracing::warn!(
                    path = %path.display(),
                    moved_to = %to.display(),
                    "local store data directory: {problem}; set aside, starting empty"
                );
            }
        }
        fs::create_dir_all(path).map_err(|e| dir_err(e.to_string()))?;
        let lock_path = path.join(LOCK);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| dir_err(format!("cannot open {LOCK}: {e}")))?;
        lock_exclusive(&lock).map_err(|e| {
            if e.kind() == std::io::ErrorKind::WouldBlock {
                dir_err(format!(
                    "another ferrotel holds it (lock {}); stop it or use another directory",
                    lock_path.display()
                ))
            } else {
                dir_err(format!("cannot lock {LOCK}: {e}"))
            }
        })?;
        let marker = path.join(MARKER);
        if !marker.exists() {
            fs::write(&marker, MARKER_TEXT).map_err(|e| io(&marker, e))?;
        }
        Ok(DataDir {
            path: path.to_path_buf(),
            _lock: lock,
        })
    }

    /// The segment files by first chunk, oldest first.
    pub fn segments(&self) -> Result<Vec<(u64, PathBuf)>, StoreError> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.path).map_err(|e| io(&self.path, e))? {
            let e = e.map_err(|e| io(&self.path, e))?;
            let name = e.file_name();
            if let Some(first) = name.to_str().and_then(parse_segment_name) {
                out.push((first, e.path()));
            }
        }
        out.sort();
        Ok(out)
    }
}

#[cfg(unix)]
fn lock_exclusive(f: &File) -> std::io::Result<()> {
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock on a file descriptor we own; no memory is passed.
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(unix))]
fn lock_exclusive(_f: &File) -> std::io::Result<()> {
    Ok(())
}

/// The segment being appended to.
pub struct Writer {
    pub path: PathBuf,
    /// Shared with the background sync, which fsyncs without holding the store's locks.
    pub file: std::sync::Arc<File>,
    pub len: u64,
}

impl Writer {
    pub fn create(dir: &Path, first_chunk: u64) -> Result<Writer, StoreError> {
        let path = dir.join(segment_name(first_chunk));
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        file.write_all(MAGIC).map_err(|e| io(&path, e))?;
        Ok(Writer {
            path,
            file: std::sync::Arc::new(file),
            len: MAGIC.len() as u64,
        })
    }

    /// Appends one record (header, then the request's bytes as they are: no copy).
    pub fn append(&mut self, signal: Signal, arrival: u64, bytes: &[u8]) -> Result<(), StoreError> {
        let header = record_header(signal, arrival, bytes);
        let mut f: &File = &self.file;
        f.write_all(&header)
            .and_then(|()| f.write_all(bytes))
            .map_err(|e| io(&self.path, e))?;
        self.len += (header.len() + bytes.len()) as u64;
        Ok(())
    }

    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.file.sync_data().map_err(|e| io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_detects_damage() {
        let mut seg = MAGIC.to_vec();
        seg.extend(encode_record(Signal::Traces, 7, b"abc"));
        seg.extend(encode_record(Signal::Logs, 9, b""));
        let Decoded::Ok(r) = decode_segment(&seg) else {
            panic!("intact")
        };
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].arrival, &seg[r[0].range.clone()]), (7, &b"abc"[..]));
        let full = seg.len();
        assert!(matches!(
            decode_segment(&seg[..full - 1]),
            Decoded::Torn { ref records, .. } if records.len() == 1
        ));
        let mut bad = seg.clone();
        bad[MAGIC.len() + HEADER] ^= 1;
        assert!(matches!(decode_segment(&bad), Decoded::Corrupt(_)));
        assert!(matches!(decode_segment(b"nope"), Decoded::Corrupt(_)));
    }
}
