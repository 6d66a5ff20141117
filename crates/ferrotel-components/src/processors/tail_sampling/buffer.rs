//! The traces in memory and the decision caches.
//!
//! A buffered trace is its span bytes as received, cut from the received requests by
//! [`ferrotel_pdata::wire::split_trace_runs`]: runs of spans, each with a handle to the
//! resource and scope around it, which all traces of a request share. Nothing is decoded or
//! re-encoded until the decision is due ([`wire::encode_runs`] then writes the request).
//! Memory per buffered span: its encoded size, a share of its trace's run handles (40 bytes
//! per run) and table entry, and of the request's resource and scope while a trace of it is
//! held. Measured figures: `docs/benchmarks.md`, "tail_sampling".

use std::collections::{HashMap, VecDeque};

use ferrotel_pdata::wire::TraceRun;
use tokio::time::Instant;

pub type TraceId = [u8; 16];

/// A trace's runs: one inline (a trace from one request and scope, the common case), or more
/// in a vector.
pub enum Runs {
    One(TraceRun),
    Many(Vec<TraceRun>),
}

impl Default for Runs {
    fn default() -> Self {
        Runs::Many(Vec::new())
    }
}

impl Runs {
    pub fn add(&mut self, mut new: Vec<TraceRun>) {
        match self {
            Runs::Many(v) if v.is_empty() && new.len() == 1 => {
                *self = Runs::One(new.pop().expect("one run"));
            }
            Runs::Many(v) => v.append(&mut new),
            Runs::One(_) => {
                let Runs::One(first) = std::mem::take(self) else {
                    unreachable!("matched One")
                };
                let mut v = Vec::with_capacity(1 + new.len());
                v.push(first);
                v.append(&mut new);
                *self = Runs::Many(v);
            }
        }
    }

    /// Takes the runs out, leaving none.
    pub fn take(&mut self) -> Vec<TraceRun> {
        match std::mem::take(self) {
            Runs::One(r) => vec![r],
            Runs::Many(v) => v,
        }
    }
}

/// One trace in memory: pending (spans buffered) or decided (spans released, the decision kept
/// for late spans until the trace leaves the table).
pub struct Trace {
    /// Identifies this entry among entries of the same trace id over time.
    pub generation: u64,
    pub runs: Runs,
    pub spans: u64,
    pub bytes: u64,
    pub arrived: Instant,
    /// Pending: when its decision is due (`decision_wait` after arrival, or sooner after its
    /// root). Decided: when it was decided, for the late spans' age.
    pub due: Instant,
    pub decision: Option<bool>,
}

/// The traces in memory, bounded by `num_traces`: a new trace pushes the oldest out.
pub struct TraceTable {
    pub traces: HashMap<TraceId, Trace>,
    /// Trace ids in arrival order, with their entry's generation (stale pairs are skipped).
    order: VecDeque<(TraceId, u64)>,
    /// Pending traces by decision deadline (arrival order: the wait is the same for all).
    pending: VecDeque<(Instant, TraceId, u64)>,
    /// Traces brought forward by their root span (`decision_wait_after_root_received`), by
    /// deadline: that wait too is the same for all. Their entry in `pending` goes stale.
    early: VecDeque<(Instant, TraceId, u64)>,
    /// Decided traces in decision order, kept with `block_on_overflow` only (which evicts
    /// only these).
    decided: VecDeque<(TraceId, u64)>,
    block: bool,
    capacity: usize,
    next_generation: u64,
}

/// What making room for a new trace removed.
pub enum Evicted {
    Nothing,
    /// A decided trace: its decision is forgotten (the caches may still hold it).
    Decided {
        arrived: Instant,
    },
    /// A trace still waiting for its decision: dropped too early, with its span count.
    Pending {
        spans: u64,
        arrived: Instant,
    },
}

impl TraceTable {
    pub fn new(capacity: usize, expected: usize, block: bool) -> Self {
        TraceTable {
            traces: HashMap::with_capacity(expected.min(capacity)),
            order: VecDeque::new(),
            pending: VecDeque::new(),
            early: VecDeque::new(),
            decided: VecDeque::new(),
            block,
            capacity,
            next_generation: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.traces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.traces.is_empty()
    }

    /// Whether a new trace would push one out.
    pub fn is_full(&self) -> bool {
        self.traces.len() >= self.capacity
    }

    /// Removes the decided trace decided first (`block_on_overflow` makes room only so);
    /// returns its arrival, or `None` when every trace in memory is pending.
    pub fn evict_decided(&mut self) -> Option<Instant> {
        while let Some((id, generation)) = self.decided.pop_front() {
            if self
                .traces
                .get(&id)
                .is_some_and(|t| t.generation == generation && t.decision.is_some())
            {
                return self.traces.remove(&id).map(|t| t.arrived);
            }
        }
        None
    }

    /// Drops a pending trace grown past `maximum_trace_size_bytes`: it becomes decided, not
    /// sampled, so its later spans are late ones. Returns its buffered spans (dropped).
    pub fn drop_oversized(&mut self, id: &TraceId, at: Instant) -> u64 {
        let Some(t) = self.traces.get_mut(id) else {
            return 0;
        };
        let generation = t.generation;
        let spans = t.spans;
        self.decided(id, generation, false, at);
        spans
    }

    /// Adds a new trace, first removing the oldest one when the table is full.
    pub fn insert(&mut self, id: TraceId, now: Instant, deadline: Instant) -> Evicted {
        let mut evicted = Evicted::Nothing;
        while self.traces.len() >= self.capacity {
            let Some((old, generation)) = self.order.pop_front() else {
                break;
            };
            if self
                .traces
                .get(&old)
                .is_some_and(|t| t.generation == generation)
                && let Some(t) = self.traces.remove(&old)
            {
                evicted = match t.decision {
                    Some(_) => Evicted::Decided { arrived: t.arrived },
                    None => Evicted::Pending {
                        spans: t.spans,
                        arrived: t.arrived,
                    },
                };
            }
        }
        let generation = self.next_generation;
        self.next_generation += 1;
        self.traces.insert(
            id,
            Trace {
                generation,
                runs: Runs::default(),
                spans: 0,
                bytes: 0,
                arrived: now,
                due: deadline,
                decision: None,
            },
        );
        self.order.push_back((id, generation));
        self.pending.push_back((deadline, id, generation));
        self.compact();
        evicted
    }

    /// Stale pairs (of traces already removed) pile up under churn: drop them now and then.
    fn compact(&mut self) {
        if self.order.len() > 2 * self.capacity + 64 {
            let traces = &self.traces;
            self.order
                .retain(|(id, g)| traces.get(id).is_some_and(|t| t.generation == *g));
        }
        if self.decided.len() > 2 * self.capacity + 64 {
            let traces = &self.traces;
            self.decided.retain(|(id, g)| {
                traces
                    .get(id)
                    .is_some_and(|t| t.generation == *g && t.decision.is_some())
            });
        }
        for queue in [&mut self.pending, &mut self.early] {
            if queue.len() > 2 * self.capacity + 64 {
                let traces = &self.traces;
                queue.retain(|(d, id, g)| {
                    traces
                        .get(id)
                        .is_some_and(|t| t.generation == *g && t.decision.is_none() && t.due == *d)
                });
            }
        }
    }

    /// Brings a pending trace's decision forward to `deadline` if that is sooner than its
    /// current one (a root span arrived); returns whether it did.
    pub fn expedite(&mut self, id: &TraceId, deadline: Instant) -> bool {
        match self.traces.get_mut(id) {
            Some(t) if t.decision.is_none() && deadline < t.due => {
                t.due = deadline;
                self.early.push_back((deadline, *id, t.generation));
                true
            }
            _ => false,
        }
    }

    /// The earliest deadline of a trace still pending.
    pub fn next_deadline(&mut self) -> Option<Instant> {
        let a = self.front(false);
        let b = self.front(true);
        a.into_iter().chain(b).min()
    }

    /// The deadline at the front of a queue, dropping entries gone stale.
    fn front(&mut self, early: bool) -> Option<Instant> {
        loop {
            let queue = if early { &self.early } else { &self.pending };
            let &(deadline, id, g) = queue.front()?;
            if self.is_due_entry(&id, g, deadline) {
                return Some(deadline);
            }
            if early {
                self.early.pop_front();
            } else {
                self.pending.pop_front();
            }
        }
    }

    /// Whether a queue entry is the pending trace's current deadline (not one it was
    /// brought forward from, nor of an older entry of the same trace id).
    fn is_due_entry(&self, id: &TraceId, generation: u64, deadline: Instant) -> bool {
        self.traces.get(id).is_some_and(|t| {
            t.generation == generation && t.decision.is_none() && t.due == deadline
        })
    }

    /// Takes the spans of every pending trace due by `now` (all pending ones when `all`).
    /// The traces stay in the table, pending, until [`TraceTable::decided`].
    pub fn take_due(&mut self, now: Instant, all: bool) -> Vec<DueTrace> {
        let mut due = Vec::new();
        for early in [true, false] {
            loop {
                let queue = if early {
                    &mut self.early
                } else {
                    &mut self.pending
                };
                let Some(&(deadline, id, g)) = queue.front() else {
                    break;
                };
                if !all && deadline > now {
                    break;
                }
                queue.pop_front();
                if !self.is_due_entry(&id, g, deadline) {
                    continue;
                }
                if let Some(t) = self.traces.get_mut(&id) {
                    due.push(DueTrace {
                        id,
                        generation: g,
                        runs: t.runs.take(),
                        spans: t.spans,
                        bytes: t.bytes,
                    });
                }
            }
        }
        due
    }

    /// Records a decision taken `at`; returns the spans that arrived while the policies ran
    /// (none if the trace left the table meanwhile).
    pub fn decided(
        &mut self,
        id: &TraceId,
        generation: u64,
        sampled: bool,
        at: Instant,
    ) -> Vec<TraceRun> {
        match self.traces.get_mut(id) {
            Some(t) if t.generation == generation => {
                t.decision = Some(sampled);
                t.due = at;
                if self.block {
                    self.decided.push_back((*id, generation));
                }
                t.runs.take()
            }
            _ => Vec::new(),
        }
    }
}

/// A pending trace whose decision is due.
pub struct DueTrace {
    pub id: TraceId,
    pub generation: u64,
    pub runs: Vec<TraceRun>,
    pub spans: u64,
    pub bytes: u64,
}

/// An LRU set of trace ids (a lookup refreshes an id); size 0 is disabled.
pub struct DecisionCache {
    stamps: HashMap<TraceId, u64>,
    /// Ids by last use; entries whose stamp is outdated are skipped.
    order: VecDeque<(TraceId, u64)>,
    capacity: usize,
    clock: u64,
}

impl DecisionCache {
    pub fn new(capacity: usize) -> Self {
        DecisionCache {
            stamps: HashMap::new(),
            order: VecDeque::new(),
            capacity,
            clock: 0,
        }
    }

    pub fn put(&mut self, id: TraceId) {
        if self.capacity == 0 {
            return;
        }
        self.touch(id);
        while self.stamps.len() > self.capacity {
            let Some((old, stamp)) = self.order.pop_front() else {
                break;
            };
            if self.stamps.get(&old) == Some(&stamp) {
                self.stamps.remove(&old);
            }
        }
    }

    /// Whether `id` is in the cache (refreshing it).
    pub fn get(&mut self, id: &TraceId) -> bool {
        if !self.stamps.contains_key(id) {
            return false;
        }
        self.touch(*id);
        true
    }

    fn touch(&mut self, id: TraceId) {
        self.clock += 1;
        self.stamps.insert(id, self.clock);
        self.order.push_back((id, self.clock));
        if self.order.len() > 2 * self.capacity + 64 {
            let stamps = &self.stamps;
            self.order.retain(|(id, s)| stamps.get(id) == Some(s));
        }
    }
}
