//! Request generators for the three signals and the template pool the sender draws from.

mod logs;
mod metrics;
pub mod template;
mod traces;

use ferrotel_pdata::Signal;
use ferrotel_pdata::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use ferrotel_pdata::proto::resource::v1::Resource;
use prost::Message;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub use template::Template;

/// What the generated items look like.
#[derive(Debug, Clone)]
pub struct Shape {
    /// Extra string attributes per item (`attr.0`, `attr.1`, ...).
    pub attributes: usize,
    /// Length of each extra attribute's value.
    pub attribute_size: usize,
    /// Distinct resources (services); each request carries one.
    pub services: usize,
    /// Seed of the pseudo-random choices (tree shapes, values).
    pub seed: u64,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            attributes: 5,
            attribute_size: 20,
            services: 4,
            seed: 1,
        }
    }
}

/// Builds the encoded template of a request of `items` items for `service`.
pub fn build(signal: Signal, shape: &Shape, service: usize, items: usize) -> Template {
    let mut rng = StdRng::seed_from_u64(shape.seed ^ (service as u64).wrapping_mul(0x9E37));
    let bytes = match signal {
        Signal::Traces => traces::request(shape, service, items, &mut rng).encode_to_vec(),
        Signal::Metrics => metrics::request(shape, service, items, &mut rng).encode_to_vec(),
        Signal::Logs => logs::request(shape, service, items, &mut rng).encode_to_vec(),
        Signal::Profiles => panic!("profiles are not generated"),
    };
    Template::new(bytes, items)
}

/// One full-size template per service, rotated; smaller ones built on demand.
pub struct Pool {
    signal: Signal,
    shape: Shape,
    full: Vec<Template>,
}

impl Pool {
    /// Pre-generates a template of `batch` items for each service.
    pub fn new(signal: Signal, shape: Shape, batch: usize) -> Self {
        let full = (0..shape.services.max(1))
            .map(|s| build(signal, &shape, s, batch))
            .collect();
        Pool {
            signal,
            shape,
            full,
        }
    }

    /// The template for request number `k` with `items` items.
    pub fn get(&self, k: u64, items: usize) -> std::borrow::Cow<'_, Template> {
        let service = (k % self.full.len() as u64) as usize;
        let t = &self.full[service];
        if t.items() == items {
            std::borrow::Cow::Borrowed(t)
        } else {
            std::borrow::Cow::Owned(build(self.signal, &self.shape, service, items))
        }
    }

    /// Encoded size of a full request.
    pub fn request_size(&self) -> usize {
        self.full[0].len()
    }
}

pub(crate) fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

pub(crate) fn s(key: &str, value: impl Into<String>) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.into()))
}

pub(crate) fn i(key: &str, value: i64) -> KeyValue {
    kv(key, any_value::Value::IntValue(value))
}

/// `n` attributes `attr.{i}` with random alphanumeric values of `size` characters.
pub(crate) fn extra_attributes(shape: &Shape, rng: &mut StdRng) -> Vec<KeyValue> {
    (0..shape.attributes)
        .map(|n| s(&format!("attr.{n}"), random_text(rng, shape.attribute_size)))
        .collect()
}

pub(crate) fn random_text(rng: &mut StdRng, len: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..len)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// Random bytes that are never zero and never look like a placeholder.
pub(crate) fn random_id(rng: &mut StdRng, len: usize) -> Vec<u8> {
    (0..len).map(|_| rng.random_range(1..=0x7f)).collect()
}

pub(crate) fn resource(service: usize) -> Resource {
    Resource {
        attributes: vec![
            s("service.name", format!("loadgen-service-{service}")),
            s("service.namespace", "ferrotel-bench"),
            s("service.version", "1.4.2"),
            s("service.instance.id", format!("instance-{service:04}")),
            s("host.name", format!("host-{}", service % 16)),
            s("deployment.environment.name", "benchmark"),
            s("telemetry.sdk.name", "opentelemetry"),
            s("telemetry.sdk.language", "rust"),
            s("telemetry.sdk.version", "0.30.0"),
        ],
        ..Default::default()
    }
}

pub(crate) fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "ferrotel-loadgen".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        attributes: Vec::new(),
        dropped_attributes_count: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{for_each_id, make_id};

    #[test]
    fn every_item_gets_a_unique_id_and_the_request_validates() {
        for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
            let t = build(signal, &Shape::default(), 0, 37);
            let bytes = t.instantiate(7, 1000, 1_700_000_000_000_000_000);
            let n = ferrotel_pdata::wire::validate(signal, &bytes).expect("valid");
            assert_eq!(n, 37, "{signal}");
            let mut ids = Vec::new();
            for_each_id(signal, &bytes, |id| ids.push(id.expect("id")));
            let want: Vec<u64> = (0..37).map(|i| make_id(7, 1000 + i)).collect();
            assert_eq!(ids, want, "{signal}");
        }
    }
}
