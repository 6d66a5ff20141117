//! Corpus files: a fixed sequence of encoded export requests of one signal.
//!
//! Layout: the 8 bytes `FTLGCORP`, a version byte (1), a signal byte (0 traces, 1 metrics,
//! 2 logs), then per request a little-endian `u32` length and the protobuf bytes.

use std::io::{BufWriter, Read, Write};
use std::path::Path;

use anyhow::{Context, bail};
use bytes::Bytes;
use ferrotel_pdata::Signal;

const MAGIC: &[u8; 8] = b"FTLGCORP";

fn signal_byte(s: Signal) -> u8 {
    match s {
        Signal::Traces => 0,
        Signal::Metrics => 1,
        Signal::Logs => 2,
        Signal::Profiles => 3,
    }
}

/// Writes `requests` of `signal` to `path`.
pub fn write(
    path: &Path,
    signal: Signal,
    requests: impl IntoIterator<Item = Vec<u8>>,
) -> anyhow::Result<usize> {
    let f = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = BufWriter::new(f);
    w.write_all(MAGIC)?;
    w.write_all(&[1, signal_byte(signal)])?;
    let mut n = 0;
    for r in requests {
        w.write_all(&u32::try_from(r.len())?.to_le_bytes())?;
        w.write_all(&r)?;
        n += 1;
    }
    w.flush()?;
    Ok(n)
}

/// Reads a corpus: its signal and requests.
pub fn read(path: &Path) -> anyhow::Result<(Signal, Vec<Bytes>)> {
    let mut data = Vec::new();
    std::fs::File::open(path)
        .with_context(|| format!("opening {}", path.display()))?
        .read_to_end(&mut data)?;
    if data.len() < 10 || &data[..8] != MAGIC || data[8] != 1 {
        bail!("{} is not a ferrotel-loadgen corpus", path.display());
    }
    let signal = match data[9] {
        0 => Signal::Traces,
        1 => Signal::Metrics,
        2 => Signal::Logs,
        b => bail!("corpus signal byte {b} is unknown"),
    };
    let data = Bytes::from(data);
    let mut at = 10;
    let mut out = Vec::new();
    while at < data.len() {
        let Some(len) = data.get(at..at + 4) else {
            bail!("truncated corpus at byte {at}")
        };
        let len = u32::from_le_bytes(len.try_into().unwrap()) as usize;
        if at + 4 + len > data.len() {
            bail!("truncated corpus at byte {at}");
        }
        out.push(data.slice(at + 4..at + 4 + len));
        at += 4 + len;
    }
    Ok((signal, out))
}
