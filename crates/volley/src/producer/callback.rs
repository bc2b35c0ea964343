//! Callbacks: `send_with_callback`, `send_and_wait`, and the thread that runs callbacks and
//! interceptors' `on_acknowledgement` when batches complete.
//!
//! Callbacks do not run on the sender task (a slow callback would hold up every delivery,
//! and a callback that flushes would wait for itself) but on one thread per producer,
//! started at the first callback. A record's callback is registered with its batch while
//! the append still holds the partition's lock ([`Attach`]), so every callback of a batch
//! is registered before the batch can complete, even with many tasks sending to one
//! partition at once. The sender hands the thread each batch as the batch completes, in
//! completion order; the thread runs the batch's callbacks in record order. So callbacks of
//! one partition run in the order its records completed, and a callback may call any method
//! of the producer, blocking ones included, without deadlock: nothing the sender does waits
//! for a callback.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Mutex};

use super::Producer;
use crate::error::{DeliveryError, Error, SendError};
use crate::interceptor::{Acknowledgement, Interceptors};
use crate::record::{DeliveryFuture, ProducerRecord, RecordMetadata, RecordRef};

/// A delivery callback: called once with the record's outcome, on the producer's callback
/// thread.
pub type Callback = Box<dyn FnOnce(Result<RecordMetadata, DeliveryError>) + Send + 'static>;

/// What a send registers with its record's batch: the callback and the interceptors'
/// `on_acknowledgement`, to run on `dispatcher`'s thread. Registered under the partition's
/// lock, as the record is appended (see `Accumulator::append_with`).
pub(crate) struct Attach {
    pub(crate) dispatcher: Arc<Dispatcher>,
    pub(crate) callback: Option<Callback>,
    pub(crate) interceptors: Option<Arc<Interceptors>>,
}

impl Attach {
    /// Registers the listener of the record `future` is for with the record's batch.
    pub(crate) fn register(self, future: DeliveryFuture) {
        let listener = Listener {
            future: future.share(),
            callback: self.callback,
            interceptors: self.interceptors,
        };
        future.listen(listener, &self.dispatcher);
    }
}

/// Something to run for one record when its batch completes.
pub(crate) struct Listener {
    pub(crate) future: DeliveryFuture,
    pub(crate) callback: Option<Callback>,
    pub(crate) interceptors: Option<Arc<Interceptors>>,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("future", &self.future)
            .field("callback", &self.callback.is_some())
            .finish_non_exhaustive()
    }
}

impl Listener {
    /// Runs the interceptors' `on_acknowledgement`, then the callback (Java's order).
    fn run(self) {
        let Some(result) = self.future.try_result() else {
            tracing::error!("a callback was dispatched before its record had an outcome");
            return;
        };
        if let Some(i) = &self.interceptors {
            let partition = match &result {
                Ok(m) => m.partition,
                Err(_) => self.future.partition(),
            };
            i.on_acknowledgement(&Acknowledgement {
                topic: self.future.topic(),
                partition,
                result: result.as_ref(),
            });
        }
        if let Some(cb) = self.callback {
            if catch_unwind(AssertUnwindSafe(move || cb(result))).is_err() {
                tracing::error!("a delivery callback panicked; the other callbacks still run");
            }
        }
    }
}

/// The callback thread of one producer. It ends when the producer and every pending
/// record's batch are gone.
#[derive(Debug)]
pub(crate) struct Dispatcher {
    tx: Mutex<mpsc::Sender<Vec<Listener>>>,
}

impl Dispatcher {
    /// Starts the thread.
    pub(crate) fn start() -> Result<Arc<Self>, crate::Error> {
        let (tx, rx) = mpsc::channel::<Vec<Listener>>();
        std::thread::Builder::new()
            .name("volley-callbacks".into())
            .spawn(move || {
                while let Ok(mut batch) = rx.recv() {
                    batch.sort_by_key(|l| l.future.index());
                    for l in batch {
                        l.run();
                    }
                }
            })
            .map_err(|e| crate::Error::Internal(format!("cannot start the callback thread: {e}")))?;
        Ok(Arc::new(Self { tx: Mutex::new(tx) }))
    }

    /// Queues a completed batch's listeners (in completion order).
    pub(crate) fn dispatch(&self, listeners: Vec<Listener>) {
        if listeners.is_empty() {
            return;
        }
        let tx = self.tx.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(mpsc::SendError(listeners)) = tx.send(listeners) {
            // The thread is gone (it only ends when its channel closes, so this is a bug);
            // run them here rather than lose them.
            drop(tx);
            listeners.into_iter().for_each(Listener::run);
        }
    }
}

impl Producer {
    /// The producer's callback thread, started on first use.
    pub(crate) fn dispatcher(&self) -> Result<&Arc<Dispatcher>, crate::Error> {
        if let Some(d) = self.dispatcher.get() {
            return Ok(d);
        }
        let d = Dispatcher::start()?;
        Ok(self.dispatcher.get_or_init(|| d))
    }

    /// Queues a record like [`Producer::send`] and calls `callback` with its outcome when
    /// it is known, instead of returning a future.
    ///
    /// Callbacks run on the producer's callback thread (one per producer), after the
    /// interceptors' `on_acknowledgement`, in the order records complete: for one partition,
    /// in the order they were sent. A callback may call any method of this producer,
    /// including `flush` and `close` (a blocking one from [`crate::blocking::Producer`]) and
    /// `send`; a long callback delays the callbacks behind it, not deliveries. A panicking
    /// callback is logged and does not stop the others.
    ///
    /// # Errors
    /// As [`Producer::send`]; then the callback is not called (the error is the outcome).
    pub async fn send_with_callback(
        &self,
        record: ProducerRecord,
        callback: impl FnOnce(Result<RecordMetadata, DeliveryError>) + Send + 'static,
    ) -> Result<(), SendError> {
        // The callback is registered as the record is appended (see the module docs).
        self.send_inner(record, true, Some(Box::new(callback))).await.map(drop)
    }

    /// [`Producer::send_with_callback`] for a record borrowed from the caller (see
    /// [`Producer::send_ref`]): its bytes are copied into the open batch, with no copy of
    /// the record of its own (with interceptors, one owned copy as for `send_ref`).
    ///
    /// # Errors
    /// As [`Producer::send_ref`]; then the callback is not called.
    pub async fn send_ref_with_callback(
        &self,
        record: RecordRef<'_>,
        callback: impl FnOnce(Result<RecordMetadata, DeliveryError>) + Send + 'static,
    ) -> Result<(), Error> {
        if self.interceptors.is_some() {
            return self
                .send_inner(record.to_owned_record(), true, Some(Box::new(callback)))
                .await
                .map(drop)
                .map_err(|e| e.error);
        }
        let attach = Attach {
            dispatcher: Arc::clone(self.dispatcher()?),
            callback: Some(Box::new(callback)),
            interceptors: None,
        };
        self.enqueue(record, true, Some(attach), None).await.map(drop)
    }

    /// Sends a record and waits for its outcome: `send(record).await?.await` in one call,
    /// with one error type. A record that could not be queued comes back as a
    /// [`Persistence::NotPersisted`](crate::Persistence::NotPersisted) error carrying it
    /// ([`DeliveryError::into_record`]), like a record that was queued and not written.
    ///
    /// # Errors
    /// [`DeliveryError`]: why the record was not delivered and whether it may be in the log.
    pub async fn send_and_wait(&self, record: ProducerRecord) -> Result<RecordMetadata, DeliveryError> {
        self.send(record).await?.await
    }
}
