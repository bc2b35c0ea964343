//! The transaction manager's tests: every transition of Java's table, every error class by
//! request (KIP-588), both protocols, and calls made again after a timeout.

use super::*;

const B: (Duration, Duration) = (Duration::from_millis(100), Duration::from_millis(1000));
const FAR: Duration = Duration::from_secs(5);

fn tp(t: &str, p: i32) -> Tp {
    (Arc::from(t), p)
}

/// A manager initialized with `protocol` and id (7, 0), with the coordinator at node 1.
fn ready(protocol: Protocol) -> (TransactionManager, Instant) {
    let t = Instant::now();
    let mut m = TransactionManager::new("txn-a".into(), t, B);
    assert_eq!(m.start(Op::Init, protocol == Protocol::V2), Ok(Started::New));
    assert_eq!(
        m.poll(t, true),
        Some(TxnRequestOut::FindCoordinator {
            key: "txn-a".into(),
            key_type: 1
        })
    );
    m.sent();
    m.on_find_coordinator(1, Ok((ErrorCode::NONE, 1)), t);
    assert_eq!(m.poll(t, true), Some(TxnRequestOut::InitProducerId { current: None }));
    m.sent();
    assert_eq!(
        m.on_init_producer_id(Ok((ErrorCode::NONE, (7, 0))), t),
        TxnEvent::NewIdentity((7, 0))
    );
    assert_eq!(m.take_result(Op::Init), Some(Ok(())));
    assert_eq!(m.state(), &State::Ready);
    assert_eq!(m.protocol(), protocol);
    (m, t)
}

/// In a transaction that wrote to `a-0` (added, for TV1).
fn in_txn(protocol: Protocol) -> (TransactionManager, Instant) {
    let (mut m, t) = ready(protocol);
    m.begin().unwrap();
    m.check_send(&tp("a", 0)).unwrap();
    if protocol == Protocol::V1 {
        assert!(!m.sendable(&tp("a", 0)), "TV1: not before AddPartitionsToTxn");
        assert_eq!(m.poll(t, false), Some(TxnRequestOut::AddPartitions(vec![tp("a", 0)])));
        m.sent();
        m.on_add_partitions(Ok(vec![(tp("a", 0), ErrorCode::NONE)]), t);
    }
    assert!(m.sendable(&tp("a", 0)));
    (m, t)
}

/// After a TV1 abort's EndTxn: the abort waits for InitProducerId to bump (7, 0) to (7, 1).
fn abort_bumps_from_7_0(m: &mut TransactionManager, t: Instant) {
    assert_eq!(m.take_result(Op::Abort), None, "the abort waits for the bump");
    assert_eq!(
        m.poll(t, true),
        Some(TxnRequestOut::InitProducerId { current: Some((7, 0)) })
    );
    m.sent();
    m.on_init_producer_id(Ok((ErrorCode::NONE, (7, 1))), t);
}

fn kind(r: Result<(), TransactionError>) -> Option<TransactionErrorKind> {
    r.err().map(|e| e.kind)
}

#[test]
fn state_names_are_javas() {
    let e = TransactionError::invalid_state("x");
    let names: Vec<_> = [
        State::Uninitialized,
        State::Initializing,
        State::Ready,
        State::InTransaction,
        State::Committing,
        State::Aborting,
        State::AbortableError(e.clone()),
        State::Fatal(e),
    ]
    .iter()
    .map(State::name)
    .collect();
    assert_eq!(
        names,
        [
            "UNINITIALIZED",
            "INITIALIZING",
            "READY",
            "IN_TRANSACTION",
            "COMMITTING_TRANSACTION",
            "ABORTING_TRANSACTION",
            "ABORTABLE_ERROR",
            "FATAL_ERROR"
        ]
    );
}

/// Java's table of allowed transitions, driven by the calls: each (state, call) pair either
/// moves to the expected state or is refused with an invalid-state error and stays.
#[test]
fn every_call_in_every_state() {
    #[derive(Clone, Copy, Debug)]
    enum Call {
        Init,
        Begin,
        Send,
        Offsets,
        Commit,
        Abort,
    }
    use Call::*;
    let abortable = || {
        let (mut m, t) = in_txn(Protocol::V2);
        m.on_produce_failed(Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED), "no rights");
        (m, t)
    };
    let fatal = || {
        let (mut m, t) = in_txn(Protocol::V2);
        m.on_produce_failed(Some(ErrorCode::PRODUCER_FENCED), "fenced");
        (m, t)
    };
    fn uninit() -> (TransactionManager, Instant) {
        let t = Instant::now();
        (TransactionManager::new("x".into(), t, B), t)
    }
    let initializing = || {
        let (mut m, t) = uninit();
        m.start(Op::Init, true).unwrap();
        m.take_result(Op::Init);
        (m, t)
    };
    let committing = || {
        let (mut m, t) = in_txn(Protocol::V2);
        m.start(Op::Commit, true).unwrap();
        (m, t)
    };
    let aborting = || {
        let (mut m, t) = in_txn(Protocol::V2);
        m.start(Op::Abort, true).unwrap();
        (m, t)
    };
    type Make = Box<dyn Fn() -> (TransactionManager, Instant)>;
    let states: Vec<(&str, Make)> = vec![
        ("UNINITIALIZED", Box::new(uninit)),
        ("INITIALIZING", Box::new(initializing)),
        ("READY", Box::new(|| ready(Protocol::V2))),
        ("IN_TRANSACTION", Box::new(|| in_txn(Protocol::V2))),
        ("COMMITTING_TRANSACTION", Box::new(committing)),
        ("ABORTING_TRANSACTION", Box::new(aborting)),
        ("ABORTABLE_ERROR", Box::new(abortable)),
        ("FATAL_ERROR", Box::new(fatal)),
    ];
    // Expected state after the call, or the error kind of a refusal (the state stays).
    let expect = |state: &str, call: Call| -> Result<&'static str, TransactionErrorKind> {
        use TransactionErrorKind::{Abortable, Fatal, InvalidState};
        match (state, call) {
            ("FATAL_ERROR", _) => Err(Fatal),
            ("UNINITIALIZED", Init) => Ok("INITIALIZING"),
            // The same call again (after a timeout) resumes the one running.
            ("INITIALIZING", Init) => Ok("INITIALIZING"),
            ("COMMITTING_TRANSACTION", Commit) => Ok("COMMITTING_TRANSACTION"),
            ("ABORTING_TRANSACTION", Abort) => Ok("ABORTING_TRANSACTION"),
            ("READY", Begin) => Ok("IN_TRANSACTION"),
            ("IN_TRANSACTION", Send | Offsets) => Ok("IN_TRANSACTION"),
            ("IN_TRANSACTION", Commit) => Ok("COMMITTING_TRANSACTION"),
            ("IN_TRANSACTION" | "ABORTABLE_ERROR", Abort) => Ok("ABORTING_TRANSACTION"),
            ("ABORTABLE_ERROR", Send | Offsets | Commit) => Err(Abortable),
            // A call while another runs (commit, abort, init in progress) or out of order.
            _ => Err(InvalidState),
        }
    };
    for (name, make) in &states {
        for call in [Init, Begin, Send, Offsets, Commit, Abort] {
            let (mut m, _) = make();
            // A finished operation's result was taken; a running one stays running.
            assert_eq!(m.state().name(), *name);
            let r: Result<(), TransactionError> = match call {
                Init => m.start(Op::Init, true).map(|_| ()),
                Begin => m.begin(),
                Send => m.check_send(&tp("b", 1)),
                Offsets => m.start(Op::SendOffsets, true).map(|_| ()),
                Commit => m.start(Op::Commit, true).map(|_| ()),
                Abort => m.start(Op::Abort, true).map(|_| ()),
            };
            match expect(name, call) {
                Ok(next) => {
                    assert!(r.is_ok(), "{name} + {call:?}: {r:?}");
                    assert_eq!(m.state().name(), next, "{name} + {call:?}");
                }
                Err(k) => {
                    assert_eq!(kind(r), Some(k), "{name} + {call:?}");
                    assert_eq!(m.state().name(), *name, "{name} + {call:?} must not move");
                }
            }
        }
    }
}

/// KIP-588: the class of every error code a transactional producer meets, by the request
/// it answers.
#[test]
fn error_classes_by_request() {
    use ErrorClass::{Abortable, Fatal, FindCoordinator, Retry};
    use TxnRequest as R;
    let ab = Abortable { bump: false };
    let bump = Abortable { bump: true };
    let rows: &[(TxnRequest, ErrorCode, ErrorClass)] = &[
        // Fatal whatever the request.
        (R::Produce, ErrorCode::PRODUCER_FENCED, Fatal),
        (R::EndTxn, ErrorCode::PRODUCER_FENCED, Fatal),
        (R::InitProducerId, ErrorCode::PRODUCER_FENCED, Fatal),
        (R::TxnOffsetCommit, ErrorCode::PRODUCER_FENCED, Fatal),
        (R::Produce, ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED, Fatal),
        (
            R::InitProducerId,
            ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            Fatal,
        ),
        (
            R::AddPartitions,
            ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            Fatal,
        ),
        (
            R::FindCoordinator,
            ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            Fatal,
        ),
        (R::Produce, ErrorCode::UNSUPPORTED_VERSION, Fatal),
        (R::EndTxn, ErrorCode::UNSUPPORTED_VERSION, Fatal),
        (R::TxnOffsetCommit, ErrorCode::UNSUPPORTED_FOR_MESSAGE_FORMAT, Fatal),
        (R::Produce, ErrorCode::UNSUPPORTED_FOR_MESSAGE_FORMAT, Fatal),
        (R::InitProducerId, ErrorCode::CLUSTER_AUTHORIZATION_FAILED, Fatal),
        (R::InitProducerId, ErrorCode::INVALID_TRANSACTION_TIMEOUT, Fatal),
        // INVALID_PRODUCER_EPOCH / INVALID_TXN_STATE: fatal from the coordinator...
        (R::InitProducerId, ErrorCode::INVALID_PRODUCER_EPOCH, Fatal),
        (R::AddPartitions, ErrorCode::INVALID_PRODUCER_EPOCH, Fatal),
        (R::EndTxn, ErrorCode::INVALID_PRODUCER_EPOCH, Fatal),
        (R::AddOffsets, ErrorCode::INVALID_PRODUCER_EPOCH, Fatal),
        (R::TxnOffsetCommit, ErrorCode::INVALID_PRODUCER_EPOCH, Fatal),
        (R::InitProducerId, ErrorCode::INVALID_TXN_STATE, Fatal),
        (R::AddPartitions, ErrorCode::INVALID_TXN_STATE, Fatal),
        (R::EndTxn, ErrorCode::INVALID_TXN_STATE, Fatal),
        // ...abortable on Produce.
        (R::Produce, ErrorCode::INVALID_PRODUCER_EPOCH, ab),
        (R::Produce, ErrorCode::INVALID_TXN_STATE, ab),
        // Abortable.
        (R::Produce, ErrorCode::TRANSACTION_ABORTABLE, ab),
        (R::AddPartitions, ErrorCode::TRANSACTION_ABORTABLE, ab),
        (R::AddOffsets, ErrorCode::TRANSACTION_ABORTABLE, ab),
        (R::TxnOffsetCommit, ErrorCode::TRANSACTION_ABORTABLE, ab),
        (R::EndTxn, ErrorCode::TRANSACTION_ABORTABLE, ab),
        (R::InitProducerId, ErrorCode::TRANSACTION_ABORTABLE, ab),
        (R::Produce, ErrorCode::UNKNOWN_PRODUCER_ID, bump),
        (R::Produce, ErrorCode::INVALID_PRODUCER_ID_MAPPING, bump),
        (R::Produce, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, bump),
        (R::AddPartitions, ErrorCode::UNKNOWN_PRODUCER_ID, bump),
        (R::AddPartitions, ErrorCode::INVALID_PRODUCER_ID_MAPPING, bump),
        (R::AddOffsets, ErrorCode::INVALID_PRODUCER_ID_MAPPING, bump),
        (R::TxnOffsetCommit, ErrorCode::UNKNOWN_PRODUCER_ID, bump),
        (R::EndTxn, ErrorCode::UNKNOWN_PRODUCER_ID, bump),
        (R::EndTxn, ErrorCode::INVALID_PRODUCER_ID_MAPPING, bump),
        (R::Produce, ErrorCode::TOPIC_AUTHORIZATION_FAILED, ab),
        (R::AddPartitions, ErrorCode::TOPIC_AUTHORIZATION_FAILED, ab),
        (R::AddOffsets, ErrorCode::GROUP_AUTHORIZATION_FAILED, ab),
        (R::TxnOffsetCommit, ErrorCode::GROUP_AUTHORIZATION_FAILED, ab),
        (R::FindCoordinator, ErrorCode::GROUP_AUTHORIZATION_FAILED, ab),
        (R::Produce, ErrorCode::MESSAGE_TOO_LARGE, ab),
        (R::Produce, ErrorCode::REQUEST_TIMED_OUT, ab),
        (R::TxnOffsetCommit, ErrorCode::UNKNOWN_MEMBER_ID, ab),
        (R::TxnOffsetCommit, ErrorCode::ILLEGAL_GENERATION, ab),
        (R::TxnOffsetCommit, ErrorCode::FENCED_INSTANCE_ID, ab),
        // Retriable: find the coordinator again...
        (R::InitProducerId, ErrorCode::NOT_COORDINATOR, FindCoordinator),
        (R::InitProducerId, ErrorCode::COORDINATOR_NOT_AVAILABLE, FindCoordinator),
        (R::AddPartitions, ErrorCode::NOT_COORDINATOR, FindCoordinator),
        (R::AddOffsets, ErrorCode::COORDINATOR_NOT_AVAILABLE, FindCoordinator),
        (R::TxnOffsetCommit, ErrorCode::NOT_COORDINATOR, FindCoordinator),
        (R::TxnOffsetCommit, ErrorCode::REQUEST_TIMED_OUT, FindCoordinator),
        (R::EndTxn, ErrorCode::NOT_COORDINATOR, FindCoordinator),
        (R::EndTxn, ErrorCode::COORDINATOR_NOT_AVAILABLE, FindCoordinator),
        // ...or back off and retry.
        (R::FindCoordinator, ErrorCode::COORDINATOR_NOT_AVAILABLE, Retry),
        (R::FindCoordinator, ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, Retry),
        (R::InitProducerId, ErrorCode::CONCURRENT_TRANSACTIONS, Retry),
        (R::InitProducerId, ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, Retry),
        (R::AddPartitions, ErrorCode::CONCURRENT_TRANSACTIONS, Retry),
        (R::AddPartitions, ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, Retry),
        (R::AddPartitions, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, Retry),
        (R::AddPartitions, ErrorCode::OPERATION_NOT_ATTEMPTED, Retry),
        (R::AddOffsets, ErrorCode::CONCURRENT_TRANSACTIONS, Retry),
        (R::TxnOffsetCommit, ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, Retry),
        (R::EndTxn, ErrorCode::CONCURRENT_TRANSACTIONS, Retry),
        (R::EndTxn, ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, Retry),
        // Anything unexpected from a coordinator is fatal, as in Java's handlers.
        (R::EndTxn, ErrorCode::INVALID_REQUEST, Fatal),
        (R::InitProducerId, ErrorCode::UNKNOWN_SERVER_ERROR, Fatal),
    ];
    for &(req, code, class) in rows {
        assert_eq!(classify(req, code), class, "{code} answering {req:?}");
    }
}

/// TV1: AddPartitionsToTxn once per new partition, offsets through AddOffsetsToTxn and the
/// group coordinator, EndTxn after the records, then ready again with the same epoch.
#[test]
fn tv1_commit_flow() {
    let (mut m, t) = in_txn(Protocol::V1);
    m.check_send(&tp("a", 0)).unwrap();
    assert_eq!(m.poll(t, false), None, "a-0 is added already: no second request");
    m.check_send(&tp("b", 2)).unwrap();
    assert_eq!(m.poll(t, false), Some(TxnRequestOut::AddPartitions(vec![tp("b", 2)])));
    m.sent();
    m.check_send(&tp("b", 2)).unwrap();
    assert_eq!(m.poll(t, false), None, "one request in flight");
    m.on_add_partitions(Ok(vec![(tp("b", 2), ErrorCode::NONE)]), t);
    assert_eq!(m.poll(t, false), None, "b-2 is in flight already, not asked twice");
    // Offsets.
    assert_eq!(m.start(Op::SendOffsets, false), Ok(Started::New));
    m.set_offsets(
        ConsumerGroupMetadata::new("g"),
        vec![(tp("in", 0), OffsetAndMetadata::new(42))],
    );
    assert_eq!(
        m.poll(t, false),
        Some(TxnRequestOut::AddOffsets { group_id: "g".into() })
    );
    m.sent();
    m.on_add_offsets(Ok(ErrorCode::NONE), t);
    assert_eq!(
        m.poll(t, false),
        Some(TxnRequestOut::FindCoordinator {
            key: "g".into(),
            key_type: 0
        })
    );
    m.sent();
    m.on_find_coordinator(0, Ok((ErrorCode::NONE, 3)), t);
    let Some(TxnRequestOut::TxnOffsetCommit { node: 3, offsets }) = m.poll(t, false) else {
        panic!("TxnOffsetCommit to the group coordinator expected");
    };
    assert_eq!(offsets.offsets[0].1.offset, 42);
    m.sent();
    assert_eq!(m.take_result(Op::SendOffsets), None, "not answered yet");
    m.on_txn_offset_commit(Ok(vec![(tp("in", 0), ErrorCode::NONE)]), t);
    assert_eq!(m.take_result(Op::SendOffsets), Some(Ok(())));
    // Commit waits for the records, then EndTxn.
    m.start(Op::Commit, false).unwrap();
    assert_eq!(m.poll(t, false), None, "records still in flight");
    assert_eq!(m.poll(t, true), Some(TxnRequestOut::EndTxn { commit: true }));
    m.sent();
    // TV1's EndTxn has no new identity to adopt, even if one were decoded.
    assert_eq!(m.on_end_txn(Ok((ErrorCode::NONE, Some((7, 5)))), t), TxnEvent::None);
    assert_eq!(m.take_result(Op::Commit), Some(Ok(())));
    assert_eq!(m.state(), &State::Ready);
    assert_eq!(m.identity(), Some((7, 0)));
}

/// TV2: no AddPartitionsToTxn and no AddOffsetsToTxn; EndTxn's new epoch is adopted.
#[test]
fn tv2_commit_adopts_the_bumped_epoch() {
    let (mut m, t) = in_txn(Protocol::V2);
    m.check_send(&tp("b", 0)).unwrap();
    assert!(m.sendable(&tp("b", 0)));
    m.start(Op::SendOffsets, true).unwrap();
    m.set_offsets(
        ConsumerGroupMetadata::new("g"),
        vec![(tp("in", 0), OffsetAndMetadata::new(1))],
    );
    assert_eq!(
        m.poll(t, false),
        Some(TxnRequestOut::FindCoordinator {
            key: "g".into(),
            key_type: 0
        })
    );
    m.sent();
    m.on_find_coordinator(0, Ok((ErrorCode::NONE, 1)), t);
    assert!(matches!(
        m.poll(t, false),
        Some(TxnRequestOut::TxnOffsetCommit { node: 1, .. })
    ));
    m.sent();
    m.on_txn_offset_commit(Ok(vec![(tp("in", 0), ErrorCode::NONE)]), t);
    m.take_result(Op::SendOffsets).unwrap().unwrap();
    m.start(Op::Commit, true).unwrap();
    assert_eq!(m.poll(t, true), Some(TxnRequestOut::EndTxn { commit: true }));
    m.sent();
    assert_eq!(
        m.on_end_txn(Ok((ErrorCode::NONE, Some((7, 1)))), t),
        TxnEvent::NewIdentity((7, 1))
    );
    assert_eq!(m.identity(), Some((7, 1)));
    assert_eq!(m.take_result(Op::Commit), Some(Ok(())));
    // The next transaction, aborted: the epoch moves again.
    m.begin().unwrap();
    m.check_send(&tp("a", 0)).unwrap();
    m.start(Op::Abort, true).unwrap();
    assert_eq!(m.poll(t, true), Some(TxnRequestOut::EndTxn { commit: false }));
    m.sent();
    assert_eq!(
        m.on_end_txn(Ok((ErrorCode::NONE, Some((7, 2)))), t),
        TxnEvent::NewIdentity((7, 2))
    );
    assert_eq!(m.take_result(Op::Abort), Some(Ok(())));
}

/// Java skips EndTxn when nothing reached a broker.
#[test]
fn an_empty_transaction_ends_without_end_txn() {
    for protocol in [Protocol::V1, Protocol::V2] {
        let (mut m, t) = ready(protocol);
        m.begin().unwrap();
        m.start(Op::Commit, protocol == Protocol::V2).unwrap();
        assert_eq!(m.poll(t, true), None, "{protocol:?}");
        assert_eq!(m.take_result(Op::Commit), Some(Ok(())));
        assert_eq!(m.state(), &State::Ready);
        m.begin().unwrap();
        m.start(Op::Abort, true).unwrap();
        assert_eq!(m.poll(t, true), None);
        assert_eq!(m.take_result(Op::Abort), Some(Ok(())));
    }
}

/// An abortable send error: commit fails, abort works, the next transaction starts clean;
/// with TV1 and an error that needs it, the abort ends with an epoch bump (KIP-360).
#[test]
fn abortable_then_abort_then_clean() {
    for (code, bumps) in [
        (ErrorCode::TOPIC_AUTHORIZATION_FAILED, false),
        (ErrorCode::INVALID_PRODUCER_EPOCH, false),
        (ErrorCode::UNKNOWN_PRODUCER_ID, true),
    ] {
        let (mut m, t) = in_txn(Protocol::V1);
        m.start(Op::Commit, false).unwrap();
        m.on_produce_failed(Some(code), "rejected");
        let e = m.take_result(Op::Commit).unwrap().unwrap_err();
        assert_eq!((e.kind, e.code), (TransactionErrorKind::Abortable, Some(code)));
        assert_eq!(m.state().name(), "ABORTABLE_ERROR");
        assert!(
            m.fail_unsent()
                .is_some_and(|e| e.code == Some(code) && !e.is_aborted_before_sent()),
            "queued records fail with the cause"
        );
        assert_eq!(kind(m.check_send(&tp("a", 0))), Some(TransactionErrorKind::Abortable));
        m.start(Op::Abort, false).unwrap();
        // Once aborting, what is still queued fails as aborted (Java's TransactionAbortedException).
        assert!(m.fail_unsent().is_some_and(|e| e.is_aborted_before_sent()));
        assert_eq!(m.poll(t, true), Some(TxnRequestOut::EndTxn { commit: false }));
        m.sent();
        m.on_end_txn(Ok((ErrorCode::NONE, None)), t);
        if bumps {
            assert_eq!(m.state(), &State::Initializing);
            abort_bumps_from_7_0(&mut m, t);
        }
        assert_eq!(m.take_result(Op::Abort), Some(Ok(())), "{code}");
        assert_eq!(m.state(), &State::Ready);
        assert_eq!(m.identity(), Some(if bumps { (7, 1) } else { (7, 0) }));
        m.begin().unwrap();
        m.check_send(&tp("a", 0)).unwrap();
        assert!(!m.sendable(&tp("a", 0)), "a new transaction adds its partitions again");
    }
}

/// INVALID_PRODUCER_ID_MAPPING: the coordinator does not know the id, so the abort skips
/// EndTxn and asks for a new id.
#[test]
fn unknown_mapping_aborts_with_a_new_id() {
    let (mut m, t) = in_txn(Protocol::V1);
    m.on_produce_failed(Some(ErrorCode::INVALID_PRODUCER_ID_MAPPING), "unknown");
    m.start(Op::Abort, false).unwrap();
    assert_eq!(m.poll(t, true), Some(TxnRequestOut::InitProducerId { current: None }));
}

/// Fencing: fatal from every request; later calls all fail with it.
#[test]
fn fencing_is_fatal() {
    let (mut m, t) = in_txn(Protocol::V2);
    m.start(Op::Commit, true).unwrap();
    m.poll(t, true);
    m.sent();
    let ev = m.on_end_txn(Ok((ErrorCode::PRODUCER_FENCED, None)), t);
    assert!(matches!(ev, TxnEvent::Fatal(_)));
    let e = m.take_result(Op::Commit).unwrap().unwrap_err();
    assert_eq!(
        (e.kind, e.code),
        (TransactionErrorKind::Fatal, Some(ErrorCode::PRODUCER_FENCED))
    );
    let e = m.start(Op::Abort, true).unwrap_err();
    assert_eq!(e.code, Some(ErrorCode::PRODUCER_FENCED));
    assert_eq!(m.begin().unwrap_err().kind, TransactionErrorKind::Fatal);
}

/// A call that timed out can be made again and picks up the same operation; another call
/// meanwhile is refused.
#[test]
fn calls_resume_after_a_timeout() {
    let t = Instant::now();
    let mut m = TransactionManager::new("x".into(), t, B);
    assert_eq!(m.start(Op::Init, true), Ok(Started::New));
    assert_eq!(m.take_result(Op::Init), None, "still running: the caller timed out");
    assert_eq!(m.start(Op::Init, true), Ok(Started::Resumed));
    assert_eq!(
        m.start(Op::Commit, true).unwrap_err().kind,
        TransactionErrorKind::InvalidState
    );
    m.poll(t, true);
    m.sent();
    m.on_find_coordinator(1, Ok((ErrorCode::NONE, 1)), t);
    m.poll(t, true);
    m.sent();
    m.on_init_producer_id(Ok((ErrorCode::NONE, (1, 0))), t);
    assert_eq!(
        m.start(Op::Init, true),
        Ok(Started::Resumed),
        "finished, result not taken"
    );
    assert_eq!(m.take_result(Op::Init), Some(Ok(())));
    assert_eq!(
        m.start(Op::Init, true).unwrap_err().kind,
        TransactionErrorKind::InvalidState,
        "init twice"
    );
}

/// Retriable answers: find the coordinator again, or back off, and ask again.
#[test]
fn retriable_answers_retry() {
    let (mut m, t) = in_txn(Protocol::V2);
    m.start(Op::Commit, true).unwrap();
    assert_eq!(m.poll(t, true), Some(TxnRequestOut::EndTxn { commit: true }));
    m.sent();
    m.on_end_txn(Ok((ErrorCode::NOT_COORDINATOR, None)), t);
    assert_eq!(m.coordinator(), None);
    assert_eq!(m.poll(t, true), None, "backoff first");
    let later = m.next_attempt().expect("a retry is due");
    assert!(later > t);
    assert!(matches!(
        m.poll(later, true),
        Some(TxnRequestOut::FindCoordinator { key_type: 1, .. })
    ));
    m.sent();
    m.on_find_coordinator(1, Ok((ErrorCode::NONE, 2)), later);
    assert_eq!(m.poll(later, true), Some(TxnRequestOut::EndTxn { commit: true }));
    m.sent();
    m.on_end_txn(Ok((ErrorCode::CONCURRENT_TRANSACTIONS, None)), later);
    assert_eq!(
        m.coordinator(),
        Some(2),
        "CONCURRENT_TRANSACTIONS keeps the coordinator"
    );
    assert_eq!(m.poll(later + FAR, true), Some(TxnRequestOut::EndTxn { commit: true }));
    m.sent();
    m.lost(later + FAR);
    assert_eq!(m.coordinator(), None, "a lost request finds the coordinator again");
    // A malformed answer is retried, never left waiting.
    let t2 = later + FAR + FAR;
    m.poll(t2, true);
    m.sent();
    m.on_find_coordinator(1, Err("truncated".into()), t2);
    assert!(m.poll(t2 + FAR, true).is_some());
}

/// A commit whose new partition waits for AddPartitionsToTxn while the coordinator is
/// unknown (it moved) finds the coordinator first: the records cannot be done before.
#[test]
fn a_commit_finds_a_lost_coordinator_for_its_partitions() {
    let (mut m, t) = in_txn(Protocol::V1);
    m.check_send(&tp("b", 0)).unwrap();
    m.start(Op::Commit, false).unwrap();
    assert_eq!(m.poll(t, false), Some(TxnRequestOut::AddPartitions(vec![tp("b", 0)])));
    m.sent();
    m.on_add_partitions(Ok(vec![(tp("b", 0), ErrorCode::NOT_COORDINATOR)]), t);
    assert_eq!(m.coordinator(), None);
    assert_eq!(
        m.poll(t + FAR, false),
        Some(TxnRequestOut::FindCoordinator {
            key: "txn-a".into(),
            key_type: 1
        }),
        "records of b-0 are not done until it is added"
    );
    m.sent();
    m.on_find_coordinator(1, Ok((ErrorCode::NONE, 1)), t + FAR);
    assert_eq!(
        m.poll(t + FAR, false),
        Some(TxnRequestOut::AddPartitions(vec![tp("b", 0)]))
    );
}

/// A coordinator that cannot be reached is looked up again; another node's failure
/// changes nothing.
#[test]
fn an_unreachable_coordinator_is_looked_up_again() {
    let (mut m, t) = in_txn(Protocol::V2);
    m.unreachable(7, t);
    assert_eq!(m.coordinator(), Some(1), "not the coordinator");
    m.unreachable(1, t);
    assert_eq!(m.coordinator(), None);
    m.start(Op::Commit, true).unwrap();
    assert!(matches!(
        m.poll(t + FAR, true),
        Some(TxnRequestOut::FindCoordinator { key_type: 1, .. })
    ));
}

/// A retriable AddPartitionsToTxn error asks for the same partitions again; a partition
/// not added yet is not sendable meanwhile.
#[test]
fn add_partitions_retry_keeps_the_partitions() {
    let (mut m, t) = ready(Protocol::V1);
    m.begin().unwrap();
    m.check_send(&tp("a", 0)).unwrap();
    m.check_send(&tp("a", 1)).unwrap();
    assert_eq!(
        m.poll(t, false),
        Some(TxnRequestOut::AddPartitions(vec![tp("a", 0), tp("a", 1)]))
    );
    m.sent();
    m.on_add_partitions(
        Ok(vec![
            (tp("a", 0), ErrorCode::CONCURRENT_TRANSACTIONS),
            (tp("a", 1), ErrorCode::OPERATION_NOT_ATTEMPTED),
        ]),
        t,
    );
    assert!(!m.sendable(&tp("a", 0)));
    assert_eq!(
        m.poll(t + FAR, false),
        Some(TxnRequestOut::AddPartitions(vec![tp("a", 0), tp("a", 1)]))
    );
    m.sent();
    m.on_add_partitions(Ok(vec![(tp("a", 0), ErrorCode::PRODUCER_FENCED)]), t + FAR);
    assert_eq!(m.state().name(), "FATAL_ERROR");
}

/// Abortable answers of coordinator requests fail `send_offsets_to_transaction` and doom
/// the transaction; fatal ones stop the producer.
#[test]
fn offsets_errors() {
    for (code, state) in [
        (ErrorCode::ILLEGAL_GENERATION, "ABORTABLE_ERROR"),
        (ErrorCode::GROUP_AUTHORIZATION_FAILED, "ABORTABLE_ERROR"),
        (ErrorCode::PRODUCER_FENCED, "FATAL_ERROR"),
    ] {
        let (mut m, t) = in_txn(Protocol::V2);
        m.start(Op::SendOffsets, true).unwrap();
        m.set_offsets(
            ConsumerGroupMetadata::new("g"),
            vec![(tp("in", 0), OffsetAndMetadata::new(1))],
        );
        m.poll(t, false);
        m.sent();
        m.on_find_coordinator(0, Ok((ErrorCode::NONE, 1)), t);
        m.poll(t, false);
        m.sent();
        m.on_txn_offset_commit(Ok(vec![(tp("in", 0), code)]), t);
        assert_eq!(m.take_result(Op::SendOffsets).unwrap().unwrap_err().code, Some(code));
        assert_eq!(m.state().name(), state, "{code}");
    }
}

/// An InitProducerId that fails retriably is asked again; a fatal one fails the call.
#[test]
fn init_errors() {
    for (code, fatal) in [
        (ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, false),
        (ErrorCode::NOT_COORDINATOR, false),
        (ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED, true),
        (ErrorCode::INVALID_PRODUCER_EPOCH, true),
    ] {
        let t = Instant::now();
        let mut m = TransactionManager::new("x".into(), t, B);
        m.start(Op::Init, true).unwrap();
        m.poll(t, true);
        m.sent();
        m.on_find_coordinator(1, Ok((ErrorCode::NONE, 1)), t);
        m.poll(t, true);
        m.sent();
        m.on_init_producer_id(Ok((code, (-1, -1))), t);
        if fatal {
            let e = m.take_result(Op::Init).unwrap().unwrap_err();
            assert_eq!(e.kind, TransactionErrorKind::Fatal);
            // As Java: a coordinator's INVALID_PRODUCER_EPOCH is reported as fencing.
            let reported = if code == ErrorCode::INVALID_PRODUCER_EPOCH {
                ErrorCode::PRODUCER_FENCED
            } else {
                code
            };
            assert_eq!(e.code, Some(reported));
        } else {
            assert_eq!(m.take_result(Op::Init), None);
            assert_eq!(m.state(), &State::Initializing);
            assert!(m.poll(t + FAR, true).is_some(), "{code}: asked again");
        }
    }
}

/// The cases the reviews of issue 17 added (a file of their own: size).
#[path = "transaction_review_tests.rs"]
mod review;
