use ferrotel_pdata::Signal;
use ferrotel_runtime::*;

use super::*;
use crate::testing::{ctx, traces};

#[tokio::test]
async fn writes_json_lines_that_decode_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out/traces.jsonl");
    let cfg = FileConfig {
        path: path.to_string_lossy().into(),
        ..Default::default()
    };
    let e = FileExporterFactory
        .create(ctx("file", Kind::Exporter), cfg, &[Signal::Traces])
        .unwrap();
    e.start().await.unwrap();
    e.consume(traces("svc", &["a", "b"]), Context::default())
        .await
        .unwrap();
    e.consume(traces("svc", &["c"]), Context::default())
        .await
        .unwrap();
    e.shutdown().await.unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    let r = ferrotel_pdata::json::decode(Signal::Traces, lines[0].as_bytes()).unwrap();
    assert_eq!(r.item_count(), 2);
}

#[tokio::test]
async fn proto_with_zstd_is_length_prefixed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.bin");
    let cfg = FileConfig {
        path: path.to_string_lossy().into(),
        format: Format::Proto,
        compression: "zstd".into(),
        ..Default::default()
    };
    let e = FileExporterFactory
        .create(ctx("file", Kind::Exporter), cfg, &[Signal::Traces])
        .unwrap();
    e.start().await.unwrap();
    let p = traces("svc", &["a", "b", "c"]);
    e.consume(p.clone(), Context::default()).await.unwrap();
    e.shutdown().await.unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let len = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
    assert_eq!(bytes.len(), 4 + len);
    let raw = zstd::bulk::decompress(&bytes[4..], 1 << 20).unwrap();
    assert_eq!(raw, p.to_proto().to_vec());
}

#[tokio::test]
async fn rotates_by_size_and_keeps_max_backups() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    let cfg = FileConfig {
        path: path.to_string_lossy().into(),
        rotation: Some(super::config::Rotation {
            max_megabytes: 1,
            max_backups: 2,
            ..Default::default()
        }),
        ..Default::default()
    };
    let e = FileExporterFactory
        .create(ctx("file", Kind::Exporter), cfg, &[Signal::Traces])
        .unwrap();
    e.start().await.unwrap();
    let names: Vec<String> = (0..2000).map(|i| format!("span-{i:0>200}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    for _ in 0..12 {
        e.consume(traces("svc", &refs), Context::default())
            .await
            .unwrap();
    }
    e.shutdown().await.unwrap();
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files.len(), 3, "current file + 2 backups: {files:?}");
    assert!(std::fs::metadata(&path).unwrap().len() <= 1 << 20);
}

#[test]
fn config_errors() {
    let bad = FileConfig {
        path: String::new(),
        ..Default::default()
    };
    assert_eq!(
        bad.validate().unwrap_err().to_string(),
        "path: a file path is required"
    );
    let bad = FileConfig {
        path: "x".into(),
        compression: "gzip".into(),
        ..Default::default()
    };
    assert!(
        bad.validate()
            .unwrap_err()
            .to_string()
            .starts_with("compression: unsupported compression \"gzip\"")
    );
}
