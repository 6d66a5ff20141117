//! [`Payload`]: the unit of data that flows through a pipeline.

use std::sync::Arc;

use bytes::Bytes;
use prost::Message;

use crate::proto::collector::logs::v1::ExportLogsServiceRequest;
use crate::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use crate::proto::collector::profiles::v1development::ExportProfilesServiceRequest;
use crate::proto::collector::trace::v1::ExportTraceServiceRequest;
use crate::{DecodeError, Signal, wire};

/// A fully decoded export request of one signal.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Traces(ExportTraceServiceRequest),
    Metrics(ExportMetricsServiceRequest),
    Logs(ExportLogsServiceRequest),
    Profiles(ExportProfilesServiceRequest),
}

impl Request {
    pub fn signal(&self) -> Signal {
        match self {
            Request::Traces(_) => Signal::Traces,
            Request::Metrics(_) => Signal::Metrics,
            Request::Logs(_) => Signal::Logs,
            Request::Profiles(_) => Signal::Profiles,
        }
    }

    /// An empty request of `signal`.
    pub fn empty(signal: Signal) -> Self {
        match signal {
            Signal::Traces => Request::Traces(Default::default()),
            Signal::Metrics => Request::Metrics(Default::default()),
            Signal::Logs => Request::Logs(Default::default()),
            Signal::Profiles => Request::Profiles(Default::default()),
        }
    }

    /// Decodes protobuf bytes with prost. Prefer [`Payload::from_proto`], which validates
    /// with a path-precise error first.
    pub fn decode_proto(signal: Signal, bytes: Bytes) -> Result<Self, DecodeError> {
        let err = |e: prost::DecodeError| DecodeError::new("", e.to_string());
        Ok(match signal {
            Signal::Traces => {
                Request::Traces(ExportTraceServiceRequest::decode(bytes).map_err(err)?)
            }
            Signal::Metrics => {
                Request::Metrics(ExportMetricsServiceRequest::decode(bytes).map_err(err)?)
            }
            Signal::Logs => Request::Logs(ExportLogsServiceRequest::decode(bytes).map_err(err)?),
            Signal::Profiles => {
                Request::Profiles(ExportProfilesServiceRequest::decode(bytes).map_err(err)?)
            }
        })
    }

    /// Encodes to protobuf.
    pub fn encode_proto(&self) -> Bytes {
        match self {
            Request::Traces(r) => r.encode_to_vec(),
            Request::Metrics(r) => r.encode_to_vec(),
            Request::Logs(r) => r.encode_to_vec(),
            Request::Profiles(r) => r.encode_to_vec(),
        }
        .into()
    }

    /// The number of items: spans, metric data points, log records or profiles.
    pub fn item_count(&self) -> usize {
        match self {
            Request::Traces(r) => r
                .resource_spans
                .iter()
                .flat_map(|rs| &rs.scope_spans)
                .map(|ss| ss.spans.len())
                .sum(),
            Request::Metrics(r) => r
                .resource_metrics
                .iter()
                .flat_map(|rm| &rm.scope_metrics)
                .flat_map(|sm| &sm.metrics)
                .map(metric_point_count)
                .sum(),
            Request::Logs(r) => r
                .resource_logs
                .iter()
                .flat_map(|rl| &rl.scope_logs)
                .map(|sl| sl.log_records.len())
                .sum(),
            Request::Profiles(r) => r
                .resource_profiles
                .iter()
                .flat_map(|rp| &rp.scope_profiles)
                .map(|sp| sp.profiles.len())
                .sum(),
        }
    }
}

/// Data points of one metric, as the collector counts them.
pub fn metric_point_count(m: &crate::proto::metrics::v1::Metric) -> usize {
    use crate::proto::metrics::v1::metric::Data;
    match &m.data {
        Some(Data::Gauge(g)) => g.data_points.len(),
        Some(Data::Sum(s)) => s.data_points.len(),
        Some(Data::Histogram(h)) => h.data_points.len(),
        Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(Data::Summary(s)) => s.data_points.len(),
        None => 0,
    }
}

#[derive(Debug, Clone)]
enum Repr {
    /// Validated protobuf bytes of the export request.
    Encoded(Bytes),
    /// Decoded request, shared between fan-out branches; copied on first write.
    Decoded(Arc<Request>),
}

/// A batch of telemetry of one signal, as it moves through a pipeline.
///
/// Cloning is cheap in both forms (a reference count), which is how fan-out hands the same data
/// to several exporters. A component that modifies data calls [`Payload::modify`], which decodes
/// if needed and copies only if another branch still holds the same data.
#[derive(Debug, Clone)]
pub struct Payload {
    signal: Signal,
    items: usize,
    repr: Repr,
    /// The zstd stream the encoded bytes were decompressed from, kept while they are unchanged
    /// and undecoded: an exporter that compresses with zstd sends it instead of compressing
    /// again. zstd frames concatenate into a valid stream (RFC 8878), which is how merged
    /// payloads keep theirs; gzip members concatenate too, but common single-member readers
    /// (flate2's `GzDecoder`, so tonic) would stop after the first, so gzip is not kept.
    zstd: Option<Bytes>,
}

impl Payload {
    /// Takes protobuf bytes as received, validating them (wire structure, UTF-8 strings, id
    /// lengths, nesting depth) and counting items in one pass, without decoding.
    pub fn from_proto(signal: Signal, bytes: Bytes) -> Result<Self, DecodeError> {
        let items = wire::validate(signal, &bytes)?;
        Ok(Payload {
            signal,
            items,
            repr: Repr::Encoded(bytes),
            zstd: None,
        })
    }

    /// Takes protobuf bytes a component encoded itself (a receiver writing OTLP straight
    /// from its input) with their item count, without [`Payload::from_proto`]'s validation
    /// pass, which would read every byte just written. Debug builds still validate and
    /// check the count, so an encoder's bug fails its tests.
    pub fn from_encoded(signal: Signal, bytes: Bytes, items: usize) -> Self {
        debug_assert_eq!(wire::validate(signal, &bytes).ok(), Some(items));
        Payload {
            signal,
            items,
            repr: Repr::Encoded(bytes),
            zstd: None,
        }
    }

    /// Wraps a decoded request.
    pub fn from_request(request: Request) -> Self {
        Payload {
            signal: request.signal(),
            items: request.item_count(),
            repr: Repr::Decoded(Arc::new(request)),
            zstd: None,
        }
    }

    /// An empty payload of `signal`.
    pub fn empty(signal: Signal) -> Self {
        Payload {
            signal,
            items: 0,
            repr: Repr::Encoded(Bytes::new()),
            zstd: None,
        }
    }

    pub fn signal(&self) -> Signal {
        self.signal
    }

    /// Spans, metric data points, log records or profiles in this payload.
    pub fn items(&self) -> usize {
        self.items
    }

    pub fn is_empty(&self) -> bool {
        self.items == 0
    }

    /// Whether the payload is still in its encoded form (nothing has decoded it).
    pub fn is_encoded(&self) -> bool {
        matches!(self.repr, Repr::Encoded(_))
    }

    /// The protobuf encoding of the request: free when nothing decoded the payload.
    pub fn to_proto(&self) -> Bytes {
        match &self.repr {
            Repr::Encoded(b) => b.clone(),
            Repr::Decoded(r) => r.encode_proto(),
        }
    }

    /// Remembers `stream`, the zstd stream these encoded bytes were decompressed from (a
    /// receiver's input), for [`Payload::zstd_source`]. Ignored on a decoded payload.
    pub fn with_zstd_source(mut self, stream: Bytes) -> Self {
        if matches!(self.repr, Repr::Encoded(_)) {
            self.zstd = Some(stream);
        }
        self
    }

    /// A zstd stream that decompresses to exactly [`Payload::to_proto`]'s bytes: what the
    /// receiver got, or the concatenation of what it got for merged payloads. `None` once
    /// anything decoded, edited or split the payload.
    pub fn zstd_source(&self) -> Option<&Bytes> {
        self.zstd.as_ref()
    }

    /// The encoded bytes, if the payload was never decoded.
    pub fn as_encoded(&self) -> Option<&Bytes> {
        match &self.repr {
            Repr::Encoded(b) => Some(b),
            Repr::Decoded(_) => None,
        }
    }

    /// The decoded request, for reading. Decodes (and keeps the decoded form) if needed.
    pub fn request(&mut self) -> Result<&Request, DecodeError> {
        self.ensure_decoded()?;
        match &self.repr {
            Repr::Decoded(r) => Ok(r),
            Repr::Encoded(_) => unreachable!("ensure_decoded leaves a decoded payload"),
        }
    }

    /// A decoded copy of the request without changing this payload's form.
    pub fn to_request(&self) -> Result<Request, DecodeError> {
        match &self.repr {
            Repr::Encoded(b) => Request::decode_proto(self.signal, b.clone()),
            Repr::Decoded(r) => Ok((**r).clone()),
        }
    }

    /// Runs `f` on the decoded request, decoding first and copying only if the data is shared
    /// with another fan-out branch; recounts the items afterwards.
    pub fn modify<R>(&mut self, f: impl FnOnce(&mut Request) -> R) -> Result<R, DecodeError> {
        self.ensure_decoded()?;
        let Repr::Decoded(arc) = &mut self.repr else {
            unreachable!()
        };
        let request = Arc::make_mut(arc);
        let out = f(request);
        self.items = request.item_count();
        Ok(out)
    }

    /// Edits attribute lists on the encoded bytes with [`wire::edit_attributes`] when the
    /// payload was never decoded. Returns false, leaving the payload untouched, when it is
    /// decoded or the wire edit does not apply; the caller then edits with [`Payload::modify`].
    /// Shared bytes are never written: the edit builds new ones. `filter` says which
    /// attributes the edit can touch (the others are not parsed).
    pub fn edit_attributes_encoded(
        &mut self,
        target: wire::AttrTarget,
        filter: &wire::KeyFilter,
        edit: impl FnMut(&mut wire::WireAttrs<'_>),
    ) -> bool {
        let Repr::Encoded(bytes) = &self.repr else {
            return false;
        };
        match wire::edit_attributes_of(self.signal, bytes, target, filter, edit) {
            Ok(Some(new)) => {
                // Attribute edits never add or remove items, so the count stands.
                self.repr = Repr::Encoded(new);
                self.zstd = None;
                true
            }
            Ok(None) => true,
            Err(_) => false,
        }
    }

    /// Keeps or drops items on the encoded bytes with [`wire::edit_items`] when the payload was
    /// never decoded; returns false, leaving the payload untouched, when the caller must decode
    /// and use [`Payload::modify`] instead. The item count follows the decisions.
    pub fn edit_items_encoded(
        &mut self,
        decide: impl FnMut(&wire::ItemView<'_>, &mut wire::ItemOut<'_>) -> wire::ItemDecision,
    ) -> bool {
        let Repr::Encoded(bytes) = &self.repr else {
            return false;
        };
        match wire::edit_items(self.signal, bytes, decide) {
            Ok(Some((new, kept))) => {
                self.repr = Repr::Encoded(new);
                self.items = kept;
                self.zstd = None;
                true
            }
            Ok(None) => true,
            Err(_) => false,
        }
    }

    /// Takes the decoded request out of the payload (copying only if it is shared).
    pub fn into_request(self) -> Result<Request, DecodeError> {
        match self.repr {
            Repr::Encoded(b) => Request::decode_proto(self.signal, b),
            Repr::Decoded(arc) => Ok(Arc::unwrap_or_clone(arc)),
        }
    }

    fn ensure_decoded(&mut self) -> Result<(), DecodeError> {
        if let Repr::Encoded(b) = &self.repr {
            let request = Request::decode_proto(self.signal, b.clone())?;
            self.repr = Repr::Decoded(Arc::new(request));
            // Encoded again, the bytes may differ (unknown fields, field order): the source
            // no longer matches them.
            self.zstd = None;
        }
        Ok(())
    }

    /// Splits into payloads of at most `max_items` items each (shallow when encoded).
    pub fn split(self, max_items: usize) -> Result<Vec<Payload>, DecodeError> {
        if max_items == 0 || self.items <= max_items {
            return Ok(vec![self]);
        }
        let signal = self.signal;
        let bytes = self.to_proto();
        wire::split(signal, &bytes, max_items)?
            .into_iter()
            .map(|b| {
                let items = wire::count(signal, &b)?;
                Ok(Payload {
                    signal,
                    items,
                    repr: Repr::Encoded(b),
                    zstd: None,
                })
            })
            .collect()
    }

    /// Merges payloads of one signal into one (shallow: encoded requests are concatenated).
    ///
    /// # Panics
    /// If the payloads are not all of `signal`: that is a pipeline wiring bug, not bad input.
    pub fn merge(signal: Signal, parts: Vec<Payload>) -> Result<Payload, DecodeError> {
        assert!(
            parts.iter().all(|p| p.signal == signal),
            "merge of mixed signals"
        );
        if parts.len() == 1 {
            return Ok(parts.into_iter().next().unwrap());
        }
        let items = parts.iter().map(|p| p.items).sum();
        let encoded: Vec<Bytes> = parts.iter().map(Payload::to_proto).collect();
        let bytes = wire::merge(signal, &encoded)?;
        // The requests concatenate (profiles excepted), and so do their zstd streams.
        let zstd = if signal != Signal::Profiles && parts.iter().all(|p| p.zstd.is_some()) {
            let mut all =
                Vec::with_capacity(parts.iter().flat_map(|p| &p.zstd).map(Bytes::len).sum());
            for z in parts.iter().flat_map(|p| &p.zstd) {
                all.extend_from_slice(z);
            }
            Some(Bytes::from(all))
        } else {
            None
        };
        Ok(Payload {
            signal,
            items,
            repr: Repr::Encoded(bytes),
            zstd,
        })
    }
}
