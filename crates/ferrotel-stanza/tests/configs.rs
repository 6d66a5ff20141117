//! Every config in testdata/valid.json builds; every one in testdata/invalid.json fails with
//! an error naming the operator and key.

use ferrotel_stanza::{OperatorsConfig, Pipeline};

fn load(name: &str) -> serde_json::Value {
    let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("testdata")).expect("json")
}

#[test]
fn valid_configs_build() {
    let all = load("valid.json");
    for (name, ops) in all.as_object().expect("map of configs") {
        let cfg: OperatorsConfig = serde_json::from_value(ops.clone()).expect("list");
        if let Err(e) = Pipeline::build(&cfg) {
            panic!("{name}: {e}");
        }
        cfg.validate().expect("validate agrees with build");
    }
}

#[test]
fn invalid_configs_name_the_key() {
    for case in load("invalid.json").as_array().expect("list") {
        let want = case["error"].as_str().expect("error");
        let cfg: OperatorsConfig = serde_json::from_value(case["operators"].clone()).expect("list");
        match Pipeline::build(&cfg) {
            Ok(_) => panic!("{want}: built"),
            Err(e) => assert!(
                e.to_string().starts_with(want),
                "got {e:?}, want a message starting {want:?}"
            ),
        }
    }
}

#[test]
fn a_pipeline_can_move_to_a_reader_task() {
    fn send<T: Send + 'static>() {}
    send::<Pipeline>();
    send::<OperatorsConfig>();
}
