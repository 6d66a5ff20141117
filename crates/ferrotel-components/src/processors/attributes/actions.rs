//! The attribute action engine shared by the `attributes` and `resource` processors: `insert`,
//! `update`, `upsert`, `delete`, `hash`, `extract` and `convert`, with the Go Collector's
//! `attraction` semantics and error messages.
//!
//! Everything that does not depend on the data (action names, regexes, configured values,
//! context keys) is compiled once by [`AttrActions::new`]; applying the actions to an attribute
//! list then allocates only what the edit itself needs (a new key or a copied value).

use std::borrow::Cow;
use std::fmt::Write as _;

use ferrotel_pdata::Payload;
use ferrotel_pdata::proto::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList, any_value};
use ferrotel_pdata::wire::{AttrTarget, EncodedAttr, KeyFilter, KeySet, WireAttrs};
use ferrotel_runtime::Context;
use regex::Regex;
use regex::bytes::Regex as BytesRegex;
use serde::Deserialize;

/// One configured action, as written in YAML (`actions:` of `attributes`, `attributes:` of
/// `resource`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ActionKeyValue {
    /// The attribute to act on (required except for `delete`/`hash` with `pattern`).
    pub key: String,
    /// A literal value for `insert`/`update`/`upsert`; its YAML type is kept.
    pub value: Option<serde_json::Value>,
    /// The value `insert`/`update`/`upsert` write when their source gives none (an unset
    /// `${env:X}` in `value`, a missing `from_attribute` or `from_context` key).
    pub default_value: Option<serde_json::Value>,
    /// A regex: on keys for `delete`/`hash`, on the value for `extract` (named groups).
    pub pattern: String,
    /// Take the value from this attribute of the same item.
    pub from_attribute: String,
    /// Take the value from the request's client info: `metadata.<key>`, `auth.<attr>`,
    /// `client.address`, or a bare metadata key.
    pub from_context: String,
    /// `convert` target: `int`, `double` or `string`.
    pub converted_type: String,
    /// `insert`, `update`, `upsert`, `delete`, `hash`, `extract` or `convert` (any case).
    pub action: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Convert {
    Int,
    Double,
    String,
}

/// Where a client-info value comes from.
#[derive(Debug, Clone)]
enum ContextKey {
    ClientAddress,
    Metadata(String),
    Auth(String),
}

/// A configured value, with the action's attribute encoded once for edits on the wire.
#[derive(Debug, Clone)]
pub struct ConstValue {
    value: AnyValue,
    encoded: EncodedAttr,
}

impl ConstValue {
    fn new(key: &str, value: AnyValue) -> Self {
        let encoded = EncodedAttr::new(key, &value);
        ConstValue { value, encoded }
    }
}

/// A value an action writes: configured (pre-encoded) or found at run time.
pub enum Val<'s> {
    Const(&'s ConstValue),
    Dyn(Cow<'s, AnyValue>),
}

impl Val<'_> {
    fn any(&self) -> &AnyValue {
        match self {
            Val::Const(c) => &c.value,
            Val::Dyn(v) => v,
        }
    }
}

#[derive(Debug, Clone)]
enum Source {
    Value(ConstValue),
    Attribute(String),
    Context(ContextKey),
}

#[derive(Debug, Clone)]
enum Op {
    Insert(Source),
    Update(Source),
    Upsert(Source),
    /// Key patterns match the key's bytes (`regex::bytes`): the same verdict as on the
    /// string for UTF-8 keys, without checking each key's UTF-8 first.
    Delete(Option<BytesRegex>),
    Hash(Option<BytesRegex>),
    /// The regex and its group names (index 0, the whole match, unused).
    Extract(Regex, Vec<String>),
    Convert(Convert),
}

#[derive(Debug, Clone)]
struct Action {
    key: String,
    op: Op,
    /// `default_value`, for insert/update/upsert.
    default: Option<ConstValue>,
}

/// Compiled actions, applied in order to an attribute list.
#[derive(Debug, Clone, Default)]
pub struct AttrActions {
    actions: Vec<Action>,
    uses_context: bool,
    filter: KeyFilter,
}

/// Every key the actions name: their `key`, `from_attribute` sources and `extract` group
/// names; all keys when one of them matches keys by `pattern`.
fn key_filter(actions: &[Action]) -> KeyFilter {
    let mut keys: Vec<&str> = Vec::new();
    for a in actions {
        keys.push(&a.key);
        match &a.op {
            Op::Insert(Source::Attribute(from))
            | Op::Update(Source::Attribute(from))
            | Op::Upsert(Source::Attribute(from)) => keys.push(from),
            Op::Insert(_) | Op::Update(_) | Op::Upsert(_) | Op::Convert(_) => {}
            Op::Delete(re) | Op::Hash(re) => {
                if re.is_some() {
                    return KeyFilter::All;
                }
            }
            Op::Extract(_, names) => keys.extend(names.iter().skip(1).map(String::as_str)),
        }
    }
    let set = KeySet::new(keys);
    KeyFilter::Keys(if reads_keys_only(actions) {
        set.reads_keys_only()
    } else {
        set
    })
}

/// Whether the actions' result on a list depends only on which of their keys it holds:
/// inserts, updates and upserts of a configured or client-context value (one per request)
/// and deletes of a key, none naming a key a delete before it removed (it would then find
/// the key's next attribute). The wire edit then runs them once per key sequence in a
/// request and replays the result ([`KeySet::reads_keys_only`]).
fn reads_keys_only(actions: &[Action]) -> bool {
    let mut deleted: Vec<&str> = Vec::new();
    actions.iter().all(|a| {
        let by_key = match &a.op {
            Op::Insert(src) | Op::Update(src) | Op::Upsert(src) => {
                !matches!(src, Source::Attribute(_))
            }
            Op::Delete(None) => true,
            Op::Delete(Some(_)) | Op::Hash(_) | Op::Extract(..) | Op::Convert(_) => false,
        };
        let fresh = !deleted.contains(&a.key.as_str());
        if matches!(a.op, Op::Delete(_)) {
            deleted.push(&a.key);
        }
        by_key && fresh
    })
}

/// Client-info values resolved once per request (one slot per action that reads the context).
pub struct Bound<'a> {
    actions: &'a AttrActions,
    context: Vec<Option<AnyValue>>,
}

impl AttrActions {
    /// Compiles and checks the actions; errors read as the Go Collector's.
    pub fn new(settings: &[ActionKeyValue]) -> Result<Self, String> {
        let mut actions = Vec::with_capacity(settings.len());
        let mut uses_context = false;
        for (i, a) in settings.iter().enumerate() {
            let name = a.action.to_ascii_lowercase();
            match name.as_str() {
                "delete" | "hash" => {
                    if a.key.is_empty() && a.pattern.is_empty() {
                        return Err(format!(
                            "error creating AttrProc due to missing required field (at least one of \"key\" and \"pattern\" have to be used) at the {i}-th actions"
                        ));
                    }
                }
                _ => {
                    if a.key.is_empty() {
                        return Err(format!(
                            "error creating AttrProc due to missing required field \"key\" at the {i}-th actions"
                        ));
                    }
                }
            }
            let sources = usize::from(a.value.is_some())
                + usize::from(!a.from_attribute.is_empty())
                + usize::from(!a.from_context.is_empty());
            let no_converted_type = || {
                if a.converted_type.is_empty() {
                    Ok(())
                } else {
                    Err(format!(
                        "error creating AttrProc. Action \"{name}\" does not use the \"converted_type\" field. This must not be specified for {i}-th action"
                    ))
                }
            };
            let invalid = |pattern: &str| {
                format!(
                    "error creating AttrProc. Field \"pattern\" has invalid pattern: \"{pattern}\" to be set at the {i}-th actions"
                )
            };
            let compile_keys =
                |pattern: &str| BytesRegex::new(pattern).map_err(|_| invalid(pattern));
            let compile = |pattern: &str| {
                Regex::new(pattern).map_err(|_| {
                    format!(
                        "error creating AttrProc. Field \"pattern\" has invalid pattern: \"{pattern}\" to be set at the {i}-th actions"
                    )
                })
            };
            let op = match name.as_str() {
                "insert" | "update" | "upsert" => {
                    if sources == 0 && a.default_value.is_none() {
                        return Err(format!(
                            "error creating AttrProc. Either field \"value\", \"from_attribute\" or \"from_context\" setting must be specified for {i}-th action"
                        ));
                    }
                    if sources > 1 {
                        return Err(format!(
                            "error creating AttrProc due to multiple value sources being set at the {i}-th actions"
                        ));
                    }
                    if !a.pattern.is_empty() {
                        return Err(format!(
                            "error creating AttrProc. Action \"{name}\" does not use the \"pattern\" field. This must not be specified for {i}-th action"
                        ));
                    }
                    no_converted_type()?;
                    let source = if let Some(v) = &a.value {
                        Source::Value(ConstValue::new(&a.key, json_to_any(v)))
                    } else if !a.from_attribute.is_empty() {
                        Source::Attribute(a.from_attribute.clone())
                    } else if !a.from_context.is_empty() {
                        uses_context = true;
                        Source::Context(parse_context_key(&a.from_context))
                    } else {
                        // Only `default_value` (e.g. `value: ${env:X}` with X unset): it is the value.
                        let v = a.default_value.as_ref().expect("checked above");
                        Source::Value(ConstValue::new(&a.key, json_to_any(v)))
                    };
                    match name.as_str() {
                        "insert" => Op::Insert(source),
                        "update" => Op::Update(source),
                        _ => Op::Upsert(source),
                    }
                }
                "delete" | "hash" => {
                    if a.value.is_some() || !a.from_attribute.is_empty() {
                        return Err(format!(
                            "error creating AttrProc. Action \"{name}\" does not use \"value\" or \"from_attribute\" field. These must not be specified for {i}-th action"
                        ));
                    }
                    let re = if a.pattern.is_empty() {
                        None
                    } else {
                        Some(compile_keys(&a.pattern)?)
                    };
                    no_converted_type()?;
                    if name == "delete" {
                        Op::Delete(re)
                    } else {
                        Op::Hash(re)
                    }
                }
                "extract" => {
                    if sources > 0 {
                        return Err(format!(
                            "error creating AttrProc. Action \"{name}\" does not use a value source field. These must not be specified for {i}-th action"
                        ));
                    }
                    if a.pattern.is_empty() {
                        return Err(format!(
                            "error creating AttrProc due to missing required field \"pattern\" for action \"{name}\" at the {i}-th action"
                        ));
                    }
                    no_converted_type()?;
                    let re = compile(&a.pattern)?;
                    let names: Vec<Option<&str>> = re.capture_names().collect();
                    if names.len() <= 1 {
                        return Err(format!(
                            "error creating AttrProc. Field \"pattern\" contains no named matcher groups at the {i}-th actions"
                        ));
                    }
                    if names[1..].iter().any(Option::is_none) {
                        return Err(format!(
                            "error creating AttrProc. Field \"pattern\" contains at least one unnamed matcher group at the {i}-th actions"
                        ));
                    }
                    let names = names
                        .iter()
                        .map(|n| n.unwrap_or_default().to_string())
                        .collect();
                    Op::Extract(re, names)
                }
                "convert" => {
                    if sources > 0 || !a.pattern.is_empty() {
                        return Err(format!(
                            "error creating AttrProc. Action \"{name}\" does not use value sources or \"pattern\" field. These must not be specified for {i}-th action"
                        ));
                    }
                    Op::Convert(match a.converted_type.as_str() {
                        "int" => Convert::Int,
                        "double" => Convert::Double,
                        "string" => Convert::String,
                        "" => {
                            return Err(format!(
                                "error creating AttrProc due to missing required field \"converted_type\" for action \"{name}\" at the {i}-th action"
                            ));
                        }
                        other => {
                            return Err(format!(
                                "error creating AttrProc due to invalid value \"{other}\" in field \"converted_type\" for action \"{name}\" at the {i}-th action"
                            ));
                        }
                    })
                }
                _ => {
                    return Err(format!(
                        "error creating AttrProc due to unsupported action \"{name}\" at the {i}-th actions"
                    ));
                }
            };
            let default = match (&op, &a.default_value) {
                (_, None) => None,
                (Op::Insert(_) | Op::Update(_) | Op::Upsert(_), Some(v)) => {
                    Some(ConstValue::new(&a.key, json_to_any(v)))
                }
                (_, Some(_)) => {
                    return Err(format!(
                        "error creating AttrProc. Action \"{name}\" does not use the \"default_value\" field. This must not be specified for {i}-th action"
                    ));
                }
            };
            actions.push(Action {
                key: a.key.clone(),
                op,
                default,
            });
        }
        let filter = key_filter(&actions);
        Ok(AttrActions {
            actions,
            uses_context,
            filter,
        })
    }

    /// Applies the actions to the attribute lists `target` selects, on the encoded bytes
    /// (only the keys the actions name are parsed); false, leaving the payload as it was, when
    /// the caller must decode (a decoded payload, profiles, input the wire edit refuses).
    pub fn apply_encoded(&self, payload: &mut Payload, target: AttrTarget, ctx: &Context) -> bool {
        let bound = self.bind(ctx);
        payload.edit_attributes_encoded(target, &self.filter, |attrs| bound.apply(attrs))
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// Resolves the client-info values of one request, so per-item work never looks at the
    /// context (nothing is allocated when no action reads it).
    pub fn bind(&self, ctx: &Context) -> Bound<'_> {
        let context = if self.uses_context {
            self.actions
                .iter()
                .map(|a| match &a.op {
                    Op::Insert(Source::Context(k))
                    | Op::Update(Source::Context(k))
                    | Op::Upsert(Source::Context(k)) => context_value(ctx, k),
                    _ => None,
                })
                .collect()
        } else {
            Vec::new()
        };
        Bound {
            actions: self,
            context,
        }
    }
}

/// An attribute list the actions edit: a decoded `Vec<KeyValue>`, or the list of an encoded
/// item edited on the wire ([`WireAttrs`]), which leaves the rest of the request undecoded.
pub trait AttrList {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The key of entry `i`.
    fn key(&self, i: usize) -> &str;
    /// The key of entry `i` as bytes.
    fn key_bytes(&self, i: usize) -> &[u8] {
        self.key(i).as_bytes()
    }
    /// The first entry named `key`.
    fn find(&self, key: &str) -> Option<usize>;
    /// The value of entry `i` if it is a string.
    fn str_value(&self, i: usize) -> Option<&str>;
    /// A copy of the value of entry `i` (an empty value if it has none).
    fn value(&self, i: usize) -> AnyValue;
    fn set(&mut self, i: usize, value: &AnyValue);
    fn push(&mut self, key: &str, value: Cow<'_, AnyValue>);
    /// `set` with a value that may come pre-encoded (then for the action's own key, which
    /// entry `i` has).
    fn set_val(&mut self, i: usize, value: Val<'_>) {
        self.set(i, value.any());
    }
    /// `push` with a value that may come pre-encoded.
    fn push_val(&mut self, key: &str, value: Val<'_>) {
        match value {
            Val::Const(c) => self.push(key, Cow::Borrowed(&c.value)),
            Val::Dyn(v) => self.push(key, v),
        }
    }
    fn remove(&mut self, i: usize);
    /// Keeps the entries whose key (as bytes) `keep` accepts.
    fn retain(&mut self, keep: impl FnMut(&[u8]) -> bool);
    /// Edits the value of entry `i` in place.
    fn update(&mut self, i: usize, edit: impl FnOnce(&mut AnyValue));
}

impl AttrList for Vec<KeyValue> {
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn key(&self, i: usize) -> &str {
        &self[i].key
    }
    #[inline]
    fn find(&self, key: &str) -> Option<usize> {
        self.iter().position(|a| a.key == key)
    }
    fn str_value(&self, i: usize) -> Option<&str> {
        match self[i].value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s),
            _ => None,
        }
    }
    fn value(&self, i: usize) -> AnyValue {
        self[i].value.clone().unwrap_or_default()
    }
    /// Reuses the existing string buffer when both are strings, so an update of a string
    /// attribute allocates nothing.
    fn set(&mut self, i: usize, value: &AnyValue) {
        assign(&mut self[i].value, value);
    }
    fn push(&mut self, key: &str, value: Cow<'_, AnyValue>) {
        Vec::push(self, kv(key, value.into_owned()));
    }
    fn remove(&mut self, i: usize) {
        Vec::remove(self, i);
    }
    fn retain(&mut self, mut keep: impl FnMut(&[u8]) -> bool) {
        Vec::retain(self, |a| keep(a.key.as_bytes()));
    }
    fn update(&mut self, i: usize, edit: impl FnOnce(&mut AnyValue)) {
        edit(self[i].value.get_or_insert_with(Default::default));
    }
}

impl AttrList for WireAttrs<'_> {
    fn len(&self) -> usize {
        WireAttrs::len(self)
    }
    fn key(&self, i: usize) -> &str {
        WireAttrs::key(self, i)
    }
    fn key_bytes(&self, i: usize) -> &[u8] {
        WireAttrs::key_bytes(self, i)
    }
    #[inline]
    fn find(&self, key: &str) -> Option<usize> {
        WireAttrs::find(self, key)
    }
    fn str_value(&self, i: usize) -> Option<&str> {
        self.value(i).as_str()
    }
    fn value(&self, i: usize) -> AnyValue {
        self.value_owned(i)
    }
    fn set(&mut self, i: usize, value: &AnyValue) {
        WireAttrs::set(self, i, value);
    }
    fn push(&mut self, key: &str, value: Cow<'_, AnyValue>) {
        WireAttrs::push(self, key, &value);
    }
    fn set_val(&mut self, i: usize, value: Val<'_>) {
        match value {
            Val::Const(c) => self.set_encoded(i, &c.encoded),
            Val::Dyn(v) => WireAttrs::set(self, i, &v),
        }
    }
    fn push_val(&mut self, key: &str, value: Val<'_>) {
        match value {
            Val::Const(c) => self.push_encoded(&c.encoded),
            Val::Dyn(v) => WireAttrs::push(self, key, &v),
        }
    }
    fn remove(&mut self, i: usize) {
        WireAttrs::remove(self, i);
    }
    fn retain(&mut self, keep: impl FnMut(&[u8]) -> bool) {
        WireAttrs::retain(self, keep);
    }
    fn update(&mut self, i: usize, edit: impl FnOnce(&mut AnyValue)) {
        let mut v = self.value_owned(i);
        edit(&mut v);
        WireAttrs::set(self, i, &v);
    }
}

impl Bound<'_> {
    /// Applies every action, in order, to one attribute list.
    pub fn apply<L: AttrList>(&self, attrs: &mut L) {
        for (i, action) in self.actions.actions.iter().enumerate() {
            let key = action.key.as_str();
            match &action.op {
                Op::Insert(src) => {
                    if attrs.find(key).is_none()
                        && let Some(v) = self.source(i, src, action.default.as_ref(), attrs)
                    {
                        attrs.push_val(key, v);
                    }
                }
                Op::Update(src) => {
                    if let Some(idx) = attrs.find(key)
                        && let Some(v) = self.source(i, src, action.default.as_ref(), attrs)
                    {
                        attrs.set_val(idx, v);
                    }
                }
                Op::Upsert(src) => {
                    if let Some(v) = self.source(i, src, action.default.as_ref(), attrs) {
                        match attrs.find(key) {
                            Some(idx) => attrs.set_val(idx, v),
                            None => attrs.push_val(key, v),
                        }
                    }
                }
                Op::Delete(re) => {
                    if !key.is_empty()
                        && let Some(idx) = attrs.find(key)
                    {
                        attrs.remove(idx);
                    }
                    if let Some(re) = re {
                        attrs.retain(|k| !re.is_match(k));
                    }
                }
                Op::Hash(re) => {
                    for idx in 0..attrs.len() {
                        // The Go Collector hashes `key`, then every key matching `pattern`: a
                        // key that is both is hashed twice there, and so here.
                        let k = attrs.key_bytes(idx);
                        let times = usize::from(!key.is_empty() && k == key.as_bytes())
                            + usize::from(re.as_ref().is_some_and(|re| re.is_match(k)));
                        if times > 0 {
                            attrs.update(idx, |v| (0..times).for_each(|_| hash_value(v)));
                        }
                    }
                }
                Op::Extract(re, names) => extract(attrs, key, re, names),
                Op::Convert(to) => {
                    if let Some(idx) = attrs.find(key) {
                        attrs.update(idx, |v| convert(v, *to));
                    }
                }
            }
        }
    }

    /// The value an insert/update/upsert writes (None: the source is absent). Configured and
    /// context values are borrowed; a value from another attribute is copied, as it lives in
    /// the list being edited.
    fn source<'s, L: AttrList>(
        &'s self,
        i: usize,
        src: &'s Source,
        default: Option<&'s ConstValue>,
        attrs: &L,
    ) -> Option<Val<'s>> {
        let found = match src {
            Source::Value(v) => Some(Val::Const(v)),
            Source::Attribute(from) => attrs
                .find(from)
                .map(|idx| Val::Dyn(Cow::Owned(attrs.value(idx)))),
            Source::Context(_) => self
                .context
                .get(i)
                .and_then(Option::as_ref)
                .map(|v| Val::Dyn(Cow::Borrowed(v))),
        };
        found.or_else(|| default.map(Val::Const))
    }
}

/// Overwrites a value, reusing the existing string buffer when both are strings (an update
/// of a string attribute then allocates nothing).
fn assign(dst: &mut Option<AnyValue>, src: &AnyValue) {
    use any_value::Value as V;
    if let (
        Some(AnyValue {
            value: Some(V::StringValue(d)),
        }),
        Some(V::StringValue(s)),
    ) = (dst.as_mut(), &src.value)
    {
        d.clear();
        d.push_str(s);
        return;
    }
    *dst = Some(src.clone());
}

fn kv(key: &str, value: AnyValue) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(value),
        ..Default::default()
    }
}

fn string_value(s: String) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(s)),
    }
}

fn parse_context_key(key: &str) -> ContextKey {
    if key == "client.address" {
        ContextKey::ClientAddress
    } else if let Some(k) = key.strip_prefix("metadata.") {
        ContextKey::Metadata(k.to_string())
    } else if let Some(k) = key.strip_prefix("auth.") {
        ContextKey::Auth(k.to_string())
    } else {
        // A bare key means a metadata key, as in the Go Collector (backwards compatibility).
        ContextKey::Metadata(key.to_string())
    }
}

/// A client-info value; several metadata values are joined with `;` as in the Go Collector.
fn context_value(ctx: &Context, key: &ContextKey) -> Option<AnyValue> {
    let client = ctx.client.as_ref()?;
    match key {
        ContextKey::ClientAddress => client.addr.map(|a| string_value(a.ip().to_string())),
        ContextKey::Metadata(k) => {
            let mut joined: Option<String> = None;
            for v in client.metadata_values(k) {
                match &mut joined {
                    Some(j) => {
                        j.push(';');
                        j.push_str(v);
                    }
                    None => joined = Some(v.to_string()),
                }
            }
            joined.map(string_value)
        }
        // ferrotel's auth extensions report one subject; the Go authenticators expose it as
        // `subject` (OIDC, bearer) or `username` (basic auth).
        ContextKey::Auth(attr) => match attr.as_str() {
            "subject" | "username" => client.auth_subject.clone().map(string_value),
            _ => None,
        },
    }
}

/// Replaces a value with the hex SHA-256 of its bytes: strings as UTF-8, bools as one byte,
/// ints and doubles as 8 little-endian bytes (as the Go Collector hashes them); other types
/// become the empty string, as there.
fn hash_value(v: &mut AnyValue) {
    use any_value::Value as V;
    let mut buf = [0u8; 8];
    let bytes: &[u8] = match &v.value {
        Some(V::StringValue(s)) => {
            // Hash in place: reuse the string's buffer for the digest.
            let digest = ferrotel_ottl::sha256::digest(s.as_bytes());
            if let Some(V::StringValue(s)) = &mut v.value {
                write_hex(&digest, s);
            }
            return;
        }
        Some(V::BoolValue(b)) => {
            buf[0] = u8::from(*b);
            &buf[..1]
        }
        Some(V::IntValue(i)) => {
            buf = i.to_le_bytes();
            &buf
        }
        Some(V::DoubleValue(d)) => {
            buf = d.to_bits().to_le_bytes();
            &buf
        }
        _ => &[],
    };
    let mut out = String::new();
    if !bytes.is_empty() {
        ferrotel_ottl::sha256::hex_digest_into(bytes, &mut out);
    }
    v.value = Some(V::StringValue(out));
}

fn write_hex(digest: &[u8; 32], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.clear();
    out.reserve(64);
    for b in digest {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 0xf) as usize] as char);
    }
}

/// `extract`: named groups of the first match on the string value of `key` become (or
/// overwrite) string attributes; non-strings and non-matches are left alone.
fn extract<L: AttrList>(attrs: &mut L, key: &str, re: &Regex, names: &[String]) {
    let Some(idx) = attrs.find(key) else { return };
    let Some(s) = attrs.str_value(idx) else {
        return;
    };
    let Some(caps) = re.captures(s) else { return };
    // Copy the groups out first: they borrow the source attribute we may overwrite.
    let found: Vec<(usize, String)> = (1..names.len())
        .map(|g| (g, caps.get(g).map_or("", |m| m.as_str()).to_string()))
        .collect();
    for (g, value) in found {
        let name = &names[g];
        let value = string_value(value);
        match attrs.find(name) {
            Some(i) => attrs.set(i, &value),
            None => attrs.push(name, Cow::Owned(value)),
        }
    }
}

/// `convert`, as the Go Collector's type converter: values that cannot be converted are left
/// as they are.
fn convert(v: &mut AnyValue, to: Convert) {
    use any_value::Value as V;
    let new = match (to, &v.value) {
        (Convert::String, Some(V::StringValue(_))) => return,
        (Convert::String, _) => V::StringValue(as_string(v)),
        (Convert::Int, Some(V::DoubleValue(d))) => V::IntValue(*d as i64),
        (Convert::Int, Some(V::BoolValue(b))) => V::IntValue(i64::from(*b)),
        (Convert::Int, Some(V::StringValue(s))) => match s.parse::<i64>() {
            Ok(n) => V::IntValue(n),
            Err(_) => return,
        },
        (Convert::Double, Some(V::IntValue(i))) => V::DoubleValue(*i as f64),
        (Convert::Double, Some(V::BoolValue(b))) => V::DoubleValue(if *b { 1.0 } else { 0.0 }),
        (Convert::Double, Some(V::StringValue(s))) => match s.parse::<f64>() {
            Ok(n) => V::DoubleValue(n),
            Err(_) => return,
        },
        _ => return,
    };
    v.value = Some(new);
}

/// A value as a string, as pdata's `Value.AsString` renders it: doubles in the ES6/JSON
/// number form, bytes in base64, maps and arrays as JSON, empty as "".
pub fn as_string(v: &AnyValue) -> String {
    use any_value::Value as V;
    match &v.value {
        None => String::new(),
        Some(V::StringValue(s)) => s.clone(),
        Some(V::BoolValue(b)) => b.to_string(),
        Some(V::IntValue(i)) => i.to_string(),
        Some(V::DoubleValue(d)) => format_double(*d),
        Some(V::BytesValue(b)) => base64(b),
        Some(V::StringValueStrindex(i)) => i.to_string(),
        Some(V::ArrayValue(_)) | Some(V::KvlistValue(_)) => any_to_json(v).to_string(),
    }
}

fn format_double(d: f64) -> String {
    if d.is_nan() || d.is_infinite() {
        let g = if d.is_nan() {
            "NaN"
        } else if d > 0.0 {
            "+Inf"
        } else {
            "-Inf"
        };
        return format!("json: unsupported value: {g}");
    }
    let abs = d.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Go writes exponents with a sign and at least one digit (`1e+21`, `1e-7`).
        let s = format!("{d:e}");
        match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        }
    } else {
        let mut s = String::new();
        let _ = write!(s, "{d}");
        s
    }
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if c.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

fn any_to_json(v: &AnyValue) -> serde_json::Value {
    use any_value::Value as V;
    match &v.value {
        None => serde_json::Value::Null,
        Some(V::StringValue(s)) => s.clone().into(),
        Some(V::BoolValue(b)) => (*b).into(),
        Some(V::IntValue(i)) => (*i).into(),
        Some(V::DoubleValue(d)) => serde_json::Number::from_f64(*d)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Some(V::BytesValue(b)) => base64(b).into(),
        Some(V::StringValueStrindex(i)) => (*i).into(),
        Some(V::ArrayValue(a)) => a.values.iter().map(any_to_json).collect(),
        Some(V::KvlistValue(kvs)) => kvs
            .values
            .iter()
            .map(|kv| {
                (
                    kv.key.clone(),
                    kv.value
                        .as_ref()
                        .map_or(serde_json::Value::Null, any_to_json),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}

/// A config value (from YAML) as an attribute value, keeping its type as pdata's `FromRaw`
/// does: integers stay integers, other numbers become doubles.
pub fn json_to_any(v: &serde_json::Value) -> AnyValue {
    use any_value::Value as V;
    let value = match v {
        serde_json::Value::Null => None,
        serde_json::Value::Bool(b) => Some(V::BoolValue(*b)),
        serde_json::Value::Number(n) => Some(match n.as_i64() {
            Some(i) => V::IntValue(i),
            None => V::DoubleValue(n.as_f64().unwrap_or_default()),
        }),
        serde_json::Value::String(s) => Some(V::StringValue(s.clone())),
        serde_json::Value::Array(a) => Some(V::ArrayValue(ArrayValue {
            values: a.iter().map(json_to_any).collect(),
        })),
        serde_json::Value::Object(o) => Some(V::KvlistValue(KeyValueList {
            values: o.iter().map(|(k, v)| kv(k, json_to_any(v))).collect(),
        })),
    };
    AnyValue { value }
}
