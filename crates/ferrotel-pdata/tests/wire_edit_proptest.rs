//! `wire::edit_attributes` against the same edit applied to the prost-decoded request: for
//! arbitrary requests and edit scripts, decoding the wire-edited bytes gives exactly the
//! decoded-then-edited request. Arbitrary bytes never panic the editor.

#[path = "common/wire_arbitrary.rs"]
mod wire_arbitrary;

use ferrotel_pdata::proto::common::v1::{AnyValue, KeyValue, any_value};
use ferrotel_pdata::proto::metrics::v1::metric::Data;
use ferrotel_pdata::wire::{AttrTarget, EncodedAttr, KeyFilter, KeySet, WireAttrs};
use ferrotel_pdata::{Request, Signal, wire};
use proptest::prelude::*;
use wire_arbitrary::arb_request;

/// One step of an edit script, with the semantics both implementations follow.
#[derive(Debug, Clone)]
enum Step {
    /// Append `key = value`.
    Push(String, i64),
    /// Set the first entry named `key` (if any) to a string.
    SetKey(String, String),
    /// Set entry `i % len` (if any) to an int.
    SetIndex(usize, i64),
    /// Remove the first entry named `key`.
    RemoveKey(String),
    /// Keep only keys whose length is not `n`.
    RetainLenNot(usize),
    /// Read every value (must not change anything).
    Read,
}

fn step() -> impl Strategy<Value = Step> {
    let key = prop_oneof![Just("k0".to_string()), Just("k1".to_string()), ".{0,3}"];
    prop_oneof![
        (key.clone(), any::<i64>()).prop_map(|(k, v)| Step::Push(k, v)),
        (key.clone(), ".{0,8}").prop_map(|(k, v)| Step::SetKey(k, v)),
        (any::<usize>(), any::<i64>()).prop_map(|(i, v)| Step::SetIndex(i, v)),
        key.prop_map(Step::RemoveKey),
        (0usize..4).prop_map(Step::RetainLenNot),
        Just(Step::Read),
    ]
}

fn int(v: i64) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::IntValue(v)),
    }
}

fn string(v: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(v.into())),
    }
}

fn on_wire(steps: &[Step], a: &mut WireAttrs<'_>) {
    for s in steps {
        match s {
            // Half the writes go through the pre-encoded form.
            Step::Push(k, v) if v % 2 == 0 => a.push_encoded(&EncodedAttr::new(k, &int(*v))),
            Step::Push(k, v) => a.push(k, &int(*v)),
            Step::SetKey(k, v) => {
                if let Some(i) = a.find(k) {
                    if v.len() % 2 == 0 {
                        a.set_encoded(i, &EncodedAttr::new(k, &string(v)));
                    } else {
                        a.set(i, &string(v));
                    }
                }
            }
            Step::SetIndex(i, v) => {
                if !a.is_empty() {
                    a.set(i % a.len(), &int(*v));
                }
            }
            Step::RemoveKey(k) => {
                if let Some(i) = a.find(k) {
                    a.remove(i);
                }
            }
            Step::RetainLenNot(n) => a.retain(|k| k.len() != *n),
            Step::Read => {
                for i in 0..a.len() {
                    let _ = (a.value(i), a.value_owned(i), a.key(i));
                }
            }
        }
    }
}

fn on_decoded(steps: &[Step], a: &mut Vec<KeyValue>) {
    let find = |a: &Vec<KeyValue>, k: &str| a.iter().position(|kv| kv.key == k);
    for s in steps {
        match s {
            Step::Push(k, v) => a.push(KeyValue {
                key: k.clone(),
                value: Some(int(*v)),
                ..Default::default()
            }),
            Step::SetKey(k, v) => {
                if let Some(i) = find(a, k) {
                    a[i].value = Some(string(v));
                }
            }
            Step::SetIndex(i, v) => {
                if !a.is_empty() {
                    let n = a.len();
                    a[i % n].value = Some(int(*v));
                }
            }
            Step::RemoveKey(k) => {
                if let Some(i) = find(a, k) {
                    a.remove(i);
                }
            }
            Step::RetainLenNot(n) => a.retain(|kv| kv.key.len() != *n),
            Step::Read => {}
        }
    }
}

/// Every attribute list the target selects, in encoding order.
fn lists(req: &mut Request, target: AttrTarget) -> Vec<&mut Vec<KeyValue>> {
    let mut out: Vec<&mut Vec<KeyValue>> = Vec::new();
    match (req, target) {
        (Request::Traces(r), AttrTarget::Items) => {
            for rs in &mut r.resource_spans {
                for ss in &mut rs.scope_spans {
                    out.extend(ss.spans.iter_mut().map(|s| &mut s.attributes));
                }
            }
        }
        (Request::Logs(r), AttrTarget::Items) => {
            for rl in &mut r.resource_logs {
                for sl in &mut rl.scope_logs {
                    out.extend(sl.log_records.iter_mut().map(|l| &mut l.attributes));
                }
            }
        }
        (Request::Metrics(r), AttrTarget::Items) => {
            for rm in &mut r.resource_metrics {
                for sm in &mut rm.scope_metrics {
                    for m in &mut sm.metrics {
                        match &mut m.data {
                            Some(Data::Gauge(g)) => {
                                out.extend(g.data_points.iter_mut().map(|p| &mut p.attributes))
                            }
                            Some(Data::Sum(g)) => {
                                out.extend(g.data_points.iter_mut().map(|p| &mut p.attributes))
                            }
                            Some(Data::Histogram(g)) => {
                                out.extend(g.data_points.iter_mut().map(|p| &mut p.attributes))
                            }
                            Some(Data::ExponentialHistogram(g)) => {
                                out.extend(g.data_points.iter_mut().map(|p| &mut p.attributes))
                            }
                            Some(Data::Summary(g)) => {
                                out.extend(g.data_points.iter_mut().map(|p| &mut p.attributes))
                            }
                            None => {}
                        }
                    }
                }
            }
        }
        (Request::Traces(r), AttrTarget::Resources) => {
            out.extend(
                r.resource_spans
                    .iter_mut()
                    .map(|rs| &mut rs.resource.get_or_insert_with(Default::default).attributes),
            );
        }
        (Request::Logs(r), AttrTarget::Resources) => {
            out.extend(
                r.resource_logs
                    .iter_mut()
                    .map(|rs| &mut rs.resource.get_or_insert_with(Default::default).attributes),
            );
        }
        (Request::Metrics(r), AttrTarget::Resources) => {
            out.extend(
                r.resource_metrics
                    .iter_mut()
                    .map(|rs| &mut rs.resource.get_or_insert_with(Default::default).attributes),
            );
        }
        (Request::Profiles(_), _) => {}
    }
    out
}

fn arb_signal_request() -> BoxedStrategy<Request> {
    prop_oneof![
        arb_request(Signal::Traces),
        arb_request(Signal::Metrics),
        arb_request(Signal::Logs),
    ]
    .boxed()
}

/// Edits `req` on the wire (through `filter`) and decoded, and compares.
fn check_edit(
    req: &Request,
    steps: &[Step],
    resources: bool,
    filter: &KeyFilter,
) -> Result<(), TestCaseError> {
    let target = if resources {
        AttrTarget::Resources
    } else {
        AttrTarget::Items
    };
    let signal = req.signal();
    let bytes = req.encode_proto();
    let edited = wire::edit_attributes_of(signal, &bytes, target, filter, |a| on_wire(steps, a))
        .expect("prost-encoded requests are always editable");
    let mut expected = req.clone();
    for list in lists(&mut expected, target) {
        on_decoded(steps, list);
    }
    // The reference creates a resource for every list; the wire edit writes one only if
    // it gets attributes. pdata (and OTLP) do not tell an absent resource from an empty one.
    let normalize = |mut r: Request| {
        if resources {
            let _ = lists(&mut r, AttrTarget::Resources);
        }
        r
    };
    match edited {
        None => prop_assert_eq!(
            normalize(expected),
            normalize(req.clone()),
            "edit reported no change"
        ),
        Some(out) => {
            let got = Request::decode_proto(signal, out.clone()).unwrap();
            prop_assert_eq!(normalize(got), normalize(expected));
            // Still a valid request with the same items.
            prop_assert_eq!(wire::validate(signal, &out), Ok(req.item_count()));
        }
    }
    Ok(())
}

/// Whether a script of key steps reads only the first attribute of each key: none names a
/// key after removing it (then it would find the key's next attribute), the condition of
/// [`KeySet::reads_keys_only`].
fn reads_first_of_each_key(steps: &[Step]) -> bool {
    let mut removed = Vec::new();
    steps.iter().all(|s| match s {
        Step::Push(k, _) | Step::SetKey(k, _) => !removed.contains(&k),
        Step::RemoveKey(k) => {
            let first = !removed.contains(&k);
            removed.push(k);
            first
        }
        _ => true,
    })
}

/// A request and an edit script whose steps name keys only (no index or length rules), with
/// keys drawn from those the request has, so edits hit.
fn request_and_key_steps() -> impl Strategy<Value = (Request, Vec<Step>, bool)> {
    arb_signal_request().prop_flat_map(|req| {
        let mut copy = req.clone();
        let mut keys: Vec<String> = ["k0".to_string(), String::new()].into();
        for target in [AttrTarget::Items, AttrTarget::Resources] {
            for list in lists(&mut copy, target) {
                keys.extend(list.iter().map(|kv| kv.key.clone()));
            }
        }
        let key = proptest::sample::select(keys);
        let step = prop_oneof![
            (key.clone(), any::<i64>()).prop_map(|(k, v)| Step::Push(k, v)),
            (key.clone(), ".{0,8}").prop_map(|(k, v)| Step::SetKey(k, v)),
            key.prop_map(Step::RemoveKey),
            Just(Step::Read),
        ];
        (
            Just(req),
            proptest::collection::vec(step, 0..6),
            any::<bool>(),
        )
    })
}

/// A step that pushes, sets or removes a key drawn from `key`: what a keys-only edit does.
fn key_step(key: impl Strategy<Value = String> + Clone) -> impl Strategy<Value = Step> {
    prop_oneof![
        (key.clone(), any::<i64>()).prop_map(|(k, v)| Step::Push(k, v)),
        (key.clone(), ".{0,3}").prop_map(|(k, v)| Step::SetKey(k, v)),
        key.prop_map(Step::RemoveKey),
    ]
}

/// A span with the given attributes, integer-valued, and a span id.
fn span_of_ints<K: Into<String>>(
    attrs: impl IntoIterator<Item = (K, i64)>,
) -> ferrotel_pdata::proto::trace::v1::Span {
    ferrotel_pdata::proto::trace::v1::Span {
        span_id: vec![2; 8].into(),
        attributes: attrs
            .into_iter()
            .map(|(k, v)| KeyValue {
                key: k.into(),
                value: Some(int(v)),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn wire_edit_equals_decoded_edit(
        req in arb_signal_request(),
        steps in proptest::collection::vec(step(), 0..6),
        resources in any::<bool>(),
    ) {
        check_edit(&req, &steps, resources, &KeyFilter::All)?;
    }

    /// With a key filter the edit sees only the keys it names; the others pass through
    /// unparsed, in place, and the result is the same as editing the whole decoded list.
    #[test]
    fn filtered_wire_edit_equals_decoded_edit(
        (req, steps, resources) in request_and_key_steps(),
    ) {
        let keys = steps.iter().filter_map(|s| match s {
            Step::Push(k, _) | Step::SetKey(k, _) | Step::RemoveKey(k) => Some(k.as_bytes()),
            _ => None,
        });
        let set = KeySet::new(keys);
        check_edit(&req, &steps, resources, &KeyFilter::Keys(set.clone()))?;
        // The script only finds, sets, removes and appends by key (Read changes nothing):
        // declared keys-only, the edit runs once per key sequence and is replayed.
        if reads_first_of_each_key(&steps) {
            check_edit(&req, &steps, resources, &KeyFilter::Keys(set.reads_keys_only()))?;
        }
    }

    /// A keys-only edit ([`KeySet::reads_keys_only`]) replayed on items with the same key
    /// sequence, repeated keys, different values and other attributes between them, gives
    /// what the edit gives on each decoded list.
    #[test]
    fn keys_only_edit_replays_equal_decoded_edit(
        spans in proptest::collection::vec(
            proptest::collection::vec(("[abcx]", 0i64..3), 0..6),
            1..12,
        ),
        steps in proptest::collection::vec(key_step("[abn]".prop_map(String::from)), 1..4),
    ) {
        let req = traces_of(spans.into_iter().map(span_of_ints).collect());
        prop_assume!(reads_first_of_each_key(&steps));
        let set = KeySet::new(["a", "b", "n"]).reads_keys_only();
        check_bytes(&req.encode_proto(), &steps, &KeyFilter::Keys(set));
    }

    /// A keys-only set of one key (an update or delete of one attribute) takes its own path
    /// once the plan of items holding the key is known: the same results.
    #[test]
    fn one_key_edit_replays_equal_decoded_edit(
        spans in proptest::collection::vec(
            // `x.a` passes the prefilter of `k.a` (same length, same last byte).
            proptest::collection::vec(("[kx]\\.[ab]", 0i64..3), 0..5),
            1..12,
        ),
        steps in proptest::collection::vec(key_step("k\\.a|n".prop_map(String::from)), 1..4),
    ) {
        let req = traces_of(spans.into_iter().map(span_of_ints).collect());
        prop_assume!(reads_first_of_each_key(&steps));
        let key = |s: &Step| match s {
            Step::Push(k, _) | Step::SetKey(k, _) | Step::RemoveKey(k) => k.clone(),
            _ => String::new(),
        };
        let first = key(&steps[0]);
        prop_assume!(steps.iter().all(|s| key(s) == first));
        let set = KeySet::new([first]).reads_keys_only();
        check_bytes(&req.encode_proto(), &steps, &KeyFilter::Keys(set));
    }

    /// Lists holding more than 8 of a keys-only set's keys (sequences the packed form does
    /// not tell apart when only their first keys differ) replay the plan of their own
    /// sequence.
    #[test]
    fn long_key_sequences_replay_equal_decoded_edit(
        spans in proptest::collection::vec(
            (Just((0..11).collect::<Vec<u8>>()).prop_shuffle(), 7usize..=11),
            1..6,
        ),
        steps in proptest::collection::vec(
            key_step((0..12u8).prop_map(|k| format!("k{k}"))),
            1..5,
        ),
    ) {
        // Each span is followed by one with its first two keys swapped.
        let spans = spans.into_iter().flat_map(|(order, len)| {
            let mut swapped = order[..len].to_vec();
            swapped.swap(0, 1);
            [order[..len].to_vec(), swapped]
        }).map(|order| span_of_ints(order.iter().map(|k| (format!("k{k}"), i64::from(*k)))));
        let req = traces_of(spans.collect());
        prop_assume!(reads_first_of_each_key(&steps));
        let set = KeySet::new((0..12).map(|k| format!("k{k}"))).reads_keys_only();
        check_bytes(&req.encode_proto(), &steps, &KeyFilter::Keys(set));
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..256),
        steps in proptest::collection::vec(step(), 0..4),
    ) {
        let keys_only = KeyFilter::Keys(KeySet::new(["k0", "k1", ""]).reads_keys_only());
        for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
            for target in [AttrTarget::Items, AttrTarget::Resources] {
                let _ = wire::edit_attributes(signal, &bytes, target, |a| on_wire(&steps, a));
                let _ = wire::edit_attributes_of(signal, &bytes, target, &keys_only, |a| {
                    on_wire(&steps, a)
                });
            }
        }
    }
}

#[test]
fn untouched_request_is_not_copied() {
    let req = Request::Traces(Default::default());
    let bytes = req.encode_proto();
    let out = wire::edit_attributes(Signal::Traces, &bytes, AttrTarget::Items, |_| {});
    assert_eq!(out, Ok(None));
}

#[test]
fn repeated_singular_resource_is_refused() {
    // ResourceSpans { resource {attr a=1}, resource {attr b=2} }: prost merges the two
    // resources, so a per-occurrence edit would differ; the wire edit refuses.
    use ferrotel_pdata::proto::resource::v1::Resource;
    use prost::Message;
    let res = |k: &str| Resource {
        attributes: vec![KeyValue {
            key: k.into(),
            value: Some(int(1)),
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut rs = Vec::new();
    for r in [res("a"), res("b")] {
        let body = r.encode_to_vec();
        rs.push(0x0a);
        rs.push(body.len() as u8);
        rs.extend_from_slice(&body);
    }
    let mut req = vec![0x0a, rs.len() as u8];
    req.extend_from_slice(&rs);
    let out = wire::edit_attributes(Signal::Traces, &req, AttrTarget::Resources, |a| {
        a.push("x", &int(2))
    });
    assert_eq!(out, Err(wire::Unsupported::RepeatedSingular));
}

/// `key`, a length padded to three varint bytes (valid protobuf, as some encoders write
/// lengths they patch later), and `body`.
fn padded_field(field: u8, body: &[u8]) -> Vec<u8> {
    let n = body.len();
    assert!(n < 1 << 21);
    let mut out = vec![field << 3 | 2];
    out.extend([
        (n & 0x7f) as u8 | 0x80,
        (n >> 7 & 0x7f) as u8 | 0x80,
        (n >> 14) as u8,
    ]);
    out.extend_from_slice(body);
    out
}

/// A traces request holding the encoded `span` in one scope of one resource, written with
/// one-byte length prefixes (None if they do not fit).
fn request_of(span: &[u8]) -> Option<Vec<u8>> {
    let field = |key: u8, body: &[u8]| {
        let len = u8::try_from(body.len()).ok().filter(|n| *n < 0x80)?;
        let mut out = vec![key, len];
        out.extend_from_slice(body);
        Some(out)
    };
    field(0x0a, &field(0x12, &field(0x12, span)?)?)
}

/// Edits raw `bytes` on the wire and the decoded request with the same steps, and compares.
fn check_bytes(bytes: &[u8], steps: &[Step], filter: &KeyFilter) {
    let (edited, expected) = edit_both(bytes, steps, filter);
    assert_eq!(
        wire::validate(Signal::Traces, &edited),
        Ok(expected.item_count())
    );
}

/// [`check_bytes`] without validating the output (for inputs the validator refuses): the
/// edited bytes and the decoded request edited.
fn edit_both(bytes: &[u8], steps: &[Step], filter: &KeyFilter) -> (bytes::Bytes, Request) {
    let edited = wire::edit_attributes_of(Signal::Traces, bytes, AttrTarget::Items, filter, |a| {
        on_wire(steps, a)
    })
    .expect("editable")
    .unwrap_or_else(|| bytes.to_vec().into());
    let mut expected = Request::decode_proto(Signal::Traces, bytes.to_vec().into()).unwrap();
    for list in lists(&mut expected, AttrTarget::Items) {
        on_decoded(steps, list);
    }
    let got = Request::decode_proto(Signal::Traces, edited.clone()).unwrap();
    assert_eq!(got, expected);
    (edited, expected)
}

fn span_with(attrs: usize) -> Vec<u8> {
    use ferrotel_pdata::proto::trace::v1::Span;
    use prost::Message;
    Span {
        trace_id: vec![1; 16].into(),
        span_id: vec![2; 8].into(),
        name: "span".into(),
        attributes: (0..attrs)
            .map(|i| KeyValue {
                key: format!("k{i}"),
                value: Some(string("v")),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
    .encode_to_vec()
}

/// Scopes and resources whose length prefix needs one more byte after the edit, and length
/// prefixes written padded: both are rewritten (shifting what follows), not patched blindly.
#[test]
fn length_prefixes_crossing_varint_sizes_are_rewritten() {
    for attrs in 0..14 {
        let span = span_with(attrs);
        // One span, plain prefixes: the scope (and resource) cross 128 bytes at some size.
        let Some(plain) = request_of(&span) else {
            continue;
        };
        // Two spans in a scope with padded prefixes everywhere.
        let mut spans = padded_field(2, &span);
        spans.extend(padded_field(2, &span));
        let padded = padded_field(1, &padded_field(2, &spans));
        for bytes in [plain, padded] {
            for steps in [
                vec![Step::Push("added.key".into(), 1 << 40)],
                vec![Step::RemoveKey("k0".into())],
                vec![Step::SetKey("k1".into(), "longer value".into())],
            ] {
                check_bytes(&bytes, &steps, &KeyFilter::All);
                let filter = KeyFilter::Keys(KeySet::new(["added.key", "k0", "k1"]));
                check_bytes(&bytes, &steps, &filter);
            }
        }
    }
}

/// The walk skips a span's leading trace and span ids in one step only when they have the
/// usual 16 and 8 bytes; ids of other lengths (refused by validation, but well-formed
/// protobuf) are walked.
#[test]
fn ids_of_unusual_lengths_are_walked() {
    use ferrotel_pdata::proto::trace::v1::Span;
    use prost::Message;
    for (trace_id, span_id) in [(16, 8), (16, 7), (16, 9), (15, 8), (17, 8), (0, 8), (16, 0)] {
        let span = Span {
            trace_id: vec![1; trace_id].into(),
            span_id: vec![2; span_id].into(),
            attributes: vec![KeyValue {
                key: "env".into(),
                value: Some(string("dev")),
                ..Default::default()
            }],
            ..Default::default()
        }
        .encode_to_vec();
        let req = request_of(&span).unwrap();
        let steps = [Step::SetKey("env".into(), "prod".into())];
        edit_both(&req, &steps, &KeyFilter::Keys(KeySet::new(["env"])));
        let keys_only = KeySet::new(["env"]).reads_keys_only();
        edit_both(&req, &steps, &KeyFilter::Keys(keys_only));
    }
}

/// A span's fields before its attributes (parent id, name, kind, start and end times) are
/// passed over in one step each when they have their usual sizes and order; any other size,
/// varint form or order is walked field by field. Each span is edited as prost reads it, alone
/// and three in a row (the one-key path once the plan is known).
#[test]
fn leading_span_fields_of_any_size_or_order_are_walked() {
    let len_field = |key: u8, body: &[u8]| {
        let mut f = vec![key];
        prost::encoding::encode_varint(body.len() as u64, &mut f);
        f.extend_from_slice(body);
        f
    };
    let varint_field = |key: u8, v: u64| {
        let mut f = vec![key];
        prost::encoding::encode_varint(v, &mut f);
        f
    };
    let fixed64 = |key: u8| [&[key][..], &[7; 8]].concat();
    let ids = [len_field(0x0a, &[1; 16]), len_field(0x12, &[2; 8])].concat();
    let (parent, name, kind) = (
        len_field(0x22, &[3; 8]),
        len_field(0x2a, b"GET /"),
        varint_field(0x30, 2),
    );
    let (start, end) = (fixed64(0x39), fixed64(0x41));
    let env = len_field(
        0x4a,
        &[
            0x0a, 3, b'e', b'n', b'v', 0x12, 5, 0x0a, 3, b'd', b'e', b'v',
        ],
    );
    let other = len_field(0x4a, &[0x0a, 1, b'o', 0x12, 3, 0x0a, 1, b'x']);
    let long_name = |n: usize| len_field(0x2a, &vec![b'n'; n]);
    let heads: Vec<Vec<Vec<u8>>> = vec![
        vec![
            parent.clone(),
            name.clone(),
            kind.clone(),
            start.clone(),
            end.clone(),
        ],
        vec![name.clone()],
        vec![],
        // Parent ids of other lengths.
        vec![
            len_field(0x22, &[3; 7]),
            name.clone(),
            kind.clone(),
            start.clone(),
        ],
        vec![len_field(0x22, &[3; 9]), end.clone()],
        vec![len_field(0x22, &[]), name.clone()],
        // Names of 0, 127, 128 (a two-byte length) and 300 bytes.
        vec![parent.clone(), long_name(0), kind.clone()],
        vec![long_name(127), start.clone(), end.clone()],
        vec![
            parent.clone(),
            long_name(128),
            kind.clone(),
            start.clone(),
            end.clone(),
        ],
        vec![long_name(300), end.clone()],
        // Kinds needing two and ten varint bytes.
        vec![name.clone(), varint_field(0x30, 128), start.clone()],
        vec![name.clone(), varint_field(0x30, u64::MAX), end.clone()],
        // Other orders, and attributes among the leading fields.
        vec![
            end.clone(),
            start.clone(),
            kind.clone(),
            name.clone(),
            parent.clone(),
        ],
        vec![kind.clone(), name.clone()],
        vec![name.clone(), other.clone(), kind.clone(), start.clone()],
        vec![name.clone(), env.clone(), kind.clone()],
        vec![parent.clone(), other.clone(), name.clone()],
    ];
    let one_key = KeyFilter::Keys(KeySet::new(["env"]).reads_keys_only());
    let two_keys = KeyFilter::Keys(KeySet::new(["env", "o"]).reads_keys_only());
    let steps = [
        vec![Step::SetKey("env".into(), "prod".into())],
        vec![Step::RemoveKey("env".into())],
        vec![Step::Push("env".into(), 1)],
    ];
    for head in &heads {
        for with_ids in [true, false] {
            let mut span = if with_ids { ids.clone() } else { Vec::new() };
            span.extend(head.concat());
            span.extend_from_slice(&env);
            span.extend_from_slice(&other);
            let mut scope = Vec::new();
            for _ in 0..3 {
                scope.extend(len_field(0x12, &span));
            }
            for req in [
                request_of_scope(&len_field(0x12, &span)),
                request_of_scope(&scope),
            ] {
                for steps in &steps {
                    for filter in [&one_key, &two_keys, &KeyFilter::All] {
                        edit_both(&req, steps, filter);
                    }
                }
            }
        }
    }
}

/// KeyValues in forms other than key-then-value (value first, key repeated: prost keeps the
/// last key) are parsed in full even when the key filter would pass their first key over.
#[test]
fn unusual_key_value_forms_are_parsed_in_full() {
    let forms: [&[u8]; 3] = [
        // value "x", key "a", key "env"
        &[
            0x12, 3, 0x0a, 1, b'x', 0x0a, 1, b'a', 0x0a, 3, b'e', b'n', b'v',
        ],
        // key "a", value "x", key "env": starts like the usual form
        &[
            0x0a, 1, b'a', 0x12, 3, 0x0a, 1, b'x', 0x0a, 3, b'e', b'n', b'v',
        ],
        // key "a", key "env", no value
        &[0x0a, 1, b'a', 0x0a, 3, b'e', b'n', b'v'],
    ];
    // `env = "dev"` in the usual form.
    let usual: &[u8] = &[
        0x0a, 3, b'e', b'n', b'v', 0x12, 5, 0x0a, 3, b'd', b'e', b'v',
    ];
    let span_of = |kvs: &[&[u8]]| {
        let mut span = span_with(1);
        for kv in kvs {
            span.extend([0x4a, kv.len() as u8]);
            span.extend(*kv);
        }
        span
    };
    for kv in forms {
        // prost reads each as key "env": the edit must find and set it, not add a second.
        let span = span_of(&[kv]);
        let req = request_of(&span).unwrap();
        let steps = [Step::SetKey("env".into(), "prod".into())];
        check_bytes(&req, &steps, &KeyFilter::Keys(KeySet::new(["env"])));
        let keys_only = KeySet::new(["env"]).reads_keys_only();
        check_bytes(&req, &steps, &KeyFilter::Keys(keys_only.clone()));
        // After a span whose plan is known (the usual form), spans with the unusual form
        // first, alone, and after the usual form: each edited as prost reads it.
        let mut scope = Vec::new();
        for span in [
            span_of(&[usual]),
            span_of(&[kv, usual]),
            span_of(&[kv]),
            span_of(&[usual, kv]),
            span_of(&[]),
        ] {
            scope.push(0x12);
            prost::encoding::encode_varint(span.len() as u64, &mut scope);
            scope.extend(span);
        }
        let req = request_of_scope(&scope);
        for steps in [
            vec![Step::SetKey("env".into(), "prod".into())],
            vec![Step::RemoveKey("env".into())],
        ] {
            check_bytes(&req, &steps, &KeyFilter::Keys(keys_only.clone()));
        }
    }
}

/// A keys-only edit runs once per key sequence in a request, whatever the values; the
/// items after the first with a sequence get its result replayed (checked against the
/// decoded edit), and a later attribute with an already seen key is not handed to it.
#[test]
fn keys_only_edit_runs_once_per_key_sequence() {
    let span = |attrs: &[(&str, i64)]| span_of_ints(attrs.iter().copied());
    // Sequences: [a] four times, [a, b] twice, [b, a] once; `a` repeated in two spans.
    let spans = vec![
        span(&[("a", 1), ("x", 0)]),
        span(&[("x", 0), ("a", 2)]),
        span(&[("a", 3), ("b", 1)]),
        span(&[("a", 4), ("a", 5)]),
        span(&[("b", 1), ("a", 6)]),
        span(&[("a", 7), ("x", 1), ("b", 2), ("a", 8)]),
        span(&[("a", 9)]),
    ];
    let req = traces_of(spans);
    let bytes = req.encode_proto();
    let steps = [
        Step::SetKey("a".into(), "redacted".into()),
        Step::RemoveKey("b".into()),
    ];
    let mut runs = 0;
    let mut longest = 0;
    let set = KeySet::new(["a", "b"]).reads_keys_only();
    let edited = wire::edit_attributes_of(
        Signal::Traces,
        &bytes,
        AttrTarget::Items,
        &KeyFilter::Keys(set.clone()),
        |a| {
            runs += 1;
            longest = longest.max(a.len());
            on_wire(&steps, a)
        },
    )
    .unwrap()
    .unwrap();
    assert_eq!(runs, 3, "one run per key sequence: [a], [a, b], [b, a]");
    assert_eq!(longest, 2, "a repeated key is not handed to the edit");
    let mut expected = req.clone();
    for list in lists(&mut expected, AttrTarget::Items) {
        on_decoded(&steps, list);
    }
    assert_eq!(
        Request::decode_proto(Signal::Traces, edited).unwrap(),
        expected
    );
    check_bytes(&bytes, &steps, &KeyFilter::Keys(set));
}

/// Items past the first one without the filtered keys are served by the memo of the edit on
/// an empty list when the keys' bytes occur nowhere in them; everywhere the bytes occur (as a
/// value, a span name, an event's attribute, an attribute key in any KeyValue form) the item
/// is walked, also for many such spans in a row (the search then resumes after each one).
#[test]
fn items_holding_the_key_bytes_anywhere_are_walked() {
    use ferrotel_pdata::proto::trace::v1::{Span, span::Event};
    use prost::Message;
    let kv = |k: &str, v: &str| KeyValue {
        key: k.into(),
        value: Some(string(v)),
        ..Default::default()
    };
    let plain = || Span {
        trace_id: vec![1; 16].into(),
        span_id: vec![2; 8].into(),
        name: "span".into(),
        attributes: vec![kv("a", "b"), kv("c", "d")],
        ..Default::default()
    };
    let with = |f: &dyn Fn(&mut Span)| {
        let mut s = plain();
        f(&mut s);
        s
    };
    let kinds: Vec<Span> = vec![
        plain(),
        with(&|s| s.attributes.push(kv("x", "an env value"))),
        with(&|s| s.name = "env".into()),
        with(&|s| {
            s.events.push(Event {
                attributes: vec![kv("env", "in an event")],
                ..Default::default()
            })
        }),
        with(&|s| s.attributes.insert(1, kv("env", "dev"))),
        plain(),
    ];
    // Each kind after a plain span, then ten spans in a row with the key, then plain ones.
    let mut spans = Vec::new();
    for k in &kinds {
        spans.push(plain());
        spans.push(k.clone());
    }
    spans.extend((0..10).map(|_| kinds[4].clone()));
    spans.extend([plain(), kinds[1].clone(), plain()]);
    let req = traces_of(spans);
    let mut bytes = req.encode_proto().to_vec();
    let steps = [
        Step::SetKey("env".into(), "prod".into()),
        Step::Push("added".into(), 7),
    ];
    let filter = KeyFilter::Keys(KeySet::new(["env", "added"]));
    check_bytes(&bytes, &steps, &filter);
    let keys_only = KeyFilter::Keys(KeySet::new(["env", "added"]).reads_keys_only());
    check_bytes(&bytes, &steps, &keys_only);
    // The same with the key in the unusual KeyValue forms (value first, second key).
    let mut span = plain().encode_to_vec();
    let form = [
        0x12, 3, 0x0a, 1, b'x', 0x0a, 1, b'a', 0x0a, 3, b'e', b'n', b'v',
    ];
    span.extend([0x4a, form.len() as u8]);
    span.extend(form);
    let first = plain().encode_to_vec();
    let mut scope = Vec::new();
    for s in [&first, &span, &first] {
        scope.extend([0x12, s.len() as u8]);
        scope.extend_from_slice(s);
    }
    bytes = request_of_scope(&scope);
    check_bytes(&bytes, &steps, &filter);
    check_bytes(&bytes, &steps, &keys_only);
}

/// A traces request of one resource and one scope holding `spans`.
fn traces_of(spans: Vec<ferrotel_pdata::proto::trace::v1::Span>) -> Request {
    use ferrotel_pdata::proto::collector::trace::v1::ExportTraceServiceRequest;
    use ferrotel_pdata::proto::trace::v1::{ResourceSpans, ScopeSpans};
    Request::Traces(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

/// A traces request with one resource holding the scope body `scope` (its spans, encoded).
fn request_of_scope(scope: &[u8]) -> Vec<u8> {
    let mut rs = vec![0x12];
    prost::encoding::encode_varint(scope.len() as u64, &mut rs);
    rs.extend_from_slice(scope);
    let mut req = vec![0x0a];
    prost::encoding::encode_varint(rs.len() as u64, &mut req);
    req.extend_from_slice(&rs);
    req
}

/// The decision both implementations take for a span or log record: from the first id byte
/// (drop when divisible by 3) and the second (replace a string field when odd).
fn decision(id: &[u8]) -> (bool, bool) {
    let a = id.first().copied().unwrap_or(0);
    let b = id.get(1).copied().unwrap_or(0);
    (a % 3 != 0, b % 2 == 1)
}

fn arb_traces_or_logs() -> BoxedStrategy<Request> {
    prop_oneof![arb_request(Signal::Traces), arb_request(Signal::Logs)].boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn wire_item_edit_equals_decoded_retain(req in arb_traces_or_logs()) {
        let signal = req.signal();
        let bytes = req.encode_proto();
        // Spans: decide on trace_id (1), replace trace_state (3); log records: decide on
        // span_id (10), replace event_name (12).
        let (id_field, text_field) = if signal == Signal::Traces { (1, 3) } else { (10, 12) };
        let edited = wire::edit_items(signal, &bytes, |item, out| {
            let (keep, replace) = decision(item.bytes_field(id_field).unwrap_or_default());
            if keep && replace {
                out.set_string_field(text_field, "edited");
            }
            if keep { wire::ItemDecision::Keep } else { wire::ItemDecision::Drop }
        })
        .expect("prost-encoded requests are always editable");
        let mut expected = req.clone();
        let mut kept = 0;
        match &mut expected {
            Request::Traces(r) => {
                r.resource_spans.retain_mut(|rs| {
                    rs.scope_spans.retain_mut(|ss| {
                        ss.spans.retain_mut(|s| {
                            let (keep, replace) = decision(&s.trace_id);
                            if keep && replace {
                                s.trace_state = "edited".into();
                            }
                            kept += usize::from(keep);
                            keep
                        });
                        !ss.spans.is_empty()
                    });
                    !rs.scope_spans.is_empty()
                });
            }
            Request::Logs(r) => {
                r.resource_logs.retain_mut(|rl| {
                    rl.scope_logs.retain_mut(|sl| {
                        sl.log_records.retain_mut(|l| {
                            let (keep, replace) = decision(&l.span_id);
                            if keep && replace {
                                l.event_name = "edited".into();
                            }
                            kept += usize::from(keep);
                            keep
                        });
                        !sl.log_records.is_empty()
                    });
                    !rl.scope_logs.is_empty()
                });
            }
            _ => unreachable!(),
        }
        match edited {
            None => prop_assert_eq!(&expected, &req, "edit reported no change"),
            Some((out, n)) => {
                let got = Request::decode_proto(signal, out.clone()).unwrap();
                prop_assert_eq!(&got, &expected);
                prop_assert_eq!(n, kept);
                prop_assert_eq!(wire::validate(signal, &out), Ok(kept));
            }
        }
    }

    #[test]
    fn item_edit_of_arbitrary_bytes_never_panics(
        bytes in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        for signal in [Signal::Traces, Signal::Logs] {
            let _ = wire::edit_items(signal, &bytes, |item, out| {
                let _ = (item.attribute("a"), item.bytes_field(3));
                out.set_string_field(3, "x");
                wire::ItemDecision::Keep
            });
        }
    }
}

proptest! {
    /// `KeySet::contains` (length bitmap, word compares) is plain set membership.
    #[test]
    fn key_set_is_membership(
        keys in proptest::collection::vec("[ab.]{0,20}", 0..6),
        probe in "[ab.]{0,20}",
    ) {
        let set = KeySet::new(&keys);
        prop_assert_eq!(set.contains(probe.as_bytes()), keys.contains(&probe));
        for k in &keys {
            prop_assert!(set.contains(k.as_bytes()));
        }
    }
}
