//! The disk queue: durability across reopen, acknowledgement watermark, segment deletion,
//! corruption quarantine, and a measurement of group commit.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use ferrotel_pdata::proto::collector::logs::v1::ExportLogsServiceRequest;
use ferrotel_pdata::proto::common::v1::{AnyValue, any_value};
use ferrotel_pdata::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use ferrotel_pdata::{Payload, Request, Signal};

use super::*;
use crate::telemetry::Counter;

/// A logs request with one record whose body is `body`.
fn log(body: &str) -> Payload {
    let req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    time_unix_nano: 7,
                    body: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(body.into())),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    Payload::from_proto(Signal::Logs, Request::Logs(req).encode_proto()).unwrap()
}

fn body_of(p: &Payload) -> String {
    let Request::Logs(r) = p.to_request().unwrap() else {
        panic!("not logs")
    };
    match &r.resource_logs[0].scope_logs[0].log_records[0].body {
        Some(AnyValue {
            value: Some(any_value::Value::StringValue(s)),
        }) => s.clone(),
        other => panic!("unexpected body {other:?}"),
    }
}

fn opts(dir: &Path) -> DiskQueueOptions {
    DiskQueueOptions {
        directory: dir.to_path_buf(),
        fsync: true,
        max_segment_bytes: 8 << 20,
    }
}

fn open(o: DiskQueueOptions) -> (DiskQueue, Vec<Recovered>, RecoveryReport, Counter) {
    let c = Counter::default();
    let (q, r, rep) = DiskQueue::open(o, c.clone()).unwrap();
    (q, r, rep, c)
}

fn bodies(r: &[Recovered]) -> Vec<String> {
    r.iter().map(|r| body_of(&r.payload)).collect()
}

fn segments(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".seg"))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn appended_records_survive_reopen_until_acked() {
    let dir = tempfile::tempdir().unwrap();
    let (q, rec, _, _) = open(opts(dir.path()));
    assert!(rec.is_empty());
    let mut seqs = Vec::new();
    for i in 0..5 {
        seqs.push(q.append(&log(&format!("r{i}"))).await.unwrap());
    }
    assert_eq!(seqs, vec![0, 1, 2, 3, 4]);
    // Out of order: 1 and 3 done, the watermark stays at 0.
    q.ack(1).unwrap();
    q.ack(3).unwrap();
    drop(q);
    let (q, rec, rep, c) = open(opts(dir.path()));
    assert_eq!(rep, RecoveryReport::default());
    assert_eq!(c.get(), 0);
    // The duplicate window: 1 and 3 were delivered but sit above the watermark.
    assert_eq!(bodies(&rec), ["r0", "r1", "r2", "r3", "r4"]);
    q.ack(0).unwrap();
    q.ack(1).unwrap();
    q.ack(2).unwrap();
    // New appends never reuse a number.
    assert_eq!(q.append(&log("r5")).await.unwrap(), 5);
    drop(q);
    let (_q, rec, _, _) = open(opts(dir.path()));
    assert_eq!(bodies(&rec), ["r3", "r4", "r5"]);
    assert_eq!(rec[0].seq, 3);
}

#[tokio::test]
async fn acknowledged_segments_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.max_segment_bytes = 200; // a couple of records per segment
    let (q, _, _, _) = open(o.clone());
    let mut seqs = Vec::new();
    for i in 0..20 {
        seqs.push(q.append(&log(&format!("record {i:04}"))).await.unwrap());
    }
    assert!(
        segments(dir.path()).len() >= 4,
        "{:?}",
        segments(dir.path())
    );
    for s in &seqs[..15] {
        q.ack(*s).unwrap();
    }
    let left = segments(dir.path());
    assert!(left.len() <= 3, "{left:?}");
    drop(q);
    let (q, rec, _, _) = open(o.clone());
    assert_eq!(rec.len(), 5);
    assert_eq!(body_of(&rec[0].payload), "record 0015");
    for r in &rec {
        q.ack(r.seq).unwrap();
    }
    q.append(&log("last")).await.unwrap();
    drop(q);
    let (_q, rec, _, _) = open(o);
    assert_eq!(bodies(&rec), ["last"]);
    assert!(segments(dir.path()).len() <= 2);
}

#[tokio::test]
async fn torn_tail_is_quarantined_and_good_records_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (q, _, _, _) = open(opts(dir.path()));
    for i in 0..3 {
        q.append(&log(&format!("r{i}"))).await.unwrap();
    }
    drop(q);
    // A torn write: half a record at the end of the segment.
    let seg = dir.path().join(&segments(dir.path())[0]);
    let len = std::fs::metadata(&seg).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(len - 5).unwrap();
    drop(f);
    let (q, rec, rep, c) = open(opts(dir.path()));
    assert_eq!(bodies(&rec), ["r0", "r1"]);
    assert_eq!(rep.quarantined.len(), 1);
    assert!(rep.quarantined[0].to_string_lossy().ends_with(".corrupt"));
    assert!(rep.quarantined[0].exists());
    assert_eq!(c.get(), 1);
    // The queue keeps working, and the next recovery is clean.
    // The quarantined record's number is free again: nothing on disk carries it any more.
    assert_eq!(q.append(&log("r3")).await.unwrap(), 2);
    drop(q);
    let (_q, rec, rep, _) = open(opts(dir.path()));
    assert_eq!(bodies(&rec), ["r0", "r1", "r3"]);
    assert!(rep.quarantined.is_empty());
}

#[tokio::test]
async fn bad_checksum_quarantines_rest_of_segment() {
    let dir = tempfile::tempdir().unwrap();
    let (q, _, _, _) = open(opts(dir.path()));
    for i in 0..4 {
        q.append(&log(&format!("r{i}"))).await.unwrap();
    }
    drop(q);
    let seg = dir.path().join(&segments(dir.path())[0]);
    let mut data = std::fs::read(&seg).unwrap();
    // Flip a byte inside the second record's body.
    let first_len = u32::from_le_bytes(data[8..12].try_into().unwrap()) as usize;
    let second = 8 + 8 + first_len;
    data[second + 8 + 3] ^= 0xff;
    std::fs::write(&seg, &data).unwrap();
    let (_q, rec, rep, c) = open(opts(dir.path()));
    assert_eq!(bodies(&rec), ["r0"]);
    assert_eq!(rep.quarantined.len(), 1);
    assert_eq!(c.get(), 1);
}

#[tokio::test]
async fn garbage_segment_and_ack_file_do_not_stop_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let (q, _, _, _) = open(opts(dir.path()));
    q.append(&log("kept")).await.unwrap();
    drop(q);
    std::fs::write(
        dir.path().join("00000000000000000099.seg"),
        b"not a segment at all",
    )
    .unwrap();
    // A torn ack slot is ignored (the other slot, or 0, wins): only duplicates can result.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("ack"))
        .unwrap();
    f.write_all(&[0xAB; 16]).unwrap();
    drop(f);
    let (q, rec, rep, c) = open(opts(dir.path()));
    assert_eq!(bodies(&rec), ["kept"]);
    assert_eq!(rep.quarantined.len(), 1);
    assert_eq!(c.get(), 1);
    // Numbering continues after the highest segment name seen, quarantined or not.
    assert_eq!(q.append(&log("next")).await.unwrap(), 99);
}

/// Many concurrent appends: every one acknowledged is recovered, and they shared fsyncs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_group_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (q, _, _, _) = open(opts(dir.path()));
    let q = Arc::new(q);
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for t in 0..32 {
        let q = q.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                q.append(&log(&format!("t{t}-{i}"))).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();
    eprintln!(
        "800 fsynced appends from 32 tasks in {elapsed:?} ({:.0}/s)",
        800.0 / elapsed.as_secs_f64()
    );
    drop(q);
    let (_q, rec, _, _) = open(opts(dir.path()));
    assert_eq!(rec.len(), 800);
    let mut seqs: Vec<u64> = rec.iter().map(|r| r.seq).collect();
    seqs.dedup();
    assert_eq!(seqs, (0..800).collect::<Vec<_>>());
}

/// The cost of durability: append latency and throughput with and without fsync, for 1 to 64
/// concurrent producers (group commit shares one fsync among those waiting).
///
/// `cargo test -p ferrotel-runtime --release --lib queue::tests::measure_append_cost -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn measure_append_cost() {
    let payload = {
        let names: Vec<String> = (0..20).map(|i| format!("span-{i}")).collect();
        // ~1 KiB request: a typical small export.
        log(&names.join(" ").repeat(8))
    };
    eprintln!(
        "record size {} bytes; directory {}",
        payload.to_proto().len(),
        std::env::temp_dir().display()
    );
    for fsync in [true, false] {
        for producers in [1usize, 8, 64] {
            let dir = tempfile::tempdir().unwrap();
            let mut o = opts(dir.path());
            o.fsync = fsync;
            let (q, _, _, _) = open(o);
            let q = Arc::new(q);
            let per = if fsync {
                4000 / producers
            } else {
                20000 / producers
            };
            let started = std::time::Instant::now();
            let mut tasks = Vec::new();
            for _ in 0..producers {
                let (q, p) = (q.clone(), payload.clone());
                tasks.push(tokio::spawn(async move {
                    let mut lat = Vec::with_capacity(per);
                    for _ in 0..per {
                        let t = std::time::Instant::now();
                        q.append(&p).await.unwrap();
                        lat.push(t.elapsed());
                    }
                    lat
                }));
            }
            let mut lat = Vec::new();
            for t in tasks {
                lat.extend(t.await.unwrap());
            }
            let elapsed = started.elapsed();
            lat.sort();
            let pct = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize];
            eprintln!(
                "fsync={fsync:<5} producers={producers:<3} appends={:<6} {:>8.0}/s  p50={:?} p99={:?}",
                lat.len(),
                lat.len() as f64 / elapsed.as_secs_f64(),
                pct(0.5),
                pct(0.99)
            );
        }
    }
}
