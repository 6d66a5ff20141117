//! Regenerates the prost types of `ferrotel-pdata` from the vendored OTLP protos.
//!
//! The generated code is committed so that building ferrotel needs neither `protoc` nor this
//! tool; run `scripts/gen-proto` after updating `crates/ferrotel-pdata/proto/`.

use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(std::env::args().nth(1).expect("usage: protogen <repo root>"));
    let proto_dir = root.join("crates/ferrotel-pdata/proto");
    let out_dir = root.join("crates/ferrotel-pdata/src/proto/generated");
    std::fs::create_dir_all(&out_dir).unwrap();
    let files: Vec<PathBuf> = [
        "opentelemetry/proto/collector/trace/v1/trace_service.proto",
        "opentelemetry/proto/collector/metrics/v1/metrics_service.proto",
        "opentelemetry/proto/collector/logs/v1/logs_service.proto",
        "opentelemetry/proto/collector/profiles/v1development/profiles_service.proto",
    ]
    .iter()
    .map(|f| proto_dir.join(f))
    .collect();
    let fds = protox::compile(&files, [&proto_dir]).expect("compile protos");
    let mut cfg = prost_build::Config::new();
    // `bytes` fields as `Bytes`: decoding from a `Bytes` buffer then shares memory instead of
    // allocating a Vec per trace/span id.
    cfg.bytes(["."]);
    cfg.out_dir(&out_dir);
    cfg.compile_fds(fds).expect("generate");
}
