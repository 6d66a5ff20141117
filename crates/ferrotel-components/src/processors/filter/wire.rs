//! The filter's span and log record conditions on the encoded request: when every condition
//! of a traces or logs filter reads only what an item's encoding gives without decoding (see
//! [`ferrotel_ottl::wire`]), items are dropped by cutting their bytes out
//! ([`Payload::edit_items_encoded`]), and scopes and resources left without items go with
//! them, as the decoded walk prunes them. Decided once when the processor is built; any other
//! configuration (other contexts, converters, conditions that can fail, the legacy form) runs
//! on the decoded request, which stays the reference.

use ferrotel_ottl::Ctx;
use ferrotel_ottl::wire::ItemCondition;
use ferrotel_pdata::wire::{ItemDecision, ItemView};
use ferrotel_pdata::{Payload, Signal};

use super::config::CompiledGroup;

/// Every condition of a traces or logs filter, compiled for encoded spans or log records.
#[derive(Debug)]
pub struct WireFilter {
    conditions: Vec<ItemCondition>,
}

impl WireFilter {
    /// The wire form of `groups`, if they are all span (traces) or log record (logs)
    /// conditions readable on the wire. Conditions on the wire never fail, so the groups'
    /// error modes do not matter, and an item is dropped if any condition of any group holds,
    /// as the groups run one after the other.
    pub fn compile(signal: Signal, groups: &[CompiledGroup]) -> Option<WireFilter> {
        let items = match signal {
            Signal::Traces => Ctx::Span,
            Signal::Logs => Ctx::Log,
            Signal::Metrics | Signal::Profiles => return None,
        };
        if groups.is_empty() {
            return None;
        }
        let mut conditions = Vec::new();
        for g in groups {
            if g.ctx != items {
                return None;
            }
            for c in &g.conditions {
                conditions.push(ItemCondition::compile(items, c.getter())?);
            }
        }
        Some(WireFilter { conditions })
    }

    /// Whether the filter drops `item`.
    #[inline]
    pub fn drops(&self, item: &ItemView<'_>) -> bool {
        self.conditions.iter().any(|c| c.eval(item))
    }

    /// Drops the matching items of an encoded payload; false, leaving it untouched, when the
    /// payload is decoded or not a well-formed request (the caller filters it decoded).
    pub fn apply(&self, payload: &mut Payload) -> bool {
        payload.edit_items_encoded(|item, _| {
            if self.drops(item) {
                ItemDecision::Drop
            } else {
                ItemDecision::Keep
            }
        })
    }
}
