//! Jaeger agent load: compact `emitBatch` UDP packets of client-like spans (the ingest
//! benchmark's, `encode::client_like_batch`) at a fixed span rate, for measuring a collector's
//! `thrift_compact` ingest end to end (docs/benchmarks.md, "Jaeger Thrift ingest"). The load
//! generator speaks OTLP and Zipkin only, hence this sender.
//!
//! `udp_load ADDR SPANS_PER_SECOND SECONDS [SPANS_PER_PACKET]` (rate `max`: as fast as the
//! socket takes them). Prints the packets and spans sent.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use ferrotel_jaeger::thrift::Protocol;
use ferrotel_jaeger::thrift::encode::{client_like_batch, emit_batch};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: udp_load ADDR SPANS_PER_SECOND|max SECONDS [SPANS_PER_PACKET]");
        std::process::exit(2);
    }
    let rate: Option<f64> = (args[1] != "max").then(|| args[1].parse().expect("a rate"));
    let secs: f64 = args[2].parse().expect("seconds");
    let per_packet: usize = args
        .get(3)
        .map_or(100, |n| n.parse().expect("spans per packet"));
    let socket = UdpSocket::bind("127.0.0.1:0").expect("a UDP socket");
    socket.connect(&args[0]).expect("the agent address");
    // A handful of distinct packets (distinct traces), built once: the sender's CPU stays small.
    let packets: Vec<Vec<u8>> = (0..64)
        .map(|seed| emit_batch(&client_like_batch(per_packet, seed), Protocol::Compact))
        .collect();
    let start = Instant::now();
    let end = Duration::from_secs_f64(secs);
    let mut sent = 0u64;
    while start.elapsed() < end {
        if let Some(r) = rate {
            // Packets are due at an even pace: sleep until the next one is.
            let due = Duration::from_secs_f64(sent as f64 * per_packet as f64 / r);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        let p = &packets[sent as usize % packets.len()];
        if socket.send(p).is_ok() {
            sent += 1;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "sent {sent} packets ({} bytes each), {} spans in {elapsed:.1} s ({:.0} spans/s)",
        packets[0].len(),
        sent * per_packet as u64,
        (sent * per_packet as u64) as f64 / elapsed
    );
}
