//! Building and running the `operators:` list: operators wired by `output` ids (default:
//! the next in the list; the last hands entries to the receiver), `if` and `on_error`
//! applied around every operator, time-based flushing through deadlines.

use std::time::Instant;

use serde::Deserialize;

use crate::Entry;
use crate::expr::Expr;
use crate::ops::{self, OnError, Operator, Out};

/// The `operators:` list as written in a receiver's config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct OperatorsConfig {
    operators: Vec<serde_json::Value>,
}

impl OperatorsConfig {
    pub fn is_empty(&self) -> bool {
        self.operators.is_empty()
    }

    /// Checks the list builds (every key, expression, regex, layout and output id).
    pub fn validate(&self) -> Result<(), BuildError> {
        Pipeline::build(self).map(|_| ())
    }
}

/// Why an `operators:` list cannot be built; `path` says where (`operators[2].regex`).
#[derive(Debug, Clone, PartialEq)]
pub struct BuildError {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for BuildError {}

/// Where an entry goes: an operator index, or out of the pipeline.
const OUT: usize = usize::MAX;

struct Node {
    id: String,
    on_error: OnError,
    cond: Option<Expr>,
    op: Box<dyn Operator>,
    /// Per output slot (see [`ops::Out`]), the targets.
    outputs: Vec<Vec<usize>>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.id)
            .field("outputs", &self.outputs)
            .finish()
    }
}

/// A built operator pipeline. Not shared between threads: each reader task owns one.
#[derive(Debug)]
pub struct Pipeline {
    nodes: Vec<Node>,
    stack: Vec<(usize, Entry)>,
    scratch: Out,
    errors: u64,
}

impl Pipeline {
    pub fn build(config: &OperatorsConfig) -> Result<Pipeline, BuildError> {
        let built = config
            .operators
            .iter()
            .enumerate()
            .map(|(i, raw)| ops::build(i, raw))
            .collect::<Result<Vec<_>, _>>()?;
        // Ids: explicit ones must be unique; defaulted ones (the type) are numbered as Go does.
        let mut ids: Vec<String> = Vec::with_capacity(built.len());
        for (i, b) in built.iter().enumerate() {
            let id = match &b.id {
                Some(id) => {
                    if ids.contains(id) {
                        return Err(ops::err(i, "id", format!("duplicate operator id {id:?}")));
                    }
                    id.clone()
                }
                None => {
                    let mut id = b.kind.clone();
                    let mut n = 0;
                    while ids.contains(&id)
                        || built.iter().any(|o| o.id.as_deref() == Some(id.as_str()))
                    {
                        n += 1;
                        id = format!("{}{n}", b.kind);
                    }
                    id
                }
            };
            ids.push(id);
        }
        let resolve = |i: usize, key: &str, names: &[String]| -> Result<Vec<usize>, BuildError> {
            names
                .iter()
                .map(|n| {
                    ids.iter()
                        .position(|id| id == n)
                        .ok_or_else(|| ops::err(i, key, format!("operator {n:?} does not exist")))
                })
                .collect()
        };
        let count = built.len();
        let mut nodes = Vec::with_capacity(count);
        for (i, (b, id)) in built.into_iter().zip(ids.iter()).enumerate() {
            let next = if i + 1 < count { i + 1 } else { OUT };
            let outputs = match (&b.route_outputs, &b.output) {
                (Some(routes), _) => routes
                    .iter()
                    .enumerate()
                    .map(|(r, names)| {
                        let key = if r == 0 {
                            "default".to_string()
                        } else {
                            format!("routes[{}].output", r - 1)
                        };
                        resolve(i, &key, names)
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                (None, Some(names)) => vec![resolve(i, "output", names)?],
                (None, None) => vec![vec![next]],
            };
            nodes.push(Node {
                id: id.clone(),
                on_error: b.on_error,
                cond: b.cond,
                op: b.op,
                outputs,
            });
        }
        check_cycles(&nodes)?;
        Ok(Pipeline {
            nodes,
            stack: Vec::new(),
            scratch: Vec::new(),
            errors: 0,
        })
    }

    /// How many entries an operator failed on so far (each also logged unless `_quiet`).
    pub fn errors(&self) -> u64 {
        self.errors
    }

    /// Runs one entry through the operators; what comes out (zero, one or more entries) is
    /// appended to `out`.
    pub fn process(&mut self, entry: Entry, out: &mut Vec<Entry>) {
        if self.nodes.is_empty() {
            out.push(entry);
            return;
        }
        self.stack.push((0, entry));
        self.run(out);
    }

    fn run(&mut self, out: &mut Vec<Entry>) {
        let Pipeline {
            nodes,
            stack,
            scratch,
            errors,
        } = self;
        while let Some((t, e)) = stack.pop() {
            if t == OUT {
                out.push(e);
                continue;
            }
            let node = &mut nodes[t];
            let failure = match node.cond.as_ref().map(|c| c.eval_bool(&e)) {
                Some(Ok(false)) => {
                    push(stack, &node.outputs[0], e);
                    continue;
                }
                Some(Err(m)) => Some((e, format!("running if expr: {m}"))),
                Some(Ok(true)) | None => node.op.process(e, scratch).err(),
            };
            if let Some((e, m)) = failure {
                *errors += 1;
                if node.on_error.quiet() {
                    tracing::debug!(operator = %node.id, error = %m, "failed to process entry");
                } else {
                    tracing::warn!(operator = %node.id, error = %m, "failed to process entry");
                }
                if node.on_error.sends() {
                    scratch.push((0, e));
                }
            }
            // Depth first, in emission order: the stack pops the last pushed first.
            while let Some((slot, e)) = scratch.pop() {
                push(stack, &node.outputs[slot], e);
            }
        }
    }

    /// The earliest time at which [`Pipeline::flush_expired`] has something to release.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.nodes.iter().filter_map(|n| n.op.next_deadline()).min()
    }

    /// Releases what time-based operators (recombine's `force_flush_period`) hold past `now`.
    pub fn flush_expired(&mut self, now: Instant, out: &mut Vec<Entry>) {
        for i in 0..self.nodes.len() {
            self.nodes[i].op.flush_expired(now, &mut self.scratch);
            self.drain_from(i, out);
        }
    }

    /// Releases everything held (on shutdown or end of input), upstream operators first so
    /// what they release reaches (and is released by) those downstream.
    pub fn flush_all(&mut self, out: &mut Vec<Entry>) {
        for i in 0..self.nodes.len() {
            self.nodes[i].op.flush_all(&mut self.scratch);
            self.drain_from(i, out);
        }
    }

    fn drain_from(&mut self, i: usize, out: &mut Vec<Entry>) {
        while let Some((slot, e)) = self.scratch.pop() {
            push(&mut self.stack, &self.nodes[i].outputs[slot], e);
        }
        self.run(out);
    }
}

/// Pushes an entry for each target (copies only for fan-out), first target on top.
fn push(stack: &mut Vec<(usize, Entry)>, targets: &[usize], e: Entry) {
    match targets {
        [] => {}
        [t] => stack.push((*t, e)),
        [rest @ .., last] => {
            stack.push((*last, e.clone()));
            for t in rest.iter().skip(1).rev() {
                stack.push((*t, e.clone()));
            }
            stack.push((rest[0], e));
        }
    }
}

fn check_cycles(nodes: &[Node]) -> Result<(), BuildError> {
    // 0 unvisited, 1 on the current path, 2 done.
    fn visit(i: usize, nodes: &[Node], state: &mut [u8]) -> Result<(), usize> {
        match state[i] {
            1 => return Err(i),
            2 => return Ok(()),
            _ => {}
        }
        state[i] = 1;
        for &t in nodes[i].outputs.iter().flatten() {
            if t != OUT {
                visit(t, nodes, state)?;
            }
        }
        state[i] = 2;
        Ok(())
    }
    let mut state = vec![0u8; nodes.len()];
    for i in 0..nodes.len() {
        visit(i, nodes, &mut state).map_err(|at| {
            ops::err(
                at,
                "output",
                format!("operator {:?} is part of a cycle", nodes[at].id),
            )
        })?;
    }
    Ok(())
}
