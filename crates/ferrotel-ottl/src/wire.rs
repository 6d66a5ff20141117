//! OTTL conditions on encoded spans, for the `filter` processor: the conditions configs
//! mostly hold (a span's name, kind, status code, times or an attribute, its resource's
//! attributes or its scope's name, compared with a literal) read from the span's encoding,
//! so a request is filtered without being decoded.
//!
//! Only conditions that cannot fail compile here: comparisons of those paths with literals,
//! joined by `and`, `or` and `not`; anything else stays with the decoded evaluation
//! ([`crate::Condition::eval`]), which is the reference. Each path reads what the decoded
//! span would hold (prost's rules: the last occurrence of a scalar field, merged repeats of
//! a message, the first attribute of a key), and comparisons follow [`compare`].

use std::cmp::Ordering;

use ferrotel_pdata::wire::{AnyValueView, ItemView};

use crate::context::Ctx;
use crate::getter::{Getter, PathAcc, compare, ordering_holds};
use crate::parser::BinOp;
use crate::path::Field;
use crate::value::Value;

// Field numbers of `Span`, `Status` and `InstrumentationScope`
// (opentelemetry/proto/trace/v1/trace.proto, common/v1/common.proto).
const SPAN_NAME: u32 = 5;
const SPAN_KIND: u32 = 6;
const SPAN_START_TIME: u32 = 7;
const SPAN_END_TIME: u32 = 8;
const SPAN_STATUS: u32 = 15;
const STATUS_CODE: u32 = 3;
const SCOPE_NAME: u32 = 1;
const SCOPE_VERSION: u32 = 2;

/// A path a [`SpanCondition`] reads from a span's encoding (or its resource's and scope's).
#[derive(Debug, Clone, PartialEq)]
enum SpanPath {
    Name,
    Kind,
    StatusCode,
    StartTimeUnixNano,
    EndTimeUnixNano,
    Attribute(String),
    ResourceAttribute(String),
    ScopeName,
    ScopeVersion,
}

/// A value read from the encoding: strings stay borrowed, other values are built as the
/// decoded path builds them (scalars without allocating).
enum SpanValue<'a> {
    Str(&'a [u8]),
    Value(Value),
}

impl SpanPath {
    /// The path `p` names, if it is readable on the wire from a span's context.
    fn of(p: &PathAcc) -> Option<SpanPath> {
        let key = match p.keys.as_slice() {
            [] => None,
            [Getter::Lit(Value::Str(k))] => Some(k.clone()),
            _ => return None,
        };
        Some(match (p.ctx, p.field, key) {
            (Ctx::Span, Field::Name, None) => SpanPath::Name,
            (Ctx::Span, Field::Kind, None) => SpanPath::Kind,
            (Ctx::Span, Field::StatusCode, None) => SpanPath::StatusCode,
            (Ctx::Span, Field::StartTimeUnixNano, None) => SpanPath::StartTimeUnixNano,
            (Ctx::Span, Field::EndTimeUnixNano, None) => SpanPath::EndTimeUnixNano,
            (Ctx::Span, Field::Attributes, Some(k)) => SpanPath::Attribute(k),
            (Ctx::Resource, Field::Attributes, Some(k)) => SpanPath::ResourceAttribute(k),
            (Ctx::Scope, Field::Name, None) => SpanPath::ScopeName,
            (Ctx::Scope, Field::Version, None) => SpanPath::ScopeVersion,
            _ => return None,
        })
    }

    fn read<'a>(&self, span: &ItemView<'a>) -> SpanValue<'a> {
        // Enums are int32 on the wire: prost truncates the varint.
        let enum_value =
            |v: Option<u64>| SpanValue::Value(Value::Int(v.map_or(0, |v| v as i32 as i64)));
        let time = |v: Option<u64>| SpanValue::Value(Value::Int(v.unwrap_or(0) as i64));
        match self {
            SpanPath::Name => SpanValue::Str(span.bytes_field(SPAN_NAME).unwrap_or_default()),
            SpanPath::Kind => enum_value(span.varint_field(SPAN_KIND)),
            SpanPath::StatusCode => enum_value(span.message_varint_field(SPAN_STATUS, STATUS_CODE)),
            SpanPath::StartTimeUnixNano => time(span.fixed64_field(SPAN_START_TIME)),
            SpanPath::EndTimeUnixNano => time(span.fixed64_field(SPAN_END_TIME)),
            SpanPath::Attribute(k) => SpanValue::of_attribute(span.attribute(k)),
            SpanPath::ResourceAttribute(k) => SpanValue::of_attribute(span.resource().attribute(k)),
            SpanPath::ScopeName => {
                SpanValue::Str(span.scope_bytes_field(SCOPE_NAME).unwrap_or_default())
            }
            SpanPath::ScopeVersion => {
                SpanValue::Str(span.scope_bytes_field(SCOPE_VERSION).unwrap_or_default())
            }
        }
    }
}

impl<'a> SpanValue<'a> {
    /// An attribute's value as `Value::from_any` makes it (absent: nil).
    fn of_attribute(v: Option<AnyValueView<'a>>) -> Self {
        SpanValue::Value(match v {
            None | Some(AnyValueView::Empty) => Value::Nil,
            Some(AnyValueView::Str(s)) => return SpanValue::Str(s.as_bytes()),
            Some(AnyValueView::Bool(b)) => Value::Bool(b),
            Some(AnyValueView::Int(i)) => Value::Int(i),
            Some(AnyValueView::Double(d)) => Value::Double(d),
            Some(AnyValueView::Bytes(b)) => Value::Bytes(b.to_vec()),
            // Arrays and maps are rare in conditions' attributes: decoded.
            Some(other @ AnyValueView::Other(_)) => Value::from_any(Some(&other.to_any_value())),
        })
    }
}

/// A condition on an encoded span, compiled from a condition's getter.
#[derive(Debug, Clone)]
pub struct SpanCondition(Node);

#[derive(Debug, Clone)]
enum Node {
    Const(bool),
    /// `path op literal`, or `literal op path` when `flipped`.
    Compare {
        op: BinOp,
        path: SpanPath,
        literal: Value,
        flipped: bool,
    },
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
}

impl SpanCondition {
    /// The condition `g` of the span context on the wire, if every part of it is readable
    /// there and none can fail.
    pub fn compile(g: &Getter) -> Option<SpanCondition> {
        Node::compile(g).map(SpanCondition)
    }

    /// Evaluates the condition on one encoded span.
    #[inline]
    pub fn eval(&self, span: &ItemView<'_>) -> bool {
        self.0.eval(span)
    }
}

impl Node {
    fn compile(g: &Getter) -> Option<Node> {
        Some(match g {
            Getter::Lit(Value::Bool(b)) => Node::Const(*b),
            Getter::Cmp(op, a, b) => match (&**a, &**b) {
                (Getter::Lit(a), Getter::Lit(b)) => Node::Const(compare(*op, a, b)),
                (Getter::Path(p), Getter::Lit(literal))
                | (Getter::Lit(literal), Getter::Path(p)) => Node::Compare {
                    op: *op,
                    path: SpanPath::of(p)?,
                    literal: literal.clone(),
                    flipped: matches!(&**a, Getter::Lit(_)),
                },
                _ => return None,
            },
            Getter::And(a, b) => {
                Node::And(Box::new(Self::compile(a)?), Box::new(Self::compile(b)?))
            }
            Getter::Or(a, b) => Node::Or(Box::new(Self::compile(a)?), Box::new(Self::compile(b)?)),
            Getter::Not(a) => Node::Not(Box::new(Self::compile(a)?)),
            _ => return None,
        })
    }

    fn eval(&self, span: &ItemView<'_>) -> bool {
        match self {
            Node::Const(b) => *b,
            Node::Compare {
                op,
                path,
                literal,
                flipped,
            } => match path.read(span) {
                SpanValue::Str(s) => {
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
                SpanValue::Value(v) if *flipped => compare(*op, literal, &v),
                SpanValue::Value(v) => compare(*op, &v, literal),
            },
            Node::And(a, b) => a.eval(span) && b.eval(span),
            Node::Or(a, b) => a.eval(span) || b.eval(span),
            Node::Not(a) => !a.eval(span),
        }
    }
}
