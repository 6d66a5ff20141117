//! `resource_detection` processor (alias `resourcedetection`, the Go Collector's older name):
//! detects the host's and platform's resource attributes once at start — detectors `env`,
//! `system`, `docker`, `ec2`, `gcp`, `azure`, `eks`, `aks` — and sets them on every resource of
//! every signal, replacing existing values unless `override: false`.
//!
//! The detected attributes become `upsert` (or `insert`) actions of the `resource` processor's
//! engine, so an encoded request is edited on the wire like there. All pipelines of one
//! configured processor share one detection.

pub mod cloud;
pub mod config;
pub mod detect;
pub mod docker;
pub mod env;
mod http;
pub mod system;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use ferrotel_pdata::wire::AttrTarget;
use ferrotel_pdata::{Payload, Request, Signal};
use ferrotel_runtime::telemetry::obs::ProcessorObs;
use ferrotel_runtime::*;
use tokio::sync::OnceCell;

use crate::processors::attributes::{ActionKeyValue, AttrActions};
use crate::processors::resource::resource_attrs;
use config::Detector;
pub use config::ResourceDetectionConfig;
use detect::{AttrValue, Sources};

/// Factory of the `resource_detection` processor.
pub struct ResourceDetectionFactory;

impl ProcessorFactory for ResourceDetectionFactory {
    type Config = ResourceDetectionConfig;

    fn info(&self) -> FactoryInfo {
        FactoryInfo::new(
            "resource_detection",
            "Detects host and cloud resource attributes at start and sets them on all data",
        )
        .aliases(&["resourcedetection"])
        .signal(Signal::Traces, Stability::Beta)
        .signal(Signal::Metrics, Stability::Beta)
        .signal(Signal::Logs, Stability::Beta)
        .signal(Signal::Profiles, Stability::Development)
    }

    fn create(
        &self,
        ctx: CreateContext,
        config: Self::Config,
        signal: Signal,
        next: ConsumerRef,
    ) -> Result<Arc<dyn Processor>, ComponentError> {
        Ok(Arc::new(ResourceDetectionProcessor::build(
            &ctx, config, signal, next,
        )?))
    }
}

/// The detection of one configured processor, shared by its pipelines: the first to start
/// runs it, the others reuse the result.
struct Shared {
    result: OnceCell<Result<Detected, String>>,
}

/// What detection produced, compiled for the per-request path.
struct Detected {
    /// The detected attributes, in merge order (for tests and logs).
    attrs: Vec<(String, AttrValue)>,
    /// `upsert`/`insert` actions writing them; `None` when nothing was detected.
    actions: Option<AttrActions>,
}

/// Live detections by component id and config; weak so a rebuilt collector detects again.
fn registry() -> &'static Mutex<HashMap<String, Weak<Shared>>> {
    static MAP: OnceLock<Mutex<HashMap<String, Weak<Shared>>>> = OnceLock::new();
    MAP.get_or_init(Default::default)
}

fn shared_for(key: String) -> Arc<Shared> {
    let mut map = registry().lock().unwrap_or_else(|p| p.into_inner());
    map.retain(|_, w| w.strong_count() > 0);
    if let Some(s) = map.get(&key).and_then(Weak::upgrade) {
        return s;
    }
    let s = Arc::new(Shared {
        result: OnceCell::new(),
    });
    map.insert(key, Arc::downgrade(&s));
    s
}

/// The `resource_detection` processor of one pipeline.
pub struct ResourceDetectionProcessor {
    config: ResourceDetectionConfig,
    detectors: Vec<Detector>,
    sources: Sources,
    shared: Arc<Shared>,
    next: ConsumerRef,
    obs: ProcessorObs,
}

impl ResourceDetectionProcessor {
    /// Checks the config and prepares detection (which runs at start).
    pub fn build(
        ctx: &CreateContext,
        config: ResourceDetectionConfig,
        signal: Signal,
        next: ConsumerRef,
    ) -> Result<Self, ComponentError> {
        Self::build_with(ctx, config, signal, next, Sources::from_env())
    }

    /// [`build`](Self::build) with the metadata endpoints and Docker socket given (tests).
    pub fn build_with(
        ctx: &CreateContext,
        config: ResourceDetectionConfig,
        signal: Signal,
        next: ConsumerRef,
        sources: Sources,
    ) -> Result<Self, ComponentError> {
        let detectors = config
            .parsed_detectors()
            .map_err(|e| ComponentError::new(e.to_string()))?;
        let pipeline = ctx
            .pipeline
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_default();
        let shared = shared_for(format!("{}\u{0}{config:?}\u{0}{sources:?}", ctx.id));
        Ok(ResourceDetectionProcessor {
            config,
            detectors,
            sources,
            shared,
            next,
            obs: ProcessorObs::new(&ctx.telemetry, &ctx.id.to_string(), &pipeline, signal),
        })
    }

    /// Runs detection (once per configured processor) and compiles the actions.
    async fn detect(&self) -> Result<&Detected, String> {
        let result = self
            .shared
            .result
            .get_or_init(|| async {
                let attrs =
                    detect::detect_all(&self.config, &self.detectors, &self.sources).await?;
                tracing::info!(
                    resource = ?attrs.iter().map(|(k, v)| (k.as_str(), v.to_json())).collect::<Vec<_>>(),
                    "resource_detection: detected resource information"
                );
                let action = if self.config.override_ { "upsert" } else { "insert" };
                let settings: Vec<ActionKeyValue> = attrs
                    .iter()
                    .map(|(k, v)| ActionKeyValue {
                        key: k.clone(),
                        value: Some(v.to_json()),
                        action: action.to_owned(),
                        ..Default::default()
                    })
                    .collect();
                let actions = if settings.is_empty() {
                    None
                } else {
                    Some(AttrActions::new(&settings)?)
                };
                Ok(Detected { attrs, actions })
            })
            .await;
        result.as_ref().map_err(Clone::clone)
    }

    /// The detected attributes (after start), in merge order.
    pub fn detected(&self) -> Option<&[(String, AttrValue)]> {
        match self.shared.result.get() {
            Some(Ok(d)) => Some(&d.attrs),
            _ => None,
        }
    }

    fn actions(&self) -> Option<&AttrActions> {
        match self.shared.result.get() {
            Some(Ok(d)) => d.actions.as_ref(),
            _ => None,
        }
    }

    /// Sets the detected attributes on every resource of a decoded request.
    pub fn apply(&self, request: &mut Request, ctx: &Context) {
        if let Some(actions) = self.actions() {
            let bound = actions.bind(ctx);
            resource_attrs(request, |attrs| bound.apply(attrs));
        }
    }

    /// Sets them on the encoded bytes when the payload is still encoded; false if the caller
    /// must decode (a decoded payload, profiles).
    pub fn apply_encoded(&self, payload: &mut Payload, ctx: &Context) -> bool {
        match self.actions() {
            Some(actions) => actions.apply_encoded(payload, AttrTarget::Resources, ctx),
            None => true,
        }
    }
}

impl Consumer for ResourceDetectionProcessor {
    fn consume(
        &self,
        mut payload: Payload,
        ctx: Context,
    ) -> BoxFuture<'_, Result<(), ConsumeError>> {
        let done_on_wire = self.apply_encoded(&mut payload, &ctx);
        Box::pin(ferrotel_runtime::processor_helper::edit_then_forward(
            "resource_detection",
            &self.obs,
            self.next.as_ref(),
            payload,
            ctx,
            !done_on_wire,
            |req, ctx| {
                self.apply(req, ctx);
                Ok(())
            },
        ))
    }

    /// Passes the question on: a `memory_limiter` may come after this processor.
    fn admit(&self, signal: Signal) -> Result<(), ConsumeError> {
        self.next.admit(signal)
    }
}

impl Lifecycle for ResourceDetectionProcessor {
    /// Detection, bounded by `timeout`; a failed detector fails the start, as in Go.
    fn start(&self) -> BoxFuture<'_, Result<(), ComponentError>> {
        Box::pin(async move { self.detect().await.map(|_| ()).map_err(ComponentError::new) })
    }
}

impl Processor for ResourceDetectionProcessor {}

#[cfg(test)]
mod tests;
