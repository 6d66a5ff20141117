//! The editors of every context (`set`, `delete_key`, `limit`, `replace_*`, `flatten`...).

use std::sync::Arc;

use ferrotel_pdata::proto::common::v1::AnyValue;

use super::compiler::{Args, CResult, Compiler, err, glob, lit_int, lit_str, regex, want_str};
use super::maps::{Flattened, dedupe_keys, edit_map};
use super::names::{converter_name, metric_editor};
use super::replace::{REPLACE_PARAMS, replace_with};
use crate::context::{Ctx, TCtx};
use crate::getter::{EditFn, Getter, PathAcc};
use crate::parser::{Call, ExprKind};
use crate::value::Value;

/// What an editor call does, for callers that run common edits another way (on the wire):
/// `set` and `delete_key` with their compiled arguments; anything else is `Other`.
#[derive(Debug, Clone)]
pub enum EditShape {
    Set { target: PathAcc, value: Getter },
    DeleteKey { target: PathAcc, key: Getter },
    Other,
}

impl Compiler {
    /// The [`EditShape`] of an editor call that [`Compiler::editor`] accepted.
    pub fn edit_shape(&self, call: &Call) -> CResult<EditShape> {
        Ok(match call.name.as_str() {
            "set" => {
                let a = Args::bind(call, &["target", "value"], 2)?;
                EditShape::Set {
                    target: self.target(a.get(0), "set")?,
                    value: self.getter(a.get(1))?,
                }
            }
            "delete_key" => {
                let a = Args::bind(call, &["target", "key"], 2)?;
                EditShape::DeleteKey {
                    target: self.target(a.get(0), "delete_key")?,
                    key: self.getter(a.get(1))?,
                }
            }
            _ => EditShape::Other,
        })
    }

    /// An editor call.
    pub fn editor(&self, call: &Call) -> CResult<EditFn> {
        let name = call.name.as_str();
        let f: EditFn = match name {
            "set" => {
                let a = Args::bind(call, &["target", "value"], 2)?;
                let target = self.target(a.get(0), name)?;
                let value = self.getter(a.get(1))?;
                Arc::new(move |t| {
                    let v = value.eval(t)?;
                    target.set(t, v)
                })
            }
            "delete_key" => {
                let a = Args::bind(call, &["target", "key"], 2)?;
                let target = self.target(a.get(0), name)?;
                let key = self.getter(a.get(1))?;
                Arc::new(move |t| {
                    let k = key.eval(t)?;
                    let Value::Str(k) = k else {
                        return Err(format!(
                            "delete_key: key must be a string, got {}",
                            k.type_name()
                        ));
                    };
                    edit_map(&target, t, "delete_key", |m| {
                        m.retain(|kv| kv.key != k);
                        Ok(())
                    })
                })
            }
            "delete_matching_keys" | "keep_matching_keys" => {
                let a = Args::bind(call, &["target", "pattern"], 2)?;
                let target = self.target(a.get(0), name)?;
                let re = regex(a.get(1), "pattern")?;
                let keep = name == "keep_matching_keys";
                let fname = call.name.clone();
                Arc::new(move |t| {
                    edit_map(&target, t, &fname, |m| {
                        m.retain(|kv| re.is_match(&kv.key) == keep);
                        Ok(())
                    })
                })
            }
            "keep_keys" => {
                let a = Args::bind(call, &["target", "keys"], 2)?;
                let target = self.target(a.get(0), name)?;
                let keys = self.getter(a.get(1))?;
                Arc::new(move |t| {
                    let keys: Vec<String> = keys
                        .eval_list(t)?
                        .into_iter()
                        .filter_map(|k| match k {
                            Value::Str(s) => Some(s),
                            _ => None,
                        })
                        .collect();
                    edit_map(&target, t, "keep_keys", |m| {
                        m.retain(|kv| keys.contains(&kv.key));
                        Ok(())
                    })
                })
            }
            "limit" => {
                let a = Args::bind(call, &["target", "limit", "priority_keys"], 2)?;
                let target = self.target(a.get(0), name)?;
                let limit = lit_int(a.get(1), "limit")?;
                if limit < 0 {
                    return err(
                        a.get(1).col,
                        format!("invalid limit for limit function, {limit} cannot be negative"),
                    );
                }
                let mut prio = Vec::new();
                if let Some(p) = a.opt(2) {
                    let ExprKind::List(items) = &p.kind else {
                        return err(p.col, "priority_keys must be a list of strings");
                    };
                    for i in items {
                        prio.push(lit_str(i, "priority key")?);
                    }
                    if prio.len() as i64 > limit {
                        return err(
                            p.col,
                            format!(
                                "invalid limit for limit function, {limit} cannot be less than number of priority attributes {}",
                                prio.len()
                            ),
                        );
                    }
                }
                let limit = limit as usize;
                Arc::new(move |t| {
                    edit_map(&target, t, "limit", |m| {
                        if m.len() <= limit {
                            return Ok(());
                        }
                        let mut kept = 0;
                        let mut keep = vec![false; m.len()];
                        for (i, kv) in m.iter().enumerate() {
                            if prio.contains(&kv.key) && kept < limit {
                                keep[i] = true;
                                kept += 1;
                            }
                        }
                        for k in keep.iter_mut() {
                            if kept >= limit {
                                break;
                            }
                            if !*k {
                                *k = true;
                                kept += 1;
                            }
                        }
                        let mut it = keep.into_iter();
                        m.retain(|_| it.next().unwrap_or(false));
                        Ok(())
                    })
                })
            }
            "truncate_all" => {
                let a = Args::bind(call, &["target", "limit"], 2)?;
                let target = self.target(a.get(0), name)?;
                let limit = lit_int(a.get(1), "limit")?;
                if limit < 0 {
                    return err(
                        a.get(1).col,
                        format!(
                            "invalid limit for truncate_all function, {limit} cannot be negative"
                        ),
                    );
                }
                let limit = limit as usize;
                Arc::new(move |t| {
                    edit_map(&target, t, "truncate_all", |m| {
                        for kv in m.iter_mut() {
                            if let Some(AnyValue {
                                value: Some(ferrotel_pdata::proto::common::v1::any_value::Value::StringValue(s)),
                            }) = &mut kv.value
                                && s.len() > limit
                            {
                                let mut end = limit;
                                while !s.is_char_boundary(end) {
                                    end -= 1;
                                }
                                s.truncate(end);
                            }
                        }
                        Ok(())
                    })
                })
            }
            "merge_maps" => {
                let a = Args::bind(call, &["target", "source", "strategy"], 3)?;
                let target = self.target(a.get(0), name)?;
                let source = self.getter(a.get(1))?;
                let strategy = lit_str(a.get(2), "strategy")?;
                if !matches!(strategy.as_str(), "insert" | "update" | "upsert") {
                    return err(
                        a.get(2).col,
                        format!(
                            "invalid value for strategy, {strategy:?}, must be 'insert', 'update' or 'upsert'"
                        ),
                    );
                }
                Arc::new(move |t| {
                    let src = match source.eval(t)? {
                        Value::Map(m) => m,
                        Value::Nil => return Ok(()),
                        o => {
                            return Err(format!(
                                "merge_maps: source must be a map, got {}",
                                o.type_name()
                            ));
                        }
                    };
                    edit_map(&target, t, "merge_maps", |m| {
                        for kv in src {
                            match m.iter_mut().find(|x| x.key == kv.key) {
                                Some(x) if strategy != "insert" => *x = kv,
                                Some(_) => {}
                                None if strategy != "update" => m.push(kv),
                                None => {}
                            }
                        }
                        Ok(())
                    })
                })
            }
            "replace_pattern" => {
                let a = Args::bind(
                    call,
                    &[
                        "target",
                        "regex",
                        "replacement",
                        "function",
                        "replacementFormat",
                    ],
                    3,
                )?;
                let target = self.target(a.get(0), name)?;
                let re = regex(a.get(1), "regex")?;
                let rep = self.getter(a.get(2))?;
                let func = self.replace_fn(&a)?;
                Arc::new(move |t| {
                    let Value::Str(s) = target.get(t)? else {
                        return Ok(());
                    };
                    let r = want_str(rep.eval(t)?, "replace_pattern")?;
                    if re.is_match(&s) {
                        let new = match &func {
                            None => replace_with(&re, &s, &r),
                            Some(f) => f.per_match(t, &re, &s, &r)?,
                        };
                        target.set(t, Value::Str(new))?;
                    }
                    Ok(())
                })
            }
            "replace_match" => {
                let a = Args::bind(call, REPLACE_PARAMS, 3)?;
                let target = self.target(a.get(0), name)?;
                let g = glob(a.get(1))?;
                let rep = self.getter(a.get(2))?;
                let func = self.replace_fn(&a)?;
                Arc::new(move |t| {
                    let Value::Str(s) = target.get(t)? else {
                        return Ok(());
                    };
                    if g.is_match(&s) {
                        let r = want_str(rep.eval(t)?, "replace_match")?;
                        let r = match &func {
                            None => r,
                            Some(f) => f.whole(t, &r)?,
                        };
                        target.set(t, Value::Str(r))?;
                    }
                    Ok(())
                })
            }
            "replace_all_matches" => {
                let a = Args::bind(call, REPLACE_PARAMS, 3)?;
                let target = self.target(a.get(0), name)?;
                let g = glob(a.get(1))?;
                let rep = self.getter(a.get(2))?;
                let func = self.replace_fn(&a)?;
                Arc::new(move |t| {
                    let r = want_str(rep.eval(t)?, "replace_all_matches")?;
                    let r = match &func {
                        None => r,
                        Some(f) => f.whole(t, &r)?,
                    };
                    edit_map(&target, t, "replace_all_matches", |m| {
                        for kv in m.iter_mut() {
                            if let Value::Str(s) = Value::from_any(kv.value.as_ref())
                                && g.is_match(&s)
                            {
                                kv.value = Some(Value::Str(r.clone()).into_any());
                            }
                        }
                        Ok(())
                    })
                })
            }
            "replace_all_patterns" => {
                let a = Args::bind(
                    call,
                    &[
                        "target",
                        "mode",
                        "regex",
                        "replacement",
                        "function",
                        "replacementFormat",
                    ],
                    4,
                )?;
                let target = self.target(a.get(0), name)?;
                let mode = lit_str(a.get(1), "mode")?;
                if mode != "key" && mode != "value" {
                    return err(
                        a.get(1).col,
                        format!("invalid mode {mode:?}, must be \"key\" or \"value\""),
                    );
                }
                let by_key = mode == "key";
                let re = regex(a.get(2), "regex")?;
                let rep = self.getter(a.get(3))?;
                let func = self.replace_fn_at(&a, 4)?;
                if func.is_none() {
                    return Ok(Arc::new(move |t| {
                        let r = want_str(rep.eval(t)?, "replace_all_patterns")?;
                        edit_map(&target, t, "replace_all_patterns", |m| {
                            for kv in m.iter_mut() {
                                if by_key {
                                    if re.is_match(&kv.key) {
                                        kv.key = replace_with(&re, &kv.key, &r);
                                    }
                                } else if let Value::Str(s) = Value::from_any(kv.value.as_ref())
                                    && re.is_match(&s)
                                {
                                    kv.value =
                                        Some(Value::Str(replace_with(&re, &s, &r)).into_any());
                                }
                            }
                            if by_key {
                                dedupe_keys(m);
                            }
                            Ok(())
                        })
                    }));
                }
                Arc::new(move |t| {
                    let r = want_str(rep.eval(t)?, "replace_all_patterns")?;
                    // The function and format getters need the context, so replacements are
                    // computed before the map is borrowed for editing.
                    let f = func.as_ref().expect("a function");
                    let replace = |t: &TCtx<'_>, s: &str| f.per_match(t, &re, s, &r);
                    let Some(map) = (match target.get(t)? {
                        Value::Nil => None,
                        Value::Map(m) => Some(m),
                        o => {
                            return Err(format!(
                                "replace_all_patterns: expected a map but got {}",
                                o.type_name()
                            ));
                        }
                    }) else {
                        return Ok(());
                    };
                    let mut changes: Vec<(usize, String)> = Vec::new();
                    for (i, kv) in map.iter().enumerate() {
                        let subject = if by_key {
                            Some(kv.key.clone())
                        } else {
                            match Value::from_any(kv.value.as_ref()) {
                                Value::Str(s) => Some(s),
                                _ => None,
                            }
                        };
                        // As in Go, an entry whose function fails is left as it is.
                        if let Some(x) = subject
                            && re.is_match(&x)
                            && let Ok(new) = replace(t, &x)
                        {
                            changes.push((i, new));
                        }
                    }
                    if changes.is_empty() {
                        return Ok(());
                    }
                    edit_map(&target, t, "replace_all_patterns", |m| {
                        for (i, new) in changes {
                            if let Some(kv) = m.get_mut(i) {
                                if by_key {
                                    kv.key = new;
                                } else {
                                    kv.value = Some(Value::Str(new).into_any());
                                }
                            }
                        }
                        if by_key {
                            dedupe_keys(m);
                        }
                        Ok(())
                    })
                })
            }
            "flatten" => {
                let a = Args::bind(call, &["target", "prefix", "depth", "resolveConflicts"], 1)?;
                let target = self.target(a.get(0), name)?;
                let prefix = a.opt(1).map(|e| lit_str(e, "prefix")).transpose()?;
                let depth = a.opt(2).map(|e| lit_int(e, "depth")).transpose()?;
                if let Some(d) = depth
                    && d < 1
                {
                    return err(
                        a.get(2).col,
                        format!("invalid depth '{d}' for flatten function, must be greater than 0"),
                    );
                }
                let resolve = match a.opt(3).map(|e| (e, &e.kind)) {
                    None => false,
                    Some((_, ExprKind::Bool(b))) => *b,
                    Some((e, _)) => return err(e.col, "resolveConflicts must be true or false"),
                };
                let depth = depth.map_or(usize::MAX, |d| d as usize);
                Arc::new(move |t| {
                    edit_map(&target, t, "flatten", |m| {
                        let mut out = Flattened {
                            out: Vec::with_capacity(m.len()),
                            index: std::collections::HashMap::new(),
                            resolve,
                            seen: std::collections::HashMap::new(),
                        };
                        out.map(std::mem::take(m), prefix.as_deref().unwrap_or(""), 0, depth);
                        *m = out.out;
                        Ok(())
                    })
                })
            }
            _ if metric_editor(name) && self.ctx == Ctx::Metric => self.metric_fn(call)?,
            _ if metric_editor(name) => {
                return err(
                    call.col,
                    format!(
                        "function \"{name}\" is not supported in the {} context",
                        self.ctx.as_str()
                    ),
                );
            }
            _ if converter_name(name) => {
                return err(
                    call.col,
                    format!("converter \"{name}\" cannot be used as an editor"),
                );
            }
            _ => return err(call.col, format!("unknown function \"{name}\"")),
        };
        Ok(f)
    }
}
