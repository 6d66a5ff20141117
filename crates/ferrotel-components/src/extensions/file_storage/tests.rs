use ferrotel_runtime::ComponentConfig;
use ferrotel_runtime::config::{decode, node::parse_yaml};

use super::*;

fn config(yaml: &str) -> Result<FileStorageConfig, String> {
    let c: FileStorageConfig =
        decode(&parse_yaml(yaml, "test").unwrap()).map_err(|e| e.to_string())?;
    c.validate().map_err(|e| e.to_string())?;
    Ok(c)
}

#[test]
fn defaults_and_go_keys() {
    let c = config("{}").unwrap();
    assert_eq!(c.directory, "/var/lib/otelcol/file_storage");
    assert!(c.fsync, "ferrotel defaults to durable writes");
    assert!(!c.create_directory);
    let c = config(
        "{directory: /x, timeout: 2s, fsync: false, create_directory: true, \
         directory_permissions: '0700', recreate: true, \
         compaction: {on_start: true, on_rebound: true, directory: /tmp, max_transaction_size: 10, \
         rebound_needed_threshold_mib: 5, rebound_trigger_threshold_mib: 1, check_interval: 1s, cleanup_on_start: true}}",
    )
    .unwrap();
    assert!(!c.fsync);
    assert!(
        config("{directory: /x, nope: 1}")
            .unwrap_err()
            .contains("nope")
    );
    assert!(config("{directory_permissions: 'rwx'}").is_err());
}

#[test]
fn missing_directory_is_an_error_unless_created() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("a/b");
    let e = FileStorage::new(config(&format!("directory: {}", sub.display())).unwrap())
        .err()
        .unwrap();
    assert!(e.to_string().contains("create_directory"), "{e}");
    let s = FileStorage::new(
        config(&format!(
            "{{directory: {}, create_directory: true}}",
            sub.display()
        ))
        .unwrap(),
    )
    .unwrap();
    assert!(sub.is_dir());
    let o = s
        .queue_options(&"otlp_grpc/backup".parse().unwrap())
        .unwrap();
    assert_eq!(o.directory, sub.join("exporter_otlp_grpc_backup"));
    assert!(o.fsync);
}

#[test]
fn offers_queue_storage() {
    let dir = tempfile::tempdir().unwrap();
    let ext = FileStorageFactory
        .create(
            crate::testing::ctx("file_storage", Kind::Extension),
            config(&format!("directory: {}", dir.path().display())).unwrap(),
        )
        .unwrap();
    assert!(capability::<Arc<dyn QueueStorage>>(ext.as_ref()).is_some());
}
