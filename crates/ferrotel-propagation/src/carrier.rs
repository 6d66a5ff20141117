//! Carriers: `http::HeaderMap` (hyper, axum, reqwest, tonic's `into_headers`) and, with the
//! `tonic` feature, tonic's `MetadataMap`.

use http::header::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector};

/// Injects into a `HeaderMap`; a key or value that is not a valid header is skipped (nothing a
/// propagator writes is, but custom baggage could be).
#[derive(Debug)]
pub struct HeaderInjector<'a>(pub &'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::try_from(value),
        ) {
            self.0.insert(name, value);
        }
    }

    fn reserve(&mut self, additional: usize) {
        self.0.reserve(additional);
    }
}

/// Extracts from a `HeaderMap`. Header names are case-insensitive; values that are not visible
/// ASCII read as absent. `get_all` returns every field of a name, so W3C Trace Context sees a
/// duplicated `traceparent`.
#[derive(Debug, Clone, Copy)]
pub struct HeaderExtractor<'a>(pub &'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let all: Vec<&str> = self
            .0
            .get_all(key)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!all.is_empty()).then_some(all)
    }
}

#[cfg(feature = "tonic")]
mod tonic_carrier {
    use opentelemetry::propagation::{Extractor, Injector};
    use tonic::metadata::{KeyAndValueRef, MetadataKey, MetadataMap, MetadataValue};

    /// Injects into tonic's `MetadataMap` (ASCII entries).
    #[derive(Debug)]
    pub struct MetadataInjector<'a>(pub &'a mut MetadataMap);

    impl Injector for MetadataInjector<'_> {
        fn set(&mut self, key: &str, value: String) {
            if let (Ok(key), Ok(value)) = (
                MetadataKey::from_bytes(key.as_bytes()),
                MetadataValue::try_from(value.as_str()),
            ) {
                self.0.insert(key, value);
            }
        }
    }

    /// Extracts from tonic's `MetadataMap` (ASCII entries; binary `-bin` ones are skipped).
    #[derive(Debug, Clone, Copy)]
    pub struct MetadataExtractor<'a>(pub &'a MetadataMap);

    impl Extractor for MetadataExtractor<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }

        fn keys(&self) -> Vec<&str> {
            self.0
                .iter()
                .filter_map(|kv| match kv {
                    KeyAndValueRef::Ascii(k, _) => Some(k.as_str()),
                    KeyAndValueRef::Binary(..) => None,
                })
                .collect()
        }

        fn get_all(&self, key: &str) -> Option<Vec<&str>> {
            let all: Vec<&str> = self
                .0
                .get_all(key)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            (!all.is_empty()).then_some(all)
        }
    }
}

#[cfg(feature = "tonic")]
pub use tonic_carrier::{MetadataExtractor, MetadataInjector};
