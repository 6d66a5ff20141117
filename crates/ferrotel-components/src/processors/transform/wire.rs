//! Transform statements on the encoded request: when every statement of a traces transform
//! sets a span attribute to a literal (`set(attributes["env"], "prod")`) or deletes one by
//! its key (`delete_key(attributes, "password")`), without conditions, they run as keyed
//! attribute edits on the encoded spans, as the `attributes` processor's actions do
//! ([`Payload::edit_attributes_encoded`]): spans are not decoded, and only the attributes
//! with those keys are parsed. Decided once when the processor is built; any other statement
//! runs on the decoded request, which stays the reference.

use ferrotel_ottl::getter::PathAcc;
use ferrotel_ottl::path::Field;
use ferrotel_ottl::{Ctx, EditShape, Getter, Value};
use ferrotel_pdata::wire::{AttrTarget, EncodedAttr, KeyFilter, KeySet, WireAttrs};
use ferrotel_pdata::{Payload, Signal};

use super::config::Compiled;

/// One statement as a keyed edit of a span's attributes.
#[derive(Debug)]
enum AttrEdit {
    /// `set(attributes[key], literal)`: the first attribute with the key gets the value, or
    /// the attribute is appended (the literal encoded once).
    Set { key: String, attr: EncodedAttr },
    /// `delete_key(attributes, key)`: every attribute with the key goes.
    Delete { key: String },
}

/// The statements of a traces transform as keyed attribute edits of encoded spans.
#[derive(Debug)]
pub struct WireTransform {
    edits: Vec<AttrEdit>,
    filter: KeyFilter,
}

/// The key of `attributes["key"]` in the span context.
fn span_attribute_key(p: &PathAcc) -> Option<&str> {
    match (p.ctx, p.field, p.keys.as_slice()) {
        (Ctx::Span, Field::Attributes, [Getter::Lit(Value::Str(k))]) => Some(k),
        _ => None,
    }
}

impl WireTransform {
    /// The wire form of `groups`, if every statement is such an edit. Statements run in
    /// order on each span as the decoded walk runs them, and the edits cannot fail, so the
    /// error mode does not matter.
    pub fn compile(signal: Signal, groups: &[Compiled]) -> Option<WireTransform> {
        if signal != Signal::Traces || groups.is_empty() {
            return None;
        }
        let mut edits = Vec::new();
        for g in groups {
            if g.ctx != Ctx::Span || !g.conditions.is_empty() {
                return None;
            }
            for s in &g.statements {
                if s.condition().is_some() {
                    return None;
                }
                match s.shape() {
                    EditShape::Set {
                        target,
                        value: Getter::Lit(v),
                    } => {
                        let key = span_attribute_key(target)?;
                        // Setting nil is a no-op.
                        if *v != Value::Nil {
                            let attr = EncodedAttr::new(key, &v.clone().into_any());
                            edits.push(AttrEdit::Set {
                                key: key.to_string(),
                                attr,
                            });
                        }
                    }
                    EditShape::DeleteKey {
                        target,
                        key: Getter::Lit(Value::Str(key)),
                    } if target.ctx == Ctx::Span
                        && target.field == Field::Attributes
                        && target.keys.is_empty() =>
                    {
                        edits.push(AttrEdit::Delete { key: key.clone() });
                    }
                    _ => return None,
                }
            }
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
        Some(WireTransform {
            edits,
            filter: KeyFilter::Keys(keys),
        })
    }

    /// Runs the edits on one span's attributes.
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

    /// Edits the spans of an encoded payload; false, leaving it untouched, when the payload
    /// is decoded or not a well-formed request (the caller transforms it decoded).
    pub fn apply(&self, payload: &mut Payload) -> bool {
        payload.edit_attributes_encoded(AttrTarget::Items, &self.filter, |attrs| self.edit(attrs))
    }
}
