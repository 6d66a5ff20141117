//! Type converters and checks: `Int`, `Double`, `String`, `Bool`, `Is*`, `Len`, `ParseJSON`, `Log`, `Keys`/`Values`.

use std::sync::Arc;

use super::compiler::{CResult, Compiler};
use crate::funcs::{self};
use crate::getter::ConvFn;
use crate::parser::Call;
use crate::value::{Value, from_json};

impl Compiler {
    pub(super) fn type_converter(&self, call: &Call) -> CResult<Option<ConvFn>> {
        let name = call.name.as_str();
        let f: ConvFn = match name {
            "Int" => {
                let g = self.one_arg(call)?;
                Arc::new(move |t| {
                    Ok(match g.eval(t)? {
                        Value::Int(i) => Value::Int(i),
                        Value::Double(d) => Value::Int(d as i64),
                        Value::Bool(b) => Value::Int(b as i64),
                        // Go's IntLikeGetter: a string that is not an integer is nil, other
                        // types are an error.
                        Value::Str(s) => s.parse::<i64>().map_or(Value::Nil, Value::Int),
                        Value::Nil => Value::Nil,
                        o => {
                            return Err(format!("Int: unsupported type: {}", o.type_name()));
                        }
                    })
                })
            }
            "Double" => {
                let g = self.one_arg(call)?;
                Arc::new(move |t| {
                    Ok(match g.eval(t)? {
                        Value::Int(i) => Value::Double(i as f64),
                        Value::Double(d) => Value::Double(d),
                        Value::Bool(b) => Value::Double(if b { 1.0 } else { 0.0 }),
                        // Go's FloatLikeGetter: a string that is not a number is an error
                        // (strconv.ParseFloat's), as are other types.
                        Value::Str(s) => Value::Double(s.parse::<f64>().map_err(|_| {
                            format!("strconv.ParseFloat: parsing {s:?}: invalid syntax")
                        })?),
                        Value::Nil => Value::Nil,
                        o => {
                            return Err(format!("Double: unsupported type: {}", o.type_name()));
                        }
                    })
                })
            }
            "String" => {
                let g = self.one_arg(call)?;
                Arc::new(move |t| {
                    Ok(match g.eval(t)? {
                        Value::Nil => Value::Nil,
                        v => Value::Str(v.to_display()),
                    })
                })
            }
            "IsString" | "IsInt" | "IsDouble" | "IsBool" | "IsMap" | "IsList" => {
                let g = self.one_arg(call)?;
                let which = call.name.clone();
                Arc::new(move |t| {
                    let v = g.eval(t)?;
                    Ok(Value::Bool(matches!(
                        (which.as_str(), &v),
                        ("IsString", Value::Str(_))
                            | ("IsInt", Value::Int(_))
                            | ("IsDouble", Value::Double(_))
                            | ("IsBool", Value::Bool(_))
                            | ("IsMap", Value::Map(_))
                            | ("IsList", Value::List(_))
                    )))
                })
            }
            "Len" => {
                let g = self.one_arg(call)?;
                Arc::new(move |t| {
                    Ok(Value::Int(match g.eval(t)? {
                        Value::Str(s) => s.len() as i64,
                        Value::Bytes(b) => b.len() as i64,
                        Value::Map(m) => m.len() as i64,
                        Value::List(l) => l.len() as i64,
                        o => return Err(format!("Len: unsupported type {}", o.type_name())),
                    }))
                })
            }
            "ParseJSON" => {
                let g = self.one_arg(call)?;
                Arc::new(move |t| match g.eval(t)? {
                    Value::Str(s) => match serde_json::from_str::<serde_json::Value>(&s) {
                        // Go's ParseJSON returns a map or a slice; a bare scalar is an error.
                        Ok(j @ (serde_json::Value::Object(_) | serde_json::Value::Array(_))) => {
                            Ok(from_json(j))
                        }
                        Ok(j) => Err(format!(
                            "ParseJSON: could not convert parsed value of type {} to JSON object",
                            from_json(j).type_name()
                        )),
                        Err(e) => Err(format!("ParseJSON: {e}")),
                    },
                    o => Err(format!(
                        "ParseJSON: expected a string but got {}",
                        o.type_name()
                    )),
                })
            }
            "Bool" => {
                let g = self.one_arg(call)?;
                Arc::new(move |t| Ok(funcs::to_bool(&g.eval(t)?)))
            }
            "Log" => {
                let g = self.one_arg(call)?;
                Arc::new(move |t| funcs::ln(&g.eval(t)?).map_err(|e| format!("Log: {e}")))
            }
            "Keys" | "Values" => {
                let g = self.one_arg(call)?;
                let keys = name == "Keys";
                let fname = call.name.clone();
                Arc::new(move |t| match g.eval(t)? {
                    Value::Nil => Ok(Value::Nil),
                    Value::Map(m) => Ok(Value::List(
                        m.into_iter()
                            .map(|kv| {
                                if keys {
                                    Value::Str(kv.key).into_any()
                                } else {
                                    kv.value.unwrap_or_default()
                                }
                            })
                            .collect(),
                    )),
                    o => Err(format!("{fname}: expected a map but got {}", o.type_name())),
                })
            }
            _ => return Ok(None),
        };
        Ok(Some(f))
    }
}
