//! Transform statements on the encoded request: when every statement of a traces transform
//! sets a span or resource attribute to a literal (`set(attributes["env"], "prod")`) or
//! deletes one by its key (`delete_key(attributes, "password")`), without conditions, they
//! run as keyed attribute edits on the encoded spans and resources, as the `attributes` and
//! `resource` processors' actions do ([`Payload::edit_attributes_encoded`]): nothing is
//! decoded, and only the attributes with those keys are parsed. Decided once when the processor is built; any other statement
//! runs on the decoded request, which stays the reference.

use ferrotel_ottl::getter::PathAcc;
use ferrotel_ottl::path::Field;
use ferrotel_ottl::{Ctx, EditShape, Getter, Statement, Value};
use ferrotel_pdata::wire::{AttrTarget, EncodedAttr, KeyFilter, KeySet, WireAttrs};
use ferrotel_pdata::{Payload, Signal};

use super::config::Compiled;

/// One statement as a keyed edit of an attribute list.
#[derive(Debug)]
enum AttrEdit {
    /// `set(attributes[key], literal)`: the first attribute with the key gets the value, or
    /// the attribute is appended (the literal encoded once).
    Set { key: String, attr: EncodedAttr },
    /// `delete_key(attributes, key)`: every attribute with the key goes.
    Delete { key: String },
}

/// Keyed edits of one kind of attribute list (each span's or each resource's), in statement
/// order, with the keys they touch.
#[derive(Debug)]
struct ListEdits {
    edits: Vec<AttrEdit>,
    filter: KeyFilter,
}

/// The statements of a traces transform as keyed attribute edits of encoded resources and
/// spans.
#[derive(Debug)]
pub struct WireTransform {
    resources: Option<ListEdits>,
    spans: Option<ListEdits>,
}

/// The edit `s` makes to the attribute list of its group's context `ctx`, if it is a keyed
/// edit of that list with literals (`None` otherwise); `Some(None)` for `set` of nil, a no-op.
fn attr_edit(ctx: Ctx, s: &Statement) -> Option<Option<AttrEdit>> {
    if s.condition().is_some() {
        return None;
    }
    let own_attributes = |p: &PathAcc| p.ctx == ctx && p.field == Field::Attributes;
    match s.shape() {
        EditShape::Set {
            target,
            value: Getter::Lit(v),
        } if own_attributes(target) => {
            let [Getter::Lit(Value::Str(key))] = target.keys.as_slice() else {
                return None;
            };
            if *v == Value::Nil {
                return Some(None);
            }
            Some(Some(AttrEdit::Set {
                key: key.clone(),
                attr: EncodedAttr::new(key, &v.clone().into_any()),
            }))
        }
        EditShape::DeleteKey {
            target,
            key: Getter::Lit(Value::Str(key)),
        } if own_attributes(target) && target.keys.is_empty() => {
            Some(Some(AttrEdit::Delete { key: key.clone() }))
        }
        _ => None,
    }
}

impl ListEdits {
    fn new(edits: Vec<AttrEdit>) -> Option<ListEdits> {
        if edits.is_empty() {
            return None;
        }
        let keys = KeySet::new(edits.iter().map(|e| match e {
            AttrEdit::Set { key, .. } | AttrEdit::Delete { key } => key.as_bytes(),
        }));
        // `set` reads only the first attribute of its key; `delete_key` removes every one.
        let deletes = edits.iter().any(|e| matches!(e, AttrEdit::Delete { .. }));
        let keys = if deletes {
            keys
        } else {
            keys.reads_keys_only()
        };
        Some(ListEdits {
            edits,
            filter: KeyFilter::Keys(keys),
        })
    }

    /// Runs the edits on one attribute list.
    fn edit(&self, attrs: &mut WireAttrs<'_>) {
        for e in &self.edits {
            match e {
                AttrEdit::Set { key, attr } => match attrs.find(key) {
                    Some(i) => attrs.set_encoded(i, attr),
                    None => attrs.push_encoded(attr),
                },
                AttrEdit::Delete { key } => attrs.retain(|k| k != key.as_bytes()),
            }
        }
    }

    fn apply(&self, payload: &mut Payload, target: AttrTarget) -> bool {
        payload.edit_attributes_encoded(target, &self.filter, |attrs| self.edit(attrs))
    }
}

impl WireTransform {
    /// The wire form of `groups`, if every group is of the resource or the span context,
    /// without conditions, and every statement a keyed edit of that context's attributes.
    /// Statements run in order on each list as the decoded walk runs them; resource and span
    /// lists are apart, so the order between groups of the two does not matter, and the
    /// edits cannot fail, so the error mode does not either.
    pub fn compile(signal: Signal, groups: &[Compiled]) -> Option<WireTransform> {
        if signal != Signal::Traces || groups.is_empty() {
            return None;
        }
        let (mut resources, mut spans) = (Vec::new(), Vec::new());
        for g in groups {
            let edits = match g.ctx {
                Ctx::Resource => &mut resources,
                Ctx::Span => &mut spans,
                _ => return None,
            };
            if !g.conditions.is_empty() {
                return None;
            }
            for s in &g.statements {
                edits.extend(attr_edit(g.ctx, s)?);
            }
        }
        Some(WireTransform {
            resources: ListEdits::new(resources),
            spans: ListEdits::new(spans),
        })
    }

    /// Edits the resources and spans of an encoded payload; false when the payload is
    /// decoded or not a well-formed request (the caller transforms it decoded). Both passes
    /// are idempotent (a literal set, a delete by key), so when the second cannot run after
    /// the first did, the decoded statements leave what they would have left.
    pub fn apply(&self, payload: &mut Payload) -> bool {
        let resources = self.resources.as_ref();
        let spans = self.spans.as_ref();
        resources.is_none_or(|r| r.apply(payload, AttrTarget::Resources))
            && spans.is_none_or(|s| s.apply(payload, AttrTarget::Items))
    }
}
