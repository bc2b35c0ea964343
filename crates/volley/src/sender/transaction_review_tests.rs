//! Transaction manager cases the reviews of issue 17 added: each guards a defect a review
//! found (see the comment on each).

use super::*;

/// Review of issue 17: a commit that timed out and then finished leaves its result for the
/// next `commit_transaction` call; until that call takes it, `begin_transaction` and `send`
/// are refused (Java's `throwIfPendingState`). Before, the next transaction began and its
/// commit returned the old commit's `Ok` while the new records stayed uncommitted.
#[test]
fn a_result_not_taken_refuses_begin_and_send() {
    let (mut m, t) = in_txn(Protocol::V2);
    m.start(Op::Commit, true).unwrap();
    // The application's wait timed out here; the commit goes on in the background.
    assert_eq!(m.poll(t, true), Some(TxnRequestOut::EndTxn { commit: true }));
    m.sent();
    m.on_end_txn(Ok((ErrorCode::NONE, Some((7, 1)))), t);
    assert_eq!(m.state(), &State::Ready);
    let e = m.begin().unwrap_err();
    assert!(e.detail.contains("commit_transaction"), "{e}");
    assert_eq!(kind(m.check_send_state()), Some(TransactionErrorKind::InvalidState));
    // Calling commit again takes its result; then the next transaction can begin.
    assert_eq!(m.start(Op::Commit, true), Ok(Started::Resumed));
    assert_eq!(m.take_result(Op::Commit), Some(Ok(())));
    m.begin().unwrap();
    m.check_send(&tp("a", 0)).unwrap();
    // A send_offsets in progress refuses sends too.
    m.start(Op::SendOffsets, true).unwrap();
    assert_eq!(kind(m.check_send_state()), Some(TransactionErrorKind::InvalidState));
}

/// Review of issue 17: a record that fails before it is sent (expired in the queue) while
/// the commit waits for it makes the commit fail (Java: COMMITTING -> ABORTABLE_ERROR); it
/// was ignored and the commit returned `Ok` without the record.
#[test]
fn a_record_refused_during_the_commit_fails_the_commit() {
    for protocol in [Protocol::V1, Protocol::V2] {
        let (mut m, _t) = in_txn(protocol);
        m.start(Op::Commit, protocol == Protocol::V2).unwrap();
        m.on_send_refused("delivery timed out in the queue");
        let e = m.take_result(Op::Commit).expect("the commit ended").unwrap_err();
        assert_eq!(e.kind, TransactionErrorKind::Abortable);
        assert_eq!(m.state().name(), "ABORTABLE_ERROR");
    }
}

/// A record refused by `send` (or expired in the queue) inside a transaction: as Java 4.x,
/// TV1's abort bumps the epoch with InitProducerId after EndTxn; TV2's abort adopts the
/// epoch its EndTxn bumped and asks for nothing more (the cluster test checks both on a
/// broker).
#[test]
fn a_refused_send_bumps_the_epoch_at_the_abort_as_java() {
    for protocol in [Protocol::V1, Protocol::V2] {
        let (mut m, t) = in_txn(protocol);
        m.on_send_refused("too large");
        assert_eq!(m.state().name(), "ABORTABLE_ERROR");
        m.start(Op::Abort, protocol == Protocol::V2).unwrap();
        assert_eq!(m.poll(t, true), Some(TxnRequestOut::EndTxn { commit: false }));
        m.sent();
        if protocol == Protocol::V1 {
            m.on_end_txn(Ok((ErrorCode::NONE, None)), t);
            abort_bumps_from_7_0(&mut m, t);
        } else {
            m.on_end_txn(Ok((ErrorCode::NONE, Some((7, 1)))), t);
            assert_eq!(m.poll(t, true), None, "no InitProducerId with TV2");
        }
        assert_eq!(m.take_result(Op::Abort), Some(Ok(())), "{protocol:?}");
        assert_eq!((m.state(), m.identity()), (&State::Ready, Some((7, 1))));
    }
    // TV2, the first send of the transaction refused: nothing reached a broker, so the
    // abort sends no EndTxn, and no InitProducerId either (Java 4.x bumps from the client
    // only without TV2).
    let (mut m, t) = ready(Protocol::V2);
    m.begin().unwrap();
    m.on_send_refused("too large");
    m.start(Op::Abort, true).unwrap();
    assert_eq!(m.poll(t, true), None, "no request for an empty TV2 transaction");
    assert_eq!(m.take_result(Op::Abort), Some(Ok(())));
    assert_eq!((m.state(), m.identity()), (&State::Ready, Some((7, 0))));
}

/// Review of issue 17: an abort whose epoch bump (InitProducerId) answers an abortable
/// error ends with that error instead of never ending.
#[test]
fn an_abort_whose_bump_fails_returns_the_error() {
    let (mut m, t) = in_txn(Protocol::V1);
    m.start(Op::Commit, false).unwrap();
    m.on_produce_failed(Some(ErrorCode::UNKNOWN_PRODUCER_ID), "rejected");
    m.take_result(Op::Commit).unwrap().unwrap_err();
    m.start(Op::Abort, false).unwrap();
    assert_eq!(m.poll(t, true), Some(TxnRequestOut::EndTxn { commit: false }));
    m.sent();
    m.on_end_txn(Ok((ErrorCode::NONE, None)), t);
    assert_eq!(m.state(), &State::Initializing, "the abort bumps the epoch");
    assert_eq!(
        m.poll(t, true),
        Some(TxnRequestOut::InitProducerId { current: Some((7, 0)) })
    );
    m.sent();
    m.on_init_producer_id(Ok((ErrorCode::TRANSACTION_ABORTABLE, (7, 0))), t);
    let r = m.take_result(Op::Abort).expect("the abort ended");
    assert_eq!(kind(r), Some(TransactionErrorKind::Abortable));
}

/// Review of issue 17: as Java's handlers, a retriable error a coordinator request is not
/// documented to return is retried (REQUEST_TIMED_OUT answering InitProducerId was fatal),
/// and an unexpected AddPartitionsToTxn error dooms only the transaction.
#[test]
fn retriable_codes_retry_and_unexpected_add_partitions_errors_abort() {
    use crate::sender::txn_errors::{classify, ErrorClass, TxnRequest};
    for r in [
        TxnRequest::InitProducerId,
        TxnRequest::AddOffsets,
        TxnRequest::EndTxn,
        TxnRequest::AddPartitions,
    ] {
        assert_eq!(classify(r, ErrorCode::REQUEST_TIMED_OUT), ErrorClass::Retry, "{r:?}");
        assert_eq!(classify(r, ErrorCode::PRODUCER_FENCED), ErrorClass::Fatal, "{r:?}");
    }
    assert_eq!(
        classify(TxnRequest::AddPartitions, ErrorCode::INVALID_REQUEST),
        ErrorClass::Abortable { bump: false }
    );
    for r in [
        TxnRequest::InitProducerId,
        TxnRequest::AddPartitions,
        TxnRequest::EndTxn,
    ] {
        assert_eq!(
            classify(r, ErrorCode::INVALID_PRODUCER_EPOCH),
            ErrorClass::Fatal,
            "{r:?}"
        );
        assert_eq!(classify(r, ErrorCode::INVALID_TXN_STATE), ErrorClass::Fatal, "{r:?}");
    }
}
