//! The receiver's tests on real files in a temp directory: configs (testdata/), rotation by
//! move/create and copytruncate, truncation, checkpoints across a restart, partial and long
//! lines, binary content, deleted files, many files, multiline, gzip, UTF-16. Every test counts
//! and compares every record.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrotel_pdata::proto::common::v1::any_value::Value as V;
use ferrotel_pdata::{Payload, Request};
use ferrotel_runtime::config::ConfigError;
use ferrotel_runtime::{BoxFuture, ConsumeError, Consumer, Context};

use crate::checkpoint::Store;
use crate::config::FileLogConfig;
use crate::emit::Emitter;
use crate::reader::Tracker;

fn load(text: &str) -> Result<FileLogConfig, ConfigError> {
    ferrotel_runtime::config::testdata::load(text)
}

fn testdata(kind: &str) -> Vec<(String, String)> {
    ferrotel_runtime::config::testdata::files(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/testdata")
            .join(kind),
    )
}

#[test]
fn valid_configs_load() {
    for (path, text) in testdata("valid") {
        load(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    let full = load(&testdata("valid")[0].1).unwrap();
    assert_eq!(full.fingerprint_size, 1000);
    assert_eq!(full.max_log_size, 1 << 20);
    assert_eq!(
        full.retry_on_failure.max_elapsed_time,
        Duration::from_secs(60)
    );
}

#[test]
fn invalid_configs_say_what_and_where() {
    for (path, text) in testdata("invalid") {
        let want = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# error: "))
            .unwrap_or_else(|| panic!("{path}: first line must be `# error: ...`"));
        let err = load(&text).expect_err(&path).to_string();
        assert!(err.contains(want), "{path}:\n got: {err}\nwant: {want}");
    }
}

/// A record as the next stage got it: body text and attributes.
#[derive(Debug, Clone, PartialEq)]
struct Got {
    body: String,
    attrs: Vec<(String, String)>,
}

#[derive(Default)]
struct Recorder(Mutex<Vec<Got>>);

impl Consumer for Recorder {
    fn consume(&self, mut payload: Payload, _: Context) -> BoxFuture<'_, Result<(), ConsumeError>> {
        let Ok(Request::Logs(req)) = payload.request().cloned() else {
            panic!("not logs");
        };
        let mut out = self.0.lock().unwrap();
        for rl in req.resource_logs {
            for sl in rl.scope_logs {
                for r in sl.log_records {
                    let body = match r.body.and_then(|b| b.value) {
                        Some(V::StringValue(s)) => s,
                        Some(V::BytesValue(b)) => format!("bytes:{}", b.len()),
                        other => format!("{other:?}"),
                    };
                    let attrs = r
                        .attributes
                        .into_iter()
                        .map(|kv| {
                            let v = match kv.value.and_then(|v| v.value) {
                                Some(V::StringValue(s)) => s,
                                Some(V::IntValue(i)) => i.to_string(),
                                other => format!("{other:?}"),
                            };
                            (kv.key, v)
                        })
                        .collect();
                    out.push(Got { body, attrs });
                }
            }
        }
        Box::pin(async { Ok(()) })
    }
}

struct Harness {
    dir: tempfile::TempDir,
    recorder: Arc<Recorder>,
    runtime: tokio::runtime::Runtime,
}

impl Harness {
    fn new() -> Harness {
        Harness {
            dir: tempfile::tempdir().unwrap(),
            recorder: Arc::new(Recorder::default()),
            runtime: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .build()
                .unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A tracker for `yaml`, in which `DIR` stands for the temp directory.
    fn tracker(&self, yaml: &str, checkpoints: bool) -> Tracker {
        let d = self.dir.path().display().to_string();
        let cfg = load(&yaml.replace("DIR", &d)).unwrap();
        let emitter = Emitter::new(
            self.recorder.clone(),
            self.runtime.handle().clone(),
            Default::default(),
            Vec::new(),
            Vec::new(),
            None,
            Arc::new(AtomicBool::new(false)),
        );
        let store = checkpoints.then(|| Store::new(&self.path("storage")).unwrap());
        Tracker::new(&cfg, emitter, store).unwrap()
    }

    fn append(&self, name: &str, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path(name))
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    fn take(&self) -> Vec<Got> {
        std::mem::take(&mut *self.recorder.0.lock().unwrap())
    }

    fn bodies(&self) -> Vec<String> {
        self.take().into_iter().map(|g| g.body).collect()
    }
}

fn numbered(prefix: &str, range: std::ops::Range<usize>) -> String {
    range.map(|i| format!("{prefix} {i}\n")).collect()
}

fn expect(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix} {i}")).collect()
}

#[test]
fn start_at_end_skips_existing_lines_and_reads_new_ones() {
    let h = Harness::new();
    h.append("a.log", &numbered("old", 0..10));
    let mut t = h.tracker("include: [DIR/*.log]", false);
    t.poll();
    assert!(h.bodies().is_empty());
    h.append("a.log", &numbered("new", 0..5));
    t.poll();
    assert_eq!(h.bodies(), expect("new", 0..5));
}

#[test]
fn partial_last_line_waits_for_force_flush_period() {
    let h = Harness::new();
    h.append("a.log", "one\ntwo\npart");
    let mut t = h.tracker(
        "include: [DIR/*.log]\nstart_at: beginning\nforce_flush_period: 100ms",
        false,
    );
    t.poll();
    assert_eq!(h.bodies(), ["one", "two"]);
    t.poll();
    assert!(h.bodies().is_empty(), "flushed before the period");
    std::thread::sleep(Duration::from_millis(120));
    t.poll();
    assert_eq!(h.bodies(), ["part"]);
    h.append("a.log", "ial\nthree\n");
    t.poll();
    // The flushed part is not read again; what follows it is a record of its own.
    assert_eq!(h.bodies(), ["ial", "three"]);
}

#[test]
fn line_over_max_log_size_is_cut_into_chunks() {
    let h = Harness::new();
    let long = "x".repeat(2500);
    h.append("a.log", &format!("short\n{long}\nafter\n"));
    let mut t = h.tracker(
        "include: [DIR/*.log]\nstart_at: beginning\nmax_log_size: 1kib\ninclude_file_record_number: true",
        false,
    );
    t.poll();
    let got = h.take();
    let bodies: Vec<_> = got.iter().map(|g| g.body.len()).collect();
    assert_eq!(bodies, [5, 1024, 1024, 452, 5]);
    let numbers: Vec<_> = got.iter().map(|g| g.attrs[1].1.clone()).collect();
    assert_eq!(numbers, ["1", "2", "3", "4", "5"]);
}

#[test]
fn rotation_by_move_and_create_loses_and_repeats_nothing() {
    let h = Harness::new();
    h.append("app.log", &numbered("first", 0..100));
    let mut t = h.tracker("include: [DIR/app.log]\nstart_at: beginning", false);
    t.poll();
    assert_eq!(h.bodies(), expect("first", 0..100));
    // Lines written just before the move are read through the handle kept open.
    h.append("app.log", &numbered("first", 100..150));
    std::fs::rename(h.path("app.log"), h.path("app.log.1")).unwrap();
    h.append("app.log", &numbered("second", 0..30));
    t.poll();
    let mut got = h.bodies();
    got.sort();
    let mut want = [expect("first", 100..150), expect("second", 0..30)].concat();
    want.sort();
    assert_eq!(got, want);
    h.append("app.log", &numbered("second", 30..40));
    t.poll();
    assert_eq!(h.bodies(), expect("second", 30..40));
}

#[test]
fn rotated_file_still_matched_continues_where_it_was() {
    let h = Harness::new();
    h.append("app.log", &numbered("first", 0..20));
    let mut t = h.tracker("include: ['DIR/app.log*']\nstart_at: beginning", false);
    t.poll();
    assert_eq!(h.bodies().len(), 20);
    h.append("app.log", &numbered("first", 20..25));
    std::fs::rename(h.path("app.log"), h.path("app.log.1")).unwrap();
    h.append("app.log", &numbered("second", 0..3));
    t.poll();
    let mut got = h.bodies();
    got.sort();
    let mut want = [expect("first", 20..25), expect("second", 0..3)].concat();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn copytruncate_loses_and_repeats_nothing() {
    let h = Harness::new();
    h.append("app.log", &numbered("before", 0..50));
    let mut t = h.tracker("include: ['DIR/app.log*']\nstart_at: beginning", false);
    t.poll();
    assert_eq!(h.bodies(), expect("before", 0..50));
    h.append("app.log", &numbered("before", 50..60));
    std::fs::copy(h.path("app.log"), h.path("app.log.1")).unwrap();
    std::fs::File::create(h.path("app.log")).unwrap(); // truncate
    h.append("app.log", &numbered("after", 0..7));
    t.poll();
    let mut got = h.bodies();
    got.sort();
    let mut want = [expect("before", 50..60), expect("after", 0..7)].concat();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn truncated_file_is_read_again_from_the_start() {
    let h = Harness::new();
    h.append("a.log", &numbered("long line number", 0..20));
    let mut t = h.tracker("include: [DIR/a.log]\nstart_at: beginning", false);
    t.poll();
    assert_eq!(h.bodies().len(), 20);
    std::fs::write(h.path("a.log"), "long line number 0\nshort\n").unwrap();
    t.poll();
    assert_eq!(h.bodies(), ["long line number 0", "short"]);
}

#[test]
fn restart_with_checkpoint_neither_loses_nor_repeats() {
    let h = Harness::new();
    h.append("a.log", &numbered("a", 0..100));
    h.append("b.log", &numbered("b", 0..10));
    let mut t = h.tracker("include: [DIR/*.log]\nstart_at: beginning", true);
    t.poll();
    t.stop();
    drop(t);
    assert_eq!(h.bodies().len(), 110);
    h.append("a.log", &numbered("a", 100..150));
    h.append("c.log", &numbered("c", 0..5));
    let mut t = h.tracker("include: [DIR/*.log]\nstart_at: beginning", true);
    t.poll();
    let mut got = h.bodies();
    got.sort();
    let mut want = [expect("a", 100..150), expect("c", 0..5)].concat();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn binary_file_is_read_whole_with_replacements() {
    let h = Harness::new();
    let mut bytes = Vec::new();
    let mut x: u32 = 12345;
    for _ in 0..100_000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        bytes.push((x >> 16) as u8);
    }
    std::fs::write(h.path("bin.log"), &bytes).unwrap();
    let mut t = h.tracker(
        "include: [DIR/*.log]\nstart_at: beginning\nforce_flush_period: 1ms",
        false,
    );
    t.poll();
    std::thread::sleep(Duration::from_millis(5));
    t.poll();
    let splitter =
        crate::split::Splitter::new(crate::split::Encoding::Utf8, None, 1 << 20, false, false);
    let want: Vec<String> = bytes
        .split(|b| *b == b'\n')
        .map(|l| {
            crate::split::decode_utf8(splitter.trim(l.strip_suffix(b"\r").unwrap_or(l)))
                .into_owned()
        })
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(h.bodies(), want);
}

#[test]
fn deleted_files_are_finished_and_delete_after_read_deletes() {
    let h = Harness::new();
    h.append("a.log", &numbered("a", 0..10));
    let mut t = h.tracker("include: [DIR/a.log]\nstart_at: beginning", false);
    t.poll();
    h.append("a.log", &numbered("a", 10..12));
    std::fs::remove_file(h.path("a.log")).unwrap();
    t.poll();
    t.poll();
    assert_eq!(h.bodies(), expect("a", 0..12));

    h.append("b.log", &numbered("b", 0..10));
    h.append("b.log", "tail");
    let mut t = h.tracker(
        "include: [DIR/b.log]\nstart_at: beginning\ndelete_after_read: true",
        false,
    );
    t.poll();
    assert!(!h.path("b.log").exists());
    assert_eq!(
        h.bodies(),
        [expect("b", 0..10), vec!["tail".into()]].concat()
    );
}

#[test]
fn ten_thousand_files_every_line_once() {
    // The issue's figure: more files than `max_concurrent_files` (1024) and than a default
    // open-files limit, appended to between polls.
    const FILES: usize = 10_000;
    let h = Harness::new();
    for f in 0..FILES {
        h.append(
            &format!("f{f:05}.log"),
            &numbered(&format!("file {f}"), 0..3),
        );
    }
    let mut t = h.tracker("include: [DIR/*.log]\nstart_at: beginning", false);
    t.poll();
    for f in (0..FILES).step_by(7) {
        h.append(
            &format!("f{f:05}.log"),
            &numbered(&format!("file {f}"), 3..4),
        );
    }
    t.poll();
    t.poll();
    let mut got = h.bodies();
    got.sort();
    let mut want = Vec::new();
    for f in 0..FILES {
        want.extend(expect(
            &format!("file {f}"),
            0..if f % 7 == 0 { 4 } else { 3 },
        ));
    }
    want.sort();
    assert_eq!(got.len(), want.len());
    assert_eq!(got, want);
}

#[test]
fn multiline_start_pattern_and_file_attributes() {
    let h = Harness::new();
    h.append(
        "m.log",
        "preamble\n2024-01-01 one\n  at a\n  at b\n2024-01-02 two\n2024-01-03 three\n",
    );
    let mut t = h.tracker(
        "include: [DIR/*.log]\nstart_at: beginning\ninclude_file_path: true\nforce_flush_period: 1ms\nmultiline: {line_start_pattern: '^\\d{4}-'}",
        false,
    );
    t.poll();
    std::thread::sleep(Duration::from_millis(5));
    t.poll();
    let got = h.take();
    let bodies: Vec<_> = got.iter().map(|g| g.body.as_str()).collect();
    assert_eq!(
        bodies,
        [
            "preamble",
            "2024-01-01 one\n  at a\n  at b",
            "2024-01-02 two",
            "2024-01-03 three"
        ]
    );
    let path = h.path("m.log").display().to_string();
    assert_eq!(
        got[0].attrs,
        [
            ("log.file.name".into(), "m.log".into()),
            ("log.file.path".into(), path)
        ]
    );
}

#[test]
fn gzip_files_and_utf16() {
    let h = Harness::new();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(numbered("z", 0..1000).as_bytes()).unwrap();
    std::fs::write(h.path("a.log.gz"), gz.finish().unwrap()).unwrap();
    let mut t = h.tracker(
        "include: [DIR/*.gz]\nstart_at: beginning\ncompression: auto",
        false,
    );
    t.poll();
    t.poll();
    assert_eq!(h.bodies(), expect("z", 0..1000));

    let text = "héllo\r\nwörld\n";
    let utf16: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    std::fs::write(h.path("u.txt"), utf16).unwrap();
    let mut t = h.tracker(
        "include: [DIR/u.txt]\nstart_at: beginning\nencoding: utf-16le",
        false,
    );
    t.poll();
    assert_eq!(h.bodies(), ["héllo", "wörld"]);
}
