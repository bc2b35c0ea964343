//! A producer for programs without async: [`Producer`], and [`TypedProducer`] with
//! serializers wired in.
//!
//! It runs on a runtime of its own: one background thread (`volley-io`), started by the
//! first blocking producer of the process and shared by all of them. Every method may be
//! called from any thread (plain threads, a tokio worker, a delivery callback); it waits on
//! the calling thread, which it parks, while the background thread does the I/O.
//!
//! ```no_run
//! use std::time::Duration;
//! use volley::blocking::Producer;
//! use volley::{ProducerConfig, ProducerRecord};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = ProducerConfig::builder().bootstrap_servers("127.0.0.1:9092").build()?;
//! let producer = Producer::new(config)?;
//! let handle = producer.send(ProducerRecord::new("clicks", "hello").key("alice"))?;
//! let meta = handle.wait()?;
//! println!("partition {} offset {:?}", meta.partition, meta.offset);
//! producer.close(Duration::from_secs(5))?;
//! # Ok(()) }
//! ```
//!
//! [`TypedProducer`] is the blocking twin of [`crate::TypedProducer`]: key and value
//! serializers wired in ([`crate::ProducerBuilder::typed_blocking`]).
//!
//! Deadlocks: nothing the producer's I/O waits for runs user code that could block (the
//! partitioner and `on_send` run on the sending thread, callbacks on the callback thread),
//! so a callback may `send`, `flush` or `close`. The one place user code runs on the I/O
//! thread is an [`on_settled`](crate::Producer::on_settled) listener: a blocking call from
//! there would wait for that very thread, so it is refused with [`Error::Blocking`].

mod typed;

pub use typed::TypedProducer;

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

use crate::config::ProducerConfig;
use crate::error::{DeliveryError, Error, SendError};
use crate::producer::wait::PartitionMetadata;
use crate::producer::ProducerBuilder;
use crate::record::{DeliveryFuture, ProducerRecord, RecordMetadata, RecordRef};

thread_local! {
    /// Set on the runtime's own threads, where blocking would deadlock.
    static IO_THREAD: Cell<bool> = const { Cell::new(false) };
    /// Wakes this thread from `park`.
    static WAKER: Waker = Waker::from(Arc::new(Unpark(std::thread::current())));
}

struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// The runtime shared by every blocking producer of the process. Each runtime is leaked
/// (it lives as long as the process): after `fork` the child's copy has no threads, and
/// dropping it there could wait for them for ever (see [`after_fork_in_child`]).
static RUNTIME: arc_swap::ArcSwapOption<&'static Runtime> = arc_swap::ArcSwapOption::const_empty();

/// The shared runtime, started by the first caller (again after [`after_fork_in_child`]).
fn runtime() -> Result<&'static Runtime, Error> {
    if let Some(rt) = &*RUNTIME.load() {
        return Ok(**rt);
    }
    let built = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("volley-io")
        .on_thread_start(|| IO_THREAD.with(|c| c.set(true)))
        .enable_all()
        .build()
        .map_err(|e| Error::Blocking(format!("cannot start the producer's runtime: {e}")))?;
    let built: &'static Runtime = Box::leak(Box::new(built));
    // Two first callers at once: one runtime wins, the loser's stays idle (leaked, one thread).
    let prev = RUNTIME.compare_and_swap(
        &None::<std::sync::Arc<&'static Runtime>>,
        Some(std::sync::Arc::new(built)),
    );
    Ok(match &*prev {
        Some(won) => **won,
        None => built,
    })
}

/// Call in the child after `fork()`: the child has none of the parent's threads, so the
/// shared runtime is abandoned and the next blocking producer starts a new one. Producers
/// made before the fork stay bound to the abandoned runtime and must not be used in the
/// child (their calls would wait for threads that do not exist); a binding should refuse
/// them (the Python package does). Leaks the old runtime, which cannot be shut down
/// without its threads.
pub fn after_fork_in_child() {
    std::mem::forget(RUNTIME.swap(None));
}

/// The shared runtime, unless this thread must not block: the runtime's own thread would
/// wait for itself.
fn ready() -> Result<&'static Runtime, Error> {
    if IO_THREAD.with(Cell::get) {
        return Err(Error::Blocking(
            "a blocking producer call from the producer's I/O thread (an on_settled listener) would wait for that thread itself"
                .into(),
        ));
    }
    runtime()
}

/// This thread's waker: it unparks the thread.
fn waker() -> Waker {
    WAKER
        .try_with(Waker::clone)
        .unwrap_or_else(|_| Waker::from(Arc::new(Unpark(std::thread::current()))))
}

/// Polls `f` on this thread, parking between polls, until it is ready, within the runtime's
/// context: its timers and sockets are driven by the background thread, which unparks this
/// one through the waker.
fn wait_in<F: Future>(rt: &Runtime, f: F) -> F::Output {
    let _entered = rt.enter();
    let waker = waker();
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

/// As [`wait_in`], giving up (`None`) at `deadline`.
fn wait_until<F: Future>(rt: &Runtime, f: F, timeout: Duration) -> Option<F::Output> {
    // `Duration::MAX` ("for ever") overflows an Instant: no deadline then.
    let Some(deadline) = Instant::now().checked_add(timeout) else {
        return Some(wait_in(rt, f));
    };
    let _entered = rt.enter();
    let waker = waker();
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return Some(v);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        std::thread::park_timeout(deadline - now);
    }
}

/// Waits for `f` in slices of `every`, calling `interrupted` between them: its `Some` ends
/// the wait (and drops nothing: `f` is the caller's).
fn wait_interruptible<F: Future, E>(
    rt: &Runtime,
    mut f: std::pin::Pin<&mut F>,
    every: Duration,
    interrupted: &mut impl FnMut() -> Option<E>,
) -> Result<F::Output, E> {
    loop {
        if let Some(done) = wait_until(rt, f.as_mut(), every) {
            return Ok(done);
        }
        if let Some(e) = interrupted() {
            return Err(e);
        }
    }
}

/// Waits for `f` on the shared runtime, unless this thread must not block.
fn wait<F: Future>(f: F) -> Result<F::Output, Error> {
    Ok(wait_in(ready()?, f))
}

/// A Kafka producer for code without async; see the [module](self) docs. Clones share one
/// producer; every method takes `&self` and may be called from any thread.
#[derive(Debug, Clone)]
pub struct Producer {
    inner: Arc<crate::Producer>,
}

impl Producer {
    /// Starts a producer on the shared background runtime (started by the first one).
    ///
    /// # Errors
    /// [`Error::Blocking`] if the runtime cannot be started.
    pub fn new(config: ProducerConfig) -> Result<Self, Error> {
        Self::from_builder(crate::Producer::builder(config))
    }

    /// Starts a producer with a custom partitioner or interceptors
    /// ([`crate::ProducerBuilder::build_blocking`]).
    pub(crate) fn from_builder(builder: ProducerBuilder) -> Result<Self, Error> {
        let rt = runtime()?;
        let _entered = rt.enter();
        Ok(Self {
            inner: Arc::new(builder.build()?),
        })
    }

    /// The async producer underneath (for code that has both).
    #[must_use]
    pub fn as_async(&self) -> &Arc<crate::Producer> {
        &self.inner
    }

    /// The configuration in force.
    #[must_use]
    pub fn config(&self) -> &ProducerConfig {
        self.inner.config()
    }

    /// Queues a record, waiting (at most `max.block.ms`) for metadata and buffer room like
    /// [`crate::Producer::send`]; returns a handle to wait for the outcome with. Dropping the
    /// handle does not cancel the delivery.
    ///
    /// # Errors
    /// As [`crate::Producer::send`] (with the record given back), or [`Error::Blocking`].
    pub fn send(&self, record: ProducerRecord) -> Result<DeliveryHandle, SendError> {
        self.send_with(record, true)
    }

    /// Like [`Producer::send`], but fails at once with [`Error::WouldBlock`] when
    /// `buffer.memory` is full.
    ///
    /// # Errors
    /// As [`Producer::send`], plus [`Error::WouldBlock`].
    pub fn try_send(&self, record: ProducerRecord) -> Result<DeliveryHandle, SendError> {
        self.send_with(record, false)
    }

    fn send_with(&self, record: ProducerRecord, wait_for_room: bool) -> Result<DeliveryHandle, SendError> {
        let rt = match ready() {
            Ok(rt) => rt,
            Err(e) => return Err(SendError::new(e, record)),
        };
        let sent = wait_in(rt, async {
            if wait_for_room {
                self.inner.send(record).await
            } else {
                self.inner.try_send(record).await
            }
        });
        sent.map(|future| DeliveryHandle { future })
    }

    /// Sends a record and waits for its outcome.
    ///
    /// # Errors
    /// A [`DeliveryError`]; a record that was not queued is a not-persisted one that
    /// carries it.
    pub fn send_and_wait(&self, record: ProducerRecord) -> Result<RecordMetadata, DeliveryError> {
        self.send(record)?.wait()
    }

    /// Queues a record and calls `callback` with its outcome on the producer's callback
    /// thread (see [`crate::Producer::send_with_callback`]: completion order per partition,
    /// and the callback may call this producer, blocking methods included).
    ///
    /// # Errors
    /// As [`Producer::send`]; then the callback is not called.
    pub fn send_with_callback(
        &self,
        record: ProducerRecord,
        callback: impl FnOnce(Result<RecordMetadata, DeliveryError>) + Send + 'static,
    ) -> Result<(), SendError> {
        let rt = match ready() {
            Ok(rt) => rt,
            Err(e) => return Err(SendError::new(e, record)),
        };
        wait_in(rt, self.inner.send_with_callback(record, callback))
    }

    /// As [`Producer::send_with_callback`], waiting in slices of `every` and calling
    /// `interrupted` between them: when it returns `Some`, the wait for metadata or buffer
    /// room ends, the record is dropped unsent (its callback is not called) and that value
    /// is returned. For bindings whose callers must be interruptible (Python's Ctrl-C is
    /// only seen between slices).
    ///
    /// # Errors
    /// `Err(e)` from `interrupted`; otherwise as [`Producer::send_with_callback`].
    pub fn send_with_callback_interruptible<E>(
        &self,
        record: ProducerRecord,
        callback: impl FnOnce(Result<RecordMetadata, DeliveryError>) + Send + 'static,
        every: Duration,
        mut interrupted: impl FnMut() -> Option<E>,
    ) -> Result<Result<(), SendError>, E> {
        let rt = match ready() {
            Ok(rt) => rt,
            Err(e) => return Ok(Err(SendError::new(e, record))),
        };
        let sending = std::pin::pin!(self.inner.send_with_callback(record, callback));
        wait_interruptible(rt, sending, every, &mut interrupted)
    }

    /// As [`Producer::send_with_callback_interruptible`], for a record borrowed from the
    /// caller (see [`crate::Producer::send_ref_with_callback`]) and a caller that holds a
    /// lock it must release while the call waits, and only then (a binding's interpreter
    /// lock: taken and released around every send, it cost a thread switch per record): the
    /// record is first offered once without waiting, on this thread; only when it has to
    /// wait (for metadata, buffer room or a record slot) is `around_wait` called, with the
    /// wait to run (it releases the lock, runs the wait, takes the lock back). `around_wait`
    /// must call the wait exactly once and return what it returned: not called, the record
    /// is dropped unsent while the caller may report it queued; called again after it
    /// returned, it panics (the send is over).
    ///
    /// # Errors
    /// `Err(e)` from `interrupted`; otherwise as [`crate::Producer::send_ref_with_callback`]
    /// (or [`Error::Blocking`]).
    pub fn send_ref_with_callback_around_wait<E>(
        &self,
        record: RecordRef<'_>,
        callback: impl FnOnce(Result<RecordMetadata, DeliveryError>) + Send + 'static,
        every: Duration,
        mut interrupted: impl FnMut() -> Option<E> + Send,
        around_wait: impl FnOnce(&mut (dyn FnMut() -> Result<Result<(), Error>, E> + Send)) -> Result<Result<(), Error>, E>,
    ) -> Result<Result<(), Error>, E> {
        let rt = match ready() {
            Ok(rt) => rt,
            Err(e) => return Ok(Err(e)),
        };
        let mut sending = std::pin::pin!(self.inner.send_ref_with_callback(record, callback));
        {
            let _entered = rt.enter();
            if let Poll::Ready(done) = sending.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
                return Ok(done);
            }
        }
        let mut wait = move || wait_interruptible(rt, sending.as_mut(), every, &mut interrupted);
        around_wait(&mut wait)
    }

    /// Waits (at most `timeout`) until the producer knows the cluster's brokers (see
    /// [`crate::Producer::bootstrap`]).
    ///
    /// # Errors
    /// [`Error::TimedOut`] when no broker answered in time; as
    /// [`crate::Producer::bootstrap`]; [`Error::Blocking`].
    pub fn bootstrap(&self, timeout: Duration) -> Result<(), Error> {
        match wait_until(ready()?, self.inner.bootstrap(), timeout) {
            Some(r) => r,
            None => Err(Error::TimedOut {
                what: "bootstrap",
                waited: timeout,
            }),
        }
    }

    /// Sends everything queued now and waits until every record queued before the call has
    /// an outcome, at most `timeout`.
    ///
    /// # Errors
    /// [`Error::TimedOut`] when `timeout` passed first (the records are still being
    /// delivered), [`Error::Blocking`].
    pub fn flush(&self, timeout: Duration) -> Result<(), Error> {
        match wait_until(ready()?, self.inner.flush(), timeout) {
            Some(()) => Ok(()),
            None => Err(Error::TimedOut {
                what: "flush",
                waited: timeout,
            }),
        }
    }

    /// Stops accepting records, sends what is queued and waits up to `timeout`; then every
    /// record still pending fails (see [`crate::Producer::close`]). Closes the producer for
    /// every clone of this handle.
    ///
    /// # Errors
    /// [`Error::Blocking`] from the I/O thread.
    pub fn close(&self, timeout: Duration) -> Result<(), Error> {
        wait(self.inner.close(timeout))
    }

    /// [`crate::Producer::init_transactions`], waiting on this thread (at most
    /// `max.block.ms`).
    ///
    /// # Errors
    /// As the async call, or [`Error::Blocking`].
    pub fn init_transactions(&self) -> Result<(), Error> {
        wait(self.inner.init_transactions())?
    }

    /// [`crate::Producer::begin_transaction`].
    ///
    /// # Errors
    /// As the async call.
    pub fn begin_transaction(&self) -> Result<(), Error> {
        self.inner.begin_transaction()
    }

    /// [`crate::Producer::send_offsets_to_transaction`], waiting on this thread.
    ///
    /// # Errors
    /// As the async call, or [`Error::Blocking`].
    pub fn send_offsets_to_transaction(
        &self,
        offsets: crate::transaction::Offsets,
        group: &crate::transaction::ConsumerGroupMetadata,
    ) -> Result<(), Error> {
        wait(self.inner.send_offsets_to_transaction(offsets, group))?
    }

    /// [`crate::Producer::commit_transaction`], waiting on this thread.
    ///
    /// # Errors
    /// As the async call, or [`Error::Blocking`].
    pub fn commit_transaction(&self) -> Result<(), Error> {
        wait(self.inner.commit_transaction())?
    }

    /// [`crate::Producer::abort_transaction`], waiting on this thread.
    ///
    /// # Errors
    /// As the async call, or [`Error::Blocking`].
    pub fn abort_transaction(&self) -> Result<(), Error> {
        wait(self.inner.abort_transaction())?
    }

    /// The partitions of `topic` with leader, replicas and ISR (see
    /// [`crate::Producer::partitions_for`]).
    ///
    /// # Errors
    /// As [`crate::Producer::partitions_for`], or [`Error::Blocking`].
    pub fn partitions_for(&self, topic: &str) -> Result<Vec<PartitionMetadata>, Error> {
        wait(self.inner.partitions_for(topic))?
    }

    /// As [`Producer::partitions_for`], waiting in slices of `every` and calling
    /// `interrupted` between them: its `Some` ends the wait and is returned (see
    /// [`Producer::send_with_callback_interruptible`]).
    ///
    /// # Errors
    /// `Err(e)` from `interrupted`; otherwise as [`Producer::partitions_for`].
    pub fn partitions_for_interruptible<E>(
        &self,
        topic: &str,
        every: Duration,
        mut interrupted: impl FnMut() -> Option<E>,
    ) -> Result<Result<Vec<PartitionMetadata>, Error>, E> {
        let rt = match ready() {
            Ok(rt) => rt,
            Err(e) => return Ok(Err(e)),
        };
        let asking = std::pin::pin!(self.inner.partitions_for(topic));
        wait_interruptible(rt, asking, every, &mut interrupted)
    }

    /// Where `key` would go now for `topic` (see [`crate::Producer::partition_for`]).
    ///
    /// # Errors
    /// As [`crate::Producer::partition_for`], or [`Error::Blocking`].
    pub fn partition_for(&self, topic: &str, key: Option<&[u8]>) -> Result<Option<i32>, Error> {
        wait(self.inner.partition_for(topic, key))?
    }
}

/// The outcome of one record, to wait for on any thread. Dropping it does not cancel the
/// delivery (see [`DeliveryFuture`]).
#[derive(Debug)]
#[must_use = "a delivery handle tells whether the record was delivered"]
pub struct DeliveryHandle {
    future: DeliveryFuture,
}

impl DeliveryHandle {
    /// Waits for the outcome.
    ///
    /// # Errors
    /// Why the record was not delivered; [`Error::Blocking`] (possibly persisted: the
    /// record is still on its way) from the I/O thread.
    pub fn wait(self) -> Result<RecordMetadata, DeliveryError> {
        match wait(self.future) {
            Ok(r) => r,
            Err(e) => Err(DeliveryError::possibly_persisted(e)),
        }
    }

    /// Waits at most `timeout`; `None` if the outcome is not known by then (wait again).
    #[must_use]
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<Result<RecordMetadata, DeliveryError>> {
        match ready() {
            Ok(rt) => wait_until(rt, &mut self.future, timeout),
            Err(e) => Some(Err(DeliveryError::possibly_persisted(e))),
        }
    }

    /// The outcome if it is known, without waiting.
    #[must_use]
    pub fn try_result(&self) -> Option<Result<RecordMetadata, DeliveryError>> {
        self.future.try_result()
    }

    /// The partition the record was assigned to.
    #[must_use]
    pub fn partition(&self) -> i32 {
        self.future.partition()
    }

    /// The future underneath, for async code.
    pub fn into_future(self) -> DeliveryFuture {
        self.future
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On the producer's own I/O thread a blocking call is refused, not a deadlock; on
    /// other threads (including a tokio worker of another runtime) it is allowed.
    #[test]
    fn blocking_is_refused_on_the_io_thread_only() {
        let rt = runtime().expect("runtime");
        let (tx, rx) = std::sync::mpsc::channel();
        rt.spawn(async move {
            let _ = tx.send(wait(async { 1 }).map_err(|e| e.to_string()));
        });
        let refused = rx.recv_timeout(Duration::from_secs(10)).expect("the task ran");
        assert!(refused.expect_err("refused").contains("I/O thread"));
        assert_eq!(wait(async { 2 }).expect("allowed here"), 2);
        let other = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        assert_eq!(other.block_on(async { wait(async { 3 }) }).expect("allowed"), 3);
        assert!(wait_until(rt, std::future::pending::<()>(), Duration::from_millis(20)).is_none());
    }

    /// Review of issue 15: `Duration::MAX` ("for ever") as a timeout waits, instead of
    /// overflowing the clock (it panicked in `flush` and `wait_timeout`).
    #[test]
    fn a_timeout_of_duration_max_waits_for_ever_without_panicking() {
        let rt = runtime().expect("runtime");
        assert_eq!(wait_until(rt, async { 7 }, Duration::MAX), Some(7));
        let later = async {
            tokio::time::sleep(Duration::from_millis(30)).await;
            8
        };
        assert_eq!(wait_until(rt, later, Duration::MAX), Some(8));
    }
}
