use std::io::Read;

use super::*;

/// A named function that keeps a core busy, to be found in the profile.
#[inline(never)]
fn burn_cpu_for_pprof_test(stop: &AtomicBool) -> u64 {
    let mut x = 1u64;
    while !stop.load(Ordering::Relaxed) {
        for i in 0..10_000u64 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
        }
    }
    x
}

fn decode(gz: &[u8]) -> profile::Profile {
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut raw)
        .expect("gzipped");
    profile::Profile::decode(&raw[..]).expect("a pprof Profile")
}

#[test]
fn cpu_profile_names_the_busy_function_and_one_runs_at_a_time() {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let busy = std::thread::spawn(move || burn_cpu_for_pprof_test(&s));
    let body = cpu_profile(|| {
        // A second profile while this one runs is refused, as Go refuses it.
        let again = cpu_profile(|| {});
        assert!(again.unwrap_err().contains("already in use"));
        std::thread::sleep(Duration::from_millis(700));
    })
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    busy.join().unwrap();
    let p = decode(&body);
    let name = |i: i64| p.string_table[i as usize].as_str();
    assert_eq!(p.string_table[0], "");
    assert_eq!(
        p.sample_type
            .iter()
            .map(|t| (name(t.r#type), name(t.unit)))
            .collect::<Vec<_>>(),
        [("samples", "count"), ("cpu", "nanoseconds")]
    );
    assert!(p.period > 0);
    let samples: i64 = p.sample.iter().map(|s| s.value[0]).sum();
    assert!(samples > 10, "{samples} samples");
    // Every id a sample or line refers to exists.
    for s in &p.sample {
        for id in &s.location_id {
            let loc = &p.location[*id as usize - 1];
            assert_eq!(loc.id, *id);
            for l in &loc.line {
                assert_eq!(p.function[l.function_id as usize - 1].id, l.function_id);
            }
        }
    }
    assert!(
        p.function
            .iter()
            .any(|f| name(f.name).contains("burn_cpu_for_pprof_test")),
        "functions: {:?}",
        p.function.iter().map(|f| name(f.name)).collect::<Vec<_>>()
    );
    // Free again once done.
    assert!(cpu_profile(|| {}).is_ok());
}

#[test]
fn heap_profile_reports_the_allocator_totals() {
    let keep = vec![7u8; 8 << 20];
    let (in_use, _) = malloc_stats();
    let p = decode(&gzip(&profile::heap(in_use, 1).encode_to_vec()));
    assert_eq!(p.sample.len(), 1);
    assert!(p.sample[0].value[0] >= 8 << 20, "{:?}", p.sample[0].value);
    drop(keep);
}

#[test]
fn seconds_parameter() {
    assert_eq!(seconds(None), Ok(30));
    assert_eq!(seconds(Some("seconds=5")), Ok(5));
    assert_eq!(seconds(Some("debug=1&seconds=2")), Ok(2));
    assert!(
        seconds(Some("seconds=0"))
            .unwrap_err()
            .contains("bad seconds \"0\"")
    );
    assert!(seconds(Some("seconds=abc")).is_err());
    assert!(seconds(Some("seconds=601")).is_err());
}

#[test]
fn config_validation() {
    assert!(PprofConfig::default().validate().is_ok());
    let bad = PprofConfig {
        mutex_profile_fraction: -1,
        ..Default::default()
    };
    assert!(
        bad.validate()
            .unwrap_err()
            .to_string()
            .contains("mutex_profile_fraction")
    );
}
