//! Which error of a transactional request means what (KIP-588), without I/O.
//!
//! The Java producer classifies an error by the request it answers: INVALID_PRODUCER_EPOCH
//! answering EndTxn means another producer took over the transactional id (fatal), while the
//! same code answering a Produce request only dooms the current transaction (abortable).
//! This module owns that table and nothing else; [`super::transaction`] acts on it.

use volley_protocol::ErrorCode;

/// The request an error code answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxnRequest {
    /// FindCoordinator for the transactional id (key type 1) or a group (key type 0).
    FindCoordinator,
    /// InitProducerId with the transactional id.
    InitProducerId,
    /// AddPartitionsToTxn (TV1), per partition.
    AddPartitions,
    /// AddOffsetsToTxn (TV1).
    AddOffsets,
    /// TxnOffsetCommit to the group coordinator, per partition.
    TxnOffsetCommit,
    /// A Produce request of the transaction (after the sender gave up on the batch).
    Produce,
    /// EndTxn (commit or abort).
    EndTxn,
}

/// What an error means for the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorClass {
    /// The coordinator moved or is not there yet: find it again, then retry.
    FindCoordinator,
    /// Retry the same request after a backoff (the coordinator is busy or loading).
    Retry,
    /// The transaction cannot commit; aborting it works. `bump`: after the abort the epoch
    /// must be bumped (KIP-360) because the broker lost track of this producer's sequences.
    Abortable {
        /// Whether the abort ends with an epoch bump.
        bump: bool,
    },
    /// The producer can only be closed (fenced, not authorized, broker too old).
    Fatal,
}

/// Kafka's answer to `request` was `code` (not `NONE`): what it means. Codes a request is
/// not documented to return are fatal for the coordinator's requests, as in Java's
/// handlers ("unexpected error"), and abortable for a Produce request (any failed send
/// inside a transaction dooms only that transaction).
pub(crate) fn classify(request: TxnRequest, code: ErrorCode) -> ErrorClass {
    use ErrorClass::{Abortable, Fatal, FindCoordinator, Retry};
    use TxnRequest as R;
    const ABORT: ErrorClass = Abortable { bump: false };
    const ABORT_BUMP: ErrorClass = Abortable { bump: true };
    // Fatal whatever they answer.
    if matches!(
        code,
        ErrorCode::PRODUCER_FENCED
            | ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
            | ErrorCode::CLUSTER_AUTHORIZATION_FAILED
            | ErrorCode::UNSUPPORTED_VERSION
            | ErrorCode::UNSUPPORTED_FOR_MESSAGE_FORMAT
            | ErrorCode::TRANSACTION_COORDINATOR_FENCED
            | ErrorCode::INVALID_TRANSACTION_TIMEOUT
    ) {
        return Fatal;
    }
    // KIP-890: the coordinator asks the client to abort; valid for every request.
    if code == ErrorCode::TRANSACTION_ABORTABLE {
        return ABORT;
    }
    match request {
        R::Produce => match code {
            // The broker forgot this producer or the sequences broke: abort, then bump.
            ErrorCode::UNKNOWN_PRODUCER_ID
            | ErrorCode::INVALID_PRODUCER_ID_MAPPING
            | ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER => ABORT_BUMP,
            // INVALID_PRODUCER_EPOCH and INVALID_TXN_STATE on Produce (KIP-588), topic
            // authorization, too-large records, timeouts: this transaction only.
            _ => ABORT,
        },
        R::FindCoordinator => match code {
            ErrorCode::COORDINATOR_NOT_AVAILABLE
            | ErrorCode::NOT_COORDINATOR
            | ErrorCode::COORDINATOR_LOAD_IN_PROGRESS => Retry,
            ErrorCode::GROUP_AUTHORIZATION_FAILED => ABORT,
            c if c.is_retriable() => Retry,
            _ => Fatal,
        },
        R::InitProducerId => match code {
            ErrorCode::COORDINATOR_NOT_AVAILABLE | ErrorCode::NOT_COORDINATOR => FindCoordinator,
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS | ErrorCode::CONCURRENT_TRANSACTIONS => Retry,
            // As Java's handlers: any other retriable error is retried.
            c if c.is_retriable() => Retry,
            _ => Fatal,
        },
        R::AddPartitions => match code {
            ErrorCode::COORDINATOR_NOT_AVAILABLE | ErrorCode::NOT_COORDINATOR => FindCoordinator,
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
            | ErrorCode::CONCURRENT_TRANSACTIONS
            | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
            | ErrorCode::OPERATION_NOT_ATTEMPTED => Retry,
            ErrorCode::TOPIC_AUTHORIZATION_FAILED => ABORT,
            ErrorCode::UNKNOWN_PRODUCER_ID | ErrorCode::INVALID_PRODUCER_ID_MAPPING => ABORT_BUMP,
            // INVALID_PRODUCER_EPOCH / INVALID_TXN_STATE here are fatal (KIP-588).
            ErrorCode::INVALID_PRODUCER_EPOCH | ErrorCode::INVALID_TXN_STATE => Fatal,
            c if c.is_retriable() => Retry,
            // Java's AddPartitionsToTxn handler: another unexpected error dooms the
            // transaction only.
            _ => ABORT,
        },
        R::AddOffsets => match code {
            ErrorCode::COORDINATOR_NOT_AVAILABLE | ErrorCode::NOT_COORDINATOR => FindCoordinator,
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS | ErrorCode::CONCURRENT_TRANSACTIONS => Retry,
            ErrorCode::GROUP_AUTHORIZATION_FAILED => ABORT,
            ErrorCode::UNKNOWN_PRODUCER_ID | ErrorCode::INVALID_PRODUCER_ID_MAPPING => ABORT_BUMP,
            c if c.is_retriable() => Retry,
            _ => Fatal,
        },
        R::TxnOffsetCommit => match code {
            ErrorCode::COORDINATOR_NOT_AVAILABLE | ErrorCode::NOT_COORDINATOR | ErrorCode::REQUEST_TIMED_OUT => {
                FindCoordinator
            }
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
            | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
            | ErrorCode::CONCURRENT_TRANSACTIONS => Retry,
            // The consumer's group moved on (CommitFailedException in Java), or no rights.
            ErrorCode::GROUP_AUTHORIZATION_FAILED
            | ErrorCode::UNKNOWN_MEMBER_ID
            | ErrorCode::ILLEGAL_GENERATION
            | ErrorCode::FENCED_INSTANCE_ID => ABORT,
            ErrorCode::UNKNOWN_PRODUCER_ID | ErrorCode::INVALID_PRODUCER_ID_MAPPING => ABORT_BUMP,
            c if c.is_retriable() => Retry,
            _ => Fatal,
        },
        R::EndTxn => match code {
            ErrorCode::COORDINATOR_NOT_AVAILABLE | ErrorCode::NOT_COORDINATOR => FindCoordinator,
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS | ErrorCode::CONCURRENT_TRANSACTIONS => Retry,
            ErrorCode::UNKNOWN_PRODUCER_ID | ErrorCode::INVALID_PRODUCER_ID_MAPPING => ABORT_BUMP,
            c if c.is_retriable() => Retry,
            _ => Fatal,
        },
    }
}
