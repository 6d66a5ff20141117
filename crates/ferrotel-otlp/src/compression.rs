//! Request body (de)compression with a limit on the decompressed size.
//!
//! Every decoder streams into a buffer that stops one byte past the limit, so a compression bomb
//! costs at most `limit` bytes of memory and the time to expand `limit` bytes.

use std::io::Read;

use bytes::Bytes;

/// A content coding (HTTP `Content-Encoding`, gRPC `grpc-encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
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
    pub(crate) fn parse(value: &str) -> Option<Self> {
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
pub(crate) enum DecompressError {
    /// The decompressed data exceeds the limit.
    TooLarge,
    /// The data is not valid for its coding.
    Corrupt(String),
}

const SNAPPY_STREAM_ID: &[u8] = b"\xff\x06\x00\x00sNaPpY";

/// Decompresses `data`, refusing to produce more than `limit` bytes.
pub(crate) fn decompress(
    enc: Encoding,
    data: Bytes,
    limit: usize,
) -> Result<Bytes, DecompressError> {
    match enc {
        Encoding::Identity => {
            if data.len() > limit {
                Err(DecompressError::TooLarge)
            } else {
                Ok(data)
            }
        }
        Encoding::Gzip => read_limited(
            flate2::read::MultiGzDecoder::new(&data[..]),
            data.len(),
            limit,
        ),
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
        Encoding::Zstd => {
            let d = zstd::stream::read::Decoder::with_buffer(&data[..])
                .map_err(|e| DecompressError::Corrupt(e.to_string()))?;
            read_limited(d, data.len(), limit)
        }
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
pub(crate) fn compress(enc: Encoding, data: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    Ok(match enc {
        Encoding::Identity => data.to_vec(),
        Encoding::Gzip => {
            // Fastest level: exporters are CPU-bound long before they are bandwidth-bound.
            let mut e = flate2::write::GzEncoder::new(
                Vec::with_capacity(data.len() / 4),
                flate2::Compression::fast(),
            );
            e.write_all(data)?;
            e.finish()?
        }
        Encoding::Deflate => {
            let mut e = flate2::write::ZlibEncoder::new(
                Vec::with_capacity(data.len() / 4),
                flate2::Compression::fast(),
            );
            e.write_all(data)?;
            e.finish()?
        }
        Encoding::Zstd => zstd::bulk::compress(data, 1)?,
        Encoding::Snappy => snap::raw::Encoder::new()
            .compress_vec(data)
            .map_err(std::io::Error::other)?,
        Encoding::SnappyFramed => {
            let mut e = snap::write::FrameEncoder::new(Vec::with_capacity(data.len() / 2));
            e.write_all(data)?;
            e.into_inner()
                .map_err(|e| std::io::Error::other(e.to_string()))?
        }
        Encoding::Lz4 => {
            let mut e = lz4_flex::frame::FrameEncoder::new(Vec::with_capacity(data.len() / 2));
            e.write_all(data)?;
            e.finish().map_err(std::io::Error::other)?
        }
    })
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
