//! Batches that leave the accumulator unsent (expired, closed, the producer stopped), and
//! their records, kept for a not-persisted outcome.

use std::sync::atomic::Ordering;
use std::time::Instant;

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
    /// Removes batches created at or before `cutoff` (their delivery timeout passed).
    pub(crate) fn expire(&self, cutoff: Instant) -> Vec<QueuedBatch> {
        let mut out = Vec::new();
        self.each_queue(|_, _, _, q| {
            let mut q = lock(q);
            while q.front().is_some_and(|b| b.created <= cutoff) {
                out.extend(q.pop_front());
            }
        });
        self.queued_batches.fetch_sub(out.len(), Ordering::AcqRel);
        out.iter().for_each(QueuedBatch::keep_records);
        out
    }

    /// Removes every batch (closing without waiting).
    pub(crate) fn drain_all(&self) -> Vec<QueuedBatch> {
        let mut out = Vec::new();
        self.each_queue(|_, _, _, q| out.extend(lock(q).drain(..)));
        self.queued_batches.fetch_sub(out.len(), Ordering::AcqRel);
        out.iter().for_each(QueuedBatch::keep_records);
        out
    }
}
