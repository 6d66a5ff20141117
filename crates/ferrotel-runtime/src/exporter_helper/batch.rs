//! What a queue consumer takes and how it sends it: one request, or with
//! `sending_queue::batch` a batch of requests merged into one.
//!
//! Batching happens after the queue, as in the Go exporterhelper: a persistent queue persists
//! requests as received, and a request is acknowledged only once the batches holding it were
//! sent. Unlike Go's batcher, which moves requests out of the queue into a batch, consumers
//! leave them in the queue until a batch is due (`min_size` waiting, `flush_timeout` after the
//! oldest request entered, or shutdown) and then take it: the queue is the batch, so there is
//! one buffer to bound and to drain.

use super::*;

/// What a consumer takes from the queue.
pub(super) enum Take {
    /// The queue is closed (and drained, unless persistent): the consumer stops.
    Stop,
    /// Nothing is due: wait for new data or until the instant, when the oldest request's
    /// `flush_timeout` runs out.
    Wait(Option<Instant>),
    /// Send these, as one request.
    Entries(Vec<Entry>),
}

/// A request split so its head fits a batch's remaining room.
enum Split {
    Head(Entry, Vec<Entry>),
    /// It cannot be made smaller than the room (one item, or a split failed).
    Whole(Entry),
}

impl Queue {
    pub(super) fn take(&self, obs: &ExporterObs) -> Take {
        let mut st = self.lock();
        // A persistent queue keeps what waits on disk at shutdown; a memory queue is drained.
        if st.closed && self.persistent.is_some() {
            return Take::Stop;
        }
        let Some(front) = st.items.front() else {
            return if st.closed {
                Take::Stop
            } else {
                Take::Wait(None)
            };
        };
        let entries = match &self.batching {
            None => st.items.pop_front().into_iter().collect(),
            Some(b) => {
                let due = front.enqueued + b.flush_timeout;
                if !st.closed && st.batched < b.min_size && Instant::now() < due {
                    return Take::Wait(Some(due));
                }
                take_batch(&mut st, b)
            }
        };
        let freed: u64 = entries.iter().map(|e| e.size).sum();
        if freed > 0 {
            st.size -= freed;
            obs.queue_size.set(st.size);
        }
        let more = self.batching.is_some() && !st.items.is_empty();
        drop(st);
        if freed > 0 {
            // Producers register before they look, so none misses this.
            self.not_full.notify_waiters();
        }
        if more {
            // What is left may be due already: another consumer looks.
            self.not_empty.notify_one();
        }
        Take::Entries(entries)
    }

    /// Sends what a consumer took, merged into one request (parts that cannot merge, such as
    /// profiles with dictionaries of their own, go one by one), then settles each part.
    pub(super) async fn send(&self, w: &mut Worker, entries: Vec<Entry>) {
        let keep = self.persistent.is_some();
        let Some(first) = entries.first() else { return };
        let (signal, ctx) = (first.payload.signal(), first.ctx.clone());
        if entries.len() == 1 {
            let e = entries.into_iter().next().expect("one entry");
            let outcome = w.send_with_retry(e.payload, e.ctx, keep).await;
            self.settle(e.record.as_deref(), &outcome, w);
            return;
        }
        let (parts, records): (Vec<Payload>, Vec<Option<Arc<Record>>>) =
            entries.into_iter().map(|e| (e.payload, e.record)).unzip();
        match Payload::merge(signal, parts.clone()) {
            Ok(merged) => {
                drop(parts);
                let outcome = w.send_with_retry(merged, ctx, keep).await;
                for r in &records {
                    self.settle(r.as_deref(), &outcome, w);
                }
            }
            Err(e) => {
                tracing::debug!(exporter = %w.id, reason = %e, "sending the batch's requests unmerged");
                for (p, r) in parts.into_iter().zip(records) {
                    let outcome = w.send_with_retry(p, ctx.clone(), keep).await;
                    self.settle(r.as_deref(), &outcome, w);
                }
            }
        }
    }

    fn settle(&self, record: Option<&Record>, outcome: &Outcome, w: &Worker) {
        if let Some(r) = record {
            self.finish(r, matches!(outcome, Outcome::Kept), &w.id, &w.obs);
        }
    }
}

/// Takes requests from the front until `min_size` is reached, splitting the one that would
/// pass `max_size` (its rest stays in front, due as soon as the request it came from).
fn take_batch(st: &mut QueueState, b: &Batching) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut taken = 0u64;
    while let Some(e) = st.items.pop_front() {
        st.batched -= e.bsize;
        if b.max_size > 0 && taken + e.bsize > b.max_size {
            match split_off(e, b.max_size - taken, b.sizer) {
                Split::Head(head, rest) => {
                    for r in rest.into_iter().rev() {
                        st.batched += r.bsize;
                        st.items.push_front(r);
                    }
                    out.push(head);
                }
                // Too big for any batch: it goes alone rather than never.
                Split::Whole(e) if out.is_empty() => out.push(e),
                Split::Whole(e) => {
                    st.batched += e.bsize;
                    st.items.push_front(e);
                }
            }
            break;
        }
        taken += e.bsize;
        out.push(e);
        if taken >= b.min_size {
            break;
        }
    }
    out
}

/// Splits `e` into a head of at most `room` (in `sizer` units) and the rest, merged back into
/// one request when it can be. Items split exactly; bytes by the average item size, halved
/// until the head fits.
fn split_off(e: Entry, room: u64, sizer: Sizer) -> Split {
    let items = e.payload.items();
    if items <= 1 || room == 0 {
        return Split::Whole(e);
    }
    let estimate = match sizer {
        Sizer::Bytes => (room as u128 * items as u128 / e.bsize.max(1) as u128) as usize,
        _ => room as usize,
    };
    let mut per_chunk = estimate.clamp(1, items - 1);
    let chunks = loop {
        let chunks = match e.payload.clone().split(per_chunk) {
            Ok(c) => c,
            Err(err) => {
                tracing::warn!(reason = %err, "cannot split a request to fit sending_queue::batch::max_size; it goes whole");
                return Split::Whole(e);
            }
        };
        if measure(sizer, &chunks[0]) <= room {
            break chunks;
        }
        if per_chunk == 1 {
            return Split::Whole(e);
        }
        per_chunk /= 2;
    };
    let mut chunks = chunks.into_iter();
    let head = chunks.next().expect("a split has a head");
    let signal = head.signal();
    let rest: Vec<Payload> = chunks.collect();
    let rest = match Payload::merge(signal, rest.clone()) {
        Ok(m) => vec![m],
        Err(_) => rest,
    };
    if let Some(r) = &e.record {
        r.parts.fetch_add(rest.len(), Ordering::AcqRel);
    }
    let part = |payload: Payload, size: u64| Entry {
        bsize: measure(sizer, &payload),
        payload,
        ctx: e.ctx.clone(),
        size,
        enqueued: e.enqueued,
        record: e.record.clone(),
    };
    // The memory capacity goes back when the last part leaves the queue.
    let n = rest.len();
    let rest = rest
        .into_iter()
        .enumerate()
        .map(|(i, p)| part(p, if i + 1 == n { e.size } else { 0 }))
        .collect();
    Split::Head(part(head, 0), rest)
}
