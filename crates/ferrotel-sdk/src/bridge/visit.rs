//! `tracing` fields to OTel attributes, with the conventions of tracing-opentelemetry:
//! `otel.name`, `otel.kind`, `otel.status_code`, `otel.status_message` (or
//! `otel.status_description`) on spans; `message` names an event; an `error` field marks the
//! span as failed.

use std::borrow::Cow;
use std::fmt;

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{Array, KeyValue, StringValue, Value};
use tracing::field::{Field, Visit};

use crate::inline::{InlineStr, InlineValue};
use crate::span::Span;

const NAME: &str = "otel.name";
const KIND: &str = "otel.kind";
const STATUS_CODE: &str = "otel.status_code";
const STATUS_MESSAGE: &str = "otel.status_message";
const STATUS_DESCRIPTION: &str = "otel.status_description";
const EXCEPTION_MESSAGE: &str = "exception.message";
const EXCEPTION_STACKTRACE: &str = "exception.stacktrace";

fn kind_of(s: &str) -> Option<SpanKind> {
    [
        ("server", SpanKind::Server),
        ("client", SpanKind::Client),
        ("producer", SpanKind::Producer),
        ("consumer", SpanKind::Consumer),
        ("internal", SpanKind::Internal),
    ]
    .into_iter()
    .find(|(name, _)| s.eq_ignore_ascii_case(name))
    .map(|(_, k)| k)
}

/// Integers past `i64` (OTel's integer type) travel as strings rather than wrapping.
fn u64_value(v: u64) -> Value {
    i64::try_from(v).map_or_else(|_| Value::from(v.to_string()), Value::I64)
}

/// An error's `source()` chain, outermost first (stable Rust has no backtrace for it).
fn source_chain(err: &(dyn std::error::Error + 'static)) -> Vec<StringValue> {
    let mut chain = Vec::new();
    let mut next = err.source();
    while let Some(e) = next {
        chain.push(StringValue::from(e.to_string()));
        next = e.source();
    }
    chain
}

/// Records a span's fields (at creation or through `Span::record`) on the OTel span.
pub(crate) struct SpanFields<'a> {
    pub(crate) span: &'a mut Span,
    /// Whether small values may be kept inline (the provider's `shares_attributes`).
    pub(crate) inline: bool,
}

impl SpanFields<'_> {
    /// A plain value: inline when allowed and possible, else as an attribute.
    #[inline]
    fn value(&mut self, name: &'static str, value: InlineValue, or: impl FnOnce() -> Value) {
        if !(self.inline && self.span.push_inline(name, value)) {
            self.set(name, or());
        }
    }

    /// Out of line: the inline path's callers stay small (no registers to save for this).
    #[inline(never)]
    fn set(&mut self, name: &'static str, value: Value) {
        self.span.set_attribute(KeyValue::new(name, value));
    }

    /// The `otel.*` conventions and `error`; `false` when `name` is an ordinary field.
    #[inline]
    fn convention(&mut self, name: &str, value: &str) -> bool {
        // Most fields are neither: a test of the first bytes before any comparison.
        let b = name.as_bytes();
        if !(b.len() >= 5 && (b[..5] == *b"otel." || b == b"error")) {
            return false;
        }
        self.apply_convention(name, value)
    }

    #[inline(never)]
    fn apply_convention(&mut self, name: &str, value: &str) -> bool {
        match name {
            NAME => self.span.update_name(value.to_owned()),
            KIND => {
                if let Some(kind) = kind_of(value) {
                    self.span.set_kind(kind);
                }
            }
            STATUS_CODE => {
                if value.eq_ignore_ascii_case("ok") {
                    self.span.set_status(Status::Ok);
                } else if value.eq_ignore_ascii_case("error")
                    && !matches!(self.span.status(), Some(Status::Error { .. }))
                {
                    // Keeps a description `otel.status_message` gave first.
                    self.span.set_status(Status::error(""));
                }
            }
            STATUS_MESSAGE | STATUS_DESCRIPTION => {
                self.span.set_status(Status::error(value.to_owned()))
            }
            "error" => {
                self.span.set_status(Status::error(value.to_owned()));
                return false;
            }
            _ => return false,
        }
        true
    }

    /// A field whose value is (or was formatted to) a string.
    #[inline]
    fn string(&mut self, name: &'static str, value: &str) {
        if self.convention(name, value) {
            return;
        }
        match InlineStr::new(value) {
            Some(s) => self.value(name, InlineValue::Str(s), || Value::from(value.to_owned())),
            None => self.set(name, Value::from(value.to_owned())),
        }
    }

    fn owned_string(&mut self, name: &'static str, value: String) {
        if !self.convention(name, &value) {
            self.span.set_attribute(KeyValue::new(name, value));
        }
    }

    fn error(&mut self, name: &'static str, message: String, chain: Vec<StringValue>) {
        self.span.set_status(Status::error(message.clone()));
        self.span
            .set_attribute(KeyValue::new(EXCEPTION_MESSAGE, message.clone()));
        if !chain.is_empty() {
            self.span.set_attribute(KeyValue::new(
                EXCEPTION_STACKTRACE,
                Value::Array(Array::String(chain)),
            ));
        }
        self.span.set_attribute(KeyValue::new(name, message));
    }
}

fn i128_value(value: i128) -> Value {
    i64::try_from(value).map_or_else(|_| Value::from(value.to_string()), Value::I64)
}

fn u128_value(value: u128) -> Value {
    i64::try_from(value).map_or_else(|_| Value::from(value.to_string()), Value::I64)
}

impl Visit for SpanFields<'_> {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.value(field.name(), InlineValue::Bool(value), || {
            Value::Bool(value)
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.value(field.name(), InlineValue::I64(value), || Value::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.span
            .set_attribute(KeyValue::new(field.name(), u64_value(value)));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.span
            .set_attribute(KeyValue::new(field.name(), i128_value(value)));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.span
            .set_attribute(KeyValue::new(field.name(), u128_value(value)));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.value(field.name(), InlineValue::F64(value), || Value::F64(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.string(field.name(), value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.owned_string(field.name(), format!("{value:?}"));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.error(field.name(), value.to_string(), source_chain(value));
    }
}

/// Fields recorded later (`Span::record`), visited before the span's state is locked (a
/// `Debug` impl may itself use `tracing`) and applied to it afterwards.
#[derive(Default)]
pub(crate) struct Recorded {
    ops: Vec<(&'static str, Op)>,
}

enum Op {
    Value(Value),
    String(String),
    Error(String, Vec<StringValue>),
}

impl Recorded {
    pub(crate) fn apply(self, span: &mut Span) {
        let mut fields = SpanFields {
            span,
            inline: false,
        };
        for (name, op) in self.ops {
            match op {
                Op::Value(v) => fields.span.set_attribute(KeyValue::new(name, v)),
                Op::String(s) => fields.owned_string(name, s),
                Op::Error(message, chain) => fields.error(name, message, chain),
            }
        }
    }
}

impl Visit for Recorded {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.ops.push((field.name(), Op::Value(Value::Bool(value))));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.ops.push((field.name(), Op::Value(Value::I64(value))));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.ops.push((field.name(), Op::Value(u64_value(value))));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.ops.push((field.name(), Op::Value(i128_value(value))));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.ops.push((field.name(), Op::Value(u128_value(value))));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.ops.push((field.name(), Op::Value(Value::F64(value))));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.ops.push((field.name(), Op::String(value.to_owned())));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.ops
            .push((field.name(), Op::String(format!("{value:?}"))));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.ops.push((
            field.name(),
            Op::Error(value.to_string(), source_chain(value)),
        ));
    }
}

/// Collects an event's fields: its name (`message`), attributes and whether it reports an
/// error (an `error` field without a message, as `#[instrument(err)]` emits).
#[derive(Default)]
pub(crate) struct EventFields {
    pub(crate) name: Option<Cow<'static, str>>,
    pub(crate) attributes: Vec<KeyValue>,
    /// The error to set as the span's status.
    pub(crate) error: Option<String>,
}

impl EventFields {
    fn push(&mut self, field: &Field, value: Value) {
        // Fields the `log` compatibility layer adds: already in the metadata.
        if !field.name().starts_with("log.") {
            self.attributes.push(KeyValue::new(field.name(), value));
        }
    }

    fn string(&mut self, field: &Field, value: String) {
        match field.name() {
            "message" => self.name = Some(value.into()),
            "error" if self.name.is_none() => {
                // The semantic conventions' exception event, as tracing-opentelemetry writes it.
                self.name = Some(Cow::Borrowed("exception"));
                self.attributes
                    .push(KeyValue::new(EXCEPTION_MESSAGE, value.clone()));
                self.error = Some(value);
            }
            _ => self.push(field, Value::from(value)),
        }
    }
}

impl Visit for EventFields {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::Bool(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, u64_value(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, Value::F64(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.string(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.string(field, format!("{value:?}"));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let message = value.to_string();
        let chain = source_chain(value);
        self.attributes
            .push(KeyValue::new(EXCEPTION_MESSAGE, message.clone()));
        if !chain.is_empty() {
            self.attributes.push(KeyValue::new(
                EXCEPTION_STACKTRACE,
                Value::Array(Array::String(chain)),
            ));
        }
        if self.name.is_none() && field.name() == "error" {
            self.name = Some(Cow::Borrowed("exception"));
            self.error = Some(message.clone());
        }
        self.push(field, Value::from(message));
    }
}
