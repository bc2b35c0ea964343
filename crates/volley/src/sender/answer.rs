//! What answers mean: a pure classification of a partition's Produce answer, and how the
//! sender applies it, together with the other ways a batch ends (retries, failures, lost
//! connections) and the "settled" notification.

use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use volley_protocol::produce::decode_produce_response;
use volley_protocol::ErrorCode;

use crate::error::{BatchId, DeliveryError, Error};
use crate::net::ConnEvent;
use crate::record::{BatchOutcome, Settled};

use super::backoff;
use super::batch::{self, unacknowledged, SentBatch};
use super::nodes::{Pending, PendingKind, ACKS0_REMEMBERED};
use super::partitions::{SequenceVerdict, Unresolved};
use super::warn_limit::Cause;
use super::Sender;

/// How often UNKNOWN_SERVER_ERROR is retried with idempotence on (REFERENCE.md).
const UNKNOWN_SERVER_ERROR_RETRIES: u32 = 2;

/// What one partition's answer means for its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// In the log (`base_offset` unknown after DUPLICATE_SEQUENCE_NUMBER).
    Delivered,
    /// MESSAGE_TOO_LARGE for a batch of several records that was never written: split it.
    Split,
    /// OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID: read with the partition state.
    Sequence { unknown_producer: bool },
    /// The broker rejected the epoch: not written; resend under a fresh producer id.
    Fenced,
    /// Retriable: resend; `maybe_written` if the broker may have appended it anyway.
    Retry { maybe_written: bool, refresh: bool },
    /// Not retriable: the batch fails (`maybe_written` if this answer may follow an append).
    Fail { maybe_written: bool },
}

/// What a batch's answer means (Java's rules, and where Volley goes beyond them).
pub(super) fn classify(code: ErrorCode, b: &SentBatch, idempotent: bool) -> Verdict {
    match code {
        ErrorCode::NONE | ErrorCode::DUPLICATE_SEQUENCE_NUMBER => Verdict::Delivered,
        // Splitting renumbers records: never for a batch that may already be in the log,
        // which would then be written twice (issue 10, defect 3).
        ErrorCode::MESSAGE_TOO_LARGE if b.record_count > 1 && !b.maybe_written => Verdict::Split,
        ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER | ErrorCode::UNKNOWN_PRODUCER_ID if idempotent => Verdict::Sequence {
            unknown_producer: code == ErrorCode::UNKNOWN_PRODUCER_ID,
        },
        ErrorCode::INVALID_PRODUCER_EPOCH | ErrorCode::PRODUCER_FENCED if idempotent => Verdict::Fenced,
        // Java does not retry it; with idempotence a retry cannot duplicate, so Volley
        // retries twice. Either way it may follow an append.
        ErrorCode::UNKNOWN_SERVER_ERROR => {
            if idempotent && b.unknown_server_errors < UNKNOWN_SERVER_ERROR_RETRIES {
                Verdict::Retry {
                    maybe_written: true,
                    refresh: false,
                }
            } else {
                Verdict::Fail { maybe_written: true }
            }
        }
        ErrorCode::CORRUPT_MESSAGE if b.attempts > 1 => Verdict::Fail { maybe_written: false },
        // The broker wants the client to start over from the bootstrap servers (KIP-1102).
        ErrorCode::REBOOTSTRAP_REQUIRED => Verdict::Retry {
            maybe_written: false,
            refresh: true,
        },
        c if c.is_retriable() => Verdict::Retry {
            maybe_written: matches!(
                c,
                ErrorCode::REQUEST_TIMED_OUT
                    | ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND
                    | ErrorCode::NETWORK_EXCEPTION
            ),
            refresh: matches!(
                c,
                ErrorCode::NOT_LEADER_OR_FOLLOWER
                    | ErrorCode::LEADER_NOT_AVAILABLE
                    | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                    | ErrorCode::KAFKA_STORAGE_ERROR
                    | ErrorCode::NETWORK_EXCEPTION
                    | ErrorCode::FENCED_LEADER_EPOCH
            ),
        },
        _ => Verdict::Fail { maybe_written: false },
    }
}

/// Produce errors that fail a transactional batch at once (the transaction is aborted).
const TXN_FINAL: [ErrorCode; 7] = [
    ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
    ErrorCode::UNKNOWN_PRODUCER_ID,
    ErrorCode::INVALID_PRODUCER_EPOCH,
    ErrorCode::PRODUCER_FENCED,
    ErrorCode::INVALID_TXN_STATE,
    ErrorCode::INVALID_PRODUCER_ID_MAPPING,
    ErrorCode::TRANSACTION_ABORTABLE,
];

fn describe(c: ErrorCode, msg: Option<&str>) -> String {
    match msg {
        Some(m) if !m.is_empty() => format!("{c}: {m}"),
        _ => c.to_string(),
    }
}

impl Sender {
    pub(super) fn on_conn_event(&mut self, ev: ConnEvent, now: Instant) {
        if let ConnEvent::Response { conn, .. } | ConnEvent::Written { conn, .. } = &ev {
            self.nodes.touch(*conn, now);
        }
        match ev {
            ConnEvent::Response {
                conn,
                correlation_id,
                body,
            } => self.on_response(conn, correlation_id, body, now),
            ConnEvent::Written { conn, correlation_id } => {
                let Some(node) = self.nodes.owner(conn).and_then(|id| self.nodes.map.get_mut(&id)) else {
                    return;
                };
                let Some(pos) = node.pending.iter().position(|p| p.correlation_id == correlation_id) else {
                    return;
                };
                if let Some(Pending {
                    kind: PendingKind::Produce { batches, .. },
                    ..
                }) = node.pending.remove(pos)
                {
                    self.shared.metrics.unanswered(1);
                    node.acks0_written.push_back(correlation_id);
                    if node.acks0_written.len() > ACKS0_REMEMBERED {
                        node.acks0_written.pop_front();
                    }
                    for b in batches {
                        self.answered(&b);
                        self.finish(b, unacknowledged());
                    }
                }
            }
            ConnEvent::Closed { conn, error } => {
                if let Some(node_id) = self.nodes.owner(conn) {
                    self.close_node(node_id, &error, now);
                }
            }
        }
    }

    fn on_response(&mut self, conn: u64, correlation_id: i32, body: Bytes, now: Instant) {
        let Some(node_id) = self.nodes.owner(conn) else {
            return;
        };
        let Some(node) = self.nodes.map.get_mut(&node_id) else {
            return;
        };
        // Some brokers (tansu 0.6) answer acks=0 Produce requests, which Kafka never does:
        // such an answer is ignored, the request resolves when it is written.
        if let Some(i) = node.pending.iter().position(|p| p.correlation_id == correlation_id) {
            if node.pending[i].is_acks0() {
                if let Some(Pending {
                    kind: PendingKind::Produce { batches, .. },
                    ..
                }) = node.pending.remove(i)
                {
                    // Answered before it was reported written: the write report will find
                    // nothing, so the in-flight gauge comes down here.
                    self.shared.metrics.unanswered(1);
                    for b in batches {
                        self.answered(&b);
                        self.finish(b, unacknowledged());
                    }
                }
                return;
            }
        } else if node.acks0_written.contains(&correlation_id) {
            return;
        }
        // Kafka answers in order; acks=0 requests get no answer and are skipped.
        let pos = node.pending.iter().position(|p| !p.is_acks0());
        let Some(pos) = pos.filter(|&i| node.pending[i].correlation_id == correlation_id) else {
            let why = format!("unexpected correlation id {correlation_id} (answers must come in order)");
            self.close_node(node_id, &why, now);
            return;
        };
        let Some(p) = node.pending.remove(pos) else { return };
        // Java's request-latency is the Produce requests' (control answers count as responses).
        let latency = matches!(p.kind, PendingKind::Produce { .. }).then(|| now.saturating_duration_since(p.sent_at));
        self.shared.metrics.response(node_id, body.len() + 4, latency, now);
        let res = match p.kind {
            PendingKind::Metadata { topics } => self.on_metadata(p.version, body, &topics, now),
            PendingKind::InitProducerId { .. } => {
                // A malformed body is retried like any failed request (issue 10, defect 2).
                self.on_init_producer_id(p.version, body, now);
                Ok(())
            }
            PendingKind::Txn(kind) => {
                // Malformed answers are retried by the transaction manager.
                self.on_txn_answer(kind, p.version, body, now);
                Ok(())
            }
            PendingKind::Produce { batches, span, .. } => {
                // Events of the answer's handling (retries, failures) belong to the request.
                let _in = span.enter();
                let r = self.on_produce_response(node_id, p.version, body, batches, now);
                span.record("outcome", if r.is_ok() { "answered" } else { "malformed answer" });
                r
            }
        };
        if let Err(e) = res {
            self.close_node(node_id, &format!("malformed response: {e}"), now);
        }
    }

    fn on_produce_response(
        &mut self,
        node_id: i32,
        version: i16,
        body: Bytes,
        batches: Vec<SentBatch>,
        now: Instant,
    ) -> Result<(), String> {
        for b in &batches {
            self.answered(b);
        }
        let resp = match decode_produce_response(version, body) {
            Ok(r) => r,
            Err(e) => {
                for b in batches {
                    self.retry_or_fail(b, "malformed Produce response".into(), true, node_id, now);
                }
                return Err(e.to_string());
            }
        };
        self.shared.metrics.throttle(resp.throttle_time_ms, now);
        if resp.throttle_time_ms > 0 {
            if let Some(n) = self.nodes.map.get_mut(&node_id) {
                let ms = u64::try_from(resp.throttle_time_ms).unwrap_or(0);
                n.throttled_until = Some(now + std::time::Duration::from_millis(ms));
                let text = format!("broker {} throttled this producer for {ms} ms (a quota)", n.addr);
                let addr = n.addr.clone();
                self.warn(&addr, Cause::Throttle, text, now);
            }
        }
        let idempotent = self.rules.idempotent;
        let transactional = self.shared.txn.is_some();
        for mut b in batches {
            let answer = resp
                .topics
                .iter()
                .filter(|t| *t.topic == *b.topic)
                .flat_map(|t| t.partitions.iter())
                .find(|p| p.partition == b.partition);
            let Some(p) = answer else {
                let why = "the broker's answer did not mention the partition".into();
                self.retry_or_fail(b, why, true, node_id, now);
                continue;
            };
            let code = p.error;
            tracing::trace!(node = node_id, topic = %b.topic, partition = b.partition, producer = ?b.stamp,
                sequence = b.base_sequence, %code, base_offset = p.base_offset, "produce answer");
            let text = describe(code, p.error_message.as_deref());
            // In a transaction, sequence and epoch errors end the transaction instead of
            // being mended under a new epoch (the manager aborts and bumps, KIP-360/890).
            let verdict = if transactional && TXN_FINAL.contains(&code) {
                Verdict::Fail { maybe_written: false }
            } else {
                classify(code, &b, idempotent)
            };
            match verdict {
                Verdict::Delivered => {
                    let base_offset = (code == ErrorCode::NONE).then_some(p.base_offset);
                    let outcome = BatchOutcome::Delivered {
                        base_offset,
                        log_append_time: if code == ErrorCode::NONE {
                            p.log_append_time_ms
                        } else {
                            -1
                        },
                        acknowledged: true,
                    };
                    self.acked(b, outcome);
                }
                Verdict::Split => self.split(b, now),
                Verdict::Sequence { unknown_producer } => {
                    self.on_sequence_error(b, unknown_producer, text, node_id, now);
                }
                Verdict::Fenced => {
                    self.part(&b).fenced(&b);
                    self.pid.fenced();
                    self.retry_or_fail(b, text, false, node_id, now);
                }
                Verdict::Retry { maybe_written, refresh } => {
                    if code == ErrorCode::REBOOTSTRAP_REQUIRED {
                        self.meta.force_rebootstrap(now);
                    }
                    // KIP-951: a new leader named in the answer is used at once; a refresh
                    // is asked for only without one.
                    let moved = p
                        .current_leader
                        .is_some_and(|l| self.leader_hint(&b, l.leader_id, l.leader_epoch, &resp.node_endpoints));
                    if refresh && !moved {
                        self.meta.request_refresh();
                    }
                    if code == ErrorCode::UNKNOWN_SERVER_ERROR {
                        b.unknown_server_errors += 1;
                    }
                    self.retry_or_fail(b, text, maybe_written, node_id, now);
                }
                Verdict::Fail { maybe_written } => {
                    b.maybe_written |= maybe_written;
                    let err = Error::Broker {
                        code,
                        message: p.error_message.clone(),
                    };
                    if code == ErrorCode::INVALID_RECORD && !b.maybe_written && !p.record_errors.is_empty() {
                        self.reject_records(b, err, &p.record_errors, now);
                    } else {
                        self.fail_sealed(b, err, p.record_errors.clone());
                    }
                }
            }
        }
        Ok(())
    }

    /// Applies a Produce answer's leader hint (KIP-951); `true` if the partition moved.
    fn leader_hint(
        &mut self,
        b: &SentBatch,
        leader: i32,
        epoch: i32,
        endpoints: &[volley_protocol::produce::NodeEndpoint],
    ) -> bool {
        let endpoints: Vec<(i32, String)> = endpoints
            .iter()
            .map(|e| (e.node_id, format!("{}:{}", e.host, e.port)))
            .collect();
        let Some(next) = self
            .cluster
            .with_leader_hint(&b.topic, b.partition, leader, epoch, &endpoints)
        else {
            return false;
        };
        for (id, addr) in &next.brokers {
            // Only new brokers come from a hint; known ones keep their address.
            let _ = self.nodes.learn(*id, addr, std::time::Instant::now());
        }
        tracing::debug!(topic = %b.topic, partition = b.partition, leader, epoch, "leader moved (hint in the Produce answer)");
        self.publish(next);
        true
    }

    fn part(&mut self, b: &SentBatch) -> &mut super::PartState {
        self.parts.entry(b.key()).or_default()
    }

    /// A request carrying `b` was answered (or its connection lost).
    pub(super) fn answered(&mut self, b: &SentBatch) {
        if let Some(part) = self.parts.get_mut(&b.key()) {
            part.answered(&b.order);
        }
    }

    /// `b` is in the log. Earlier possibly-persisted batches of its sequence space are too.
    fn acked(&mut self, b: SentBatch, outcome: BatchOutcome) {
        let (settled, written) = self.part(&b).on_acked(&b);
        for w in written {
            // Resent earlier but unanswered: this acknowledgement proves it is in the log.
            self.finish(
                w,
                BatchOutcome::Delivered {
                    base_offset: None,
                    log_append_time: -1,
                    acknowledged: true,
                },
            );
        }
        for u in settled {
            self.settle(&b, &u);
        }
        self.finish(b, outcome);
    }

    /// Announces that a batch that ended possibly persisted is in the log.
    fn settle(&self, by: &SentBatch, u: &Unresolved) {
        self.shared.settled.fetch_add(1, Ordering::Relaxed);
        tracing::info!(topic = %by.topic, partition = by.partition, batch = u.id, records = u.records,
            "a batch reported possibly persisted is persisted: a later batch of the same producer epoch was acknowledged");
        let event = Settled {
            batch: BatchId(u.id),
            topic: by.topic.to_string(),
            partition: by.partition,
            records: u.records,
        };
        let listeners = self
            .shared
            .settle_listeners
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for l in listeners {
            l(&event);
        }
    }

    /// OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID for a batch (rule 8). The batch
    /// was rejected, so it is resent; at the head of the partition it is a real gap.
    fn on_sequence_error(&mut self, b: SentBatch, unknown_producer: bool, text: String, node_id: i32, now: Instant) {
        let verdict = self.part(&b).sequence_error(&b, unknown_producer);
        match verdict {
            SequenceVerdict::Follower => {}
            SequenceVerdict::Forgotten => self.pid.unknown_producer(b.stamp),
            SequenceVerdict::HeadGap => {
                self.shared.sequence_gaps.fetch_add(1, Ordering::Relaxed);
                tracing::error!(topic = %b.topic, partition = b.partition, sequence = b.base_sequence,
                    records = b.record_count, "sequence gap: the broker lost acknowledged records or forgot this producer; resending under a new epoch");
                if self.shared.config.gapless {
                    let err = Error::SequenceGap {
                        topic: b.topic.to_string(),
                        partition: b.partition,
                        code: if unknown_producer {
                            ErrorCode::UNKNOWN_PRODUCER_ID
                        } else {
                            ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER
                        },
                    };
                    self.stop_fatally(err.to_string());
                    self.fail(b, err, Vec::new());
                    return;
                }
            }
        }
        self.retry_or_fail(b, text, false, node_id, now);
    }

    /// MESSAGE_TOO_LARGE for a batch of several records that was never written: split in two,
    /// both halves back at the head of the partition, numbered when resent (rule 2 allows
    /// renumbering only batches certainly not written). They take its sequences again when
    /// it was the partition's last (`PartState::rewind`); otherwise its sequences leave a gap.
    fn split(&mut self, b: SentBatch, now: Instant) {
        let ids = (self.next_batch_id(), self.next_batch_id());
        match batch::split(&b, &self.shared.config, ids, now) {
            Ok((first, second)) => {
                self.shared.metrics.split(now);
                tracing::debug!(topic = %b.topic, partition = b.partition, records = b.record_count, "splitting a batch the broker found too large");
                let rules = self.rules;
                let part = self.part(&b);
                if !part.rewind(&b, rules) {
                    part.on_failed(&b, rules);
                }
                part.requeue(first);
                part.requeue(second);
            }
            Err(e) => self.fail_sealed(b, e, Vec::new()),
        }
    }

    /// INVALID_RECORD naming some of a batch's records, which was not written (the broker
    /// validates records before it appends anything): beyond Java, which fails the whole
    /// batch, only the named records fail, each with the broker's message, and the others
    /// go again at the head of the partition as a new batch, numbered when resent (rule 2).
    /// The sequences the batch held leave a gap, as after a split.
    fn reject_records(&mut self, b: SentBatch, error: Error, rejected: &[(i32, Option<String>)], now: Instant) {
        let id = self.next_batch_id();
        let not_persisted = DeliveryError::not_persisted(error.clone()).with_batch_bytes(&b.bytes);
        match batch::without_rejected(&b, rejected, not_persisted, &self.shared.config, id, now) {
            Some(rest) => {
                tracing::debug!(topic = %b.topic, partition = b.partition, rejected = rejected.len(), "resending the records the broker did not reject");
                let rules = self.rules;
                let part = self.part(&b);
                if !part.rewind(&b, rules) {
                    part.on_failed(&b, rules);
                }
                part.requeue(rest);
            }
            None => self.fail_sealed(b, error, rejected.to_vec()),
        }
    }

    /// Resends `b` later, or fails it when its time or retries are up. `node_id`: where it
    /// was sent (the retry's WARN line is rate limited per broker).
    pub(super) fn retry_or_fail(
        &mut self,
        mut b: SentBatch,
        error: String,
        maybe_written: bool,
        node_id: i32,
        now: Instant,
    ) {
        b.maybe_written |= maybe_written;
        b.last_error = Some(error.clone());
        if let Some(reason) = self.shared.fatal.get().cloned() {
            self.fail(b, Error::Fatal(reason), Vec::new());
            return;
        }
        let cfg = &self.shared.config;
        let expired = now >= b.created + cfg.delivery_timeout;
        if expired || b.attempts > cfg.retries {
            let err = if expired {
                Error::DeliveryTimeout {
                    timeout: cfg.delivery_timeout,
                    last: Some(error),
                }
            } else {
                Error::RetriesExhausted {
                    attempts: b.attempts,
                    last: error,
                }
            };
            self.fail_sealed(b, err, Vec::new());
            return;
        }
        let _retry =
            tracing::debug_span!("batch_retry", topic = %b.topic, partition = b.partition, attempt = b.attempts)
                .entered();
        tracing::debug!(topic = %b.topic, partition = b.partition, attempts = b.attempts, %error, "retrying batch");
        let addr = self.addr_of(node_id);
        let text = format!(
            "retrying a batch of {}-{} sent to {addr} (attempt {}): {error}",
            b.topic, b.partition, b.attempts
        );
        self.warn(&addr, Cause::Retry, text, now);
        let cfg = &self.shared.config;
        b.retry_at = now + backoff(cfg.retry_backoff, cfg.retry_backoff_max, b.attempts);
        self.shared.metrics.retry(&b.topic, b.record_count, now);
        self.shared.metrics.node_retry(node_id);
        self.part(&b).requeue(b);
    }

    /// Fails a sealed batch for good; its sequences leave a gap in the partition that is
    /// resolved (by a later acknowledgement, or a new epoch) before anything else is sent
    /// (issue 10, defect 1).
    pub(super) fn fail_sealed(&mut self, b: SentBatch, error: Error, record_errors: Vec<(i32, Option<String>)>) {
        let rules = self.rules;
        self.part(&b).on_failed(&b, rules);
        self.fail(b, error, record_errors);
    }

    /// Fails a batch: possibly persisted if any send of it may have reached the log. An
    /// ERROR line (rate limited per topic) says so.
    pub(super) fn fail(&mut self, b: SentBatch, error: Error, record_errors: Vec<(i32, Option<String>)>) {
        self.txn_batch_failed(&error);
        self.shared
            .metrics
            .failed(Some(&b.topic), b.record_count, b.maybe_written, Instant::now());
        let text = format!(
            "{} records of {}-{} failed, {}: {error}",
            b.record_count,
            b.topic,
            b.partition,
            if b.maybe_written {
                "possibly persisted"
            } else {
                "not persisted"
            }
        );
        self.warn(&b.topic, Cause::Failed, text, std::time::Instant::now());
        let error = if b.maybe_written {
            let mut e = DeliveryError::possibly_persisted(error);
            e.batch = Some(BatchId(b.id));
            e
        } else {
            DeliveryError::not_persisted(error).with_batch_bytes(&b.bytes)
        };
        self.finish(b, BatchOutcome::Failed { error, record_errors });
    }

    pub(super) fn finish(&mut self, b: SentBatch, outcome: BatchOutcome) {
        b.completion.complete(outcome);
        self.shared.memory.add_permits(b.reserved);
    }

    /// Ends a connection: requests pending on it may have been written, unless the writer
    /// never started on them.
    pub(super) fn close_node(&mut self, node_id: i32, error: &str, now: Instant) {
        let Some(closed) = self.nodes.close(node_id, error, now) else {
            return;
        };
        if !closed.pending.is_empty() {
            // An idle connection the broker closes is not worth a warning; one that takes
            // requests with it is.
            let text = format!(
                "connection to {} lost with {} requests pending: {error}",
                closed.addr,
                closed.pending.len()
            );
            self.warn(&closed.addr, Cause::Disconnect, text, now);
        }
        self.meta.request_refresh();
        if closed.was_up {
            self.shared.metrics.connection(node_id, false);
        }
        self.shared.metrics.closed_with(node_id, closed.pending.len());
        for (p, written) in closed.pending {
            match p.kind {
                PendingKind::Metadata { .. } => self.meta.failed(now),
                PendingKind::InitProducerId { .. } => {
                    self.pid.lost(now, error);
                }
                PendingKind::Txn(_) => self.txn_lost(now),
                PendingKind::Produce { batches, span, .. } => {
                    span.record("outcome", "connection lost");
                    let _in = span.enter();
                    for b in batches {
                        self.answered(&b);
                        let why = format!("connection to {} lost: {error}", closed.addr);
                        self.retry_or_fail(b, why, written, node_id, now);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "answer_tests.rs"]
mod tests;

/// For tests: a batch as the classification sees it.
#[cfg(test)]
pub(super) fn test_batch(records: i32, attempts: u32, maybe_written: bool) -> SentBatch {
    use super::batch::CompletionRef;
    SentBatch {
        id: 1,
        max_record: 0,
        topic: std::sync::Arc::from("t"),
        partition: 0,
        bytes: Bytes::new(),
        completion: CompletionRef::Whole(crate::record::BatchCompletion::new(0)),
        created: Instant::now(),
        reserved: 0,
        stamp: (1, 0),
        order: (1, Vec::new()),
        base_sequence: 0,
        record_count: records,
        attempts,
        unknown_server_errors: 0,
        retry_at: Instant::now(),
        maybe_written,
        last_error: None,
    }
}
