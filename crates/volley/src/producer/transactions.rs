//! The transactional calls of [`Producer`]: `init_transactions`, `begin_transaction`,
//! `send_offsets_to_transaction`, `commit_transaction` and `abort_transaction`, with the
//! Java producer's semantics (each waits at most `max.block.ms`; one that timed out can be
//! called again and picks up the same operation).
//!
//! They only start operations on the transaction manager and wait for its results; the
//! sender task drives the requests (see `sender::transaction`).

use std::sync::Arc;
use std::sync::Mutex;

use tokio::time::Instant;

use super::Producer;
use crate::error::{Error, TransactionError};
use crate::sender::transaction::{Op, Started, TransactionManager};
use crate::sender::txn_lock as lock;
use crate::transaction::{ConsumerGroupMetadata, Offsets};

impl Producer {
    fn txn_manager(&self) -> Result<&Mutex<TransactionManager>, Error> {
        self.shared.txn.as_ref().ok_or_else(|| {
            Error::Transaction(TransactionError::invalid_state(
                "this producer has no transactional.id: transactional calls need one",
            ))
        })
    }

    /// Starts `op` (or resumes it after an earlier timeout) and waits up to `max.block.ms`
    /// for its result.
    async fn run_transactional(&self, op: Op, setup: impl FnOnce(&mut TransactionManager)) -> Result<(), Error> {
        let m = self.txn_manager()?;
        if self.shared.closing.load(std::sync::atomic::Ordering::Acquire) {
            return Err(Error::Closed { detail: None });
        }
        let max_block = self.shared.config.max_block;
        let deadline = Instant::now().checked_add(max_block);
        {
            let mut g = lock(m);
            if g.start(op, false)? == Started::New {
                setup(&mut g);
            }
        }
        // A commit sends what is queued at once (Java flushes before committing).
        let _flushing = (op == Op::Commit).then(|| super::FlushGuard::new(&self.shared.flushing));
        self.shared.wake.notify_one();
        loop {
            let changed = self.shared.txn_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(result) = lock(m).take_result(op) {
                return result.map_err(Error::Transaction);
            }
            if let Some(reason) = self.shared.fatal.get() {
                return Err(Error::Fatal(reason.clone()));
            }
            let timed_out = match deadline {
                Some(d) => tokio::time::timeout_at(d, changed).await.is_err(),
                None => {
                    changed.await;
                    false
                }
            };
            if timed_out {
                // The operation goes on; calling again waits for it (as in Java).
                return Err(Error::TimedOut {
                    what: op.name(),
                    waited: max_block,
                });
            }
        }
    }

    /// Gets the producer id for `transactional.id` from its coordinator, fencing any older
    /// producer with the same id and aborting what it left open. Call it once, before the
    /// first transaction.
    ///
    /// # Errors
    /// [`Error::Transaction`]: fatal (not authorized, fenced, broker too old) or invalid
    /// state (called twice, no `transactional.id`); [`Error::TimedOut`] after `max.block.ms`
    /// (call it again to keep waiting).
    pub async fn init_transactions(&self) -> Result<(), Error> {
        self.run_transactional(Op::Init, |_| {}).await
    }

    /// Starts a transaction: every record sent until `commit_transaction` or
    /// `abort_transaction` belongs to it. Nothing is sent to a broker.
    ///
    /// # Errors
    /// [`Error::Transaction`] when not ready (not initialized, a transaction already open,
    /// the producer fenced).
    pub fn begin_transaction(&self) -> Result<(), Error> {
        let m = self.txn_manager()?;
        lock(m).begin().map_err(Error::Transaction)
    }

    /// Commits a consumer group's offsets as part of the transaction (exactly-once
    /// read-process-write): the offsets count only if the transaction commits. Does
    /// nothing for an empty `offsets`.
    ///
    /// # Errors
    /// [`Error::Transaction`]: abortable (the group moved on, not authorized), fatal, or
    /// invalid state; [`Error::TimedOut`] after `max.block.ms`.
    pub async fn send_offsets_to_transaction(
        &self,
        offsets: Offsets,
        group: &ConsumerGroupMetadata,
    ) -> Result<(), Error> {
        if offsets.is_empty() {
            return Ok(());
        }
        let offsets = offsets
            .into_iter()
            .map(|((t, p), o)| ((Arc::<str>::from(t), p), o))
            .collect();
        let group = group.clone();
        self.run_transactional(Op::SendOffsets, move |m| m.set_offsets(group, offsets))
            .await
    }

    /// Sends every record of the transaction, then commits it. A transaction in which a
    /// send failed cannot commit: this fails with an abortable error, and
    /// `abort_transaction` ends the transaction.
    ///
    /// # Errors
    /// [`Error::Transaction`]: abortable (a send failed), fatal (fenced by a newer producer
    /// with the same `transactional.id`), invalid state; [`Error::TimedOut`] after
    /// `max.block.ms` (call it again to keep waiting).
    pub async fn commit_transaction(&self) -> Result<(), Error> {
        self.run_transactional(Op::Commit, |_| {}).await
    }

    /// Aborts the transaction: records not sent yet fail, records written are discarded by
    /// `read_committed` consumers. After an abortable error this starts the next
    /// transaction clean (with a new epoch where the broker needs one).
    ///
    /// # Errors
    /// [`Error::Transaction`]: fatal (fenced), invalid state; [`Error::TimedOut`] after
    /// `max.block.ms`.
    pub async fn abort_transaction(&self) -> Result<(), Error> {
        self.run_transactional(Op::Abort, |_| {}).await
    }

    /// Before a record of a transactional producer is queued: is a transaction open?
    pub(super) fn txn_check_send(&self) -> Result<(), Error> {
        match &self.shared.txn {
            Some(m) => lock(m).check_send_state().map_err(Error::Transaction),
            None => Ok(()),
        }
    }

    /// `send` refused a record: as in Java, the open transaction cannot commit any more.
    pub(super) fn txn_send_refused(&self, error: &Error) {
        if let Some(m) = &self.shared.txn {
            if !matches!(error, Error::Transaction(_)) {
                lock(m).on_send_refused(&error.to_string());
                self.shared.txn_changed.notify_waiters();
            }
        }
    }
}
