//! Request body (de)compression with a limit on the decompressed size.
//!
//! Every decoder streams into a buffer that stops one byte past the limit, so a compression bomb
//! costs at most `limit` bytes of memory and the time to expand `limit` bytes.

use std::cell::RefCell;
use std::io::Read;

use bytes::Bytes;

/// A content coding (HTTP `Content-Encoding`, gRPC `grpc-encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Zstd,
    /// zlib-wrapped or raw deflate (both are seen in the wild under `deflate`).
    Deflate,
    /// `snappy`: block format, or framed when the stream identifier is present (the Go collector
    /// sniffs the same way, as older Go clients sent framed data under this name).
    Snappy,
    /// `x-snappy-framed`.
    SnappyFramed,
    /// LZ4 frame format.
    Lz4,
}

impl Encoding {
    /// Parses a content-coding token (case-insensitive). `None` for unsupported codings.
    pub fn parse(value: &str) -> Option<Self> {
        let v = value.trim();
        Some(if v.is_empty() || v.eq_ignore_ascii_case("identity") {
            Encoding::Identity
        } else if v.eq_ignore_ascii_case("gzip") || v.eq_ignore_ascii_case("x-gzip") {
            Encoding::Gzip
        } else if v.eq_ignore_ascii_case("zstd") {
            Encoding::Zstd
        } else if v.eq_ignore_ascii_case("deflate") {
            Encoding::Deflate
        } else if v.eq_ignore_ascii_case("snappy") {
            Encoding::Snappy
        } else if v.eq_ignore_ascii_case("x-snappy-framed") {
            Encoding::SnappyFramed
        } else if v.eq_ignore_ascii_case("lz4") {
            Encoding::Lz4
        } else {
            return None;
        })
    }
}

/// Why a body could not be decompressed.
#[derive(Debug)]
pub enum DecompressError {
    /// The decompressed data exceeds the limit.
    TooLarge,
    /// The data is not valid for its coding.
    Corrupt(String),
}

const SNAPPY_STREAM_ID: &[u8] = b"\xff\x06\x00\x00sNaPpY";

/// Decompresses `data`, refusing to produce more than `limit` bytes.
///
/// gzip and zstd, the codings nearly every client sends, decode in one pass with a
/// per-thread reusable decoder state into one allocation sized from the stream's own size
/// field (gzip's ISIZE trailer, zstd's frame content size), never past `limit`; that buffer
/// becomes the payload, so there is nothing to pool beyond the decoder state. The other
/// codings stream through `read_limited`.
pub fn decompress(enc: Encoding, data: Bytes, limit: usize) -> Result<Bytes, DecompressError> {
    match enc {
        Encoding::Identity => {
            if data.len() > limit {
                Err(DecompressError::TooLarge)
            } else {
                Ok(data)
            }
        }
        Encoding::Gzip => gunzip(&data, limit).map(Bytes::from),
        Encoding::Deflate => {
            if is_zlib(&data) {
                read_limited(flate2::read::ZlibDecoder::new(&data[..]), data.len(), limit)
            } else {
                read_limited(
                    flate2::read::DeflateDecoder::new(&data[..]),
                    data.len(),
                    limit,
                )
            }
        }
        Encoding::Zstd => unzstd(&data, limit).map(Bytes::from),
        Encoding::Snappy if !data.starts_with(SNAPPY_STREAM_ID) => {
            // Block format states its decompressed length up front: check before allocating.
            let len = snap::raw::decompress_len(&data)
                .map_err(|e| DecompressError::Corrupt(e.to_string()))?;
            if len > limit {
                return Err(DecompressError::TooLarge);
            }
            snap::raw::Decoder::new()
                .decompress_vec(&data)
                .map(Bytes::from)
                .map_err(|e| DecompressError::Corrupt(e.to_string()))
        }
        Encoding::Snappy | Encoding::SnappyFramed => {
            read_limited(snap::read::FrameDecoder::new(&data[..]), data.len(), limit)
        }
        Encoding::Lz4 => read_limited(
            lz4_flex::frame::FrameDecoder::new(&data[..]),
            data.len(),
            limit,
        ),
    }
}

thread_local! {
    // Decoder and encoder states, reused by every request on a thread: a gzip encoder's state
    // is ~270 KiB and a zstd one's over 1 MiB, which would otherwise be allocated and cleared
    // per request.
    static GZIP_DECODER: RefCell<flate2::Decompress> = RefCell::new(flate2::Decompress::new_gzip(15));
    static GZIP_ENCODER: RefCell<flate2::Compress> =
        RefCell::new(flate2::Compress::new_gzip(flate2::Compression::fast(), 15));
    static ZSTD_DECODER: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
    static ZSTD_ENCODER: RefCell<(Option<zstd::bulk::Compressor<'static>>, Vec<u8>)> =
        const { RefCell::new((None, Vec::new())) };
}

/// gzip (one member or several, concatenated, as Go's reader and `MultiGzDecoder` accept).
fn gunzip(data: &[u8], limit: usize) -> Result<Vec<u8>, DecompressError> {
    // ISIZE, the last member's size mod 2^32: exact for the usual single member, a hint
    // otherwise; the output never grows past limit + 1 whatever it says.
    let hint = match data.len() {
        n if n >= 18 => u32::from_le_bytes([data[n - 4], data[n - 3], data[n - 2], data[n - 1]]),
        _ => 0,
    } as usize;
    let mut out: Vec<u8> = Vec::with_capacity(hint.max(64).min(limit.saturating_add(1)));
    GZIP_DECODER.with(|d| {
        let mut d = d.borrow_mut();
        let mut input = data;
        loop {
            d.reset(true);
            loop {
                if out.len() == out.capacity() {
                    if out.len() > limit {
                        return Err(DecompressError::TooLarge);
                    }
                    let grow = out
                        .len()
                        .max(32 << 10)
                        .min(limit.saturating_add(1) - out.len());
                    out.reserve_exact(grow);
                }
                let (in_before, out_before) = (d.total_in(), out.len());
                let status = d
                    .decompress_vec(input, &mut out, flate2::FlushDecompress::None)
                    .map_err(|e| DecompressError::Corrupt(format!("gzip: {e}")))?;
                input = &input[(d.total_in() - in_before) as usize..];
                if out.len() > limit {
                    return Err(DecompressError::TooLarge);
                }
                if status == flate2::Status::StreamEnd {
                    break;
                }
                let stalled = d.total_in() == in_before && out.len() == out_before;
                if input.is_empty() && (stalled || out.len() < out.capacity()) {
                    return Err(DecompressError::Corrupt(
                        "gzip: unexpected end of the compressed stream".into(),
                    ));
                }
            }
            if input.is_empty() {
                return Ok(());
            }
        }
    })?;
    Ok(out)
}

/// zstd: one pass when every frame states its size (every bulk encoder writes it; several
/// frames are what a pass-through of merged zstd requests sends), else a stream; both refuse
/// past `limit`.
fn unzstd(data: &[u8], limit: usize) -> Result<Vec<u8>, DecompressError> {
    if let Some(size) = stated_size(data) {
        if size > limit as u64 {
            // The decoder checks the stated sizes, so frames that say more than the limit
            // either are too large or are corrupt.
            return Err(DecompressError::TooLarge);
        }
        let mut out: Vec<u8> = Vec::with_capacity(size as usize);
        let done = ZSTD_DECODER.with(|d| {
            let mut d = d.borrow_mut();
            if d.is_none() {
                *d = zstd::bulk::Decompressor::new().ok();
            }
            let Some(d) = d.as_mut() else {
                return false;
            };
            let mut rest = data;
            while !rest.is_empty() {
                let Ok(n) = zstd::zstd_safe::find_frame_compressed_size(rest) else {
                    return false;
                };
                let (frame, tail) = rest.split_at(n.min(rest.len()));
                let mut at = std::io::Cursor::new(&mut out);
                at.set_position(at.get_ref().len() as u64);
                if d.decompress_to_buffer(frame, &mut at).is_err() {
                    return false;
                }
                rest = tail;
            }
            out.len() as u64 == size
        });
        if done {
            return Ok(out);
        }
        // Sizes that lie, or corrupt data: the stream decoder says which.
    }
    let d = zstd::stream::read::Decoder::with_buffer(data)
        .map_err(|e| DecompressError::Corrupt(e.to_string()))?;
    read_limited(d, data.len(), limit).map(Vec::from)
}

/// The decompressed size of a zstd stream when every frame states it; `None` otherwise.
fn stated_size(data: &[u8]) -> Option<u64> {
    let mut total = 0u64;
    let mut rest = data;
    while !rest.is_empty() {
        let size = zstd::zstd_safe::get_frame_content_size(rest).ok()??;
        let n = zstd::zstd_safe::find_frame_compressed_size(rest).ok()?;
        total = total.checked_add(size)?;
        rest = rest.get(n..)?;
        if n == 0 {
            return None;
        }
    }
    Some(total)
}

/// A zlib stream starts with CMF/FLG: compression method 8 and a header checksum.
fn is_zlib(data: &[u8]) -> bool {
    data.len() >= 2
        && data[0] & 0x0f == 8
        && (u16::from(data[0]) << 8 | u16::from(data[1])) % 31 == 0
}

fn read_limited(
    r: impl Read,
    compressed_len: usize,
    limit: usize,
) -> Result<Bytes, DecompressError> {
    // Guess a typical ratio for the first allocation, but never beyond the limit.
    let mut out = Vec::with_capacity(compressed_len.saturating_mul(4).min(limit).max(64));
    r.take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| DecompressError::Corrupt(e.to_string()))?;
    if out.len() > limit {
        return Err(DecompressError::TooLarge);
    }
    Ok(out.into())
}

/// Compresses `data` (the client side).
pub fn compress(enc: Encoding, data: &[u8]) -> std::io::Result<Vec<u8>> {
    if enc == Encoding::Identity {
        return Ok(data.to_vec());
    }
    let mut out = Vec::new();
    compress_into(enc, data, &mut out)?;
    Ok(out)
}

/// [`compress_into`] at a configured level (`compression_params::level`, checked by the
/// config); `None` is our default. gzip/zlib -1 is zlib's default (6) and -2 (Huffman only, which flate2 cannot
/// select) is the fastest level; zstd levels go to libzstd as they are. A non-default level
/// builds its encoder per call: the default path keeps the reused per-thread states.
pub fn compress_into_level(
    enc: Encoding,
    level: Option<i32>,
    data: &[u8],
    out: &mut Vec<u8>,
) -> std::io::Result<()> {
    use std::io::Write;
    let Some(level) = level else {
        return compress_into(enc, data, out);
    };
    let flate_level = || match level {
        -1 => flate2::Compression::default(),
        -2 => flate2::Compression::fast(),
        l => flate2::Compression::new(l.clamp(0, 9) as u32),
    };
    match enc {
        Encoding::Gzip => {
            let mut e = flate2::write::GzEncoder::new(out, flate_level());
            e.write_all(data)?;
            e.finish()?;
        }
        Encoding::Deflate => {
            let mut e = flate2::write::ZlibEncoder::new(out, flate_level());
            e.write_all(data)?;
            e.finish()?;
        }
        Encoding::Zstd => out.extend_from_slice(&zstd::bulk::compress(data, level)?),
        _ => compress_into(enc, data, out)?,
    }
    Ok(())
}

/// Compresses `data`, appending to `out` (so a caller can reserve a prefix, as gRPC framing
/// does). gzip and zlib at the fastest level: exporters are CPU-bound long before they are
/// bandwidth-bound (Go's exporters use zlib's default, 6, unless `compression_params` says
/// otherwise: 3.6× the CPU for 23 % less on the wire, docs/benchmarks.md); zstd at level 1.
pub fn compress_into(enc: Encoding, data: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
    use std::io::Write;
    match enc {
        Encoding::Identity => out.extend_from_slice(data),
        Encoding::Gzip => GZIP_ENCODER.with(|e| {
            let mut e = e.borrow_mut();
            e.reset();
            out.reserve(data.len() / 4 + 64);
            let mut input = data;
            loop {
                let before = e.total_in();
                let status = e
                    .compress_vec(input, out, flate2::FlushCompress::Finish)
                    .map_err(std::io::Error::other)?;
                input = &input[(e.total_in() - before) as usize..];
                if status == flate2::Status::StreamEnd {
                    return Ok::<_, std::io::Error>(());
                }
                out.reserve((input.len() / 4).max(out.capacity() / 2).max(4096));
            }
        })?,
        Encoding::Deflate => {
            let mut e = flate2::write::ZlibEncoder::new(out, flate2::Compression::fast());
            e.write_all(data)?;
            e.finish()?;
        }
        Encoding::Zstd => ZSTD_ENCODER.with(|c| {
            let (c, scratch) = &mut *c.borrow_mut();
            if c.is_none() {
                *c = Some(zstd::bulk::Compressor::new(1)?);
            }
            // zstd writes from the start of a Vec's buffer, not its end: compress into the
            // thread's scratch, then append.
            scratch.clear();
            scratch.reserve(zstd::zstd_safe::compress_bound(data.len()));
            c.as_mut()
                .map(|c| c.compress_to_buffer(data, scratch))
                .unwrap_or_else(|| Err(std::io::Error::other("zstd encoder")))?;
            out.extend_from_slice(scratch);
            Ok::<_, std::io::Error>(())
        })?,
        Encoding::Snappy => {
            let start = out.len();
            out.resize(start + snap::raw::max_compress_len(data.len()), 0);
            let n = snap::raw::Encoder::new()
                .compress(data, &mut out[start..])
                .map_err(std::io::Error::other)?;
            out.truncate(start + n);
        }
        Encoding::SnappyFramed => {
            let mut e = snap::write::FrameEncoder::new(out);
            e.write_all(data)?;
            e.into_inner()
                .map_err(|e| std::io::Error::other(e.to_string()))?;
        }
        Encoding::Lz4 => {
            let mut e = lz4_flex::frame::FrameEncoder::new(out);
            e.write_all(data)?;
            e.finish().map_err(std::io::Error::other)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod level_tests {
    use super::*;

    #[test]
    fn configured_levels_compress_and_decode() {
        let data: Vec<u8> = (0..200_000u32)
            .map(|i| (i % 251) as u8 ^ (i / 1000) as u8)
            .collect();
        for (enc, levels) in [
            (Encoding::Gzip, &[-2, -1, 0, 1, 6, 9][..]),
            (Encoding::Deflate, &[-1, 0, 9][..]),
            (Encoding::Zstd, &[-5, 1, 3, 19][..]),
        ] {
            let mut sizes = Vec::new();
            for &l in levels {
                let mut out = Vec::new();
                compress_into_level(enc, Some(l), &data, &mut out).unwrap();
                let back = decompress(enc, out.clone().into(), data.len()).unwrap();
                assert_eq!(&back[..], &data[..], "{enc:?} level {l}");
                sizes.push((l, out.len()));
            }
            // The last (highest) level compresses at least as well as the first listed.
            assert!(sizes.last().unwrap().1 <= sizes[0].1, "{enc:?}: {sizes:?}");
        }
        // Level 0 of gzip stores: no smaller than the input.
        let mut stored = Vec::new();
        compress_into_level(Encoding::Gzip, Some(0), &data, &mut stored).unwrap();
        assert!(stored.len() >= data.len());
    }
}

#[cfg(test)]
mod proptests {
    //! Our one-pass gzip/zstd paths against the crates' standard stream codecs, both ways.
    use std::io::{Read, Write};

    use proptest::prelude::*;

    use super::*;

    /// Compressible data: runs of a few symbols with random bytes between.
    fn data() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..5000),
            proptest::collection::vec((0u8..4, 1usize..200), 0..200).prop_map(|runs| runs
                .into_iter()
                .flat_map(|(b, n)| std::iter::repeat_n(b"abcd"[b as usize], n))
                .collect()),
        ]
    }

    fn std_gzip(d: &[u8], level: u32) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        e.write_all(d).unwrap();
        e.finish().unwrap()
    }

    fn check_limits(enc: Encoding, c: &[u8], d: &[u8]) -> Result<(), TestCaseError> {
        let out = decompress(enc, Bytes::copy_from_slice(c), d.len());
        let out = out.map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(out.as_ref(), d);
        if !d.is_empty() {
            prop_assert!(matches!(
                decompress(enc, Bytes::copy_from_slice(c), d.len() - 1),
                Err(DecompressError::TooLarge)
            ));
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn gzip_matches_standard_codec(d in data(), level in 0u32..10, members in 1usize..4, prefix in 0usize..6) {
            // Ours → flate2's multi-member stream decoder (with a reserved prefix, as gRPC uses).
            let mut ours = vec![7u8; prefix];
            compress_into(Encoding::Gzip, &d, &mut ours).unwrap();
            prop_assert!(ours[..prefix].iter().all(|&b| b == 7));
            let mut back = Vec::new();
            flate2::read::MultiGzDecoder::new(&ours[prefix..]).read_to_end(&mut back).unwrap();
            prop_assert_eq!(&back, &d);
            // The standard encoder at any level, in one or several members → ours.
            let one = std_gzip(&d, level);
            let many: Vec<u8> = one.repeat(members);
            check_limits(Encoding::Gzip, &many, &d.repeat(members))?;
            // Any truncation is an error, never a panic or a short success.
            for cut in [1, one.len() / 2, one.len().saturating_sub(1)] {
                if cut > 0 && cut < one.len() {
                    let r = decompress(Encoding::Gzip, Bytes::copy_from_slice(&one[..cut]), 1 << 20);
                    prop_assert!(matches!(r, Err(DecompressError::Corrupt(_))), "cut at {}: {:?}", cut, r.map(|b| b.len()));
                }
            }
        }

        #[test]
        fn zstd_matches_standard_codec(d in data(), level in 1i32..8, frames in 1usize..3, stream in any::<bool>()) {
            let mut ours = Vec::new();
            compress_into(Encoding::Zstd, &d, &mut ours).unwrap();
            let mut back = Vec::new();
            zstd::stream::read::Decoder::new(&ours[..]).unwrap().read_to_end(&mut back).unwrap();
            prop_assert_eq!(&back, &d);
            // Streamed frames state no content size; bulk ones do; several frames concatenated.
            let one = if stream {
                let mut e = zstd::stream::write::Encoder::new(Vec::new(), level).unwrap();
                e.write_all(&d).unwrap();
                e.finish().unwrap()
            } else {
                zstd::bulk::compress(&d, level).unwrap()
            };
            check_limits(Encoding::Zstd, &one.repeat(frames), &d.repeat(frames))?;
            let cut = one.len() / 2;
            if cut > 0 {
                let r = decompress(Encoding::Zstd, Bytes::copy_from_slice(&one[..cut]), 1 << 20);
                prop_assert!(matches!(r, Err(DecompressError::Corrupt(_))), "{:?}", r.map(|b| b.len()));
                // Cut inside a later frame of several (a pass-through of merged requests).
                let many = one.repeat(frames + 1);
                let r = decompress(Encoding::Zstd, Bytes::copy_from_slice(&many[..many.len() - cut]), 1 << 20);
                prop_assert!(matches!(r, Err(DecompressError::Corrupt(_))), "{:?}", r.map(|b| b.len()));
            }
            // Sized and unsized frames mixed, and after ours.
            let streamed = {
                let mut e = zstd::stream::write::Encoder::new(Vec::new(), level).unwrap();
                e.write_all(&d).unwrap();
                e.finish().unwrap()
            };
            let mixed = [ours.clone(), streamed, zstd::bulk::compress(&d, level).unwrap()].concat();
            check_limits(Encoding::Zstd, &mixed, &d.repeat(3))?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_limits() {
        let data: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for enc in [
            Encoding::Identity,
            Encoding::Gzip,
            Encoding::Deflate,
            Encoding::Zstd,
            Encoding::Snappy,
            Encoding::SnappyFramed,
            Encoding::Lz4,
        ] {
            let c = Bytes::from(compress(enc, &data).unwrap());
            let d = decompress(enc, c.clone(), data.len()).unwrap();
            assert_eq!(&d[..], &data[..], "{enc:?}");
            assert!(
                matches!(
                    decompress(enc, c, data.len() - 1),
                    Err(DecompressError::TooLarge)
                ),
                "{enc:?}"
            );
        }
        // Framed snappy under the plain `snappy` name is sniffed.
        let framed = Bytes::from(compress(Encoding::SnappyFramed, &data).unwrap());
        assert_eq!(
            &decompress(Encoding::Snappy, framed, data.len()).unwrap()[..],
            &data[..]
        );
        // Raw deflate under `deflate`.
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut e, &data).unwrap();
        let raw = Bytes::from(e.finish().unwrap());
        assert_eq!(
            &decompress(Encoding::Deflate, raw, data.len()).unwrap()[..],
            &data[..]
        );
        assert!(matches!(
            decompress(Encoding::Gzip, Bytes::from_static(b"not gzip"), 100),
            Err(DecompressError::Corrupt(_))
        ));
    }
}
