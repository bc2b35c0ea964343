//! The classification of Produce answers, one row per rule.

use super::*;

#[test]
fn every_answer_has_one_meaning() {
    use ErrorCode as E;
    let retry = |maybe_written, refresh| Verdict::Retry { maybe_written, refresh };
    let fail = |maybe_written| Verdict::Fail { maybe_written };
    // (code, records, attempts, maybe written before, idempotent, verdict)
    let table = [
        (E::NONE, 5, 1, false, true, Verdict::Delivered),
        (E::DUPLICATE_SEQUENCE_NUMBER, 5, 2, true, true, Verdict::Delivered),
        (E::MESSAGE_TOO_LARGE, 5, 1, false, true, Verdict::Split),
        // Issue 10, defect 3: never split (and renumber) what may be in the log.
        (E::MESSAGE_TOO_LARGE, 5, 2, true, true, fail(false)),
        (E::MESSAGE_TOO_LARGE, 1, 1, false, true, fail(false)),
        (
            E::OUT_OF_ORDER_SEQUENCE_NUMBER,
            5,
            1,
            false,
            true,
            Verdict::Sequence {
                unknown_producer: false,
            },
        ),
        (
            E::UNKNOWN_PRODUCER_ID,
            5,
            1,
            false,
            true,
            Verdict::Sequence { unknown_producer: true },
        ),
        (E::INVALID_PRODUCER_EPOCH, 5, 1, false, true, Verdict::Fenced),
        (E::PRODUCER_FENCED, 5, 1, false, true, Verdict::Fenced),
        (E::NOT_LEADER_OR_FOLLOWER, 5, 1, false, true, retry(false, true)),
        (E::NOT_ENOUGH_REPLICAS, 5, 1, false, true, retry(false, false)),
        (
            E::NOT_ENOUGH_REPLICAS_AFTER_APPEND,
            5,
            1,
            false,
            true,
            retry(true, false),
        ),
        (E::REQUEST_TIMED_OUT, 5, 1, false, true, retry(true, false)),
        (E::NETWORK_EXCEPTION, 5, 1, false, true, retry(true, true)),
        (E::KAFKA_STORAGE_ERROR, 5, 1, false, true, retry(false, true)),
        (E::CORRUPT_MESSAGE, 5, 1, false, true, retry(false, false)),
        (E::CORRUPT_MESSAGE, 5, 2, false, true, fail(false)),
        // Beyond Java: UNKNOWN_SERVER_ERROR is retried (twice) only when a retry cannot
        // duplicate, and always counts as possibly written.
        (E::UNKNOWN_SERVER_ERROR, 5, 1, false, true, retry(true, false)),
        (E::UNKNOWN_SERVER_ERROR, 5, 1, false, false, fail(true)),
        (E::TOPIC_AUTHORIZATION_FAILED, 5, 1, false, true, fail(false)),
        (E::INVALID_RECORD, 5, 1, false, true, fail(false)),
        (E::REBOOTSTRAP_REQUIRED, 5, 1, false, true, retry(false, true)),
    ];
    for (code, records, attempts, maybe, idempotent, want) in table {
        let b = test_batch(records, attempts, maybe);
        assert_eq!(
            classify(code, &b, idempotent),
            want,
            "{code} records={records} attempts={attempts} maybe_written={maybe} idempotent={idempotent}"
        );
    }
}

#[test]
fn unknown_server_error_is_retried_twice_then_fails_possibly_persisted() {
    let mut b = test_batch(5, 1, false);
    for _ in 0..UNKNOWN_SERVER_ERROR_RETRIES {
        assert!(matches!(
            classify(ErrorCode::UNKNOWN_SERVER_ERROR, &b, true),
            Verdict::Retry { .. }
        ));
        b.unknown_server_errors += 1;
    }
    assert_eq!(
        classify(ErrorCode::UNKNOWN_SERVER_ERROR, &b, true),
        Verdict::Fail { maybe_written: true }
    );
}
