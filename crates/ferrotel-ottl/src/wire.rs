//! OTTL conditions on encoded spans and log records, for the `filter` processor: the
//! conditions configs mostly hold (a span's name, kind, status code, times or an attribute; a
//! log record's severity, body, times or an attribute; the resource's attributes or the
//! scope's name, compared with a literal) read from the item's encoding, so a request is
//! filtered without being decoded.
//!
//! Only conditions that cannot fail compile here: comparisons of those paths with literals
//! and `IsMatch` on them, joined by `and`, `or` and `not`; anything else stays with the decoded evaluation
//! ([`crate::Condition::eval`]), which is the reference. Each path reads what the decoded
//! item would hold (prost's rules: the last occurrence of a scalar field, merged repeats of
//! a message, the first attribute of a key), and comparisons follow [`compare`].

use std::cmp::Ordering;

use ferrotel_pdata::wire::{AnyValueView, ItemView};
use regex::Regex;

use crate::context::Ctx;
use crate::getter::{Getter, PathAcc, compare, ordering_holds};
use crate::parser::BinOp;
use crate::path::Field;
use crate::value::{Value, to_str_lenient};

// Field numbers of `Span`, `Status`, `LogRecord` and `InstrumentationScope`
// (opentelemetry/proto/trace/v1/trace.proto, logs/v1/logs.proto, common/v1/common.proto).
const SPAN_NAME: u32 = 5;
const SPAN_KIND: u32 = 6;
const SPAN_START_TIME: u32 = 7;
const SPAN_END_TIME: u32 = 8;
const SPAN_STATUS: u32 = 15;
const STATUS_CODE: u32 = 3;
const LOG_TIME: u32 = 1;
const LOG_SEVERITY_NUMBER: u32 = 2;
const LOG_SEVERITY_TEXT: u32 = 3;
const LOG_BODY: u32 = 5;
const LOG_OBSERVED_TIME: u32 = 11;
const LOG_EVENT_NAME: u32 = 12;
const SCOPE_NAME: u32 = 1;
const SCOPE_VERSION: u32 = 2;

/// A path an [`ItemCondition`] reads from an item's encoding (or its resource's and scope's).
#[derive(Debug, Clone, PartialEq)]
enum WirePath {
    /// A string field of the item.
    Str(u32),
    /// An enum field of the item (an int32 on the wire).
    Enum(u32),
    /// A fixed64 field of the item (times).
    Fixed64(u32),
    /// A span's `status.code`.
    StatusCode,
    /// A log record's `body`.
    Body,
    Attribute(String),
    ResourceAttribute(String),
    /// A string field of the scope.
    Scope(u32),
}

/// A value read from the encoding: strings stay borrowed, other values are built as the
/// decoded path builds them (scalars without allocating).
enum WireValue<'a> {
    Str(&'a [u8]),
    Value(Value),
}

impl WirePath {
    /// The path `p` names, if it is readable on the wire from the items of context `item`.
    fn of(item: Ctx, p: &PathAcc) -> Option<WirePath> {
        let key = match p.keys.as_slice() {
            [] => None,
            [Getter::Lit(Value::Str(k))] => Some(k.clone()),
            _ => return None,
        };
        Some(match (p.ctx, p.field, key) {
            (Ctx::Span, Field::Name, None) => WirePath::Str(SPAN_NAME),
            (Ctx::Span, Field::Kind, None) => WirePath::Enum(SPAN_KIND),
            (Ctx::Span, Field::StatusCode, None) => WirePath::StatusCode,
            (Ctx::Span, Field::StartTimeUnixNano, None) => WirePath::Fixed64(SPAN_START_TIME),
            (Ctx::Span, Field::EndTimeUnixNano, None) => WirePath::Fixed64(SPAN_END_TIME),
            (Ctx::Log, Field::SeverityNumber, None) => WirePath::Enum(LOG_SEVERITY_NUMBER),
            (Ctx::Log, Field::SeverityText, None) => WirePath::Str(LOG_SEVERITY_TEXT),
            (Ctx::Log, Field::EventName, None) => WirePath::Str(LOG_EVENT_NAME),
            (Ctx::Log, Field::Body, None) => WirePath::Body,
            (Ctx::Log, Field::TimeUnixNano, None) => WirePath::Fixed64(LOG_TIME),
            (Ctx::Log, Field::ObservedTimeUnixNano, None) => WirePath::Fixed64(LOG_OBSERVED_TIME),
            (c, Field::Attributes, Some(k)) if c == item => WirePath::Attribute(k),
            (Ctx::Resource, Field::Attributes, Some(k)) => WirePath::ResourceAttribute(k),
            (Ctx::Scope, Field::Name, None) => WirePath::Scope(SCOPE_NAME),
            (Ctx::Scope, Field::Version, None) => WirePath::Scope(SCOPE_VERSION),
            _ => return None,
        })
    }

    fn read<'a>(&self, item: &ItemView<'a>) -> WireValue<'a> {
        // Enums are int32 on the wire: prost truncates the varint.
        let enum_value =
            |v: Option<u64>| WireValue::Value(Value::Int(v.map_or(0, |v| v as i32 as i64)));
        match self {
            WirePath::Str(field) => WireValue::Str(item.bytes_field(*field).unwrap_or_default()),
            WirePath::Enum(field) => enum_value(item.varint_field(*field)),
            WirePath::Fixed64(field) => {
                WireValue::Value(Value::Int(item.fixed64_field(*field).unwrap_or(0) as i64))
            }
            WirePath::StatusCode => enum_value(item.message_varint_field(SPAN_STATUS, STATUS_CODE)),
            WirePath::Body => {
                WireValue::of_any(item.bytes_field(LOG_BODY).map(AnyValueView::parse))
            }
            WirePath::Attribute(k) => WireValue::of_any(item.attribute(k)),
            WirePath::ResourceAttribute(k) => WireValue::of_any(item.resource().attribute(k)),
            WirePath::Scope(field) => {
                WireValue::Str(item.scope_bytes_field(*field).unwrap_or_default())
            }
        }
    }
}

impl<'a> WireValue<'a> {
    /// An `AnyValue`'s value as `Value::from_any` makes it (absent: nil).
    fn of_any(v: Option<AnyValueView<'a>>) -> Self {
        WireValue::Value(match v {
            None | Some(AnyValueView::Empty) => Value::Nil,
            Some(AnyValueView::Str(s)) => return WireValue::Str(s.as_bytes()),
            Some(AnyValueView::Bool(b)) => Value::Bool(b),
            Some(AnyValueView::Int(i)) => Value::Int(i),
            Some(AnyValueView::Double(d)) => Value::Double(d),
            Some(AnyValueView::Bytes(b)) => Value::Bytes(b.to_vec()),
            // Arrays and maps are rare in conditions: decoded.
            Some(other @ AnyValueView::Other(_)) => Value::from_any(Some(&other.to_any_value())),
        })
    }
}

/// A condition on an encoded span or log record, compiled from a condition's getter.
#[derive(Debug, Clone)]
pub struct ItemCondition(Node);

#[derive(Debug, Clone)]
enum Node {
    Const(bool),
    /// `path op literal`, or `literal op path` when `flipped`.
    Compare {
        op: BinOp,
        path: WirePath,
        literal: Value,
        flipped: bool,
    },
    /// `IsMatch(path, pattern)`.
    IsMatch {
        path: WirePath,
        pattern: Regex,
    },
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
}

impl ItemCondition {
    /// Condition `g` of context `ctx` (`span` or `log`) on the wire, if every part of it is
    /// readable there and none can fail.
    pub fn compile(ctx: Ctx, g: &Getter) -> Option<ItemCondition> {
        if !matches!(ctx, Ctx::Span | Ctx::Log) {
            return None;
        }
        Node::compile(ctx, g).map(ItemCondition)
    }

    /// Evaluates the condition on one encoded item.
    #[inline]
    pub fn eval(&self, item: &ItemView<'_>) -> bool {
        self.0.eval(item)
    }
}

impl Node {
    fn compile(ctx: Ctx, g: &Getter) -> Option<Node> {
        Some(match g {
            Getter::Lit(Value::Bool(b)) => Node::Const(*b),
            Getter::Cmp(op, a, b) => match (&**a, &**b) {
                (Getter::Lit(a), Getter::Lit(b)) => Node::Const(compare(*op, a, b)),
                (Getter::Path(p), Getter::Lit(literal))
                | (Getter::Lit(literal), Getter::Path(p)) => Node::Compare {
                    op: *op,
                    path: WirePath::of(ctx, p)?,
                    literal: literal.clone(),
                    flipped: matches!(&**a, Getter::Lit(_)),
                },
                _ => return None,
            },
            Getter::IsMatch(target, pattern) => match &**target {
                Getter::Path(p) => Node::IsMatch {
                    path: WirePath::of(ctx, p)?,
                    pattern: pattern.clone(),
                },
                _ => return None,
            },
            Getter::And(a, b) => Node::And(
                Box::new(Self::compile(ctx, a)?),
                Box::new(Self::compile(ctx, b)?),
            ),
            Getter::Or(a, b) => Node::Or(
                Box::new(Self::compile(ctx, a)?),
                Box::new(Self::compile(ctx, b)?),
            ),
            Getter::Not(a) => Node::Not(Box::new(Self::compile(ctx, a)?)),
            _ => return None,
        })
    }

    fn eval(&self, item: &ItemView<'_>) -> bool {
        match self {
            Node::Const(b) => *b,
            Node::Compare {
                op,
                path,
                literal,
                flipped,
            } => match path.read(item) {
                WireValue::Str(s) => {
                    // Strings are compared by their bytes, as `str`'s order is.
                    let ord = match literal {
                        Value::Str(l) => Some(s.cmp(l.as_bytes())),
                        _ => None,
                    };
                    ordering_holds(
                        *op,
                        if *flipped {
                            ord.map(Ordering::reverse)
                        } else {
                            ord
                        },
                    )
                }
                WireValue::Value(v) if *flipped => compare(*op, literal, &v),
                WireValue::Value(v) => compare(*op, &v, literal),
            },
            Node::IsMatch { path, pattern } => match path.read(item) {
                // Validated input holds UTF-8 strings only.
                WireValue::Str(s) => std::str::from_utf8(s).is_ok_and(|s| pattern.is_match(s)),
                WireValue::Value(v) => to_str_lenient(&v).is_some_and(|s| pattern.is_match(&s)),
            },
            Node::And(a, b) => a.eval(item) && b.eval(item),
            Node::Or(a, b) => a.eval(item) || b.eval(item),
            Node::Not(a) => !a.eval(item),
        }
    }
}
