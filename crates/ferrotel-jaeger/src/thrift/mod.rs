//! Jaeger over Thrift: jaeger.thrift and agent.thrift ([`jaeger`]) read with the shared bounded
//! protocol reader of `ferrotel-thrift` (re-exported here), and written back ([`encode`]) for
//! tests, the benchmark and fuzz seeds.

pub mod encode;
pub mod jaeger;
#[cfg(test)]
pub(crate) mod tests;

pub use ferrotel_thrift::*;
