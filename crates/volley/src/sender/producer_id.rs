//! The idempotent producer's id and epoch, without I/O (time is an argument): when to ask
//! for one, how to read the answer, when to retry, and when the producer cannot go on.

use std::time::{Duration, Instant};

use volley_protocol::control::InitProducerIdAnswer;
use volley_protocol::ErrorCode;

use super::backoff;
use super::partitions::{Identity, NO_IDENTITY};

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Idempotence is off: batches carry no producer id.
    Disabled,
    /// No id yet (or a fresh one is wanted).
    Missing,
    /// An InitProducerId is in flight; `previous` is the id and epoch it bumps, if any.
    Requesting {
        previous: Option<Identity>,
    },
    Ready(Identity),
    /// The producer cannot get an id: everything fails with this reason.
    Fatal(String),
}

/// What an InitProducerId answer changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum IdEvent {
    /// A new id or epoch is in force; `replaced`: the one it replaces, if there was one.
    NewIdentity { id: Identity, replaced: Option<Identity> },
    /// The request failed; it is asked again after a backoff.
    Retrying(String),
    /// The producer cannot go on (authorization, an unsupported broker).
    Fatal(String),
}

/// The producer id and epoch, and the requests for them.
#[derive(Debug)]
pub(super) struct ProducerIdState {
    state: State,
    /// Consecutive failed requests (for the backoff).
    failures: u32,
    /// No request before this.
    not_before: Instant,
    /// The next request asks for a fresh id rather than a bump (after fencing, or when a
    /// bumped id was not known either).
    fresh: bool,
    /// The next bump answers UNKNOWN_PRODUCER_ID: remember what it gives.
    for_unknown: bool,
    /// The identity a bump for UNKNOWN_PRODUCER_ID produced: if the broker does not know
    /// that one either (no KIP-360 bumps), ask for a fresh id.
    unknown_bumped: Option<Identity>,
    /// The last identity the producer had (a new one replaces it: an epoch bump, or a
    /// fresh id after fencing).
    last: Option<Identity>,
    backoff: (Duration, Duration),
}

impl ProducerIdState {
    /// `backoff`: `retry.backoff.ms` and `retry.backoff.max.ms`.
    pub(super) fn new(idempotent: bool, now: Instant, backoff: (Duration, Duration)) -> Self {
        Self {
            state: if idempotent { State::Missing } else { State::Disabled },
            failures: 0,
            not_before: now,
            fresh: false,
            for_unknown: false,
            unknown_bumped: None,
            last: None,
            backoff,
        }
    }

    /// The identity batches are stamped with now, if there is one.
    pub(super) fn current(&self) -> Option<Identity> {
        match self.state {
            State::Disabled => Some(NO_IDENTITY),
            State::Ready(id) => Some(id),
            _ => None,
        }
    }

    /// The state's name in librdkafka's statistics (`eos.idemp_state`).
    pub(super) fn state_name(&self) -> &'static str {
        match self.state {
            State::Disabled => "Init",
            State::Missing => "RequestPID",
            State::Requesting { .. } => "WaitPID",
            State::Ready(_) => "Assigned",
            State::Fatal(_) => "FatalError",
        }
    }

    /// Why the producer cannot go on, if it cannot.
    #[cfg(test)]
    pub(super) fn fatal(&self) -> Option<&str> {
        match &self.state {
            State::Fatal(m) => Some(m),
            _ => None,
        }
    }

    /// When a request would next be allowed (for the sender's timer).
    pub(super) fn next_attempt(&self) -> Option<Instant> {
        matches!(self.state, State::Missing | State::Ready(_)).then_some(self.not_before)
    }

    /// What to ask a broker now: `Some(None)` a fresh id, `Some(Some(id))` a bump of `id`
    /// (some partition has a gap and nothing of its own in flight), `None` nothing.
    pub(super) fn wanted(&self, now: Instant, bump_wanted: bool) -> Option<Option<Identity>> {
        if now < self.not_before {
            return None;
        }
        match self.state {
            State::Missing => Some(None),
            State::Ready(id) if bump_wanted => Some((!self.fresh).then_some(id)),
            _ => None,
        }
    }

    /// The request for `wanted` was sent.
    pub(super) fn requested(&mut self, previous: Option<Identity>) {
        self.state = State::Requesting { previous };
        self.fresh = false;
    }

    /// A batch stamped `stamp` was answered UNKNOWN_PRODUCER_ID at the head of its
    /// partition: the next bump is for that, and if `stamp` is itself what such a bump
    /// gave, the broker does not do bumps: ask for a fresh id.
    pub(super) fn unknown_producer(&mut self, stamp: Identity) {
        self.fresh |= self.unknown_bumped == Some(stamp);
        self.for_unknown = true;
    }

    /// The broker fenced the epoch: the next request asks for a fresh id.
    pub(super) fn fenced(&mut self) {
        self.fresh = true;
    }

    /// The broker cannot give an idempotent producer an id at all.
    pub(super) fn unsupported(&mut self, reason: String) -> IdEvent {
        self.state = State::Fatal(reason.clone());
        IdEvent::Fatal(reason)
    }

    /// The connection carrying the request was lost: ask again after a backoff.
    pub(super) fn lost(&mut self, now: Instant, why: &str) -> IdEvent {
        self.retry(now, format!("InitProducerId not answered: {why}"))
    }

    fn retry(&mut self, now: Instant, why: String) -> IdEvent {
        self.failures += 1;
        self.not_before = now + backoff(self.backoff.0, self.backoff.1, self.failures);
        self.state = match self.state {
            State::Requesting { previous: Some(id) } => State::Ready(id),
            State::Requesting { previous: None } => State::Missing,
            ref s => s.clone(),
        };
        IdEvent::Retrying(why)
    }

    /// Reads an answer; `Err` is an answer that did not decode (retried like any failed
    /// request: a producer must never wait forever on one bad answer).
    pub(super) fn on_answer(&mut self, answer: Result<InitProducerIdAnswer, String>, now: Instant) -> IdEvent {
        let State::Requesting { previous } = self.state else {
            return IdEvent::Retrying("an InitProducerId answer nobody asked for".into());
        };
        let a = match answer {
            Ok(a) => a,
            Err(e) => return self.retry(now, format!("malformed InitProducerId answer: {e}")),
        };
        if a.error.is_ok() {
            let id = (a.producer_id, a.producer_epoch);
            self.state = State::Ready(id);
            self.failures = 0;
            self.unknown_bumped = std::mem::take(&mut self.for_unknown).then_some(id);
            let replaced = self.last.replace(id);
            return IdEvent::NewIdentity { id, replaced };
        }
        let fatal = matches!(
            a.error,
            ErrorCode::CLUSTER_AUTHORIZATION_FAILED | ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
        ) || previous.is_none() && !a.error.is_retriable() && a.error != ErrorCode::UNKNOWN_SERVER_ERROR;
        if fatal {
            let msg = format!("InitProducerId failed with {}", a.error);
            self.state = State::Fatal(msg.clone());
            return IdEvent::Fatal(msg);
        }
        if previous.is_some() && !a.error.is_retriable() {
            // The broker would not bump this epoch (tansu answers UNKNOWN_SERVER_ERROR for an
            // id it does not know): a fresh producer id is just as safe, since partitions
            // apply rule 2 to any change of identity.
            self.fresh = true;
        }
        self.retry(now, format!("InitProducerId failed with {}", a.error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: (Duration, Duration) = (Duration::from_millis(100), Duration::from_millis(1000));

    fn answer(error: ErrorCode, id: i64, epoch: i16) -> Result<InitProducerIdAnswer, String> {
        Ok(InitProducerIdAnswer {
            error,
            producer_id: id,
            producer_epoch: epoch,
            throttle_time_ms: 0,
        })
    }

    #[test]
    fn idempotence_off_needs_no_request() {
        let t = Instant::now();
        let s = ProducerIdState::new(false, t, B);
        assert_eq!(s.current(), Some(NO_IDENTITY));
        assert_eq!(s.wanted(t, true), None);
    }

    #[test]
    fn a_fresh_id_then_a_bump_of_it() {
        let t = Instant::now();
        let mut s = ProducerIdState::new(true, t, B);
        assert_eq!(s.current(), None);
        assert_eq!(s.wanted(t, false), Some(None));
        s.requested(None);
        assert_eq!(s.wanted(t, false), None, "one request at a time");
        assert_eq!(
            s.on_answer(answer(ErrorCode::NONE, 7, 0), t),
            IdEvent::NewIdentity {
                id: (7, 0),
                replaced: None
            }
        );
        assert_eq!(s.wanted(t, false), None, "no bump unless a partition wants one");
        assert_eq!(s.wanted(t, true), Some(Some((7, 0))));
        // The bump names what it replaces (the sender logs it as a WARN line).
        s.requested(Some((7, 0)));
        assert_eq!(
            s.on_answer(answer(ErrorCode::NONE, 7, 1), t),
            IdEvent::NewIdentity {
                id: (7, 1),
                replaced: Some((7, 0))
            }
        );
    }

    /// Defect 2 of issue 10: a body that does not decode left the state "requesting" for
    /// good and the producer stuck.
    #[test]
    fn a_malformed_answer_is_retried_after_a_backoff() {
        let t = Instant::now();
        let mut s = ProducerIdState::new(true, t, B);
        s.requested(None);
        assert!(matches!(s.on_answer(Err("truncated".into()), t), IdEvent::Retrying(_)));
        assert_eq!(s.wanted(t, false), None, "not at once");
        assert_eq!(s.wanted(t + Duration::from_millis(200), false), Some(None));
        // A malformed answer to a bump retries the bump.
        s.requested(None);
        s.on_answer(answer(ErrorCode::NONE, 7, 0), t);
        s.requested(Some((7, 0)));
        s.on_answer(Err("bad".into()), t);
        assert_eq!(s.current(), Some((7, 0)));
        assert_eq!(s.wanted(t + Duration::from_secs(2), true), Some(Some((7, 0))));
    }

    /// Defect 9 of issue 10: fatal answers must stop the producer at once.
    #[test]
    fn authorization_and_unknown_non_retriable_errors_are_fatal() {
        let t = Instant::now();
        for (code, previous, fatal) in [
            (ErrorCode::CLUSTER_AUTHORIZATION_FAILED, None, true),
            (ErrorCode::CLUSTER_AUTHORIZATION_FAILED, Some((7, 0)), true),
            (ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED, None, true),
            (ErrorCode::UNSUPPORTED_VERSION, None, true),
            (ErrorCode::INVALID_REQUEST, None, true),
            (ErrorCode::COORDINATOR_NOT_AVAILABLE, None, false),
            (ErrorCode::NOT_COORDINATOR, None, false),
            (ErrorCode::UNKNOWN_SERVER_ERROR, None, false),
            // A bump the broker refuses falls back to a fresh id.
            (ErrorCode::INVALID_PRODUCER_EPOCH, Some((7, 0)), false),
            (ErrorCode::UNKNOWN_SERVER_ERROR, Some((7, 0)), false),
        ] {
            let mut s = ProducerIdState::new(true, t, B);
            s.requested(None);
            s.on_answer(answer(ErrorCode::NONE, 7, 0), t);
            s.requested(previous);
            let ev = s.on_answer(answer(code, -1, -1), t);
            assert_eq!(
                matches!(ev, IdEvent::Fatal(_)),
                fatal,
                "{code} after {previous:?}: {ev:?}"
            );
            assert_eq!(s.fatal().is_some(), fatal);
        }
    }

    #[test]
    fn a_refused_bump_asks_for_a_fresh_id() {
        let t = Instant::now();
        let mut s = ProducerIdState::new(true, t, B);
        s.requested(None);
        s.on_answer(answer(ErrorCode::NONE, 7, 0), t);
        s.requested(Some((7, 0)));
        s.on_answer(answer(ErrorCode::INVALID_PRODUCER_EPOCH, -1, -1), t);
        assert_eq!(s.wanted(t + Duration::from_secs(2), true), Some(None));
    }

    #[test]
    fn fencing_and_a_forgotten_bump_ask_for_a_fresh_id() {
        let t = Instant::now();
        let mut s = ProducerIdState::new(true, t, B);
        s.requested(None);
        s.on_answer(answer(ErrorCode::NONE, 7, 0), t);
        s.fenced();
        assert_eq!(s.wanted(t, true), Some(None));
        s.requested(None);
        s.on_answer(answer(ErrorCode::NONE, 8, 0), t);
        // The broker forgot (8, 0): bump it; then it forgets the bumped one too: fresh.
        s.unknown_producer((8, 0));
        assert_eq!(s.wanted(t, true), Some(Some((8, 0))));
        s.requested(Some((8, 0)));
        s.on_answer(answer(ErrorCode::NONE, 8, 1), t);
        s.unknown_producer((8, 1));
        assert_eq!(s.wanted(t, true), Some(None));
    }

    #[test]
    fn a_lost_request_is_asked_again_with_growing_backoff() {
        let t = Instant::now();
        let mut s = ProducerIdState::new(true, t, B);
        s.requested(None);
        s.lost(t, "connection closed");
        let first = s.next_attempt().expect("retry time");
        s.requested(None);
        s.lost(t, "connection closed");
        let second = s.next_attempt().expect("retry time");
        assert!(first > t && second > first, "{first:?} {second:?}");
        assert!(second <= t + Duration::from_millis(1200));
    }
}
