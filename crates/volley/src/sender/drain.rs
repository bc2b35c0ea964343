//! Which batches go now: per partition the rules of [`super::partitions`] decide, per
//! broker the batches are grouped into Produce requests of at most `max.request.size`.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use volley_protocol::compression::Compression;
use volley_protocol::produce::{encode_produce, PartitionData, ProduceRequest, TopicData};

use crate::config::Acks;
use crate::error::{DeliveryError, Error};
use crate::net::Outbound;
use crate::record::BatchOutcome;

use super::batch::{seal, SealAs, SentBatch};
use super::nodes::PendingKind;
use super::partitions::{Identity, RestampFailed};
use super::Sender;

impl Sender {
    /// Hands every batch that is ready but not yet compressed to a task of its own, so
    /// compression runs on every core instead of in the sender (the records section does not
    /// depend on the producer id or sequence, which are stamped when the batch is drained).
    ///
    /// A batch that lingered out waits, open, while its leader has no room for a request (see
    /// `Accumulator::take_to_close`). The batches taken in one pass are compressed in a few
    /// tasks (one per core), not one task each: a thousand partitions make a thousand small
    /// batches per pass, and a task and a wakeup per batch cost more than compressing them.
    fn start_compressing(&mut self, now: Instant, flushing: bool) {
        let shared = Arc::clone(&self.shared);
        let cfg = &shared.config;
        if cfg.compression == Compression::None {
            return;
        }
        let (cluster, nodes, max_in_flight) = (&self.cluster, &self.nodes, self.rules.max_in_flight);
        let may_send = |topic: &str, partition: i32| {
            cluster
                .leader(topic, partition)
                .and_then(|l| nodes.map.get(&l))
                .and_then(|n| n.ready_for(max_in_flight, now))
                == Some(true)
        };
        let mut taken = shared.accumulator.take_to_close(now, flushing, may_send);
        if taken.is_empty() {
            return;
        }
        // Read once: `available_parallelism` reads cgroup files on Linux, too dear per pass.
        static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        let tasks = *CORES.get_or_init(|| std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get));
        let per_task = taken.len().div_ceil(tasks).max(1);
        while !taken.is_empty() {
            let chunk: Vec<_> = taken.drain(..per_task.min(taken.len())).collect();
            let (codec, level, txn) = (cfg.compression, cfg.compression_level, cfg.transactional_id.is_some());
            let shared = Arc::clone(&self.shared);
            tokio::spawn(async move {
                for (builder, slot) in chunk {
                    let closed = builder.close(codec, level, txn);
                    *slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(closed);
                }
                shared.wake.notify_one();
            });
        }
    }

    pub(super) fn flushing(&self) -> bool {
        self.shared.flushing.load(std::sync::atomic::Ordering::Acquire) > 0
            || self.shared.closing.load(std::sync::atomic::Ordering::Acquire)
            || self.shutdown
            || !self.commands_open
    }

    pub(super) fn drain(&mut self, now: Instant) {
        let flushing = self.flushing();
        // First, whatever the rest of the pass does (see `Accumulator::collect_due`).
        self.shared.accumulator.collect_due(now, flushing);
        self.start_compressing(now, flushing);
        let Some(current) = self.current_identity() else { return };
        if self.shared.fatal.get().is_some() {
            return;
        }
        let mut candidates: Vec<(Arc<str>, i32)> = self
            .parts
            .iter()
            .filter(|(_, p)| p.retries.front().is_some_and(|b| b.retry_at <= now))
            .map(|(k, _)| k.clone())
            .collect();
        candidates.extend(self.shared.accumulator.ready(now, flushing));
        if candidates.is_empty() {
            return;
        }
        let max_request = self.shared.config.max_request_size;
        let mut requests: BTreeMap<i32, (Vec<SentBatch>, usize)> = BTreeMap::new();
        let mut seen = HashSet::new();
        for key in candidates {
            if !seen.insert(key.clone()) {
                continue;
            }
            if !self.txn_sendable(&key) {
                // TV1: waits for AddPartitionsToTxn.
                continue;
            }
            let Some(leader) = self.cluster.leader(&key.0, key.1) else {
                self.meta.request_refresh();
                continue;
            };
            let (ready, conn_id) = match self.nodes.map.get(&leader) {
                Some(n) => (n.ready_for(self.rules.max_in_flight, now), n.conn_id()),
                None => (None, None),
            };
            let (Some(true), Some(conn_id)) = (ready, conn_id) else {
                if ready.is_none() {
                    self.nodes.ensure_connecting(leader, now);
                }
                continue;
            };
            let Some(b) = self.next_batch(&key, current, (leader, conn_id), now, flushing) else {
                continue;
            };
            // A request never exceeds max.request.size: one that is full goes now and the
            // batch starts the next (if the broker still has room for one).
            let full = requests
                .get(&leader)
                .is_some_and(|(bs, size)| !bs.is_empty() && size + b.bytes.len() > max_request);
            if full {
                if let Some((bs, _)) = requests.remove(&leader) {
                    self.send_produce(leader, bs, now);
                }
                let still_ready = self
                    .nodes
                    .map
                    .get(&leader)
                    .and_then(|n| n.ready_for(self.rules.max_in_flight, now));
                if still_ready != Some(true) {
                    // No room for a second request: the batch waits at the head of its
                    // partition, unchanged (it was not written).
                    self.part_mut(&key).requeue(b);
                    continue;
                }
            }
            self.meta.touch(&key.0, now);
            self.part_mut(&key).sending(&b, (leader, conn_id));
            let entry = requests.entry(leader).or_default();
            entry.1 += b.bytes.len();
            entry.0.push(b);
        }
        for (node_id, (batches, _)) in requests {
            if !batches.is_empty() {
                self.send_produce(node_id, batches, now);
            }
        }
    }

    fn part_mut(&mut self, key: &(Arc<str>, i32)) -> &mut super::PartState {
        self.parts.entry(key.clone()).or_default()
    }

    /// The partition's next batch to send, if its rules allow one now: the oldest retry, or
    /// a new batch from the accumulator, sealed with the next sequence.
    fn next_batch(
        &mut self,
        key: &(Arc<str>, i32),
        current: Identity,
        route: (i32, u64),
        now: Instant,
        flushing: bool,
    ) -> Option<SentBatch> {
        let rules = self.rules;
        if rules.idempotent {
            let stale = self.part_mut(key).adopt(current);
            for b in stale.into_iter().flatten() {
                // Possibly written under the old epoch: resending it under the new one could
                // write it twice (rule 2).
                let last = b.last_error.clone().unwrap_or_default();
                self.fail(b, Error::EpochChanged { last }, Vec::new());
            }
        }
        let part = self.part_mut(key);
        if !part.retries.is_empty() {
            if !part.may_resend(rules, now) {
                return None;
            }
            return match part.take_resend(rules)? {
                Ok(b) => Some(b),
                Err(RestampFailed(b, e)) => {
                    self.fail(b, Error::Internal(format!("cannot re-stamp a batch: {e}")), Vec::new());
                    None
                }
            };
        }
        if !part.may_send_new(rules, current, route) {
            return None;
        }
        let q = self.shared.accumulator.pop_ready(&key.0, key.1, now, flushing)?;
        let id = self.next_batch_id();
        let part = self.part_mut(key);
        let records = q.record_count();
        let (order, base_sequence) = part.number_new(rules, || records);
        let identity = part.identity;
        let as_ = SealAs {
            id,
            topic: &key.0,
            partition: key.1,
            order,
            identity,
            base_sequence,
        };
        match seal(q, &self.shared.config, &as_, now) {
            Ok(b) => {
                let queued = now.saturating_duration_since(b.created);
                self.shared.metrics.batch_drained(queued, now);
                Some(b)
            }
            Err(failed) => {
                failed.completion.complete(BatchOutcome::Failed {
                    error: DeliveryError::not_persisted(failed.error),
                    record_errors: Vec::new(),
                });
                self.shared.memory.add_permits(failed.reserved);
                // The sequence it took is a gap now.
                self.part_mut(key).needs_bump |= rules.idempotent;
                None
            }
        }
    }

    pub(super) fn send_produce(&mut self, node_id: i32, mut batches: Vec<SentBatch>, now: Instant) {
        let corr = self.next_correlation();
        let negotiated = match self.nodes.map.get(&node_id).map(|n| &n.conn) {
            Some(super::nodes::ConnState::Up(conn)) => conn.versions.produce,
            _ => return,
        };
        let (version, transactional_id) = self.produce_version(negotiated);
        let cfg = &self.shared.config;
        let acks0 = cfg.acks == Acks::None;
        let client_id = (!cfg.client_id.is_empty()).then_some(cfg.client_id.as_str());
        let Some(node) = self.nodes.map.get_mut(&node_id) else {
            return;
        };
        if !matches!(node.conn, super::nodes::ConnState::Up(_)) {
            return;
        }
        let mut topics: Vec<TopicData> = Vec::new();
        for b in &batches {
            let pd = PartitionData {
                partition: b.partition,
                records: b.bytes.clone(),
            };
            match topics.iter_mut().find(|t| *t.topic == *b.topic) {
                Some(t) => t.partitions.push(pd),
                None => topics.push(TopicData {
                    topic: b.topic.to_string(),
                    partitions: vec![pd],
                }),
            }
        }
        let timeout_ms = i32::try_from(cfg.request_timeout.as_millis()).unwrap_or(i32::MAX);
        let frame = encode_produce(
            version,
            corr,
            client_id,
            &ProduceRequest {
                transactional_id: transactional_id.as_deref(),
                acks: cfg.acks.wire(),
                timeout_ms,
                topics: &topics,
            },
        );
        let sent: Vec<crate::metrics::BatchSent<'_>> = batches
            .iter()
            .map(|b| crate::metrics::BatchSent {
                topic: &b.topic,
                records: b.record_count,
                bytes: b.bytes.len(),
                compression: b.bytes.len() as f64 / b.reserved.max(1) as f64,
                max_record: b.max_record,
            })
            .collect();
        let request_bytes: usize = frame.chunks.iter().map(bytes::Bytes::len).sum();
        self.shared.metrics.produce_sent(node_id, &sent, request_bytes, now);
        drop(sent);
        for b in &mut batches {
            if let Some(p) = self.parts.get_mut(&b.key()) {
                p.sent.0 += u64::try_from(b.record_count).unwrap_or(0);
                p.sent.1 += b.bytes.len() as u64;
            }
            b.attempts += 1;
            tracing::trace!(node = node_id, correlation_id = corr, topic = %b.topic, partition = b.partition,
                producer = ?b.stamp, sequence = b.base_sequence, records = b.record_count, attempt = b.attempts, "produce");
        }
        let out = Outbound {
            chunks: frame.chunks,
            correlation_id: corr,
            report_written: acks0,
        };
        let records: i64 = batches.iter().map(|b| i64::from(b.record_count)).sum();
        let span = tracing::debug_span!(
            "produce_request",
            broker = node_id,
            correlation_id = corr,
            partitions = batches.len(),
            records,
            bytes = request_bytes,
            outcome = tracing::field::Empty,
        );
        let kind = PendingKind::Produce { batches, acks0, span };
        if let Err(kind) = node.write(out, version, kind, now) {
            // Never queued on the socket, so certainly not written.
            self.shared.metrics.unanswered(1);
            if let PendingKind::Produce { batches, .. } = kind {
                for b in batches {
                    self.answered(&b);
                    self.retry_or_fail(
                        b,
                        "the connection closed before the request was written".into(),
                        false,
                        node_id,
                        now,
                    );
                }
            }
            self.close_node(node_id, "the connection closed before the request was written", now);
        }
    }
}
