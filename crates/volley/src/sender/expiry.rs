//! Timeouts and the ways records leave without an answer: requests past
//! `request.timeout.ms` end their connection, batches past `delivery.timeout.ms` fail, and
//! `close` running out of time fails what is left (queued: not persisted; in flight:
//! possibly persisted).

use std::sync::Arc;
use std::time::Instant;

use crate::accumulator::QueuedBatch;
use crate::error::{DeliveryError, Error};
use crate::record::BatchOutcome;

use super::nodes::PendingKind;
use super::warn_limit::Cause;
use super::Sender;

impl Sender {
    pub(super) fn expire(&mut self, now: Instant) {
        let shared = Arc::clone(&self.shared);
        let cfg = &shared.config;
        // Requests without an answer (or, with acks=0, not written) within
        // request.timeout.ms end their connection.
        let timed_out: Vec<i32> = self
            .nodes
            .map
            .iter()
            .filter(|(_, n)| n.pending.iter().any(|p| now >= p.sent_at + cfg.request_timeout))
            .map(|(id, _)| *id)
            .collect();
        for id in timed_out {
            let why = format!(
                "no answer within request.timeout.ms ({} ms)",
                cfg.request_timeout.as_millis()
            );
            self.shared.metrics.request_timeout(id);
            self.close_node(id, &why, now);
        }
        // Queued batches past the delivery timeout were never sent.
        if let Some(cutoff) = now.checked_sub(cfg.delivery_timeout) {
            for q in shared.accumulator.expire(cutoff) {
                let last = self.cluster.last_error.clone();
                let error = Error::DeliveryTimeout {
                    timeout: cfg.delivery_timeout,
                    last,
                };
                self.fail_queued(q, error, now);
            }
        }
        // Retries past the delivery timeout: possibly persisted if any send may have landed;
        // either way their sequences leave a gap to resolve (rule 8).
        let mut dead = Vec::new();
        for p in self.parts.values_mut() {
            while p
                .retries
                .front()
                .is_some_and(|b| now >= b.created + cfg.delivery_timeout)
            {
                dead.extend(p.retries.pop_front());
            }
        }
        for b in dead {
            let err = Error::DeliveryTimeout {
                timeout: cfg.delivery_timeout,
                last: b.last_error.clone(),
            };
            self.fail_sealed(b, err, Vec::new());
        }
    }

    pub(super) fn fail_queued(&mut self, q: QueuedBatch, error: Error, now: Instant) {
        let (topic, partition, records) = (
            Arc::clone(&q.completion.topic),
            q.completion.partition,
            q.record_count(),
        );
        self.shared.metrics.failed(Some(&topic), records, false, now);
        self.warn(
            &topic,
            Cause::Failed,
            format!("{records} records of {topic}-{partition} failed, not persisted: {error}"),
            now,
        );
        self.txn_send_refused(&error);
        q.completion.complete(BatchOutcome::Failed {
            error: DeliveryError::not_persisted(error),
            record_errors: Vec::new(),
        });
        self.shared.memory.add_permits(q.reserved);
    }

    pub(super) fn fail_everything_queued(&mut self, error: &Error) {
        let now = Instant::now();
        for q in self.shared.accumulator.drain_all() {
            self.fail_queued(q, error.clone(), now);
        }
    }

    /// `close` ran out of time: queued records were not written; records in flight may be.
    pub(super) fn abort_all(&mut self) {
        let closed = |d: &str| Error::Closed {
            detail: Some(d.to_owned()),
        };
        self.fail_everything_queued(&closed("closed before the record was sent"));
        let mut all = Vec::new();
        for p in self.parts.values_mut() {
            all.extend(p.retries.drain(..));
            p.in_flight.clear();
        }
        self.count_closes();
        for p in self.nodes.take_all_pending() {
            if let PendingKind::Produce { batches, .. } = p.kind {
                all.extend(batches.into_iter().map(|mut b| {
                    b.maybe_written = true;
                    b
                }));
            }
        }
        for b in all {
            let err = closed("closed while the record was in flight or waiting to be retried");
            self.fail(b, err, Vec::new());
        }
        self.shutdown = true;
    }
}
