//! The sender's side of transactions: it asks the [`TransactionManager`] what to send,
//! encodes and writes it to the right broker, and feeds the answers back. The policy is
//! all in the manager; this file only moves requests and answers, fails records the
//! manager says must not go, and applies a new producer id or epoch.

use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use volley_protocol::txn::{
    decode_add_offsets, decode_add_partitions, decode_end_txn, decode_find_coordinator, decode_txn_offset_commit,
    encode_add_offsets, encode_add_partitions, encode_end_txn, encode_find_coordinator, encode_init_producer_id_txn,
    encode_txn_offset_commit, GroupMember, OffsetEntry,
};
use volley_protocol::ErrorCode;

use super::nodes::{ConnState, PendingKind};
use super::partitions::{Identity, PartState};
use super::transaction::{Protocol, TransactionManager, TxnEvent, TxnRequestOut};
use super::warn_limit::Cause;
use super::Sender;
use crate::error::Error;
use crate::net::Outbound;

/// A transaction request waiting for its answer.
#[derive(Debug)]
pub(crate) enum TxnPending {
    /// FindCoordinator for a transaction (1) or a group (0).
    FindCoordinator { key_type: i8 },
    /// InitProducerId with the transactional id.
    InitProducerId,
    /// AddPartitionsToTxn.
    AddPartitions,
    /// AddOffsetsToTxn.
    AddOffsets,
    /// TxnOffsetCommit.
    TxnOffsetCommit,
    /// EndTxn.
    EndTxn,
}

/// Locks the manager; a panic elsewhere while it was held leaves a usable state (every
/// method leaves it consistent), so a poisoned lock is taken over.
pub(crate) fn lock(m: &Mutex<TransactionManager>) -> MutexGuard<'_, TransactionManager> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Sender {
    fn txn(&self) -> Option<MutexGuard<'_, TransactionManager>> {
        self.shared.txn.as_ref().map(lock)
    }

    /// The identity batches are stamped with now: the transaction manager's for a
    /// transactional producer, else the idempotence state's.
    pub(super) fn current_identity(&self) -> Option<Identity> {
        match self.txn() {
            Some(m) => m.identity(),
            None => self.pid.current(),
        }
    }

    /// Whether the batches of a partition may go now (TV1: once added to the transaction).
    pub(super) fn txn_sendable(&self, key: &(std::sync::Arc<str>, i32)) -> bool {
        self.txn().is_none_or(|m| m.sendable(key))
    }

    /// The Produce version to use with a broker that negotiated `negotiated`, and the
    /// transactional id the request carries. v12 is KIP-890's: only for a TV2 transaction.
    pub(super) fn produce_version(&self, negotiated: i16) -> (i16, Option<String>) {
        match self.txn() {
            Some(m) if m.protocol() == Protocol::V2 => (negotiated, Some(m.transactional_id().to_owned())),
            Some(m) => (negotiated.min(11), Some(m.transactional_id().to_owned())),
            None => (negotiated.min(11), None),
        }
    }

    /// A sealed batch of the transaction failed for good: the transaction cannot commit,
    /// and the sequences it held leave a gap that only a new epoch closes.
    pub(super) fn txn_batch_failed(&mut self, error: &Error) {
        let code = match error {
            Error::Broker { code, .. } => Some(*code),
            _ => None,
        };
        let event = match self.txn() {
            Some(mut m) => {
                let ev = m.on_produce_failed(code, &error.to_string());
                m.require_bump();
                ev
            }
            None => return,
        };
        self.apply_txn_event(event);
        self.shared.txn_changed.notify_waiters();
    }

    /// One pass: fail what must not be sent, then write the next coordinator request.
    pub(super) fn drive_transaction(&mut self, now: Instant) {
        let Some(fail) = self.txn().map(|m| m.fail_unsent()) else {
            return;
        };
        if let Some(e) = fail {
            self.fail_everything_queued(&Error::Transaction(e.clone()));
            let retries: Vec<_> = self.parts.values_mut().flat_map(|p| p.retries.drain(..)).collect();
            for b in retries {
                self.fail_sealed(b, Error::Transaction(e.clone()), Vec::new());
            }
        }
        let records_done = self.shared.accumulator.is_empty()
            && self.parts.values().all(PartState::is_idle)
            && !self.nodes.produce_pending();
        let gap = self
            .txn()
            .and_then(|m| m.identity())
            .is_some_and(|c| self.parts.values().any(|p| p.wants_bump(c)));
        let request = {
            let Some(mut m) = self.txn() else { return };
            if gap {
                m.require_bump();
            }
            m.poll(now, records_done)
        };
        if let Some(req) = request {
            if self.send_txn(&req, now) {
                if let Some(mut m) = self.txn() {
                    m.sent();
                }
            } else if let Some(mut m) = self.txn() {
                m.unsent();
            }
        }
        self.shared.txn_changed.notify_waiters();
    }

    /// Writes `req` to its broker; `false` if it could not go now (no connection yet).
    fn send_txn(&mut self, req: &TxnRequestOut, now: Instant) -> bool {
        let (tid, timeout_ms, identity, coordinator, tv2) = {
            let Some(m) = self.txn() else { return false };
            let timeout = i32::try_from(self.shared.config.transaction_timeout.as_millis()).unwrap_or(i32::MAX);
            let tv2 = m.protocol() == Protocol::V2;
            (
                m.transactional_id().to_owned(),
                timeout,
                m.identity(),
                m.coordinator(),
                tv2,
            )
        };
        let node_id = match req {
            TxnRequestOut::FindCoordinator { .. } => self.pick_control_node(now),
            TxnRequestOut::TxnOffsetCommit { node, .. } => Some(*node),
            _ => coordinator,
        };
        let Some(node_id) = node_id else { return false };
        let up = self
            .nodes
            .map
            .get(&node_id)
            .is_some_and(|n| matches!(n.conn, ConnState::Up(_)));
        if !up {
            self.nodes.ensure_connecting(node_id, now);
            return false;
        }
        let corr = self.next_correlation();
        let cfg = &self.shared.config;
        let client_id = (!cfg.client_id.is_empty()).then_some(cfg.client_id.as_str());
        let Some(node) = self.nodes.map.get(&node_id) else {
            return false;
        };
        let ConnState::Up(conn) = &node.conn else { return false };
        let versions = conn.versions;
        let addr = node.addr.clone();
        let (v, produce) = (versions.txn, versions.produce);
        let pid = identity.unwrap_or((-1, -1));
        let missing = |api: &str| format!("broker {addr} does not support {api}, which transactions need");
        let (frame, version, kind) = match req {
            TxnRequestOut::FindCoordinator { key, key_type } => {
                let Some(ver) = v.find_coordinator else {
                    return self.txn_unsupported(missing("FindCoordinator"));
                };
                let f = encode_find_coordinator(ver, corr, client_id, key, *key_type);
                (f, ver, TxnPending::FindCoordinator { key_type: *key_type })
            }
            TxnRequestOut::InitProducerId { current } => {
                let Some(ver) = versions.init_producer_id else {
                    return self.txn_unsupported(missing("InitProducerId v3+"));
                };
                // The protocol is read where Java reads it: at a transaction boundary, from
                // the coordinator's ApiVersions answer.
                if let Some(mut m) = self.txn() {
                    m.set_protocol(v.tv2(produce));
                }
                let f = encode_init_producer_id_txn(ver, corr, client_id, &tid, timeout_ms, *current);
                (f, ver, TxnPending::InitProducerId)
            }
            TxnRequestOut::AddPartitions(tps) => {
                let Some(ver) = v.add_partitions else {
                    return self.txn_unsupported(missing("AddPartitionsToTxn"));
                };
                let parts: Vec<(&str, i32)> = tps.iter().map(|(t, p)| (&**t, *p)).collect();
                let f = encode_add_partitions(ver, corr, client_id, &tid, pid, &parts);
                (f, ver, TxnPending::AddPartitions)
            }
            TxnRequestOut::AddOffsets { group_id } => {
                let Some(ver) = v.add_offsets else {
                    return self.txn_unsupported(missing("AddOffsetsToTxn"));
                };
                let f = encode_add_offsets(ver, corr, client_id, &tid, pid, group_id);
                (f, ver, TxnPending::AddOffsets)
            }
            TxnRequestOut::TxnOffsetCommit { offsets, .. } => {
                let Some(ver) = v.txn_offset_commit else {
                    return self.txn_unsupported(missing("TxnOffsetCommit"));
                };
                // v5 is KIP-890's (no AddOffsetsToTxn first): TV2 only, as Java.
                let ver = if tv2 { ver } else { ver.min(4) };
                let g = &offsets.group;
                let group = GroupMember {
                    group_id: &g.group_id,
                    generation_id: g.generation_id,
                    member_id: &g.member_id,
                    group_instance_id: g.group_instance_id.as_deref(),
                };
                let entries: Vec<OffsetEntry<'_>> = offsets
                    .offsets
                    .iter()
                    .map(|((t, p), o)| (&**t, *p, o.offset, o.leader_epoch.unwrap_or(-1), o.metadata.as_deref()))
                    .collect();
                let f = encode_txn_offset_commit(ver, corr, client_id, &tid, pid, &group, &entries);
                (f, ver, TxnPending::TxnOffsetCommit)
            }
            TxnRequestOut::EndTxn { commit } => {
                let Some(ver) = v.end_txn else {
                    return self.txn_unsupported(missing("EndTxn"));
                };
                // EndTxn v5 tells the coordinator to bump the epoch (KIP-890): TV2 only.
                let ver = if tv2 { ver } else { ver.min(4) };
                let f = encode_end_txn(ver, corr, client_id, &tid, pid, *commit);
                (f, ver, TxnPending::EndTxn)
            }
        };
        let frame = match frame {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode a transaction request");
                return false;
            }
        };
        tracing::debug!(node = node_id, request = ?kind, "transaction request");
        let bytes = frame.len();
        let out = Outbound {
            chunks: vec![frame],
            correlation_id: corr,
            report_written: false,
        };
        let Some(node) = self.nodes.map.get_mut(&node_id) else {
            return false;
        };
        let ok = node.write(out, version, PendingKind::Txn(kind), now).is_ok();
        if ok {
            self.shared.metrics.control_sent(node_id, bytes, now);
        }
        ok
    }

    /// A broker lacks an API transactions need: the producer cannot go on.
    fn txn_unsupported(&mut self, reason: String) -> bool {
        let ev = self.txn().map(|mut m| m.unsupported(reason));
        if let Some(ev) = ev {
            self.apply_txn_event(ev);
        }
        false
    }

    /// An answer to a transaction request.
    pub(super) fn on_txn_answer(&mut self, kind: TxnPending, version: i16, body: Bytes, now: Instant) {
        let event = match kind {
            TxnPending::FindCoordinator { key_type } => {
                let answer = decode_find_coordinator(version, body).map_err(|e| e.to_string());
                if let Ok(a) = &answer {
                    if a.error.is_ok() {
                        let addr = format!("{}:{}", a.host, a.port);
                        if self.nodes.learn(a.node_id, &addr, now) {
                            self.close_node(a.node_id, "the broker is advertised at a new address", now);
                        }
                    }
                }
                let answer = answer.map(|a| (a.error, a.node_id));
                self.txn().map(|mut m| m.on_find_coordinator(key_type, answer, now))
            }
            TxnPending::InitProducerId => {
                let answer = volley_protocol::control::decode_init_producer_id(version, body)
                    .map(|a| (a.error, (a.producer_id, a.producer_epoch)))
                    .map_err(|e| e.to_string());
                self.txn().map(|mut m| m.on_init_producer_id(answer, now))
            }
            TxnPending::AddPartitions => {
                let answer = decode_add_partitions(version, body)
                    .map(|r| r.into_iter().map(|(t, p, c)| ((t.into(), p), c)).collect())
                    .map_err(|e| e.to_string());
                self.txn().map(|mut m| m.on_add_partitions(answer, now))
            }
            TxnPending::AddOffsets => {
                let answer = decode_add_offsets(version, body).map_err(|e| e.to_string());
                self.txn().map(|mut m| m.on_add_offsets(answer, now))
            }
            TxnPending::TxnOffsetCommit => {
                let answer = decode_txn_offset_commit(version, body)
                    .map(|r| r.into_iter().map(|(t, p, c)| ((t.into(), p), c)).collect())
                    .map_err(|e| e.to_string());
                self.txn().map(|mut m| m.on_txn_offset_commit(answer, now))
            }
            TxnPending::EndTxn => {
                let answer = decode_end_txn(version, body).map_err(|e| e.to_string());
                if let Ok((code, _)) = &answer {
                    if !code.is_ok() && *code != ErrorCode::CONCURRENT_TRANSACTIONS {
                        self.warn("transaction", Cause::ProducerId, format!("EndTxn answered {code}"), now);
                    }
                }
                self.txn().map(|mut m| m.on_end_txn(answer, now))
            }
        };
        if let Some(ev) = event {
            self.apply_txn_event(ev);
        }
        self.shared.txn_changed.notify_waiters();
    }

    /// A connection to `node_id` could not be made.
    pub(super) fn txn_unreachable(&mut self, node_id: i32, now: Instant) {
        if let Some(mut m) = self.txn() {
            m.unreachable(node_id, now);
        }
    }

    /// The connection carrying a transaction request was lost.
    pub(super) fn txn_lost(&mut self, now: Instant) {
        if let Some(mut m) = self.txn() {
            m.lost(now);
        }
        self.shared.txn_changed.notify_waiters();
    }

    fn apply_txn_event(&mut self, ev: TxnEvent) {
        match ev {
            TxnEvent::None => {}
            TxnEvent::NewIdentity(id) => {
                // Partitions adopt it (sequences from 0) before their next batch.
                tracing::debug!(producer_id = id.0, epoch = id.1, "transactional producer id");
                self.shared.metrics.identity(id);
            }
            TxnEvent::Fatal(e) => {
                tracing::error!(error = %e, "the transactional producer cannot go on");
                self.stop_fatally(e.to_string());
            }
        }
    }

    /// When the transaction manager wants to be asked again (a backoff).
    pub(super) fn txn_next_attempt(&self) -> Option<Instant> {
        self.txn().and_then(|m| m.next_attempt())
    }
}

impl Sender {
    /// A record of the transaction failed before it was numbered (expired in the queue):
    /// the transaction cannot commit.
    pub(super) fn txn_send_refused(&mut self, error: &Error) {
        let ev = self.txn().map(|mut m| m.on_send_refused(&error.to_string()));
        if let Some(ev) = ev {
            self.apply_txn_event(ev);
            self.shared.txn_changed.notify_waiters();
        }
    }
}
