//! The ferrotel collector runtime.
//!
//! - [`config`]: the OpenTelemetry Collector's YAML config — sources, merging, environment
//!   expansion, typed component configs with path-precise errors.
//! - [`component`]: one trait per component kind and one factory trait per kind.
//! - [`registry`]: the explicit list of component types in a binary.
//! - [`graph`]: validation of a config against the registry; pipeline ordering.
//! - [`service`]: building the pipelines, start, and draining shutdown.
//! - [`telemetry`]: the collector's own metrics (Prometheus) and logs.
//! - [`exporter_helper`]: the sending queue and retry every exporter can reuse.
//!
//! It knows nothing of any particular component; `ferrotel-components` provides those.

pub mod component;
pub mod config;
pub mod exporter_helper;
pub mod fanout;
pub mod graph;
pub mod processor_helper;
pub mod queue;
pub mod registry;
pub mod service;
pub mod telemetry;

pub use component::*;
pub use registry::Registry;
pub use service::Service;
pub use telemetry::Telemetry;
