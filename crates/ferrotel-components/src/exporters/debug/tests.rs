use ferrotel_pdata::Signal;
use ferrotel_runtime::*;

use super::*;
use crate::testing::{config, config_error, ctx, traces};

/// `use_internal_logger: false` with a file in `output_paths`: every printed request is
/// appended there (twice when listed twice), at the configured verbosity.
#[tokio::test]
async fn output_paths_write_to_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("debug.txt");
    std::fs::write(&path, "before\n").unwrap();
    let p = path.display();
    let cfg: DebugConfig = config(&format!(
        "verbosity: normal\nuse_internal_logger: false\noutput_paths: [\"{p}\", \"{p}\"]\n"
    ));
    cfg.validate().unwrap();
    let e = DebugExporterFactory
        .create(ctx("debug", Kind::Exporter), cfg, &[Signal::Traces])
        .unwrap();
    e.start().await.unwrap();
    e.consume(traces("svc", &["alpha", "beta"]), Context::default())
        .await
        .unwrap();
    e.shutdown().await.unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("before\n"), "appends: {text}");
    assert_eq!(text.matches("Traces\t{\"spans\": 2}").count(), 2, "{text}");
    assert_eq!(
        text.matches("alpha").count(),
        2,
        "normal prints items: {text}"
    );
}

#[test]
fn output_paths_rules_as_the_go_exporter() {
    assert_eq!(
        config_error::<DebugConfig>("output_paths: [stdout]\n"),
        "output_paths: output_paths is not supported when use_internal_logger is true"
    );
    assert_eq!(
        config_error::<DebugConfig>("use_internal_logger: false\noutput_paths: []\n"),
        "output_paths: output_paths must not be empty when use_internal_logger is false"
    );
    let bad: DebugConfig =
        config("use_internal_logger: false\noutput_paths: [/nonexistent-dir/x/debug.txt]\n");
    let err = DebugExporterFactory
        .create(ctx("debug", Kind::Exporter), bad, &[Signal::Traces])
        .err()
        .expect("an unwritable path fails at create");
    assert!(
        err.to_string()
            .contains("output_paths: cannot open \"/nonexistent-dir/x/debug.txt\""),
        "{err}"
    );
}
