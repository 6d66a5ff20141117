//! The `tracing` bridge: a [`tracing_subscriber::Layer`] that turns `tracing` spans into OTel
//! spans recorded by a ferrotel [`Tracer`], and `tracing` events into span events. It follows
//! tracing-opentelemetry's conventions, so code written for that crate keeps working:
//!
//! - span fields become attributes with their types (`bool`, `i64`, `f64`, strings; `Debug`
//!   values formatted); `otel.name`, `otel.kind`, `otel.status_code` and `otel.status_message`
//!   (or `otel.status_description`) set the name, kind and status; an `error` field sets the
//!   status to error;
//! - the parent is the explicit `parent:` span, else the current OTel context (which holds the
//!   current `tracing` span while it is entered), or one given through
//!   [`OpenTelemetrySpanExt::set_parent`] before the span is first entered;
//! - an event inside a span becomes a span event (name from `message`, attributes `level`,
//!   `target` and the fields); an `ERROR` event marks the span as failed, an event whose `error`
//!   field comes without a message becomes an `exception` event and sets the error status;
//! - the span ends at its last exit (as tracing-opentelemetry does), or when closed if never
//!   entered; `busy_ns`/`idle_ns` are recorded only with [`OpenTelemetryLayer::with_timings`].
//!
//! ```no_run
//! use tracing_subscriber::layer::SubscriberExt;
//! let provider = ferrotel_sdk::init().expect("SDK");
//! let tracer = provider.tracer("my-service");
//! let subscriber = tracing_subscriber::registry().with(ferrotel_sdk::bridge::layer(tracer));
//! tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
//! ```

mod ext;
mod store;
mod table;
mod visit;

use std::any::TypeId;
use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::time::{Instant, SystemTime};

use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use tracing::span::{Attributes, Id, Record};
use tracing::{Dispatch, Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context as LayerContext;
use tracing_subscriber::registry::LookupSpan;

use store::{Boxed, Store};

pub use ext::{OpenTelemetrySpanExt, SetParentError};

use crate::shared::SharedAttributes;
use crate::span::Span;
use crate::tracer::{Tracer, with_parent};

/// A layer recording `tracing` spans through `tracer` (see the [module](self) docs).
pub fn layer<S>(tracer: Tracer) -> OpenTelemetryLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    OpenTelemetryLayer::new(tracer)
}

#[derive(Debug, Clone, Copy)]
struct Config {
    location: bool,
    threads: bool,
    level: bool,
    target: bool,
    timings: bool,
    context_activation: bool,
}

/// The `tracing_subscriber::Layer` of the bridge; build it with [`layer`].
pub struct OpenTelemetryLayer<S> {
    tracer: Tracer,
    config: Config,
    /// The provider's [`crate::tracer::Core::shares_attributes`].
    shares_attributes: bool,
    /// Every recorded span's state, by id (see [`store`]).
    store: Store,
    with_state: WithState,
    _subscriber: PhantomData<fn(S)>,
}

impl<S> std::fmt::Debug for OpenTelemetryLayer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenTelemetryLayer")
            .field("tracer", &self.tracer)
            .field("config", &self.config)
            .finish()
    }
}

/// Reaches a span's bridge state from a `tracing::Span` (the extension trait): the layer hands
/// out this function, made for its subscriber type, through `downcast_raw`.
#[derive(Clone, Copy)]
pub(crate) struct WithState(StateFn);

type StateFn = fn(&Dispatch, &Id, &mut dyn FnMut(&mut SpanState));

impl WithState {
    pub(crate) fn with(&self, dispatch: &Dispatch, id: &Id, f: &mut dyn FnMut(&mut SpanState)) {
        (self.0)(dispatch, id, f)
    }
}

/// busy/idle time of a span, with [`OpenTelemetryLayer::with_timings`].
struct Timings {
    busy_ns: i64,
    idle_ns: i64,
    last: Instant,
    entered: u32,
}

/// What the bridge keeps of a `tracing` span (in its [`Store`]).
pub(crate) struct SpanState {
    span: Span,
    /// The parent context: chosen at creation, replaceable until the span activates.
    parent_cx: Context,
    /// The OTel context holding this span (its parent's plus the span), made on first need.
    cx: Option<Context>,
    last_exit: Option<SystemTime>,
    /// Boxed: rarely on, and the state moves in and out of the store.
    timings: Option<Box<Timings>>,
}

impl SpanState {
    /// Gives the span its ids and sampling decision (once): on first enter, when a child or
    /// `context()` needs them, or at close.
    fn activate(&mut self) {
        if self.span.is_pending() {
            let _inside = Inside::enter();
            let span = &mut self.span;
            with_parent(&self.parent_cx, |p| span.activate(p));
        }
    }

    /// The context to make current while the span is entered, and children's parent.
    pub(crate) fn context(&mut self) -> &Context {
        self.activate();
        let (span, parent_cx) = (&self.span, &self.parent_cx);
        self.cx.get_or_insert_with(|| {
            if span.span_context().is_valid() {
                parent_cx.with_remote_span_context(span.span_context().clone())
            } else {
                // SDK disabled: the parent's context travels on.
                parent_cx.clone()
            }
        })
    }

    pub(crate) fn span_mut(&mut self) -> &mut Span {
        &mut self.span
    }

    /// `set_parent`: only before activation, since the ids depend on the parent.
    pub(crate) fn set_parent(&mut self, cx: Context) -> Result<(), SetParentError> {
        if self.span.is_pending() {
            self.parent_cx = cx;
            Ok(())
        } else if self.span.span_context().is_valid() {
            Err(SetParentError::AlreadyStarted)
        } else {
            Err(SetParentError::SpanDisabled)
        }
    }
}

thread_local! {
    /// Set while the bridge calls into the SDK holding a span's extensions (processors may
    /// log through `tracing`): events then are ignored rather than deadlocking on that span.
    static INSIDE: Cell<bool> = const { Cell::new(false) };
    /// Context guards of the spans entered on this thread, innermost last.
    static GUARDS: RefCell<Vec<(Id, opentelemetry::ContextGuard)>> = const { RefCell::new(Vec::new()) };
    /// `thread.id` and `thread.name`, computed once per thread.
    static THREAD: (i64, Option<&'static str>) = thread_attributes();
}

struct Inside(bool);

impl Inside {
    #[inline]
    fn enter() -> Inside {
        // `try_with`: spans may close in thread-local destructors, after ours are gone.
        Inside(INSIDE.try_with(|i| i.replace(true)).unwrap_or(true))
    }

    /// Whether this thread is inside the bridge (holding a span's state, or in the SDK on its
    /// behalf): `tracing` calls made from there are ignored (never a lock taken twice).
    #[inline]
    fn is_set() -> bool {
        INSIDE.try_with(Cell::get).unwrap_or(true)
    }
}

impl Drop for Inside {
    #[inline]
    fn drop(&mut self) {
        let _ = INSIDE.try_with(|i| i.set(self.0));
    }
}

fn thread_attributes() -> (i64, Option<&'static str>) {
    let current = std::thread::current();
    // `ThreadId::as_u64` is unstable: its `Debug` form is `ThreadId(N)`.
    let id = format!("{:?}", current.id());
    let id = id
        .trim_start_matches("ThreadId(")
        .trim_end_matches(')')
        .parse()
        .unwrap_or(0);
    let name = current.name().map(intern);
    (id, name)
}

/// A `&'static` copy of a thread name, one per distinct name: the attribute then costs no
/// reference count per span (threads come and go, their names repeat).
fn intern(name: &str) -> &'static str {
    static NAMES: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = names.iter().find(|n| **n == name) {
        return n;
    }
    let leaked: &'static str = Box::leak(name.into());
    names.push(leaked);
    leaked
}

/// Ends a span whose state left the store: busy/idle timings, the end time of its last exit.
fn finish(mut state: Boxed) {
    state.activate();
    let _inside = Inside::enter();
    if let Some(t) = state.timings.take() {
        let idle = if t.entered == 0 {
            t.idle_ns + Instant::now().duration_since(t.last).as_nanos() as i64
        } else {
            t.idle_ns
        };
        state
            .span
            .set_attribute(KeyValue::new("busy_ns", t.busy_ns));
        state.span.set_attribute(KeyValue::new("idle_ns", idle));
    }
    let end = state.last_exit.unwrap_or_else(now);
    state.span.end_with_timestamp(end);
}

fn now() -> SystemTime {
    crate::clock::now()
}

impl<S> OpenTelemetryLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    /// A layer with the defaults: code location, thread and target attributes, context
    /// activation on; level attribute and busy/idle timings off.
    pub fn new(tracer: Tracer) -> Self {
        OpenTelemetryLayer {
            shares_attributes: tracer.shares_attributes(),
            tracer,
            config: Config {
                location: true,
                threads: true,
                level: false,
                target: true,
                timings: false,
                context_activation: true,
            },
            store: Store::default(),
            with_state: WithState(Self::with_state),
            _subscriber: PhantomData,
        }
    }

    /// `code.file.path`, `code.module.name`, `code.line.number` on spans and events.
    pub fn with_location(mut self, on: bool) -> Self {
        self.config.location = on;
        self
    }

    /// `thread.id`, `thread.name` on spans.
    pub fn with_threads(mut self, on: bool) -> Self {
        self.config.threads = on;
        self
    }

    /// `level` on spans (events always carry it).
    pub fn with_level(mut self, on: bool) -> Self {
        self.config.level = on;
        self
    }

    /// `target` on spans (events always carry it).
    pub fn with_target(mut self, on: bool) -> Self {
        self.config.target = on;
        self
    }

    /// `busy_ns`/`idle_ns` on spans: two monotonic clock reads per enter/exit.
    pub fn with_timings(mut self, on: bool) -> Self {
        self.config.timings = on;
        self
    }

    /// Makes the span's OTel context current while the `tracing` span is entered, so
    /// `opentelemetry` API spans and propagators see it (on by default).
    pub fn with_context_activation(mut self, on: bool) -> Self {
        self.config.context_activation = on;
        self
    }

    fn with_state(dispatch: &Dispatch, id: &Id, f: &mut dyn FnMut(&mut SpanState)) {
        if Inside::is_set() {
            return;
        }
        if let Some(layer) = dispatch.downcast_ref::<Self>() {
            layer.state(id, f);
        }
    }

    /// Ends the spans whose close had to wait for a shard this thread or another held (see
    /// [`Store::remove`]): at this thread's next exit or close.
    #[inline]
    fn finish_deferred(&self) {
        if !Inside::is_set() && Store::has_deferred() {
            self.store.take_deferred().into_iter().for_each(finish);
        }
    }

    /// The state of span `id`, through `f` (under its shard's lock, inside the bridge). A
    /// close that had to wait for the lock is finished by this thread's next exit or close.
    #[inline]
    fn state<T>(&self, id: &Id, f: impl FnOnce(&mut SpanState) -> T) -> Option<T> {
        self.store.with(id, f)
    }

    fn parent_context(&self, attrs: &Attributes<'_>, ctx: &LayerContext<'_, S>) -> Context {
        if let Some(parent) = attrs.parent() {
            // A parent this layer does not see (filtered out) makes a root span.
            return self
                .state(parent, |p| p.context().clone())
                .unwrap_or_default();
        }
        if !attrs.is_contextual() {
            return Context::new();
        }
        if self.config.context_activation {
            return Context::current();
        }
        ctx.lookup_current()
            .and_then(|p| self.state(&p.id(), |p| p.context().clone()))
            .unwrap_or_else(Context::current)
    }

    /// The attributes every span gets from its metadata and thread: kept by reference (see
    /// [`SharedAttributes`]) where the provider allows, else the first ones set on a new span,
    /// so pushed without looking for an earlier value of their key.
    #[inline]
    fn span_attributes(&self, span: &mut Span, meta: &'static tracing::Metadata<'static>) {
        let c = self.config;
        if self.shares_attributes {
            let thread = c.threads.then(|| THREAD.try_with(|t| *t).ok()).flatten();
            span.set_shared_attributes(SharedAttributes::callsite(
                meta,
                thread,
                [c.location, c.level, c.target],
            ));
            return;
        }
        self.push_span_attributes(span, meta);
    }

    #[inline(never)]
    fn push_span_attributes(&self, span: &mut Span, meta: &'static tracing::Metadata<'static>) {
        let c = self.config;
        if c.location {
            if let Some(file) = meta.file() {
                span.push_new_attribute(KeyValue::new("code.file.path", file));
            }
            if let Some(module) = meta.module_path() {
                span.push_new_attribute(KeyValue::new("code.module.name", module));
            }
            if let Some(line) = meta.line() {
                span.push_new_attribute(KeyValue::new("code.line.number", i64::from(line)));
            }
        }
        if c.threads {
            let _ = THREAD.try_with(|(id, name)| {
                span.push_new_attribute(KeyValue::new("thread.id", *id));
                if let Some(name) = *name {
                    // A `&'static str` (interned): a copy, no reference count.
                    span.push_new_attribute(KeyValue::new("thread.name", name));
                }
            });
        }
        if c.level {
            span.push_new_attribute(KeyValue::new("level", meta.level().as_str()));
        }
        if c.target {
            span.push_new_attribute(KeyValue::new("target", meta.target()));
        }
    }
}

impl<S> Layer<S> for OpenTelemetryLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        if Inside::is_set() {
            // A span made by the SDK itself while the bridge works on a span (the sampler, a
            // processor): not recorded, as the SDK's own telemetry never is.
            return;
        }
        let parent_cx = self.parent_context(attrs, &ctx);
        let meta = attrs.metadata();
        let mut span = self.tracer.pending_span(Cow::Borrowed(meta.name()), now());
        if span.is_recording() {
            self.span_attributes(&mut span, meta);
            attrs.record(&mut visit::SpanFields {
                span: &mut span,
                inline: self.shares_attributes,
            });
        }
        let timings = self.config.timings.then(|| {
            Box::new(Timings {
                busy_ns: 0,
                idle_ns: 0,
                last: Instant::now(),
                entered: 0,
            })
        });
        self.store.insert(
            id,
            Boxed::new(|| SpanState {
                span,
                parent_cx,
                cx: None,
                last_exit: None,
                timings,
            }),
        );
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: LayerContext<'_, S>) {
        if Inside::is_set() {
            return;
        }
        // Visited first, with no lock held (a `Debug` impl may use `tracing`), then applied.
        let mut recorded = visit::Recorded::default();
        values.record(&mut recorded);
        self.state(id, |s| {
            if s.span.is_recording() {
                recorded.apply(&mut s.span);
            }
        });
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, _ctx: LayerContext<'_, S>) {
        if Inside::is_set() {
            return;
        }
        // One span's state at a time: the two may be in one shard.
        let Some(link) = self.state(follows, |f| f.context().span().span_context().clone()) else {
            return;
        };
        self.state(id, |s| s.span.add_link(link, Vec::new()));
    }

    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        if INSIDE.try_with(Cell::get).unwrap_or(true) {
            return;
        }
        // Events outside any span are not span events (the logs signal would carry them).
        let Some(span_id) = ctx.event_span(event).map(|s| s.id()) else {
            return;
        };
        let recording = self
            .state(&span_id, |s| s.span.is_recording())
            .unwrap_or(false);
        if !recording {
            return;
        }
        // Fields are formatted before the span is locked: a `Debug` impl may use `tracing`.
        let meta = event.metadata();
        let mut fields = visit::EventFields {
            attributes: Vec::with_capacity(2 + meta.fields().len()),
            ..Default::default()
        };
        fields
            .attributes
            .push(KeyValue::new("level", meta.level().as_str()));
        fields
            .attributes
            .push(KeyValue::new("target", meta.target()));
        event.record(&mut fields);
        if self.config.location {
            if let Some(file) = meta.file() {
                fields
                    .attributes
                    .push(KeyValue::new("code.file.path", file));
            }
            if let Some(module) = meta.module_path() {
                fields
                    .attributes
                    .push(KeyValue::new("code.module.name", module));
            }
            if let Some(line) = meta.line() {
                fields
                    .attributes
                    .push(KeyValue::new("code.line.number", i64::from(line)));
            }
        }
        let name = fields.name.unwrap_or(Cow::Borrowed(meta.name()));
        let timestamp = now();
        self.state(&span_id, |state| {
            let s = &mut state.span;
            if let Some(error) = fields.error {
                s.set_status(Status::error(error));
            } else if *meta.level() == Level::ERROR && s.status() == Some(&Status::Unset) {
                s.set_status(Status::error(""));
            }
            s.add_event_with_timestamp(name, timestamp, fields.attributes);
        });
    }

    fn on_enter(&self, id: &Id, _ctx: LayerContext<'_, S>) {
        if Inside::is_set() {
            return;
        }
        let activation = self.config.context_activation;
        let cx = self
            .state(id, |s| {
                if let Some(t) = s.timings.as_mut() {
                    if t.entered == 0 {
                        let now = Instant::now();
                        t.idle_ns += now.duration_since(t.last).as_nanos() as i64;
                        t.last = now;
                    }
                    t.entered += 1;
                }
                if activation {
                    Some(s.context().clone())
                } else {
                    s.activate();
                    None
                }
            })
            .flatten();
        if let Some(cx) = cx {
            let guard = cx.attach();
            // Without the thread-local (thread exiting) the guard drops now: the context is
            // current for no time, which is all that can be done then.
            let _ = GUARDS.try_with(|g| g.borrow_mut().push((id.clone(), guard)));
        }
    }

    fn on_exit(&self, id: &Id, _ctx: LayerContext<'_, S>) {
        if Inside::is_set() {
            return;
        }
        if self.config.context_activation {
            // Restores the context; dropped outside the `RefCell` borrow.
            let guard = GUARDS.try_with(|g| {
                let mut g = g.borrow_mut();
                // Usually the innermost: spans exit in the order they were entered.
                if g.last().is_some_and(|(i, _)| i == id) {
                    return g.pop();
                }
                let pos = g.iter().rposition(|(i, _)| i == id)?;
                Some(g.remove(pos))
            });
            drop(guard);
        }
        let end = now();
        self.state(id, |s| {
            s.last_exit = Some(end);
            if let Some(t) = s.timings.as_mut() {
                t.entered = t.entered.saturating_sub(1);
                if t.entered == 0 {
                    let now = Instant::now();
                    t.busy_ns += now.duration_since(t.last).as_nanos() as i64;
                    t.last = now;
                }
            }
        });
        self.finish_deferred();
    }

    fn on_close(&self, id: Id, _ctx: LayerContext<'_, S>) {
        // Taken out first: the span ends (processors run) with no lock held. Never ignored,
        // even from inside the bridge: the state would stay in the store.
        if let Some(state) = self.store.remove(&id) {
            finish(state);
        }
        self.finish_deferred();
    }

    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            Some(self as *const Self as *const ())
        } else if id == TypeId::of::<WithState>() {
            Some(&self.with_state as *const WithState as *const ())
        } else {
            None
        }
    }
}

#[cfg(test)]
mod shared_tests;
#[cfg(test)]
mod tests;
