//! How the transaction manager reads the coordinators' answers: FindCoordinator,
//! InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit and EndTxn. Each
//! success moves the state on; each error goes through the KIP-588 table
//! ([`classify`]) and is retried, dooms the transaction, or stops the producer.

use std::time::Instant;

use volley_protocol::ErrorCode;

use super::super::partitions::Identity;
use super::super::txn_errors::{classify, ErrorClass, TxnRequest};
use super::{Op, Protocol, State, Tp, TransactionManager, TxnEvent};

impl TransactionManager {
    /// A FindCoordinator answer for `key_type` (`Err`: the answer did not decode).
    pub(crate) fn on_find_coordinator(
        &mut self,
        key_type: i8,
        answer: Result<(ErrorCode, i32), String>,
        now: Instant,
    ) -> TxnEvent {
        self.in_flight = false;
        let Some((code, node)) = self.answer_or_retry(answer, now) else {
            return TxnEvent::None;
        };
        if code.is_ok() {
            self.failures = 0;
            if key_type == 1 {
                self.coordinator = Some(node);
            } else if let Some(o) = &self.offsets {
                self.group_coordinator = Some((o.group.group_id.clone(), node));
            }
            return TxnEvent::None;
        }
        let class = classify(TxnRequest::FindCoordinator, code);
        self.retry_later(now);
        self.fail(
            TxnRequest::FindCoordinator,
            Some(code),
            "FindCoordinator failed".into(),
            class,
        )
    }

    /// The answer, or `None` after arranging a retry when the request failed on the way
    /// (no answer: the connection went down).
    fn answer_or_retry<T>(&mut self, answer: Result<T, String>, now: Instant) -> Option<T> {
        match answer {
            Ok(a) => Some(a),
            Err(_) => {
                self.retry_later(now);
                None
            }
        }
    }

    /// An InitProducerId answer (`Err`: it did not decode).
    pub(crate) fn on_init_producer_id(
        &mut self,
        answer: Result<(ErrorCode, Identity), String>,
        now: Instant,
    ) -> TxnEvent {
        self.in_flight = false;
        if self.state != State::Initializing {
            return TxnEvent::None;
        }
        let Some((code, id)) = self.answer_or_retry(answer, now) else {
            return TxnEvent::None;
        };
        if code.is_ok() {
            self.answered_ok();
            self.identity = Some(id);
            self.bump_required = false;
            self.fresh_id_required = false;
            self.state = State::Ready;
            self.finish(Ok(()));
            return TxnEvent::NewIdentity(id);
        }
        match classify(TxnRequest::InitProducerId, code) {
            c @ (ErrorClass::FindCoordinator | ErrorClass::Retry) => {
                self.retry(c, now);
                TxnEvent::None
            }
            c => self.fail(
                TxnRequest::InitProducerId,
                Some(code),
                "InitProducerId failed".into(),
                c,
            ),
        }
    }

    /// An AddPartitionsToTxn answer, per partition (`Err`: it did not decode).
    pub(crate) fn on_add_partitions(&mut self, answer: Result<Vec<(Tp, ErrorCode)>, String>, now: Instant) -> TxnEvent {
        self.in_flight = false;
        let results = match answer {
            Ok(r) => r,
            Err(_) => {
                self.requeue_adding();
                self.retry_later(now);
                return TxnEvent::None;
            }
        };
        let adding = std::mem::take(&mut self.adding);
        let mut worst: Option<(ErrorCode, ErrorClass)> = None;
        for (tp, code) in &results {
            if code.is_ok() {
                if adding.contains(tp) {
                    self.partitions.insert(tp.clone());
                    self.started = true;
                }
                continue;
            }
            let class = classify(TxnRequest::AddPartitions, *code);
            let rank = |c: ErrorClass| match c {
                ErrorClass::Fatal => 3,
                ErrorClass::Abortable { .. } => 2,
                ErrorClass::FindCoordinator => 1,
                ErrorClass::Retry => 0,
            };
            if worst.is_none_or(|(_, w)| rank(class) > rank(w)) {
                worst = Some((*code, class));
            }
        }
        // Partitions the answer did not settle are asked again.
        let unsettled: Vec<Tp> = adding.into_iter().filter(|tp| !self.partitions.contains(tp)).collect();
        match worst {
            None if unsettled.is_empty() => {
                self.failures = 0;
                TxnEvent::None
            }
            None | Some((_, ErrorClass::FindCoordinator | ErrorClass::Retry)) => {
                let class = worst.map_or(ErrorClass::Retry, |(_, c)| c);
                if matches!(self.state, State::InTransaction | State::Committing) {
                    self.new_partitions.extend(unsettled);
                }
                self.retry(class, now);
                TxnEvent::None
            }
            Some((code, class)) => self.fail(
                TxnRequest::AddPartitions,
                Some(code),
                "AddPartitionsToTxn failed".into(),
                class,
            ),
        }
    }

    /// An AddOffsetsToTxn answer (TV1).
    pub(crate) fn on_add_offsets(&mut self, answer: Result<ErrorCode, String>, now: Instant) -> TxnEvent {
        self.in_flight = false;
        let Some(code) = self.answer_or_retry(answer, now) else {
            return TxnEvent::None;
        };
        if code.is_ok() {
            self.failures = 0;
            self.started = true;
            if let Some(o) = &mut self.offsets {
                o.added = true;
            }
            return TxnEvent::None;
        }
        match classify(TxnRequest::AddOffsets, code) {
            c @ (ErrorClass::FindCoordinator | ErrorClass::Retry) => {
                self.retry(c, now);
                TxnEvent::None
            }
            c => self.fail(TxnRequest::AddOffsets, Some(code), "AddOffsetsToTxn failed".into(), c),
        }
    }

    /// A TxnOffsetCommit answer, per partition.
    pub(crate) fn on_txn_offset_commit(
        &mut self,
        answer: Result<Vec<(Tp, ErrorCode)>, String>,
        now: Instant,
    ) -> TxnEvent {
        self.in_flight = false;
        let Some(results) = self.answer_or_retry(answer, now) else {
            return TxnEvent::None;
        };
        let Some(first) = results.iter().map(|(_, c)| *c).find(|c| !c.is_ok()) else {
            self.failures = 0;
            self.started = true;
            self.offsets = None;
            if matches!(self.op, Some((Op::SendOffsets, _))) {
                self.finish(Ok(()));
            }
            return TxnEvent::None;
        };
        match classify(TxnRequest::TxnOffsetCommit, first) {
            c @ (ErrorClass::FindCoordinator | ErrorClass::Retry) => {
                if c == ErrorClass::FindCoordinator {
                    self.group_coordinator = None;
                }
                self.retry_later(now);
                TxnEvent::None
            }
            c => self.fail(
                TxnRequest::TxnOffsetCommit,
                Some(first),
                "TxnOffsetCommit failed".into(),
                c,
            ),
        }
    }

    /// An EndTxn answer; `new_identity`: what EndTxn v5 (TV2) returned.
    pub(crate) fn on_end_txn(
        &mut self,
        answer: Result<(ErrorCode, Option<Identity>), String>,
        now: Instant,
    ) -> TxnEvent {
        self.in_flight = false;
        if !matches!(self.state, State::Committing | State::Aborting) {
            return TxnEvent::None;
        }
        let Some((code, new_identity)) = self.answer_or_retry(answer, now) else {
            return TxnEvent::None;
        };
        if code.is_ok() {
            self.failures = 0;
            let adopted = new_identity.filter(|_| self.protocol == Protocol::V2);
            if let Some(id) = adopted {
                // KIP-890: the coordinator bumped the epoch itself; no InitProducerId.
                self.identity = Some(id);
                self.bump_required = false;
            }
            self.completed();
            return adopted.map_or(TxnEvent::None, TxnEvent::NewIdentity);
        }
        let class = classify(TxnRequest::EndTxn, code);
        match class {
            ErrorClass::FindCoordinator | ErrorClass::Retry => {
                self.retry(class, now);
                TxnEvent::None
            }
            ErrorClass::Abortable { .. } if self.state == State::Aborting => {
                // The abort itself was refused for a reason a new epoch cures (the
                // coordinator forgot the producer, KIP-360): InitProducerId with the
                // transactional id aborts whatever is open, so the abort ends with it.
                self.fail(TxnRequest::EndTxn, Some(code), "EndTxn failed".into(), class);
                self.bump_required = true;
                self.completed();
                TxnEvent::None
            }
            _ => self.fail(TxnRequest::EndTxn, Some(code), "EndTxn failed".into(), class),
        }
    }
}
