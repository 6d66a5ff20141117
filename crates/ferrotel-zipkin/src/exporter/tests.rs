use super::*;

#[test]
fn config_testdata() {
    crate::testdata_util::check::<ZipkinExporterConfig>("exporter");
    let c: ZipkinExporterConfig =
        crate::testdata_util::load("endpoint: http://zipkin:9411/api/v2/spans\n").unwrap();
    assert_eq!(c.format, ZipkinFormat::Json);
    assert_eq!(c.default_service_name, "<missing service name>");
    assert_eq!(c.timeout, std::time::Duration::from_secs(5));
}
