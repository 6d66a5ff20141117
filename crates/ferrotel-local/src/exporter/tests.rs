use std::sync::Arc;

use ferrotel_pdata::Signal;
use ferrotel_runtime::config::{decode, node::parse_yaml};
use ferrotel_runtime::*;

use super::*;
use crate::testing;

fn ctx(telemetry: &Telemetry) -> CreateContext {
    CreateContext {
        id: "local_store".parse().unwrap(),
        kind: Kind::Exporter,
        pipeline: None,
        telemetry: telemetry.clone(),
        extensions: Arc::new(Vec::new()),
    }
}

fn load(name: &str) -> Result<LocalStoreConfig, String> {
    let path = format!(
        "{}/src/exporter/testdata/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let node = parse_yaml(&text, &path).map_err(|e| e.to_string())?;
    let config: LocalStoreConfig = decode(&node).map_err(|e| e.to_string())?;
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

#[test]
fn config_defaults_and_valid_file() {
    let d = LocalStoreConfig::default();
    assert_eq!(d.max_size_mib, 256);
    assert_eq!(d.ui.endpoint, "127.0.0.1:16686");
    assert!(d.ui.enabled && d.directory.is_empty() && d.retention.is_zero());
    let c = load("valid.yaml").unwrap();
    assert_eq!(c.max_size_mib, 64);
    assert_eq!(c.retention, std::time::Duration::from_secs(7200));
    let sc = c.store_config();
    assert_eq!(sc.max_bytes, 64 << 20);
    assert_eq!(sc.directory.unwrap().to_str(), Some("./ferrotel-data"));
    assert_eq!(c.listen_addresses(), ["127.0.0.1:16687"]);
}

#[test]
fn invalid_configs_say_what_and_where() {
    for (file, needle) in [
        ("invalid_size.yaml", "max_size_mib"),
        ("invalid_endpoint.yaml", "ui::endpoint"),
        ("invalid_key.yaml", "max_bytes"),
        ("invalid_retention.yaml", "forever"),
    ] {
        let e = load(file).unwrap_err();
        assert!(e.contains(needle), "{file}: {e}");
    }
}

#[tokio::test]
async fn stores_every_signal_serves_it_and_counts() {
    let telemetry = Telemetry::new();
    let config = LocalStoreConfig {
        ui: UiConfig {
            enabled: true,
            endpoint: "127.0.0.1:0".into(),
        },
        ..Default::default()
    };
    // Built directly (not through the factory) to read the bound port.
    let e = LocalStoreExporter::new(&ctx(&telemetry), config);
    assert!(LocalStoreExporterFactory.info().supports(Signal::Logs));
    // Before start: refused as retryable, nothing lost.
    let err = e
        .consume(testing::traces(), Context::default())
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    e.start().await.unwrap();
    e.consume(testing::traces(), Context::default())
        .await
        .unwrap();
    e.consume(testing::logs(), Context::default())
        .await
        .unwrap();
    let labels = &[("exporter", "local_store")];
    assert_eq!(
        telemetry.value("ferrotel_local_store_stored_spans", labels),
        Some(3)
    );
    assert_eq!(
        telemetry.value("ferrotel_local_store_stored_log_records", labels),
        Some(1)
    );
    assert!(
        telemetry
            .value("ferrotel_local_store_bytes", labels)
            .unwrap()
            > 0
    );

    let addr = e.ui_address().unwrap();
    let reply = tokio::task::spawn_blocking(move || {
        crate::client::get(&format!("http://{addr}"), "/api/v1/services", "*/*").unwrap()
    })
    .await
    .unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json().unwrap()["services"],
        serde_json::json!(["frontend", "payment"])
    );

    e.shutdown().await.unwrap();
    e.shutdown().await.unwrap();
    assert!(
        std::net::TcpStream::connect(addr).is_err() || {
            // The port may be reused by the OS at once; what matters is no answer from us.
            crate::client::get(&format!("http://{addr}"), "/", "*/*").is_err()
        }
    );
}
