//! The filter's span conditions on the encoded request: when every condition of a traces
//! filter reads only what a span's encoding gives without decoding (see
//! [`ferrotel_ottl::wire`]), spans are dropped by cutting their bytes out
//! ([`Payload::edit_items_encoded`]), and scopes and resources left without spans go with
//! them, as the decoded walk prunes them. Decided once when the processor is built; any other
//! configuration (other contexts, converters, conditions that can fail, the legacy form) runs
//! on the decoded request, which stays the reference.

use ferrotel_ottl::Ctx;
use ferrotel_ottl::wire::SpanCondition;
use ferrotel_pdata::wire::{ItemDecision, ItemView};
use ferrotel_pdata::{Payload, Signal};

use super::config::CompiledGroup;

/// Every span condition of a traces filter, compiled for encoded spans.
#[derive(Debug)]
pub struct WireFilter {
    conditions: Vec<SpanCondition>,
}

impl WireFilter {
    /// The wire form of `groups`, if they are all span conditions readable on the wire.
    /// Conditions on the wire never fail, so the groups' error modes do not matter, and a span
    /// is dropped if any condition of any group holds, as the groups run one after the other.
    pub fn compile(signal: Signal, groups: &[CompiledGroup]) -> Option<WireFilter> {
        if signal != Signal::Traces || groups.is_empty() {
            return None;
        }
        let mut conditions = Vec::new();
        for g in groups {
            if g.ctx != Ctx::Span {
                return None;
            }
            for c in &g.conditions {
                conditions.push(SpanCondition::compile(c.getter())?);
            }
        }
        Some(WireFilter { conditions })
    }

    /// Whether the filter drops `span`.
    #[inline]
    pub fn drops(&self, span: &ItemView<'_>) -> bool {
        self.conditions.iter().any(|c| c.eval(span))
    }

    /// Drops the matching spans of an encoded payload; false, leaving it untouched, when the
    /// payload is decoded or not a well-formed request (the caller filters it decoded).
    pub fn apply(&self, payload: &mut Payload) -> bool {
        payload.edit_items_encoded(|span, _| {
            if self.drops(span) {
                ItemDecision::Drop
            } else {
                ItemDecision::Keep
            }
        })
    }
}
