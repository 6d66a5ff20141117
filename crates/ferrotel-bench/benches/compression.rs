//! Compression backends on a realistic OTLP request (1000 loadgen spans, ~0.5 MB of protobuf):
//! the measurement behind the choice in `ferrotel-otlp/src/compression.rs`.
//!
//! `cargo bench -p ferrotel-bench --bench compression -- --warm-up-time 1 --measurement-time 3`
//! prints time per request; divide by 1000 for time per span.

use std::hint::black_box;
use std::io::{Read, Write};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrotel_loadgen::generate::{Shape, build};
use ferrotel_pdata::Signal;

fn request() -> Vec<u8> {
    build(Signal::Traces, &Shape::default(), 0, 1000).instantiate(7, 0, 1_700_000_000_000_000_000)
}

fn gzip_flate2(data: &[u8], level: u32) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4),
        flate2::Compression::new(level),
    );
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn bench(c: &mut Criterion) {
    let data = request();
    let mut g = c.benchmark_group("compression");
    g.throughput(Throughput::Bytes(data.len() as u64));
    let gz1 = gzip_flate2(&data, 1);
    let gz6 = gzip_flate2(&data, 6);
    let zs1 = zstd::bulk::compress(&data, 1).unwrap();
    let zs3 = zstd::bulk::compress(&data, 3).unwrap();
    let mut ld = libdeflater::Compressor::new(libdeflater::CompressionLvl::new(1).unwrap());
    let mut ld_gz = vec![0; ld.gzip_compress_bound(data.len())];
    let n = ld.gzip_compress(&data, &mut ld_gz).unwrap();
    ld_gz.truncate(n);
    eprintln!(
        "request {} B; gzip-1 (zlib-rs) {} B, gzip-6 {} B, libdeflate-1 {} B, zstd-1 {} B, zstd-3 {} B",
        data.len(),
        gz1.len(),
        gz6.len(),
        ld_gz.len(),
        zs1.len(),
        zs3.len()
    );

    for level in [1, 6] {
        g.bench_function(format!("gzip_compress_zlib_rs_{level}"), |b| {
            b.iter(|| gzip_flate2(black_box(&data), level))
        });
        g.bench_function(format!("deflate_compress_miniz_oxide_{level}"), |b| {
            b.iter(|| miniz_oxide::deflate::compress_to_vec(black_box(&data), level as u8))
        });
    }
    g.bench_function("gzip_compress_libdeflate_1", |b| {
        let mut out = vec![0; ld.gzip_compress_bound(data.len())];
        b.iter(|| ld.gzip_compress(black_box(&data), &mut out).unwrap())
    });
    g.bench_function("gzip_decompress_zlib_rs_stream", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(data.len());
            flate2::read::MultiGzDecoder::new(black_box(&gz1[..]))
                .read_to_end(&mut out)
                .unwrap();
            out
        })
    });
    g.bench_function("gzip_decompress_zlib_rs_oneshot", |b| {
        let mut d = flate2::Decompress::new(false);
        b.iter(|| {
            // Past the 10-byte header; the raw deflate stream into an exact-size buffer.
            d.reset(false);
            let mut out = Vec::with_capacity(data.len());
            d.decompress_vec(
                black_box(&gz1[10..]),
                &mut out,
                flate2::FlushDecompress::Finish,
            )
            .unwrap();
            out
        })
    });
    g.bench_function("inflate_miniz_oxide", |b| {
        let raw = miniz_oxide::deflate::compress_to_vec(&data, 1);
        b.iter(|| miniz_oxide::inflate::decompress_to_vec_with_limit(black_box(&raw), data.len()))
    });
    g.bench_function("gzip_decompress_libdeflate", |b| {
        let mut d = libdeflater::Decompressor::new();
        let mut out = vec![0; data.len()];
        b.iter(|| d.gzip_decompress(black_box(&gz1), &mut out).unwrap())
    });
    for (name, level, z) in [("1", 1, &zs1), ("3", 3, &zs3)] {
        g.bench_function(format!("zstd_compress_{name}_context"), |b| {
            let mut c = zstd::bulk::Compressor::new(level).unwrap();
            b.iter(|| c.compress(black_box(&data)).unwrap())
        });
        g.bench_function(format!("zstd_decompress_{name}_context"), |b| {
            let mut d = zstd::bulk::Decompressor::new().unwrap();
            b.iter(|| d.decompress(black_box(z), data.len()).unwrap())
        });
    }
    g.bench_function("zstd_compress_1_fresh", |b| {
        b.iter(|| zstd::bulk::compress(black_box(&data), 1).unwrap())
    });
    g.bench_function("zstd_decompress_stream_fresh", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(data.len());
            zstd::stream::read::Decoder::with_buffer(black_box(&zs1[..]))
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
            out
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
