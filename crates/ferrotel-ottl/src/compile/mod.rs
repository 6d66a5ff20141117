//! AST to evaluable form: [`Getter`] trees (enum-dispatched) and editor closures, built once.
//!
//! [`Compiler`] is in [`compiler`] with what its parts share; expressions and paths are in
//! `expr`, editors in `editors` and `metric_editors`, converters by family in `convert_*`.

mod compiler;
mod convert_bytes;
mod convert_strings;
mod convert_time;
mod convert_types;
mod editors;
mod expr;
mod maps;
mod metric_editors;
mod names;
mod replace;

pub use crate::getter::{ConvFn, EditFn, Getter, compare};
pub use compiler::Compiler;
pub use editors::EditShape;
pub use names::{CONVERTERS, enum_value};

use crate::value::{Value, to_json};

/// Re-exported for the JSON helper's users.
pub fn json_of(v: &Value) -> serde_json::Value {
    to_json(v)
}
