use super::*;

#[test]
fn config_testdata() {
    ferrotel_runtime::config::testdata::check::<ZipkinExporterConfig>(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/exporter/testdata"),
    );
    let c: ZipkinExporterConfig =
        ferrotel_runtime::config::testdata::load("endpoint: http://zipkin:9411/api/v2/spans\n")
            .unwrap();
    assert_eq!(c.format, ZipkinFormat::Json);
    assert_eq!(c.default_service_name, "<missing service name>");
    assert_eq!(c.timeout, std::time::Duration::from_secs(5));
}
