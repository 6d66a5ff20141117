//! Fan-out to several consumers, and the panic guard around every component.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use ferrotel_pdata::Payload;
use futures::FutureExt;

use crate::component::{BoxFuture, ConsumeError, Consumer, ConsumerRef, Context};

/// Hands each payload to every consumer. Payload clones are reference counts, so exporters
/// share the data; one that modifies it copies on write. Consumers run concurrently, so a slow
/// exporter (which normally only enqueues) does not hold back its siblings.
pub struct Fanout {
    consumers: Vec<ConsumerRef>,
}

impl Fanout {
    /// A consumer for `consumers`; a single consumer is returned as is (no fan-out cost).
    pub fn of(mut consumers: Vec<ConsumerRef>) -> ConsumerRef {
        if consumers.len() == 1 {
            return consumers.pop().expect("len is 1");
        }
        Arc::new(Fanout { consumers })
    }
}

impl Consumer for Fanout {
    fn consume(&self, payload: Payload, ctx: Context) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            let futures = self
                .consumers
                .iter()
                .map(|c| c.consume(payload.clone(), ctx.clone()));
            let results = futures::future::join_all(futures).await;
            // A retryable error wins: the sender retries, and the branches that accepted will
            // see the data again (the Go Collector behaves the same).
            let mut first_err: Option<ConsumeError> = None;
            for r in results {
                if let Err(e) = r {
                    match &first_err {
                        None => first_err = Some(e),
                        Some(prev) if !prev.is_retryable() && e.is_retryable() => {
                            first_err = Some(e)
                        }
                        _ => {}
                    }
                }
            }
            first_err.map_or(Ok(()), Err)
        })
    }

    fn admit(&self, signal: ferrotel_pdata::Signal) -> Result<(), ConsumeError> {
        self.consumers.iter().try_for_each(|c| c.admit(signal))
    }
}

/// Wraps a component's `consume` so a panic inside it becomes a permanent error naming the
/// component, instead of taking the process down.
pub struct PanicGuard {
    pub name: String,
    pub inner: ConsumerRef,
}

impl PanicGuard {
    pub fn wrap(name: String, inner: ConsumerRef) -> ConsumerRef {
        Arc::new(PanicGuard { name, inner })
    }
}

impl Consumer for PanicGuard {
    fn consume(&self, payload: Payload, ctx: Context) -> BoxFuture<'_, Result<(), ConsumeError>> {
        Box::pin(async move {
            match AssertUnwindSafe(self.inner.consume(payload, ctx))
                .catch_unwind()
                .await
            {
                Ok(r) => r,
                Err(panic) => {
                    let msg = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".into());
                    tracing::error!(component = %self.name, panic = %msg, "component panicked; the request is refused");
                    Err(ConsumeError::permanent(format!(
                        "internal error: {} panicked: {msg}",
                        self.name
                    )))
                }
            }
        })
    }

    fn admit(&self, signal: ferrotel_pdata::Signal) -> Result<(), ConsumeError> {
        self.inner.admit(signal)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use ferrotel_pdata::Signal;

    use super::*;

    struct Panics;
    impl Consumer for Panics {
        fn consume(&self, _p: Payload, _c: Context) -> BoxFuture<'_, Result<(), ConsumeError>> {
            Box::pin(async { panic!("boom") })
        }
    }

    #[derive(Default)]
    struct Count(Mutex<usize>);
    impl Consumer for Count {
        fn consume(&self, p: Payload, _c: Context) -> BoxFuture<'_, Result<(), ConsumeError>> {
            *self.0.lock().unwrap() += p.items() + 1;
            Box::pin(async { Ok(()) })
        }
    }

    struct Refuses;
    impl Consumer for Refuses {
        fn consume(&self, _p: Payload, _c: Context) -> BoxFuture<'_, Result<(), ConsumeError>> {
            Box::pin(async { Err(ConsumeError::retryable("full", None)) })
        }
        fn admit(&self, _s: Signal) -> Result<(), ConsumeError> {
            Err(ConsumeError::retryable("over the memory limit", None))
        }
    }

    #[tokio::test]
    async fn a_panic_becomes_a_permanent_error_naming_the_component() {
        let guarded = PanicGuard::wrap("processor \"x\"".into(), Arc::new(Panics));
        let e = guarded
            .consume(Payload::empty(Signal::Traces), Context::default())
            .await
            .unwrap_err();
        assert!(!e.is_retryable());
        assert_eq!(e.message, "internal error: processor \"x\" panicked: boom");
    }

    #[tokio::test]
    async fn fanout_delivers_to_all_and_reports_retryable_first() {
        let (a, b) = (Arc::new(Count::default()), Arc::new(Count::default()));
        let f = Fanout::of(vec![a.clone(), Arc::new(Refuses), b.clone()]);
        let e = f
            .consume(Payload::empty(Signal::Logs), Context::default())
            .await
            .unwrap_err();
        assert!(e.is_retryable());
        assert_eq!(
            (*a.0.lock().unwrap(), *b.0.lock().unwrap()),
            (1, 1),
            "siblings still got the data"
        );
        assert!(f.admit(Signal::Logs).is_err(), "admit asks every branch");
        assert!(
            Fanout::of(vec![a.clone(), b.clone()])
                .admit(Signal::Logs)
                .is_ok()
        );
    }
}
