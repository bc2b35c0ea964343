//! Batches that leave the accumulator unsent (expired, closed, the producer stopped), and
//! their records, kept for a not-persisted outcome.

use std::sync::atomic::Ordering;

use volley_protocol::compression::Compression;
use volley_protocol::record_batch::{NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE};

use super::{lock, Accumulator, Body, QueuedBatch};

impl QueuedBatch {
    /// The failure path (the batch leaves the queue without being sent: expired, closed, the
    /// producer stopped): hands a copy of its records to its completion, so that a
    /// not-persisted outcome can give them back. A batch still being compressed elsewhere
    /// has no bytes to copy; its records are not given back.
    pub(super) fn keep_records(&self) {
        let bytes = match &self.body {
            Body::Open(b) => b.clone().close(Compression::None, None, false).ok(),
            Body::Closed(Ok(c)) => Some(c.clone()),
            Body::Closed(Err(_)) | Body::Closing(_) => None,
        };
        if let Some(c) = bytes {
            self.completion
                .keep_records(c.seal(NO_PRODUCER_ID, NO_PRODUCER_EPOCH, NO_SEQUENCE));
        }
    }
}

impl Accumulator {
    /// Removes every batch (closing without waiting).
    pub(crate) fn drain_all(&self) -> Vec<QueuedBatch> {
        let mut out = Vec::new();
        self.each_queue(|q| {
            // Under the queue's lock, so an append racing with this counts after it.
            let mut batches = lock(&q.batches);
            q.queued.fetch_sub(batches.len(), Ordering::Relaxed);
            out.extend(batches.drain(..));
        });
        self.forget_readiness();
        self.queued_batches.fetch_sub(out.len(), Ordering::AcqRel);
        out.iter().for_each(QueuedBatch::keep_records);
        out
    }
}
