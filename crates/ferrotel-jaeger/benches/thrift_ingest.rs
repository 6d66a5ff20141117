//! CPU per span of Jaeger Thrift ingest: an agent UDP packet (compact, `emitBatch`) or a
//! thrift_http body (binary `Batch`) decoded and translated to OTLP, then encoded to OTLP
//! protobuf as the pipeline carries it; and the receiver's direct path (Thrift straight to
//! OTLP bytes, `ferrotel_jaeger::direct`). The spans look like a Jaeger client's: 8 tags of mixed
//! types, a log with 2 fields, a CHILD_OF reference; 100 spans per packet (≈ 25 KB compact,
//! under max_packet_size).
//!
//! `cargo bench -p ferrotel-jaeger --bench thrift_ingest` prints, first, CPU ns per span for
//! each case (the thread's CPU time, so a loaded machine does not inflate it), then criterion's
//! wall-clock spans/s.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferrotel_jaeger::direct;
use ferrotel_jaeger::thrift::encode::client_like_batch;
use ferrotel_jaeger::thrift::jaeger::{AgentMessage, decode_agent_message, decode_batch};
use ferrotel_jaeger::thrift::{Protocol, encode};
use ferrotel_jaeger::to_otlp::to_otlp;
use prost::Message;

const SPANS: usize = 100;

fn udp_packet(packet: &[u8]) -> usize {
    let Ok(AgentMessage::EmitBatch(b)) = decode_agent_message(packet, Protocol::Compact) else {
        panic!("decodes")
    };
    to_otlp(vec![b]).encoded_len()
}

fn http_body(body: &[u8]) -> usize {
    to_otlp(vec![decode_batch(body, Protocol::Binary).unwrap()]).encoded_len()
}

fn udp_packet_to_proto(packet: &[u8]) -> Vec<u8> {
    let Ok(AgentMessage::EmitBatch(b)) = decode_agent_message(packet, Protocol::Compact) else {
        panic!("decodes")
    };
    to_otlp(vec![b]).encode_to_vec()
}

/// The kafka exporter's jaeger encodings: OTLP → Jaeger, then one protobuf (or protobuf JSON)
/// message per span with its process.
fn otlp_to_jaeger_messages(
    otlp: &ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest,
    json: bool,
) -> usize {
    use ferrotel_jaeger::{from_otlp::from_otlp, jsonpb, proto::span_to_proto};
    let mut bytes = 0;
    for b in from_otlp(otlp) {
        for s in &b.spans {
            let p = span_to_proto(s, b.process.as_ref());
            bytes += if json {
                jsonpb::encode_span(&p).len()
            } else {
                p.encode_to_vec().len()
            };
        }
    }
    bytes
}

/// This thread's CPU time, in ns: unlike wall time, not inflated when the machine is shared.
fn thread_cpu_ns() -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we pass and nothing else.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

fn per_span(name: &str, f: impl Fn() -> usize) {
    for _ in 0..200 {
        black_box(f());
    }
    let rounds = 2000;
    let (wall, cpu) = (Instant::now(), thread_cpu_ns());
    for _ in 0..rounds {
        black_box(f());
    }
    let per = |ns: u128| ns as f64 / (rounds * SPANS) as f64;
    println!(
        "jaeger {name}: {:.0} ns CPU per span ({:.0} ns wall)",
        per(thread_cpu_ns() - cpu),
        per(wall.elapsed().as_nanos())
    );
}

fn bench(c: &mut Criterion) {
    let b = client_like_batch(SPANS, 0);
    let packet = encode::emit_batch(&b, Protocol::Compact);
    let body = encode::batch(&b, Protocol::Binary);
    println!(
        "{SPANS} spans: compact packet {} bytes, binary body {} bytes",
        packet.len(),
        body.len()
    );
    per_span("udp compact decode only", || {
        match decode_agent_message(black_box(&packet), Protocol::Compact) {
            Ok(AgentMessage::EmitBatch(b)) => b.spans.len(),
            Err(e) => panic!("{e}"),
        }
    });
    per_span("udp compact decode+translate", || {
        udp_packet(black_box(&packet))
    });
    per_span("http binary decode+translate", || {
        http_body(black_box(&body))
    });
    per_span("udp compact decode+translate+encode OTLP", || {
        udp_packet_to_proto(black_box(&packet)).len()
    });
    // What the receiver runs: the direct path, the same bytes as the row above.
    per_span("udp compact direct to OTLP bytes", || {
        direct::translate_agent(black_box(&packet), Protocol::Compact)
            .expect("direct")
            .1
    });
    per_span("http binary direct to OTLP bytes", || {
        direct::translate_batch(black_box(&body), Protocol::Binary)
            .expect("direct")
            .1
    });
    let otlp = to_otlp(vec![b.clone()]);
    per_span("OTLP to jaeger_proto messages", || {
        otlp_to_jaeger_messages(black_box(&otlp), false)
    });
    per_span("OTLP to jaeger_json messages", || {
        otlp_to_jaeger_messages(black_box(&otlp), true)
    });

    let mut g = c.benchmark_group("jaeger_thrift_100_spans");
    g.throughput(Throughput::Elements(SPANS as u64));
    g.bench_function("udp_compact_decode_translate", |bn| {
        bn.iter(|| udp_packet(black_box(&packet)))
    });
    g.bench_function("http_binary_decode_translate", |bn| {
        bn.iter(|| http_body(black_box(&body)))
    });
    g.bench_function("udp_compact_to_otlp_proto", |bn| {
        bn.iter(|| udp_packet_to_proto(black_box(&packet)))
    });
    g.bench_function("udp_compact_direct", |bn| {
        bn.iter(|| direct::translate_agent(black_box(&packet), Protocol::Compact))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
