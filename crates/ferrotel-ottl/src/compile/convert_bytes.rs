//! Converters of bytes: hashes, trace and span ids, decodings and hex.

use std::sync::Arc;

use super::compiler::{Args, CResult, Compiler, err, lit_str, want_str};
use crate::funcs::{self};
use crate::getter::ConvFn;
use crate::parser::{Call, ExprKind, SyntaxError};
use crate::value::Value;

impl Compiler {
    pub(super) fn bytes_converter(&self, call: &Call) -> CResult<Option<ConvFn>> {
        let name = call.name.as_str();
        let f: ConvFn = match name {
            "SHA256" => {
                let g = self.one_arg(call)?;
                Arc::new(move |t| {
                    let s = want_str(g.eval(t)?, "SHA256")?;
                    let mut out = String::new();
                    crate::sha256::hex_digest_into(s.as_bytes(), &mut out);
                    Ok(Value::Str(out))
                })
            }
            "SpanID" | "TraceID" => {
                let a = Args::bind(call, &["bytes"], 1)?;
                let want = if name == "SpanID" { 8 } else { 16 };
                let e = a.get(0);
                let ExprKind::Bytes(b) = &e.kind else {
                    return err(e.col, format!("{name} expects a bytes literal (0x...)"));
                };
                if b.len() != want {
                    return err(
                        e.col,
                        format!("{name}: expected {want} bytes, got {}", b.len()),
                    );
                }
                let v = Value::Bytes(b.clone());
                Arc::new(move |_| Ok(v.clone()))
            }
            "SHA1" | "SHA512" | "MD5" | "FNV" | "Murmur3Hash" | "Murmur3Hash128"
            | "ToLowerCase" | "ToUpperCase" | "ToSnakeCase" | "ToCamelCase" | "Base64Decode" => {
                let g = self.one_arg(call)?;
                let f = funcs::string_fn(name).expect("a string function");
                let fname = call.name.clone();
                Arc::new(move |t| {
                    let s = want_str(g.eval(t)?, &fname)?;
                    f(&s).map_err(|e| format!("{fname}: {e}"))
                })
            }
            "Decode" => {
                let a = Args::bind(call, &["value", "encoding"], 2)?;
                let g = self.getter(a.get(0))?;
                let encoding = lit_str(a.get(1), "encoding")?;
                // Unknown encodings fail at startup, as in Go.
                funcs::decode(b"", &encoding).map_err(|m| SyntaxError::new(a.get(1).col, m))?;
                Arc::new(move |t| match g.eval(t)? {
                    Value::Nil => Ok(Value::Nil),
                    Value::Str(s) => funcs::decode(s.as_bytes(), &encoding),
                    Value::Bytes(b) => funcs::decode(&b, &encoding),
                    o => Err(format!(
                        "Decode: unsupported type provided to Decode function: {}",
                        o.type_name()
                    )),
                })
            }
            "Hex" => {
                let g = self.one_arg(call)?;
                Arc::new(move |t| {
                    let b = funcs::byte_slice_like(&g.eval(t)?).map_err(|e| format!("Hex: {e}"))?;
                    Ok(Value::Str(crate::value::hex(&b)))
                })
            }
            _ => return Ok(None),
        };
        Ok(Some(f))
    }
}
