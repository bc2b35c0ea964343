//! `FutureRecordMetadata` and the thread that runs Python callbacks.
//!
//! Volley's callback thread calls [`Shared::complete`] with each record's outcome, in
//! completion order. It never takes the GIL: it stores the outcome, wakes the threads in
//! `get()`, and settles a record without callbacks at once when nothing is queued ahead of
//! it ([`QUEUED`]); otherwise it queues the record for `volley-py-callbacks`, which runs the
//! callbacks of everything queued under one GIL acquisition (none if no record has
//! callbacks). The Python objects (the `RecordMetadata` tuple, the exception) are made on
//! first use and kept, so every caller sees the same objects; when the Python future is gone
//! (nobody can ask again) the callback thread makes them for the callbacks only.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyTuple, PyType};
use volley::{DeliveryError, RecordMetadata};

use crate::errors;

/// How long one detached wait lasts before signals are checked (Ctrl-C within this).
pub(crate) const SLICE: Duration = Duration::from_millis(100);

/// Locks `m`, recovering the data from a panicked holder (the state stays consistent: every
/// critical section is a few assignments).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The instant `timeout` seconds from now (`None`: no limit).
///
/// # Errors
/// `ValueError` for a negative or non-finite timeout.
pub(crate) fn deadline(timeout: Option<f64>) -> PyResult<Option<Instant>> {
    let Some(t) = timeout else { return Ok(None) };
    let d = Duration::try_from_secs_f64(t).map_err(|_| {
        pyo3::exceptions::PyValueError::new_err(format!("timeout must be a non-negative number of seconds, not {t}"))
    })?;
    Ok(Some(Instant::now().checked_add(d).unwrap_or_else(far_future)))
}

/// An instant no wait reaches.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(100 * 365 * 86_400)
}

/// The next wait: [`SLICE`], or less if `deadline` is nearer.
pub(crate) fn slice(deadline: Option<Instant>) -> Duration {
    deadline.map_or(SLICE, |d| SLICE.min(d.saturating_duration_since(Instant::now())))
}

/// Whether `deadline` has passed.
pub(crate) fn expired(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

/// Records sent by one producer whose outcome and callbacks have not all run yet; `flush`
/// and `close` wait for it to reach zero.
///
/// The count is an atomic: it changes twice per record, on the sending thread and on a
/// callback thread, and a lock taken on both (one cache line passed between cores twice a
/// record) was a visible share of a send with a callback. The lock and condvar are only for
/// the waiters: whoever brings the count to zero takes the lock before notifying, and a
/// waiter reads the count under it, so a wake-up is never lost.
#[derive(Debug, Default)]
pub(crate) struct Inflight {
    count: AtomicU64,
    lock: Mutex<()>,
    zero: Condvar,
}

impl Inflight {
    /// One more record.
    pub(crate) fn add(&self) {
        self.count.fetch_add(1, Ordering::AcqRel);
    }

    /// One record done (outcome known, callbacks run).
    pub(crate) fn done(&self) {
        let before = self
            .count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| Some(n.saturating_sub(1)))
            .unwrap_or_default();
        if before <= 1 {
            let _held = lock(&self.lock);
            self.zero.notify_all();
        }
    }

    /// Waits at most `d` for zero; whether it is zero.
    pub(crate) fn wait_zero(&self, d: Duration) -> bool {
        let held = lock(&self.lock);
        let (_held, _) = self
            .zero
            .wait_timeout_while(held, d, |_| self.count.load(Ordering::Acquire) > 0)
            .unwrap_or_else(PoisonError::into_inner);
        self.count.load(Ordering::Acquire) == 0
    }
}

/// Which outcome a callback wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum On {
    Success,
    Failure,
    /// `add_both`: one registration for either outcome.
    Both,
}

/// The callbacks of one record.
type Callbacks = smallvec::SmallVec<[Callback; 1]>;

/// A Python callback with the arguments given to `add_callback` / `add_errback`.
#[derive(Debug)]
struct Callback {
    on: On,
    f: Py<PyAny>,
    args: Py<PyTuple>,
    kwargs: Option<Py<PyDict>>,
}

#[derive(Debug, Default)]
struct State {
    outcome: Option<Result<RecordMetadata, DeliveryError>>,
    /// Inline room for one (the usual `add_callback` or `add_both`): no allocation.
    callbacks: Callbacks,
    /// Set by the callback thread once the callbacks registered before it reached this
    /// record have run; a callback added later runs at once on the caller's thread.
    settled: bool,
    value: Option<Py<PyAny>>,
    exception: Option<Py<PyAny>>,
    /// Threads waiting in `get()`: the outcome wakes them only if there are any (a
    /// `notify_all` is a system call, once per record otherwise).
    waiters: usize,
}

/// One record's future, shared by the Python object and Volley's completion callback.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<State>,
    done: Condvar,
    /// The topic (Rust text: a `Shared` may be dropped on Volley's threads, without the GIL).
    topic: Arc<str>,
    /// Serialized key, value and header sizes (-1 when absent), for `RecordMetadata`.
    sizes: (i64, i64, i64),
    inflight: Arc<Inflight>,
    /// The process that sent the record: in a child of `fork()` its outcome never comes.
    pid: u32,
}

impl Shared {
    /// A pending record of `topic`, counted in `inflight` until it is done.
    pub(crate) fn new(topic: Arc<str>, sizes: (i64, i64, i64), inflight: Arc<Inflight>) -> Arc<Self> {
        inflight.add();
        Arc::new(Self {
            state: Mutex::new(State::default()),
            done: Condvar::new(),
            topic,
            sizes,
            inflight,
            pid: this_process(),
        })
    }

    /// Stores the outcome (on Volley's callback thread, without the GIL) and queues the
    /// record for the callback thread, which runs its callbacks in completion order (a
    /// callback may still be added between `send` returning and the thread reaching it).
    ///
    /// A record without callbacks and with nothing queued ahead of it is settled under the
    /// same lock as its outcome is stored: whoever sees the outcome (a `get()` that returns)
    /// also sees it settled, so a callback added then runs at once on the caller's thread
    /// (stored first and settled a moment later, such a callback was left to the callback
    /// thread: a race the after-completion test lost now and then).
    pub(crate) fn complete(self: Arc<Self>, result: Result<RecordMetadata, DeliveryError>) {
        let (settled, has_callbacks, waiters) = {
            let mut st = lock(&self.state);
            st.outcome = Some(result);
            let has_callbacks = !st.callbacks.is_empty();
            let now = !has_callbacks && QUEUED.load(Ordering::Acquire) == 0;
            st.settled |= now;
            (now, has_callbacks, st.waiters > 0)
        };
        if waiters {
            self.done.notify_all();
        }
        if settled {
            self.inflight.done();
            return;
        }
        // Through the callback thread's queue: with callbacks (never taken away before that
        // thread runs them), or behind records queued ahead; a record without callbacks
        // whose queue emptied meanwhile is settled here after all.
        if has_callbacks || QUEUED.load(Ordering::Acquire) > 0 || !settle_without_python(&self) {
            enqueue(self);
        }
    }

    /// The callbacks to run now (with the outcome too if `with_outcome`, read under the
    /// same lock), or `None` after marking the record settled (no more).
    fn take_callbacks(&self, with_outcome: bool) -> Option<(Callbacks, Option<Result<RecordMetadata, DeliveryError>>)> {
        let mut st = lock(&self.state);
        if st.callbacks.is_empty() {
            st.settled = true;
            None
        } else {
            let outcome = if with_outcome { st.outcome.clone() } else { None };
            Some((std::mem::take(&mut st.callbacks), outcome))
        }
    }

    /// The record was never queued: no outcome will come.
    pub(crate) fn abandon(&self) {
        self.inflight.done();
    }

    fn is_done(&self) -> bool {
        lock(&self.state).outcome.is_some()
    }

    /// Waits at most `d` for the outcome; whether it is known.
    fn wait(&self, d: Duration) -> bool {
        let mut st = lock(&self.state);
        st.waiters += 1;
        let (mut st, _) = self
            .done
            .wait_timeout_while(st, d, |st| st.outcome.is_none())
            .unwrap_or_else(PoisonError::into_inner);
        st.waiters -= 1;
        st.outcome.is_some()
    }

    /// The outcome as Python objects: `Ok(RecordMetadata)` or `Err(exception)`; `None`
    /// while pending. Made once; Python code never runs while the lock is held.
    fn result(&self, py: Python<'_>) -> PyResult<Option<Result<Py<PyAny>, Py<PyAny>>>> {
        let outcome = {
            let st = lock(&self.state);
            match (&st.outcome, &st.value, &st.exception) {
                (None, _, _) => return Ok(None),
                (Some(Ok(_)), Some(v), _) => return Ok(Some(Ok(v.clone_ref(py)))),
                (Some(Err(_)), _, Some(e)) => return Ok(Some(Err(e.clone_ref(py)))),
                (Some(o), _, _) => o.clone(),
            }
        };
        let made = self.make(py, &outcome)?;
        let mut st = lock(&self.state);
        let kept = match made {
            Ok(v) => Ok(st.value.get_or_insert(v).clone_ref(py)),
            Err(e) => Err(st.exception.get_or_insert(e).clone_ref(py)),
        };
        Ok(Some(kept))
    }

    /// The Python objects for `outcome`, made anew.
    fn make(
        &self,
        py: Python<'_>,
        outcome: &Result<RecordMetadata, DeliveryError>,
    ) -> PyResult<Result<Py<PyAny>, Py<PyAny>>> {
        Ok(match outcome {
            Ok(meta) => Ok(self.metadata(py, meta)?),
            Err(e) => Err(errors::delivery_exception(py, e)?.unbind()),
        })
    }

    /// kafka-python's `RecordMetadata` tuple for a delivered record. The named tuples are
    /// made with `tuple.__new__` (C), not their classes' Python-level `__new__`: two of
    /// those per record were a visible share of a callback's cost.
    fn metadata(&self, py: Python<'_>, m: &RecordMetadata) -> PyResult<Py<PyAny>> {
        static RECORD_METADATA: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        static TOPIC_PARTITION: PyOnceLock<Py<PyType>> = PyOnceLock::new();
        static TUPLE_NEW: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let tuple_new = TUPLE_NEW
            .get_or_try_init(py, || py.get_type::<PyTuple>().getattr("__new__").map(Bound::unbind))?
            .bind(py);
        let tp_type = TOPIC_PARTITION.import(py, "volley.structs", "TopicPartition")?;
        let (topic, tp) = match topic_partition_cached(py, &self.topic, m.partition) {
            Some(cached) => cached,
            None => {
                let topic = PyString::new(py, &self.topic).into_any();
                let tp = tuple_new.call1((tp_type, (&topic, m.partition)))?;
                remember_topic_partition(&self.topic, m.partition, &topic, &tp);
                (topic, tp)
            }
        };
        let (key, value, headers) = self.sizes;
        let meta_type = RECORD_METADATA.import(py, "volley.structs", "RecordMetadata")?;
        let fields = (
            topic,
            m.partition,
            tp,
            m.offset.unwrap_or(-1),
            m.timestamp,
            py.None(),
            key,
            value,
            headers,
        );
        Ok(tuple_new.call1((meta_type, fields))?.unbind())
    }
}

/// The last topic's Python string and `TopicPartition` tuples by partition: immutable
/// objects every `RecordMetadata` of the topic can share (two allocations fewer per record
/// on the callback thread). Only touched with the GIL held; `try_lock`, so that a lock a
/// parent's thread held at a `fork()` only costs the child the cache.
static TOPIC_PARTITIONS: Mutex<Option<TopicPartitions>> = Mutex::new(None);

struct TopicPartitions {
    topic: Arc<str>,
    text: Py<PyAny>,
    by_partition: Vec<Option<Py<PyAny>>>,
}

/// The cached topic string and `TopicPartition` of `(topic, partition)`, if any.
fn topic_partition_cached<'py>(
    py: Python<'py>,
    topic: &Arc<str>,
    partition: i32,
) -> Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let cache = TOPIC_PARTITIONS.try_lock().ok()?;
    let c = cache
        .as_ref()
        .filter(|c| Arc::ptr_eq(&c.topic, topic) || *c.topic == **topic)?;
    let tp = c.by_partition.get(usize::try_from(partition).ok()?)?.as_ref()?;
    Some((c.text.bind(py).clone(), tp.bind(py).clone()))
}

/// Keeps `(text, tp)` for `(topic, partition)` (a new topic replaces the cache).
fn remember_topic_partition(topic: &Arc<str>, partition: i32, text: &Bound<'_, PyAny>, tp: &Bound<'_, PyAny>) {
    let Ok(index) = usize::try_from(partition) else { return };
    if index >= 65_536 {
        return;
    }
    let Ok(mut cache) = TOPIC_PARTITIONS.try_lock() else {
        return;
    };
    let same = cache
        .as_ref()
        .is_some_and(|c| Arc::ptr_eq(&c.topic, topic) || *c.topic == **topic);
    if !same {
        // The replaced objects are released here, with the GIL held.
        *cache = Some(TopicPartitions {
            topic: Arc::clone(topic),
            text: text.clone().unbind(),
            by_partition: Vec::new(),
        });
    }
    if let Some(c) = cache.as_mut() {
        if c.by_partition.len() <= index {
            c.by_partition.resize_with(index + 1, || None);
        }
        c.by_partition[index] = Some(tp.clone().unbind());
    }
}

/// The outcome of one `send`, as kafka-python's `FutureRecordMetadata`.
#[pyclass(module = "volley._volley", frozen)]
#[derive(Debug)]
pub struct FutureRecordMetadata {
    shared: Arc<Shared>,
}

impl FutureRecordMetadata {
    /// The Python side of `shared`.
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Registers `f` for `on`, or runs it now (on this thread) if the outcome is known.
    fn add(
        slf: &Bound<'_, Self>,
        on: On,
        f: Py<PyAny>,
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let cb = Callback {
            on,
            f,
            args: args.clone().unbind(),
            kwargs: kwargs.map(|k| k.clone().unbind()),
        };
        let shared = &slf.get().shared;
        {
            let mut st = lock(&shared.state);
            if !st.settled {
                st.callbacks.push(cb);
                return Ok(());
            }
        }
        if let Some(result) = shared.result(py)? {
            run_callback(py, &cb, &result);
        }
        Ok(())
    }
}

#[pymethods]
impl FutureRecordMetadata {
    /// Waits for the outcome (at most `timeout` seconds): the `RecordMetadata`, or raises
    /// the delivery error; `KafkaTimeoutError` if the time runs out first.
    #[pyo3(signature = (timeout=None))]
    fn get(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
        if self.shared.pid != std::process::id() && !self.shared.is_done() {
            return Err(errors::exception(
                py,
                "IllegalStateError",
                "this record was sent by the parent process before os.fork(); its outcome never reaches the child"
                    .into(),
            ));
        }
        let deadline = deadline(timeout)?;
        loop {
            let d = slice(deadline);
            let shared = &self.shared;
            if py.detach(|| shared.wait(d)) {
                break;
            }
            py.check_signals()?;
            if expired(deadline) {
                return Err(errors::timeout(
                    py,
                    format!("Timeout after waiting for {} secs.", timeout.unwrap_or_default()),
                ));
            }
        }
        match self.shared.result(py)? {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(PyErr::from_value(e.into_bound(py))),
            None => Err(errors::timeout(py, "no outcome yet".into())),
        }
    }

    /// Calls `f(*args, metadata, **kwargs)` when the record is delivered; returns the future.
    #[pyo3(signature = (f, *args, **kwargs))]
    fn add_callback<'py>(
        slf: &Bound<'py, Self>,
        f: Py<PyAny>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, Self>> {
        Self::add(slf, On::Success, f, args, kwargs)?;
        Ok(slf.clone())
    }

    /// Calls `f(*args, exception, **kwargs)` when the record fails; returns the future.
    #[pyo3(signature = (f, *args, **kwargs))]
    fn add_errback<'py>(
        slf: &Bound<'py, Self>,
        f: Py<PyAny>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, Self>> {
        Self::add(slf, On::Failure, f, args, kwargs)?;
        Ok(slf.clone())
    }

    /// Both: `f` gets the metadata or the exception.
    #[pyo3(signature = (f, *args, **kwargs))]
    fn add_both<'py>(
        slf: &Bound<'py, Self>,
        f: Py<PyAny>,
        args: &Bound<'py, PyTuple>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, Self>> {
        Self::add(slf, On::Both, f, args, kwargs)?;
        Ok(slf.clone())
    }

    /// kafka-python's `chain(future)`: this outcome goes to `future.success(metadata)` or
    /// `future.failure(exception)`; returns this future.
    fn chain<'py>(slf: &Bound<'py, Self>, future: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        let py = slf.py();
        let none = PyTuple::empty(py);
        let success = future.getattr("success")?.unbind();
        let failure = future.getattr("failure")?.unbind();
        Self::add(slf, On::Success, success, &none, None)?;
        Self::add(slf, On::Failure, failure, &none, None)?;
        Ok(slf.clone())
    }

    /// kafka-python's `retriable()`: whether the record failed with an error whose class says
    /// it is retriable (False while pending or after a delivery).
    fn retriable(&self, py: Python<'_>) -> PyResult<bool> {
        match self.shared.result(py)? {
            Some(Err(e)) => e.bind(py).getattr("retriable")?.is_truthy(),
            _ => Ok(false),
        }
    }

    /// Whether the record was delivered.
    fn succeeded(&self) -> bool {
        matches!(lock(&self.shared.state).outcome, Some(Ok(_)))
    }

    /// Whether the record failed.
    fn failed(&self) -> bool {
        matches!(lock(&self.shared.state).outcome, Some(Err(_)))
    }

    /// Whether the outcome is known.
    #[getter]
    fn is_done(&self) -> bool {
        self.shared.is_done()
    }

    /// The `RecordMetadata` once delivered, else `None`.
    #[getter]
    fn value(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        Ok(self.shared.result(py)?.and_then(Result::ok))
    }

    /// The exception once failed, else `None`.
    #[getter]
    fn exception(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        Ok(self.shared.result(py)?.and_then(Result::err))
    }

    fn __repr__(&self) -> String {
        let state = match &lock(&self.shared.state).outcome {
            None => "pending".to_owned(),
            Some(Ok(m)) => format!("partition={} offset={:?}", m.partition, m.offset),
            Some(Err(e)) => format!("failed: {e}"),
        };
        format!("<FutureRecordMetadata topic={:?} {state}>", self.shared.topic)
    }
}

/// Runs one callback if it wants this outcome; an exception is logged and swallowed.
fn run_callback(py: Python<'_>, cb: &Callback, result: &Result<Py<PyAny>, Py<PyAny>>) {
    let arg = match (cb.on, result) {
        (On::Success | On::Both, Ok(v)) | (On::Failure | On::Both, Err(v)) => v.bind(py),
        _ => return,
    };
    let args = cb.args.bind(py);
    if args.is_empty() && cb.kwargs.is_none() {
        // The usual `add_callback(f)`: no tuple to assemble.
        if let Err(err) = cb.f.bind(py).call1((arg,)) {
            log_exception(py, err);
        }
        return;
    }
    let called = (|| {
        let mut all: Vec<Bound<'_, PyAny>> = args.iter().collect();
        all.push(arg.clone());
        let all = PyTuple::new(py, all)?;
        cb.f.bind(py).call(all, cb.kwargs.as_ref().map(|k| k.bind(py)))
    })();
    if let Err(err) = called {
        log_exception(py, err);
    }
}

/// Logs an exception raised by a callback on the `volley` logger, with its traceback.
fn log_exception(py: Python<'_>, err: PyErr) {
    let logged = (|| -> PyResult<()> {
        let logger = py.import("logging")?.call_method1("getLogger", ("volley",))?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("exc_info", err.clone_ref(py).into_value(py))?;
        logger.call_method("error", ("Error processing a delivery callback",), Some(&kwargs))?;
        Ok(())
    })();
    if logged.is_err() {
        err.print(py);
    }
}

/// Records handed to the callback thread and not settled yet (all producers). While it is
/// zero nothing is ahead of a completing record, so one without callbacks is settled on
/// Volley's callback thread at once, with no hand-off and no wake-up of the callback thread;
/// it is never settled before an earlier record's callbacks ran (a callback added to it
/// later runs at once on the caller's thread, and must come after those).
static QUEUED: AtomicUsize = AtomicUsize::new(0);

/// Whether records wait for the callback thread (which then wants the GIL).
pub(crate) fn callbacks_queued() -> bool {
    QUEUED.load(Ordering::Relaxed) > 0
}

/// One completed record, for the callback thread; counted in [`QUEUED`] until dropped
/// (after it is settled).
#[derive(Debug)]
struct Job {
    shared: Arc<Shared>,
}

impl Drop for Job {
    fn drop(&mut self) {
        QUEUED.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Settles a record that has no callbacks, without the GIL; whether it had none.
fn settle_without_python(shared: &Shared) -> bool {
    {
        let mut st = lock(&shared.state);
        if !st.callbacks.is_empty() {
            return false;
        }
        st.settled = true;
    }
    shared.inflight.done();
    true
}

impl Job {
    /// Runs the record's callbacks (those added while they run too) and settles it.
    fn run(self, py: Python<'_>) {
        // The only reference left (the Python future is gone): nobody can ask for the
        // outcome again, so its objects are made for the callbacks and not kept.
        let alone = Arc::strong_count(&self.shared) == 1;
        while let Some((callbacks, outcome)) = self.shared.take_callbacks(alone) {
            let result = match outcome {
                Some(o) => self.shared.make(py, &o).map(Some),
                None => self.shared.result(py),
            };
            match result {
                Ok(Some(result)) => {
                    for cb in &callbacks {
                        run_callback(py, cb, &result);
                    }
                }
                Ok(None) => {}
                Err(err) => log_exception(py, err),
            }
        }
        self.shared.inflight.done();
    }
}

thread_local! {
    /// Set on the callback thread: `flush` and `close` there must not wait for callbacks.
    static CALLBACK_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread is the one running Python callbacks.
pub(crate) fn on_callback_thread() -> bool {
    CALLBACK_THREAD.with(Cell::get)
}

/// The channel into the callback thread of this process, once started. Lock-free to read
/// and to replace: after `fork()` the child replaces it (a lock held by a parent's thread at
/// the fork would stay held in the child for ever).
static CALLBACK_TX: arc_swap::ArcSwapOption<mpsc::Sender<Job>> = arc_swap::ArcSwapOption::const_empty();

/// The sender into the callback thread, starting the thread if there is none; `None` if
/// it cannot be started.
fn callback_tx() -> Option<Arc<mpsc::Sender<Job>>> {
    if let Some(tx) = CALLBACK_TX.load_full() {
        return Some(tx);
    }
    let (tx, rx) = mpsc::channel::<Job>();
    let tx = Arc::new(tx);
    // Two first completions at once: the loser's thread ends when its sender is dropped.
    let prev = CALLBACK_TX.compare_and_swap(&None::<Arc<mpsc::Sender<Job>>>, Some(Arc::clone(&tx)));
    if let Some(won) = &*prev {
        return Some(Arc::clone(won));
    }
    let started = std::thread::Builder::new()
        .name("volley-py-callbacks".into())
        .spawn(move || {
            CALLBACK_THREAD.with(|c| c.set(true));
            callback_loop(&rx);
        });
    if started.is_err() {
        CALLBACK_TX.store(None);
        return None;
    }
    Some(tx)
}

/// This process's id, read once (and again after a fork): `getpid` is a system call, and
/// every record notes the process that sent it.
static PID: AtomicU32 = AtomicU32::new(0);

fn this_process() -> u32 {
    match PID.load(Ordering::Relaxed) {
        0 => {
            let pid = std::process::id();
            PID.store(pid, Ordering::Relaxed);
            pid
        }
        pid => pid,
    }
}

/// In the child after `fork()`: the parent's callback thread does not exist here; the next
/// completion starts a new one. The old channel is leaked (its receiver belonged to a
/// thread that is gone).
pub(crate) fn after_fork_in_child() {
    PID.store(std::process::id(), Ordering::Relaxed);
    // Records the parent had queued for its callback thread never settle here: counted,
    // they would send every completion of the child through the queue for good.
    QUEUED.store(0, Ordering::Release);
    std::mem::forget(CALLBACK_TX.swap(None));
}

/// Queues a completed record for the callback thread (started on first use).
fn enqueue(shared: Arc<Shared>) {
    QUEUED.fetch_add(1, Ordering::AcqRel);
    let job = Job { shared };
    // The running thread's sender is borrowed in place (no reference count touched).
    let job = match &*CALLBACK_TX.load() {
        Some(tx) => match tx.send(job) {
            Ok(()) => return,
            Err(mpsc::SendError(job)) => job,
        },
        None => match callback_tx() {
            Some(tx) => match tx.send(job) {
                Ok(()) => return,
                Err(mpsc::SendError(job)) => job,
            },
            None => job,
        },
    };
    // No callback thread: run here (Volley's callback thread), if Python is still up.
    run_batch(vec![job]);
}

/// Runs queued jobs in order, taking the GIL once per batch.
fn callback_loop(rx: &mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        jobs.extend(rx.try_iter().take(4096));
        run_batch(jobs);
    }
}

/// Runs `jobs` in order: without the GIL while none has callbacks, then the rest under one
/// GIL acquisition.
fn run_batch(jobs: Vec<Job>) {
    let mut jobs = jobs.into_iter();
    let rest: Vec<Job> = loop {
        let Some(job) = jobs.next() else { return };
        if settle_without_python(&job.shared) {
            continue; // dropped: no longer queued
        }
        break std::iter::once(job).chain(jobs).collect();
    };
    let mut jobs = Some(rest);
    let ran = Python::try_attach(|py| {
        for job in jobs.take().into_iter().flatten() {
            job.run(py);
        }
    });
    if ran.is_none() {
        // The interpreter is finalizing: the callbacks cannot run. Count the records done
        // and leak their Python objects (they cannot be released without the interpreter).
        for job in jobs.take().into_iter().flatten() {
            let callbacks = std::mem::take(&mut lock(&job.shared.state).callbacks);
            std::mem::forget(callbacks);
            job.shared.inflight.done();
        }
    }
}
