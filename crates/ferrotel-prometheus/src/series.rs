//! What every OTLP → Prometheus component shares: attribute values as label values, the
//! `job`/`instance` labels from a resource, `target_info`, and a data point's label set.

use ferrotel_pdata::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use ferrotel_pdata::proto::resource::v1::Resource;

use crate::naming::{TranslationStrategy, label_name};

/// A label set, sorted by name, names unique.
pub type Labels = Vec<(String, String)>;

/// The value bit pattern Prometheus reads as a staleness marker.
pub const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// An attribute value as Prometheus label text (strings as they are, arrays and maps as JSON,
/// like the Go translator's `AsString`).
pub fn value_text(v: Option<&AnyValue>) -> String {
    use any_value::Value;
    match v.and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(Value::BytesValue(b)) => {
            use base64_like::encode;
            encode(b)
        }
        Some(Value::ArrayValue(a)) => {
            serde_json::Value::Array(a.values.iter().map(json).collect()).to_string()
        }
        Some(Value::KvlistValue(kv)) => serde_json::Value::Object(
            kv.values
                .iter()
                .map(|kv| {
                    (
                        kv.key.clone(),
                        kv.value.as_ref().map(json).unwrap_or_default(),
                    )
                })
                .collect(),
        )
        .to_string(),
        #[allow(unreachable_patterns)]
        Some(_) => String::new(),
    }
}

fn json(v: &AnyValue) -> serde_json::Value {
    use any_value::Value;
    match &v.value {
        Some(Value::StringValue(s)) => s.clone().into(),
        Some(Value::BoolValue(b)) => (*b).into(),
        Some(Value::IntValue(i)) => (*i).into(),
        Some(Value::DoubleValue(d)) => (*d).into(),
        _ => value_text(Some(v)).into(),
    }
}

/// Bytes as standard base64 (as Go's `AsString` does), without pulling a crate for it.
mod base64_like {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    pub fn encode(b: &[u8]) -> String {
        let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
        for chunk in b.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, &x)| n | (x as u32) << (16 - 8 * i));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
}

/// `job` (`service.namespace/service.name`, or `service.name`) and `instance`
/// (`service.instance.id`) of a resource, as the spec says; empty when absent.
pub fn job_instance(resource: Option<&Resource>) -> (String, String) {
    let attrs = resource
        .map(|r| r.attributes.as_slice())
        .unwrap_or_default();
    let name = attr(attrs, "service.name").map(|v| value_text(Some(v)));
    let ns = attr(attrs, "service.namespace").map(|v| value_text(Some(v)));
    let job = match (ns, name) {
        (Some(ns), Some(n)) if !ns.is_empty() => format!("{ns}/{n}"),
        (_, Some(n)) => n,
        _ => String::new(),
    };
    let instance = attr(attrs, "service.instance.id")
        .map(|v| value_text(Some(v)))
        .unwrap_or_default();
    (job, instance)
}

/// The resource attributes that become `job` and `instance`, left out of `target_info`.
const IDENTIFYING: [&str; 3] = ["service.name", "service.namespace", "service.instance.id"];

/// How the labels of a point are made.
#[derive(Debug, Clone, Copy, Default)]
pub struct LabelOptions {
    pub strategy: TranslationStrategy,
    /// `resource_to_telemetry_conversion`: every resource attribute on every series.
    pub resource_to_telemetry: bool,
    /// `otel_scope_name` / `otel_scope_version` labels (Go's default; `without_scope_info`).
    pub scope_info: bool,
}

/// Sorts and merges labels; names that collide after sanitisation join their values with `;`
/// (as the Go translator does), the first occurrence's position kept.
pub fn normalize(mut labels: Labels) -> Labels {
    labels.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Labels = Vec::with_capacity(labels.len());
    for (k, v) in labels {
        match out.last_mut() {
            Some(last) if last.0 == k => {
                if !v.is_empty() {
                    if !last.1.is_empty() {
                        last.1.push(';');
                    }
                    last.1.push_str(&v);
                }
            }
            _ => out.push((k, v)),
        }
    }
    out.retain(|(_, v)| !v.is_empty());
    out
}

/// The labels every series of one resource and scope carries (`job`, `instance`, resource
/// attributes if converted, scope info, then `extra` — const or external labels — which win).
pub fn base_labels(
    resource: Option<&Resource>,
    scope: Option<&InstrumentationScope>,
    opts: &LabelOptions,
    extra: &[(String, String)],
) -> Labels {
    let mut labels: Labels = Vec::new();
    if opts.resource_to_telemetry
        && let Some(r) = resource
    {
        for kv in &r.attributes {
            labels.push((
                label_name(&kv.key, opts.strategy).into_owned(),
                value_text(kv.value.as_ref()),
            ));
        }
    }
    let (job, instance) = job_instance(resource);
    labels.retain(|(k, _)| k != "job" && k != "instance");
    labels.push(("job".into(), job));
    labels.push(("instance".into(), instance));
    if opts.scope_info
        && let Some(s) = scope
    {
        labels.push(("otel_scope_name".into(), s.name.clone()));
        labels.push(("otel_scope_version".into(), s.version.clone()));
    }
    let mut labels = normalize(labels);
    for (k, v) in extra {
        let k = label_name(k, opts.strategy).into_owned();
        labels.retain(|(n, _)| *n != k);
        labels.push((k, v.clone()));
    }
    labels.sort_by(|a, b| a.0.cmp(&b.0));
    labels
}

/// The labels of `target_info` for a resource: `job`, `instance` and every other attribute;
/// `None` when the resource has nothing beyond what `job` and `instance` carry.
pub fn target_info_labels(
    resource: Option<&Resource>,
    strategy: TranslationStrategy,
    extra: &[(String, String)],
) -> Option<Labels> {
    let r = resource?;
    let mut labels: Labels = r
        .attributes
        .iter()
        .filter(|kv| !IDENTIFYING.contains(&kv.key.as_str()))
        .map(|kv| {
            (
                label_name(&kv.key, strategy).into_owned(),
                value_text(kv.value.as_ref()),
            )
        })
        .collect();
    if labels.is_empty() {
        return None;
    }
    let (job, instance) = job_instance(resource);
    labels.retain(|(k, _)| k != "job" && k != "instance");
    labels.push(("job".into(), job));
    labels.push(("instance".into(), instance));
    let mut labels = normalize(labels);
    for (k, v) in extra {
        let k = label_name(k, strategy).into_owned();
        labels.retain(|(n, _)| *n != k);
        labels.push((k, v.clone()));
    }
    labels.sort_by(|a, b| a.0.cmp(&b.0));
    Some(labels)
}

/// A point's labels: its attributes (sanitised) over `base`; base labels win over attributes
/// of the same name, as resource and const labels do in Go.
pub fn point_labels(base: &Labels, attrs: &[KeyValue], strategy: TranslationStrategy) -> Labels {
    if attrs.is_empty() {
        return base.clone();
    }
    let mut labels: Labels = attrs
        .iter()
        .map(|kv| {
            (
                label_name(&kv.key, strategy).into_owned(),
                value_text(kv.value.as_ref()),
            )
        })
        .filter(|(k, _)| base.binary_search_by(|(b, _)| b.as_str().cmp(k)).is_err())
        .collect();
    labels.extend(base.iter().cloned());
    normalize(labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrotel_pdata::proto::common::v1::any_value::Value;

    pub(crate) fn kv(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(Value::StringValue(v.into())),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn job_instance_and_target_info() {
        let r = Resource {
            attributes: vec![
                kv("service.name", "api"),
                kv("service.namespace", "shop"),
                kv("service.instance.id", "i-1"),
                kv("host.name", "h1"),
            ],
            ..Default::default()
        };
        assert_eq!(job_instance(Some(&r)), ("shop/api".into(), "i-1".into()));
        let ti = target_info_labels(Some(&r), TranslationStrategy::default(), &[]).unwrap();
        assert_eq!(
            ti,
            vec![
                ("host_name".to_string(), "h1".to_string()),
                ("instance".into(), "i-1".into()),
                ("job".into(), "shop/api".into())
            ]
        );
        let only_ids = Resource {
            attributes: vec![kv("service.name", "api")],
            ..Default::default()
        };
        assert!(target_info_labels(Some(&only_ids), TranslationStrategy::default(), &[]).is_none());
    }

    #[test]
    fn point_labels_merge_and_collide() {
        let base = base_labels(
            None,
            None,
            &LabelOptions::default(),
            &[("env".into(), "prod".into())],
        );
        let l = point_labels(
            &base,
            &[
                kv("a.b", "1"),
                kv("a_b", "2"),
                kv("env", "dev"),
                kv("empty", ""),
            ],
            TranslationStrategy::default(),
        );
        assert_eq!(
            l,
            vec![
                ("a_b".to_string(), "1;2".to_string()),
                ("env".into(), "prod".into())
            ]
        );
    }

    #[test]
    fn values() {
        assert_eq!(base64_like::encode(b"hello"), "aGVsbG8=");
        let arr = AnyValue {
            value: Some(Value::ArrayValue(
                ferrotel_pdata::proto::common::v1::ArrayValue {
                    values: vec![AnyValue {
                        value: Some(Value::IntValue(1)),
                    }],
                },
            )),
        };
        assert_eq!(value_text(Some(&arr)), "[1]");
    }
}
