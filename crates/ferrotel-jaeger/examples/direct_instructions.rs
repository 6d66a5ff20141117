//! The Jaeger direct path (`ferrotel_jaeger::direct`) on the ingest benchmark's packet (100
//! client-like spans, compact `emitBatch`), 200 times: for counting its instructions with
//! callgrind, which a shared VM's timers cannot match for precision (docs/benchmarks.md,
//! "Jaeger Thrift ingest"):
//!
//! ```sh
//! cargo build --release -p ferrotel-jaeger --example direct_instructions
//! valgrind --tool=callgrind --toggle-collect='ferrotel_jaeger::direct::translate_agent' \
//!   target/release/examples/direct_instructions   # "Collected" / 20 000 = instructions per span
//! ```

use ferrotel_jaeger::thrift::{Protocol, encode};

fn main() {
    let packet = encode::emit_batch(&encode::client_like_batch(100, 0), Protocol::Compact);
    let mut spans = 0;
    for _ in 0..200 {
        let (_, n) = ferrotel_jaeger::direct::translate_agent(
            std::hint::black_box(&packet),
            Protocol::Compact,
        )
        .expect("the direct path answers");
        spans += n;
    }
    println!("{spans} spans");
}
