use super::*;

fn state(info: Option<ServiceInfo>) -> State {
    let s = State {
        info: OnceLock::new(),
        ready: AtomicBool::new(false),
        started: Instant::now(),
        started_at: SystemTime::now(),
    };
    if let Some(i) = info {
        let _ = s.info.set(Arc::new(i));
    }
    s
}

#[test]
fn pages_show_pipelines_and_escape_ids() {
    let s = state(Some(ServiceInfo {
        pipelines: vec![PipelineInfo {
            id: "traces/<x>".into(),
            receivers: vec!["otlp".into()],
            processors: vec![],
            exporters: vec!["debug".into(), "file/a&b".into()],
        }],
        extensions: vec!["zpages".into()],
        components: vec![(Kind::Receiver, "otlp".into())],
    }));
    let p = s.render("/debug/pipelinez").unwrap();
    assert!(
        p.contains("<tr><td>traces/&lt;x&gt;</td><td>otlp</td><td><em>none</em></td><td>debug, file/a&amp;b</td><td>Not ready</td></tr>"),
        "{p}"
    );
    s.ready.store(true, Ordering::Release);
    assert!(
        s.render("/debug/extensionz")
            .unwrap()
            .contains("<td>zpages</td><td>Ready</td>")
    );
    let svc = s.render("/debug/servicez").unwrap();
    assert!(
        svc.contains("<tr><td>receivers</td><td>otlp</td></tr>"),
        "{svc}"
    );
    assert!(s.render("/debug/featurez").is_some());
    assert!(
        s.render("/debug/tracez")
            .unwrap()
            .contains("no spans of its own")
    );
    assert!(s.render("/debug/").is_none());
    assert!(s.render("/").is_none());
}

#[test]
fn config_defaults_and_errors() {
    let c = ZpagesConfig::default();
    assert_eq!(c.endpoint, "localhost:55679");
    assert!(c.validate().is_ok());
    let bad = ZpagesConfig {
        endpoint: "nohost".into(),
        ..Default::default()
    };
    assert!(bad.validate().unwrap_err().to_string().contains("endpoint"));
}

#[test]
fn transport_tcp_is_accepted_others_refused() {
    let ok: ZpagesConfig = crate::testing::config("endpoint: localhost:56888\ntransport: tcp\n");
    ok.validate().unwrap();
    assert_eq!(
        crate::testing::config_error::<ZpagesConfig>("transport: udp\n"),
        "transport: unsupported transport \"udp\" (the zpages server listens on tcp)"
    );
}
