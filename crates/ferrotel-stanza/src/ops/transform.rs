//! add, copy, move, remove, retain, flatten, regex_replace, unquote, noop, filter, router.

use serde::Deserialize;

use super::{Ctx, Failure, Operator, Out};
use crate::expr::Expr;
use crate::field::{Field, Root};
use crate::{BuildError, Entry, Key, Map, Value};

/// A transformer that edits the entry in place and passes it on.
trait Edit: std::fmt::Debug + Send {
    fn edit(&mut self, e: &mut Entry) -> Result<(), String>;
}

#[derive(Debug)]
struct Transformer<T>(T);

impl<T: Edit> Operator for Transformer<T> {
    fn process(&mut self, mut e: Entry, out: &mut Out) -> Result<(), Failure> {
        match self.0.edit(&mut e) {
            Ok(()) => {
                out.push((0, e));
                Ok(())
            }
            Err(m) => Err((e, m)),
        }
    }
}

/// A literal value or `EXPR(...)`.
#[derive(Debug, Clone)]
pub(crate) enum AddValue {
    Literal(Value),
    Expr(Expr),
}

impl AddValue {
    pub(crate) fn from_config(
        ctx: &Ctx,
        key: &str,
        v: &serde_json::Value,
    ) -> Result<AddValue, BuildError> {
        if let serde_json::Value::String(s) = v
            && let Some(inner) = s.strip_prefix("EXPR(").and_then(|r| r.strip_suffix(')'))
        {
            return Ok(AddValue::Expr(ctx.expr(key, inner)?));
        }
        Ok(AddValue::Literal(crate::json::from_config(v)))
    }

    pub(crate) fn value(&self, e: &Entry) -> Result<Value, String> {
        match self {
            AddValue::Literal(v) => Ok(v.clone()),
            AddValue::Expr(x) => x.eval(e),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddConfig {
    field: String,
    value: Option<serde_json::Value>,
}

#[derive(Debug)]
struct Add {
    field: Field,
    value: AddValue,
}

impl Edit for Add {
    fn edit(&mut self, e: &mut Entry) -> Result<(), String> {
        let v = self.value.value(e)?;
        self.field.set(e, v)
    }
}

pub(super) fn add(ctx: &mut Ctx) -> Result<Box<dyn Operator>, BuildError> {
    let c: AddConfig = ctx.config()?;
    let value = c
        .value
        .ok_or_else(|| ctx.err("value", "missing required field 'value'"))?;
    Ok(Box::new(Transformer(Add {
        field: ctx.field("field", &c.field)?,
        value: AddValue::from_config(ctx, "value", &value)?,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FromTo {
    from: String,
    to: String,
}

#[derive(Debug)]
struct Copy {
    from: Field,
    to: Field,
}

impl Edit for Copy {
    fn edit(&mut self, e: &mut Entry) -> Result<(), String> {
        let v = self
            .from
            .get(e)
            .ok_or_else(|| format!("copy: from field does not exist: {}", self.from))?;
        let v = v.into_owned();
        self.to.set(e, v)
    }
}

pub(super) fn copy(ctx: &mut Ctx) -> Result<Box<dyn Operator>, BuildError> {
    let c: FromTo = ctx.config()?;
    Ok(Box::new(Transformer(Copy {
        from: ctx.field("from", &c.from)?,
        to: ctx.field("to", &c.to)?,
    })))
}

#[derive(Debug)]
struct Move {
    from: Field,
    to: Field,
}

impl Edit for Move {
    fn edit(&mut self, e: &mut Entry) -> Result<(), String> {
        let v = self
            .from
            .delete(e)
            .ok_or_else(|| format!("move: field does not exist: {}", self.from))?;
        self.to.set(e, v)
    }
}

pub(super) fn mv(ctx: &mut Ctx) -> Result<Box<dyn Operator>, BuildError> {
    let c: FromTo = ctx.config()?;
    Ok(Box::new(Transformer(Move {
        from: ctx.field("from", &c.from)?,
        to: ctx.field("to", &c.to)?,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldConfig {
    field: String,
}

#[derive(Debug)]
struct Remove {
    field: Field,
}

impl Edit for Remove {
    fn edit(&mut self, e: &mut Entry) -> Result<(), String> {
        if self.field.is_root() {
            match self.field.root {
                Root::Body => e.body = Value::Null,
                Root::Attributes => e.attributes = Map::new(),
                Root::Resource => e.resource = Map::new(),
            }
            return Ok(());
        }
        self.field
            .delete(e)
            .map(|_| ())
            .ok_or_else(|| format!("remove: field does not exist: {}", self.field))
    }
}

pub(super) fn remove(ctx: &mut Ctx) -> Result<Box<dyn Operator>, BuildError> {
    let c: FieldConfig = ctx.config()?;
    Ok(Box::new(Transformer(Remove {
        field: ctx.field("field", &c.field)?,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RetainConfig {
    fields: Vec<String>,
}

#[derive(Debug)]
struct Retain {
    fields: Vec<Field>,
    body: bool,
    attributes: bool,
    resource: bool,
}

impl Edit for Retain {
    fn edit(&mut self, e: &mut Entry) -> Result<(), String> {
        let mut kept = Entry::default();
        for f in &self.fields {
            if let Some(v) = f.get(e) {
                let v = v.into_owned();
                f.set(&mut kept, v)?;
            }
        }
        if self.body {
            e.body = kept.body;
        }
        if self.attributes {
            e.attributes = kept.attributes;
        }
        if self.resource {
            e.resource = kept.resource;
        }
        Ok(())
    }
}

pub(super) fn retain(ctx: &mut Ctx) -> Result<Box<dyn Operator>, BuildError> {
    let c: RetainConfig = ctx.config()?;
    if c.fields.is_empty() {
        return Err(ctx.err("fields", "retain: 'fields' is empty"));
    }
    let fields = c
        .fields
        .iter()
        .map(|f| ctx.field("fields", f))
        .collect::<Result<Vec<_>, _>>()?;
    let has = |r: Root| fields.iter().any(|f| f.root == r);
    Ok(Box::new(Transformer(Retain {
        body: has(Root::Body),
        attributes: has(Root::Attributes),
        resource: has(Root::Resource),
        fields,
    })))
}

#[derive(Debug)]
struct Flatten {
    field: Field,
}

impl Edit for Flatten {
    fn edit(&mut self, e: &mut Entry) -> Result<(), String> {
        let parent = Field {
            root: self.field.root,
            keys: self.field.keys[..self.field.keys.len() - 1].to_vec(),
        };
        match self.field.get_ref(e) {
            Some(Value::Map(_)) => {}
            Some(_) => return Err(format!("apply flatten: field {} is not a map", self.field)),
            None => {
                return Err(format!(
                    "apply flatten: field {} does not exist",
                    self.field
                ));
            }
        }
        let Some(Value::Map(inner)) = self.field.delete(e) else {
            unreachable!()
        };
        for (k, v) in inner {
            let mut f = parent.clone();
            f.keys.push(k);
            f.set(e, v)?;
        }
        Ok(())
    }
}

pub(super) fn flatten(ctx: &mut Ctx) -> Result<Box<dyn Operator>, BuildError> {
    let c: FieldConfig = ctx.config()?;
    let field = ctx.field("field", &c.field)?;
    // The Go operator flattens a map below the body, attributes or resource, not a root.
    if field.is_root() {
        return Err(ctx.err(
            "field",
            "flatten: field must be a nested field (body.x, attributes.x or resource.x)",
        ));
    }
    Ok(Box::new(Transformer(Flatten { field })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegexReplaceConfig {
    field: String,
    regex: Option<String>,
    regex_name: Option<String>,
    #[serde(default)]
    replace_with: String,
}

#[derive(Debug)]
struct RegexReplace {
    field: Field,
    re: regex::Regex,
    with: String,
}

impl Edit for RegexReplace {
    fn edit(&mut self, e: &mut Entry) -> Result<(), String> {
        let Some(v) = self.field.get_mut(e) else {
            return Ok(());
        };
        let Value::Str(s) = v else {
            return Err(format!("type {} cannot be handled", crate::value_type(v)));
        };
        if let std::borrow::Cow::Owned(n) = self.re.replace_all(s, self.with.as_str()) {
            *s = n;
        }
        Ok(())
    }
}

pub(super) fn regex_replace(ctx: &mut Ctx) -> Result<Box<dyn Operator>, BuildError> {
    let c: RegexReplaceConfig = ctx.config()?;
    let pattern = match (&c.regex, c.regex_name.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(ctx.err("regex", "either regex or regex_name must be set, not both"));
        }
        (Some(r), None) => r.clone(),
        // The Go preset: ANSI escape (CSI) sequences.
        (None, Some("ansi_control_sequences")) => r"\x1B[\[\(\]][\d;]*[a-zA-Z]?".to_string(),
        (None, Some(o)) => return Err(ctx.err("regex_name", format!("regex_name {o} is unknown"))),
        (None, None) => return Err(ctx.err("regex", "either regex or regex_name must be set")),
    };
    let re = regex::Regex::new(&pattern).map_err(|e| ctx.err("regex", e.to_string()))?;
    Ok(Box::new(Transformer(RegexReplace {
        field: ctx.field("field", &c.field)?,
        re,
        with: c.replace_with,
    })))
}

#[derive(Debug)]
struct Unquote {
    field: Field,
}

/// Go's `strconv.Unquote`: `"..."` with escapes, `` `...` `` raw, `'c'` one character.
pub(crate) fn go_unquote(s: &str) -> Option<String> {
    let q = s.chars().next()?;
    if !matches!(q, '"' | '\'' | '`') || s.len() < 2 || !s.ends_with(q) {
        return None;
    }
    let inner = &s[1..s.len() - 1];
    match q {
        '`' => (!inner.contains('`')).then(|| inner.replace('\r', "")),
        '"' | '\'' => {
            let mut out = String::new();
            let mut it = inner.chars().peekable();
            while let Some(c) = it.next() {
                if c == q || c == '\n' {
                    return None;
                }
                if c != '\\' {
                    out.push(c);
                    continue;
                }
                let e = it.next()?;
                let hex =
                    |it: &mut std::iter::Peekable<std::str::Chars>, n: usize| -> Option<u32> {
                        let mut v = 0;
                        for _ in 0..n {
                            v = v * 16 + it.next()?.to_digit(16)?;
                        }
                        Some(v)
                    };
                match e {
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'v' => out.push('\x0b'),
                    '\\' => out.push('\\'),
                    '\'' | '"' if e == q => out.push(e),
                    'x' => out.push(char::from_u32(hex(&mut it, 2)?)?),
                    'u' => out.push(char::from_u32(hex(&mut it, 4)?)?),
                    'U' => out.push(char::from_u32(hex(&mut it, 8)?)?),
                    '0'..='7' => {
                        let mut v = e.to_digit(8)?;
                        for _ in 0..2 {
                            v = v * 8 + it.next()?.to_digit(8)?;
                        }
                        out.push(char::from_u32(v).filter(|_| v <= 255)?);
                    }
                    _ => return None,
                }
            }
            if q == '\'' && out.chars().count() != 1 {
                return None;
            }
            Some(out)
        }
        _ => None,
    }
}

impl Edit for Unquote {
    fn edit(&mut self, e: &mut Entry) -> Result<(), String> {
        let Some(v) = self.field.get_mut(e) else {
            return Err(format!("unquote: field does not exist: {}", self.field));
        };
        let Value::Str(s) = v else {
            return Err(format!("type {} cannot be unquoted", crate::value_type(v)));
        };
        *s = go_unquote(s).ok_or_else(|| format!("failed to unquote {s:?}: invalid syntax"))?;
        Ok(())
    }
}

pub(super) fn unquote(ctx: &mut Ctx) -> Result<Box<dyn Operator>, BuildError> {
    let c: FieldConfig = ctx.config()?;
    Ok(Box::new(Transformer(Unquote {
        field: ctx.field("field", &c.field)?,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

#[derive(Debug)]
struct Noop;

impl Edit for Noop {
    fn edit(&mut self, _e: &mut Entry) -> Result<(), String> {
        Ok(())
    }
}

pub(super) fn noop(ctx: &mut Ctx) -> Result<Box<dyn Operator>, BuildError> {
    let _: Empty = ctx.config()?;
    Ok(Box::new(Transformer(Noop)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilterConfig {
    expr: String,
    drop_ratio: Option<f64>,
}

#[derive(Debug)]
struct Filter {
    expr: Expr,
    drop_ratio: f64,
    rng: u64,
}

impl Operator for Filter {
    fn process(&mut self, e: Entry, out: &mut Out) -> Result<(), Failure> {
        let matched = match self.expr.eval_bool(&e) {
            Ok(m) => m,
            Err(m) => return Err((e, m)),
        };
        if matched {
            if self.drop_ratio >= 1.0 {
                return Ok(());
            }
            // xorshift64*: a sampling decision needs no cryptographic randomness.
            self.rng ^= self.rng >> 12;
            self.rng ^= self.rng << 25;
            self.rng ^= self.rng >> 27;
            let r =
                (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
            if r < self.drop_ratio {
                return Ok(());
            }
        }
        out.push((0, e));
        Ok(())
    }
}

pub(super) fn filter(ctx: &mut Ctx) -> Result<Box<dyn Operator>, BuildError> {
    let c: FilterConfig = ctx.config()?;
    let drop_ratio = c.drop_ratio.unwrap_or(1.0);
    if !(0.0..=1.0).contains(&drop_ratio) {
        return Err(ctx.err("drop_ratio", "drop_ratio must be a number between 0 and 1"));
    }
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    Ok(Box::new(Filter {
        expr: ctx.expr("expr", &c.expr)?,
        drop_ratio,
        rng: seed,
    }))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Outputs {
    One(String),
    Many(Vec<String>),
}

impl Outputs {
    fn into_vec(self) -> Vec<String> {
        match self {
            Outputs::One(s) => vec![s],
            Outputs::Many(v) => v,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteConfig {
    output: Option<Outputs>,
    expr: String,
    #[serde(default)]
    attributes: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouterConfig {
    #[serde(default)]
    routes: Vec<RouteConfig>,
    default: Option<Outputs>,
}

#[derive(Debug)]
struct Route {
    expr: Expr,
    attributes: Vec<(Key, AddValue)>,
}

#[derive(Debug)]
struct Router {
    routes: Vec<Route>,
    has_default: bool,
}

impl Operator for Router {
    fn process(&mut self, mut e: Entry, out: &mut Out) -> Result<(), Failure> {
        for (i, r) in self.routes.iter().enumerate() {
            // As Go: a route whose expression fails is skipped.
            if let Ok(true) = r.expr.eval_bool(&e) {
                for (k, v) in &r.attributes {
                    match v.value(&e) {
                        Ok(v) => {
                            e.attributes.insert(k.clone(), v);
                        }
                        Err(m) => return Err((e, m)),
                    }
                }
                out.push((i + 1, e));
                return Ok(());
            }
        }
        if self.has_default {
            out.push((0, e));
        }
        Ok(())
    }
}

/// The router and its outputs per slot (`default`, then each route's).
pub(super) type RouterParts = (Box<dyn Operator>, Vec<Vec<String>>);

pub(super) fn router(ctx: &mut Ctx) -> Result<RouterParts, BuildError> {
    let c: RouterConfig = ctx.config()?;
    let mut outputs = vec![c.default.map(Outputs::into_vec).unwrap_or_default()];
    let mut routes = Vec::new();
    for (i, r) in c.routes.into_iter().enumerate() {
        let expr = ctx.expr(&format!("routes[{i}].expr"), &r.expr)?;
        let attributes = r
            .attributes
            .iter()
            .map(|(k, v)| {
                Ok((
                    k.as_str().into(),
                    AddValue::from_config(ctx, &format!("routes[{i}].attributes.{k}"), v)?,
                ))
            })
            .collect::<Result<Vec<_>, BuildError>>()?;
        outputs.push(r.output.map(Outputs::into_vec).unwrap_or_default());
        routes.push(Route { expr, attributes });
    }
    let has_default = !outputs[0].is_empty();
    Ok((
        Box::new(Router {
            routes,
            has_default,
        }),
        outputs,
    ))
}
