//! Map keys and list indexes, and reading and writing through them in a value.

use ferrotel_pdata::proto::common::v1::{AnyValue, any_value};

use crate::value::{R, Value, kv};

/// A map key or list index.
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    Str(String),
    Int(i64),
}

/// Reads `keys` into a value; missing map keys are nil, bad indexes are errors.
pub fn index_any(v: Option<&AnyValue>, keys: &[Key]) -> R<Value> {
    use any_value::Value as V;
    let mut cur = v;
    for k in keys {
        let Some(c) = cur.and_then(|c| c.value.as_ref()) else {
            return Ok(Value::Nil);
        };
        cur = match (c, k) {
            (V::KvlistValue(m), Key::Str(s)) => match m.values.iter().find(|kv| &kv.key == s) {
                Some(kv) => kv.value.as_ref(),
                None => return Ok(Value::Nil),
            },
            (V::ArrayValue(a), Key::Int(i)) => {
                if *i < 0 || *i as usize >= a.values.len() {
                    return Err(format!("index {i} out of bounds"));
                }
                Some(&a.values[*i as usize])
            }
            (V::KvlistValue(_), Key::Int(_)) => {
                return Err("map cannot be indexed by an int".into());
            }
            (V::ArrayValue(_), Key::Str(_)) => {
                return Err("slice cannot be indexed by a string".into());
            }
            (other, _) => {
                let name = Value::from_any(Some(&AnyValue {
                    value: Some(other.clone()),
                }))
                .type_name();
                return Err(format!("type {name} does not support indexing"));
            }
        };
    }
    Ok(Value::from_any(cur))
}

/// Sets through `keys`, creating missing map entries.
pub fn set_any(any: &mut AnyValue, keys: &[Key], v: Value) -> R<()> {
    use any_value::Value as V;
    let Some((k, rest)) = keys.split_first() else {
        *any = v.into_any();
        return Ok(());
    };
    if any.value.is_none() {
        any.value = Some(V::KvlistValue(Default::default()));
    }
    match (any.value.as_mut().expect("set"), k) {
        (V::KvlistValue(m), Key::Str(s)) => {
            let i = match m.values.iter().position(|kv| &kv.key == s) {
                Some(i) => i,
                None => {
                    m.values.push(kv(s.clone(), Value::Nil));
                    m.values.len() - 1
                }
            };
            set_any(
                m.values[i].value.get_or_insert_with(Default::default),
                rest,
                v,
            )
        }
        (V::ArrayValue(a), Key::Int(i)) => {
            if *i < 0 || *i as usize >= a.values.len() {
                return Err(format!("index {i} out of bounds"));
            }
            set_any(&mut a.values[*i as usize], rest, v)
        }
        (V::KvlistValue(_), Key::Int(_)) => Err("map cannot be indexed by an int".into()),
        (V::ArrayValue(_), Key::Str(_)) => Err("slice cannot be indexed by a string".into()),
        _ => Err("type does not support indexing".into()),
    }
}
