//! The transaction manager, without I/O (time is an argument): the Java producer's states
//! and transitions, which coordinator request goes next, and what each answer does.
//!
//! ```text
//!  Uninitialized ──init──► Initializing ──InitProducerId ok──► Ready ◄─────────────┐
//!                               ▲                                │ begin           │
//!                               │ epoch bump (TV1, KIP-360)      ▼                 │
//!                               │                          InTransaction ──commit──► Committing
//!                               │                            │      │ failed send /    │ EndTxn ok
//!                               │                      abort │      ▼ abortable answer │ (TV2: new
//!                               └──────────────────── Aborting ◄── AbortableError ◄──┘  epoch)
//!                                     EndTxn ok ──► Ready (or Initializing to bump)
//!  any state ── fenced, unauthorized, unsupported ──► Fatal (close the producer)
//! ```
//!
//! It owns the transactional id, the protocol in use (TV1 with AddPartitionsToTxn, or TV2
//! from KIP-890 part 2 where the partition leader adds partitions and EndTxn bumps the
//! epoch), the partitions and offsets of the current transaction, the coordinator, and the
//! one user call in progress (`init_transactions`, `commit_transaction`, ...) with its
//! result, so that a call that timed out can be made again and pick it up, as in Java. It
//! must not touch sockets, batches or sequences: the sender asks it what to send
//! ([`TransactionManager::poll`]) and tells it what came back.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use volley_protocol::ErrorCode;

use super::backoff;
use super::partitions::Identity;
use super::txn_errors::{classify, ErrorClass, TxnRequest};
use crate::error::{TransactionError, TransactionErrorKind};
use crate::transaction::{ConsumerGroupMetadata, OffsetAndMetadata};

/// A topic partition.
pub(crate) type Tp = (Arc<str>, i32);

/// Which transaction protocol the cluster speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// AddPartitionsToTxn before the first send to a partition, AddOffsetsToTxn before
    /// TxnOffsetCommit, epoch bumps by InitProducerId.
    V1,
    /// KIP-890 part 2 (`transaction.version` >= 2): Produce v12+ adds the partition,
    /// TxnOffsetCommit v5 goes straight to the group coordinator, EndTxn v5 bumps the epoch.
    V2,
}

/// The Java producer's transaction states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum State {
    /// `init_transactions` not called yet.
    Uninitialized,
    /// Waiting for InitProducerId (the first one, or an epoch bump after an abort).
    Initializing,
    /// Between transactions.
    Ready,
    /// `begin_transaction` was called.
    InTransaction,
    /// `commit_transaction`: records are being flushed, then EndTxn(commit).
    Committing,
    /// `abort_transaction`: unsent records fail, then EndTxn(abort).
    Aborting,
    /// The transaction cannot commit; only an abort gets out.
    AbortableError(TransactionError),
    /// The producer can only be closed.
    Fatal(TransactionError),
}

impl State {
    /// Java's name for the state (logs, statistics).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            State::Uninitialized => "UNINITIALIZED",
            State::Initializing => "INITIALIZING",
            State::Ready => "READY",
            State::InTransaction => "IN_TRANSACTION",
            State::Committing => "COMMITTING_TRANSACTION",
            State::Aborting => "ABORTING_TRANSACTION",
            State::AbortableError(_) => "ABORTABLE_ERROR",
            State::Fatal(_) => "FATAL_ERROR",
        }
    }
}

/// A call of the application that ends with a coordinator round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// `init_transactions`.
    Init,
    /// `send_offsets_to_transaction`.
    SendOffsets,
    /// `commit_transaction`.
    Commit,
    /// `abort_transaction`.
    Abort,
}

impl Op {
    /// The call's name (for timeouts and errors).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::Init => "init_transactions",
            Op::SendOffsets => "send_offsets_to_transaction",
            Op::Commit => "commit_transaction",
            Op::Abort => "abort_transaction",
        }
    }
}

/// What a call of [`TransactionManager::start`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Started {
    /// A new operation began.
    New,
    /// The same call timed out before and is still running (or finished): wait for it.
    Resumed,
}

/// Offsets waiting to be committed in the transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PendingOffsets {
    /// The consumer group.
    pub(crate) group: ConsumerGroupMetadata,
    /// What to commit.
    pub(crate) offsets: Vec<(Tp, OffsetAndMetadata)>,
    /// TV1: AddOffsetsToTxn succeeded.
    added: bool,
}

/// The next coordinator request the sender should make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TxnRequestOut {
    /// Find the coordinator of `key` (key type 1 = transactional id, 0 = group).
    FindCoordinator {
        /// The transactional id or the group id.
        key: String,
        /// 1 for a transaction, 0 for a group.
        key_type: i8,
    },
    /// InitProducerId with the transactional id; `current`: the identity to bump.
    InitProducerId {
        /// The id and epoch the request bumps, if any.
        current: Option<Identity>,
    },
    /// TV1: add these partitions to the transaction.
    AddPartitions(Vec<Tp>),
    /// TV1: add the group's offsets topic to the transaction.
    AddOffsets {
        /// The group id.
        group_id: String,
    },
    /// Commit offsets in the transaction, to the group coordinator `node`.
    TxnOffsetCommit {
        /// The group coordinator.
        node: i32,
        /// The group and offsets.
        offsets: PendingOffsets,
    },
    /// End the transaction.
    EndTxn {
        /// Commit (true) or abort.
        commit: bool,
    },
}

/// What an answer changed that the sender must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TxnEvent {
    /// Nothing beyond the manager's own state.
    None,
    /// A new producer id or epoch is in force: batches are stamped with it and every
    /// partition's sequences start again at 0.
    NewIdentity(Identity),
    /// The producer can only be closed.
    Fatal(TransactionError),
}

/// The transaction manager of a producer with a `transactional.id`.
#[derive(Debug)]
pub(crate) struct TransactionManager {
    transactional_id: String,
    state: State,
    protocol: Protocol,
    identity: Option<Identity>,
    /// The transaction coordinator, once found.
    coordinator: Option<i32>,
    /// Group coordinators, by group id (for TxnOffsetCommit).
    group_coordinator: Option<(String, i32)>,
    /// Partitions the transaction covers (TV1: the coordinator added them; TV2: written to).
    partitions: BTreeSet<Tp>,
    /// TV1: partitions written to but not yet added.
    new_partitions: BTreeSet<Tp>,
    /// TV1: partitions in an AddPartitionsToTxn request in flight.
    adding: BTreeSet<Tp>,
    offsets: Option<PendingOffsets>,
    /// Something reached the coordinator (or a partition leader, TV2) in this transaction:
    /// it ends with EndTxn. An empty transaction ends without one, as in Java.
    started: bool,
    /// After the abort, bump the epoch (KIP-360).
    bump_required: bool,
    /// INVALID_PRODUCER_ID_MAPPING: the coordinator does not know the id; the abort skips
    /// EndTxn and asks for a new id.
    fresh_id_required: bool,
    /// The user call in progress and, once known, its result.
    op: Option<(Op, Option<Result<(), TransactionError>>)>,
    in_flight: bool,
    failures: u32,
    not_before: Instant,
    backoff: (Duration, Duration),
}

impl TransactionManager {
    /// A manager for `transactional_id`; `backoff`: `retry.backoff.ms` and its maximum.
    pub(crate) fn new(transactional_id: String, now: Instant, backoff: (Duration, Duration)) -> Self {
        Self {
            transactional_id,
            state: State::Uninitialized,
            protocol: Protocol::V1,
            identity: None,
            coordinator: None,
            group_coordinator: None,
            partitions: BTreeSet::new(),
            new_partitions: BTreeSet::new(),
            adding: BTreeSet::new(),
            offsets: None,
            started: false,
            bump_required: false,
            fresh_id_required: false,
            op: None,
            in_flight: false,
            failures: 0,
            not_before: now,
            backoff,
        }
    }

    /// The state.
    pub(crate) fn state(&self) -> &State {
        &self.state
    }

    /// The protocol of the current (or next) transaction.
    pub(crate) fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The identity batches are stamped with, once InitProducerId answered.
    pub(crate) fn identity(&self) -> Option<Identity> {
        self.identity
    }

    /// The transaction coordinator, if known.
    pub(crate) fn coordinator(&self) -> Option<i32> {
        self.coordinator
    }

    /// The transactional id.
    pub(crate) fn transactional_id(&self) -> &str {
        &self.transactional_id
    }

    /// When a retry after a backoff is due (for the sender's timer).
    pub(crate) fn next_attempt(&self) -> Option<Instant> {
        (self.failures > 0 && !self.in_flight).then_some(self.not_before)
    }

    fn fatal_error(&self) -> Option<&TransactionError> {
        match &self.state {
            State::Fatal(e) => Some(e),
            _ => None,
        }
    }

    fn wrong_state(&self, what: &str) -> TransactionError {
        if let Some(e) = self.fatal_error() {
            return e.clone();
        }
        TransactionError::invalid_state(format!("cannot {what} while the transaction is {}", self.state.name()))
    }

    /// Begins `op` (the application called it). A call that timed out before and is called
    /// again resumes the one in progress; another call while one is in progress is refused.
    /// `tv2`: whether the cluster finalized `transaction.version` >= 2 (read at
    /// `init_transactions`, as Java decides the protocol at transaction boundaries).
    pub(crate) fn start(&mut self, op: Op, tv2: bool) -> Result<Started, TransactionError> {
        if let Some((running, _)) = &self.op {
            if *running == op {
                return Ok(Started::Resumed);
            }
            return Err(TransactionError::invalid_state(format!(
                "cannot call {} while {} is in progress (call it again to wait for it)",
                op.name(),
                running.name()
            )));
        }
        match (op, &self.state) {
            (_, State::Fatal(e)) => return Err(e.clone()),
            (Op::Init, State::Uninitialized) => {
                self.protocol = if tv2 { Protocol::V2 } else { Protocol::V1 };
                self.state = State::Initializing;
            }
            (Op::Commit, State::InTransaction) => self.state = State::Committing,
            (Op::Commit | Op::SendOffsets, State::AbortableError(e)) => {
                return Err(TransactionError::new(
                    TransactionErrorKind::Abortable,
                    e.code,
                    format!(
                        "cannot {} because the transaction must be aborted: {}",
                        op.name(),
                        e.detail
                    ),
                ))
            }
            (Op::Abort, State::InTransaction | State::AbortableError(_)) => {
                self.state = State::Aborting;
                self.new_partitions.clear();
                self.offsets = None;
            }
            (Op::SendOffsets, State::InTransaction) => {}
            _ => return Err(self.wrong_state(op.name())),
        }
        self.op = Some((op, None));
        Ok(Started::New)
    }

    /// Sets the protocol from the coordinator's ApiVersions answer; only while initializing
    /// (Java reads it at transaction boundaries; a transaction never changes protocol).
    pub(crate) fn set_protocol(&mut self, tv2: bool) {
        if self.state == State::Initializing {
            self.protocol = if tv2 { Protocol::V2 } else { Protocol::V1 };
        }
    }

    /// After the current transaction, bump the epoch (a partition has a sequence gap).
    pub(crate) fn require_bump(&mut self) {
        self.bump_required = true;
    }

    /// `send` refused a record of the transaction before queueing it (too large, no
    /// metadata in time), or a queued record expired: as in Java, the transaction cannot
    /// commit any more, and its abort bumps the epoch (Java 4.x's `maybeTransitionToErrorState`
    /// asks for a client-side bump unless the transaction is completing; with TV2 the
    /// abort's EndTxn bumps it instead).
    pub(crate) fn on_send_refused(&mut self, detail: &str) -> TxnEvent {
        // During a commit too (a record expired in the queue while the commit waited for
        // it): the commit must fail, as Java's COMMITTING -> ABORTABLE_ERROR.
        if !matches!(self.state, State::InTransaction | State::Committing) {
            return TxnEvent::None;
        }
        let class = ErrorClass::Abortable {
            bump: self.state == State::InTransaction && self.protocol == Protocol::V1,
        };
        self.fail(
            TxnRequest::Produce,
            None,
            format!("a send was refused: {detail}"),
            class,
        )
    }

    /// A broker lacks an API the transaction needs.
    pub(crate) fn unsupported(&mut self, reason: String) -> TxnEvent {
        self.in_flight = false;
        self.fail(TxnRequest::InitProducerId, None, reason, ErrorClass::Fatal)
    }

    /// A connection to `node` could not be made: if it is a coordinator, find the
    /// coordinator again after a backoff (Java looks the coordinator up again when it is
    /// disconnected; a killed broker's transaction log moves to another broker).
    pub(crate) fn unreachable(&mut self, node: i32, now: Instant) {
        let mut forgot = false;
        if self.coordinator == Some(node) {
            self.coordinator = None;
            forgot = true;
        }
        if self.group_coordinator.as_ref().is_some_and(|(_, n)| *n == node) {
            self.group_coordinator = None;
            forgot = true;
        }
        if forgot && !self.in_flight {
            self.retry_later(now);
        }
    }

    /// The request [`poll`](Self::poll) returned could not be written (no connection to
    /// its broker yet): it is asked for again on the next pass.
    pub(crate) fn unsent(&mut self) {
        self.in_flight = false;
        self.requeue_adding();
    }

    /// `send_offsets_to_transaction`'s offsets, after [`start`](Self::start) accepted it.
    pub(crate) fn set_offsets(&mut self, group: ConsumerGroupMetadata, offsets: Vec<(Tp, OffsetAndMetadata)>) {
        self.offsets = Some(PendingOffsets {
            group,
            offsets,
            added: false,
        });
    }

    /// The result of `op`, once it is known; taking it ends the call.
    pub(crate) fn take_result(&mut self, op: Op) -> Option<Result<(), TransactionError>> {
        match &mut self.op {
            Some((o, result)) if *o == op && result.is_some() => {
                let r = result.take();
                self.op = None;
                r
            }
            _ => None,
        }
    }

    fn finish(&mut self, result: Result<(), TransactionError>) {
        if let Some((_, r)) = &mut self.op {
            *r = Some(result);
        }
    }

    /// As Java's `throwIfPendingState`: while a call (commit, abort, send_offsets, init) has
    /// not returned its result to the application — it is running, or it timed out and its
    /// result waits to be taken by calling it again — `begin_transaction` and `send` are
    /// refused. Without this a commit that timed out and finished in the background let the
    /// next transaction begin, and the next commit returned the old commit's result.
    fn refuse_while_pending(&self, what: &str) -> Result<(), TransactionError> {
        if let Some(e) = self.fatal_error() {
            return Err(e.clone());
        }
        match &self.op {
            Some((op, _)) => Err(TransactionError::invalid_state(format!(
                "cannot {what} while {} has not returned (it timed out: call {} again)",
                op.name(),
                op.name()
            ))),
            None => Ok(()),
        }
    }

    /// `begin_transaction` (local, as in Java: nothing is sent).
    pub(crate) fn begin(&mut self) -> Result<(), TransactionError> {
        self.refuse_while_pending("begin_transaction")?;
        if self.state != State::Ready {
            return Err(self.wrong_state("begin a transaction"));
        }
        self.state = State::InTransaction;
        self.partitions.clear();
        self.new_partitions.clear();
        self.started = false;
        Ok(())
    }

    /// `send` to `tp`: allowed only inside a transaction; notes the partition.
    #[cfg(test)]
    pub(crate) fn check_send(&mut self, tp: &Tp) -> Result<(), TransactionError> {
        self.check_send_state()?;
        self.note_partition(tp);
        Ok(())
    }

    /// Whether a record may be sent now (inside a transaction that can still commit).
    pub(crate) fn check_send_state(&self) -> Result<(), TransactionError> {
        self.refuse_while_pending("send")?;
        match &self.state {
            State::InTransaction => {}
            State::AbortableError(e) => {
                return Err(TransactionError::new(
                    TransactionErrorKind::Abortable,
                    e.code,
                    format!("cannot send: the transaction must be aborted: {}", e.detail),
                ))
            }
            _ => return Err(self.wrong_state("send (call begin_transaction first)")),
        }
        Ok(())
    }

    /// A record of the transaction goes to `tp` (after
    /// [`check_send_state`](Self::check_send_state); a commit that started meanwhile still
    /// covers it).
    pub(crate) fn note_partition(&mut self, tp: &Tp) {
        if !matches!(self.state, State::InTransaction | State::Committing) {
            return;
        }
        if !self.partitions.contains(tp) {
            match self.protocol {
                Protocol::V1 => {
                    if !self.adding.contains(tp) {
                        self.new_partitions.insert(tp.clone());
                    }
                }
                Protocol::V2 => {
                    // The leader adds it when the Produce request arrives.
                    self.partitions.insert(tp.clone());
                    self.started = true;
                }
            }
        }
    }

    /// Whether the batches of `tp` may be sent now (TV1: once the coordinator added it).
    pub(crate) fn sendable(&self, tp: &Tp) -> bool {
        self.protocol == Protocol::V2 || self.partitions.contains(tp)
    }

    /// Why batches still queued must fail rather than go, if they must (the transaction
    /// is being aborted or cannot commit).
    pub(crate) fn fail_unsent(&self) -> Option<TransactionError> {
        match &self.state {
            State::Aborting => Some(TransactionError::aborted_before_sent()),
            State::AbortableError(e) | State::Fatal(e) => Some(e.clone()),
            _ => None,
        }
    }

    /// A batch of the transaction failed for good (`code`, or `None` for a timeout or a
    /// client-side failure).
    pub(crate) fn on_produce_failed(&mut self, code: Option<ErrorCode>, detail: &str) -> TxnEvent {
        if self.fatal_error().is_some() {
            return TxnEvent::None;
        }
        let class = code.map_or(ErrorClass::Abortable { bump: true }, |c| {
            classify(TxnRequest::Produce, c)
        });
        self.fail(TxnRequest::Produce, code, format!("a send failed: {detail}"), class)
    }

    fn fail(&mut self, request: TxnRequest, code: Option<ErrorCode>, detail: String, class: ErrorClass) -> TxnEvent {
        match class {
            ErrorClass::Fatal => {
                // As Java: a coordinator's INVALID_PRODUCER_EPOCH means another producer
                // took the transactional id, and is reported as PRODUCER_FENCED.
                let (code, detail) = match code {
                    Some(ErrorCode::INVALID_PRODUCER_EPOCH) if request != TxnRequest::Produce => (
                        Some(ErrorCode::PRODUCER_FENCED),
                        format!("{detail} (INVALID_PRODUCER_EPOCH: fenced by a newer producer)"),
                    ),
                    _ => (code, detail),
                };
                let e = TransactionError::new(TransactionErrorKind::Fatal, code, format!("{request:?}: {detail}"));
                if self.fatal_error().is_none() {
                    self.state = State::Fatal(e.clone());
                }
                self.finish(Err(e.clone()));
                TxnEvent::Fatal(e)
            }
            ErrorClass::Abortable { bump } => {
                self.bump_required |= bump;
                self.fresh_id_required |= code == Some(ErrorCode::INVALID_PRODUCER_ID_MAPPING);
                let e = TransactionError::new(TransactionErrorKind::Abortable, code, format!("{request:?}: {detail}"));
                match self.state {
                    State::InTransaction | State::Committing | State::Initializing => {
                        // An abort's epoch bump (InitProducerId, state Initializing) that
                        // fails ends the abort with the error; other abortable errors during
                        // an abort leave it going.
                        let bumping = self.state == State::Initializing;
                        self.state = State::AbortableError(e.clone());
                        self.new_partitions.clear();
                        self.offsets = None;
                        if bumping || !matches!(self.op, Some((Op::Abort, _))) {
                            self.finish(Err(e));
                        }
                    }
                    // An abort goes on; an earlier abortable error stays the cause.
                    _ => {}
                }
                TxnEvent::None
            }
            ErrorClass::FindCoordinator | ErrorClass::Retry => TxnEvent::None,
        }
    }

    /// What to send to a coordinator now, if anything. `records_done`: no record of the
    /// transaction is queued or in flight (EndTxn waits for them, as in Java).
    pub(crate) fn poll(&mut self, now: Instant, records_done: bool) -> Option<TxnRequestOut> {
        if self.in_flight || now < self.not_before {
            return None;
        }
        if self.coordinator.is_none() && self.needs_coordinator(records_done) {
            return Some(TxnRequestOut::FindCoordinator {
                key: self.transactional_id.clone(),
                key_type: 1,
            });
        }
        match self.state {
            State::Initializing => Some(TxnRequestOut::InitProducerId {
                current: if self.fresh_id_required { None } else { self.bump_from() },
            }),
            State::InTransaction | State::Committing => {
                if self.protocol == Protocol::V1 && !self.new_partitions.is_empty() {
                    let tps: Vec<Tp> = std::mem::take(&mut self.new_partitions).into_iter().collect();
                    self.adding.extend(tps.iter().cloned());
                    return Some(TxnRequestOut::AddPartitions(tps));
                }
                if let Some(req) = self.offsets_request() {
                    return Some(req);
                }
                if self.state == State::Committing && records_done && self.adding.is_empty() {
                    return self.end(true);
                }
                None
            }
            State::Aborting if records_done && self.adding.is_empty() => {
                let end = self.end(false);
                if end.is_none() && self.state == State::Initializing {
                    // No EndTxn: straight to the new id or epoch.
                    return self.poll(now, records_done);
                }
                end
            }
            _ => None,
        }
    }

    /// The identity an InitProducerId after an abort bumps (TV1, KIP-360).
    fn bump_from(&self) -> Option<Identity> {
        self.identity.filter(|_| self.bump_required)
    }

    fn needs_coordinator(&self, records_done: bool) -> bool {
        match self.state {
            State::Initializing => true,
            State::InTransaction => !self.new_partitions.is_empty() || self.offsets.as_ref().is_some_and(|o| !o.added),
            // Partitions of a commit wait for AddPartitionsToTxn: the coordinator is needed
            // before the records can be done.
            State::Committing => records_done || !self.new_partitions.is_empty() || self.offsets.is_some(),
            State::Aborting => records_done,
            _ => false,
        }
    }

    fn offsets_request(&mut self) -> Option<TxnRequestOut> {
        let o = self.offsets.as_ref()?;
        if self.protocol == Protocol::V1 && !o.added {
            return Some(TxnRequestOut::AddOffsets {
                group_id: o.group.group_id.clone(),
            });
        }
        match &self.group_coordinator {
            Some((g, node)) if *g == o.group.group_id => Some(TxnRequestOut::TxnOffsetCommit {
                node: *node,
                offsets: o.clone(),
            }),
            _ => Some(TxnRequestOut::FindCoordinator {
                key: o.group.group_id.clone(),
                key_type: 0,
            }),
        }
    }

    /// EndTxn, or the end of a transaction that needs none.
    fn end(&mut self, commit: bool) -> Option<TxnRequestOut> {
        if self.started && (commit || !self.fresh_id_required) {
            return Some(TxnRequestOut::EndTxn { commit });
        }
        // Nothing reached a broker (Java skips EndTxn), or the coordinator does not know the
        // producer id (INVALID_PRODUCER_ID_MAPPING: EndTxn would fail; ask for a new id).
        self.completed();
        None
    }

    /// The transaction ended: ready for the next, or an epoch bump first.
    fn completed(&mut self) {
        self.partitions.clear();
        self.new_partitions.clear();
        self.offsets = None;
        self.started = false;
        if self.bump_required || self.fresh_id_required {
            if self.fresh_id_required {
                self.identity = None;
            }
            // The abort's result waits for the new epoch (InitProducerId answers it).
            self.state = State::Initializing;
        } else {
            self.state = State::Ready;
            self.finish(Ok(()));
        }
    }

    /// The request returned by [`poll`](Self::poll) was written.
    pub(crate) fn sent(&mut self) {
        self.in_flight = true;
    }

    /// The connection carrying the request was lost, or the request could not be sent:
    /// find the coordinator again and retry after a backoff.
    pub(crate) fn lost(&mut self, now: Instant) {
        self.in_flight = false;
        self.coordinator = None;
        self.group_coordinator = None;
        self.requeue_adding();
        self.retry_later(now);
    }

    fn requeue_adding(&mut self) {
        let adding = std::mem::take(&mut self.adding);
        if matches!(self.state, State::InTransaction | State::Committing) {
            self.new_partitions.extend(adding);
        }
    }

    fn retry_later(&mut self, now: Instant) {
        self.failures += 1;
        self.not_before = now + backoff(self.backoff.0, self.backoff.1, self.failures);
    }

    fn answered_ok(&mut self) {
        self.in_flight = false;
        self.failures = 0;
    }

    /// Common handling of an error class that is not fatal or abortable.
    fn retry(&mut self, class: ErrorClass, now: Instant) {
        if class == ErrorClass::FindCoordinator {
            self.coordinator = None;
            self.group_coordinator = None;
        }
        self.retry_later(now);
    }
}

#[path = "transaction_answers.rs"]
mod answers;

#[cfg(test)]
#[path = "transaction_tests.rs"]
mod tests;
