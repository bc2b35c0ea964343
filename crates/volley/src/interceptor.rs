//! Producer interceptors (Java's `ProducerInterceptor`): code that sees every record before
//! it is queued and every outcome, for tracing headers, auditing or metrics.
//!
//! Order, as in Java: for each record, [`Interceptor::on_send`] of every interceptor in the
//! order they were added (each sees the record as the previous one left it), before the
//! record is partitioned and queued; then, when its outcome is known,
//! [`Interceptor::on_acknowledgement`] of every interceptor in the same order, before the
//! record's callback (on the producer's callback thread). A send that fails before the
//! record is queued is acknowledged at once, on the sending thread, with the error.
//!
//! An interceptor that returns an error or panics is logged (a warning) and skipped; the
//! send goes on. Unlike Java, a failing `on_send` keeps the changes it made to the record
//! before it failed (Java would pass on the previous interceptor's record, which would cost
//! a copy of every record).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::error::DeliveryError;
use crate::record::{ProducerRecord, RecordMetadata};

/// What an interceptor may fail with (it is logged, never returned to the sender).
pub type InterceptorError = Box<dyn std::error::Error + Send + Sync>;

/// One record's outcome, as interceptors see it.
#[derive(Debug, Clone, Copy)]
pub struct Acknowledgement<'a> {
    /// Topic.
    pub topic: &'a str,
    /// Partition, or -1 when the record failed before one was chosen.
    pub partition: i32,
    /// Where it went, or why it was not delivered.
    pub result: Result<&'a RecordMetadata, &'a DeliveryError>,
}

/// Sees records before they are queued and their outcomes after. Both methods have default
/// bodies that do nothing; implement the ones you need.
///
/// Interceptors run on the producer's threads: keep them short, and do not block in
/// `on_acknowledgement` (it delays the callbacks behind it).
pub trait Interceptor: Send + Sync {
    /// Called before the record is partitioned and queued; it may change the record (add
    /// a header, for example).
    ///
    /// # Errors
    /// Any error is logged; the record is sent anyway.
    fn on_send(&self, record: &mut ProducerRecord) -> Result<(), InterceptorError> {
        let _ = record;
        Ok(())
    }

    /// Called once per record with its outcome.
    ///
    /// # Errors
    /// Any error is logged.
    fn on_acknowledgement(&self, ack: &Acknowledgement<'_>) -> Result<(), InterceptorError> {
        let _ = ack;
        Ok(())
    }
}

/// The interceptors of one producer, in the order they were added.
#[derive(Clone, Default)]
pub(crate) struct Interceptors(pub(crate) Vec<Arc<dyn Interceptor>>);

impl std::fmt::Debug for Interceptors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Interceptors({})", self.0.len())
    }
}

impl Interceptors {
    pub(crate) fn on_send(&self, record: &mut ProducerRecord) {
        for (i, x) in self.0.iter().enumerate() {
            match catch_unwind(AssertUnwindSafe(|| x.on_send(record))) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(interceptor = i, error = %e, topic = %record.topic, "on_send failed; the record is sent anyway");
                }
                Err(_) => {
                    tracing::warn!(interceptor = i, topic = %record.topic, "on_send panicked; the record is sent anyway");
                }
            }
        }
    }

    pub(crate) fn on_acknowledgement(&self, ack: &Acknowledgement<'_>) {
        for (i, x) in self.0.iter().enumerate() {
            match catch_unwind(AssertUnwindSafe(|| x.on_acknowledgement(ack))) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(interceptor = i, error = %e, "on_acknowledgement failed"),
                Err(_) => tracing::warn!(interceptor = i, "on_acknowledgement panicked"),
            }
        }
    }
}
