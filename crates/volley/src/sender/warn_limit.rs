//! Rate limiting of the sender's WARN and ERROR lines, without I/O (time is an argument).
//!
//! Lines are keyed by what they are about (a broker's address, a topic) and their cause. The
//! first event of a key is logged at once and opens a window of [`WINDOW`]; later events of
//! that key within the window are only counted (the latest text is kept). When the window
//! ends, one line repeats the latest text with the count ("(12 more in the last 10 s)") and
//! opens the next window, so a steady fault logs one line per key per window. A window that
//! ends without events closes: the next event is logged at once again. Counts are never
//! dropped: [`WarnLimit::drain`] gives what is left when the sender stops.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// At most one line per key per this long.
pub(crate) const WINDOW: Duration = Duration::from_secs(10);

/// Why a line is logged: the second half of its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Cause {
    /// A connection could not be made.
    Connect,
    /// A connection ended with requests pending on it.
    Disconnect,
    /// A batch is sent again.
    Retry,
    /// A wanted topic is missing from metadata, or some of its partitions lack a leader.
    Metadata,
    /// A broker asked the producer to slow down (a quota).
    Throttle,
    /// An InitProducerId request failed and is asked again.
    ProducerId,
    /// A new producer id or epoch replaced the one in use.
    NewEpoch,
    /// Records failed for good: not persisted, or possibly persisted (logged at ERROR).
    Failed,
}

impl Cause {
    /// A short name for the log's `cause` field.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Disconnect => "disconnect",
            Self::Retry => "retry",
            Self::Metadata => "metadata",
            Self::Throttle => "throttle",
            Self::ProducerId => "producer_id",
            Self::NewEpoch => "new_epoch",
            Self::Failed => "records_failed",
        }
    }

    /// Whether lines of this cause are errors (data loss) rather than warnings.
    pub(crate) fn is_error(self) -> bool {
        matches!(self, Self::Failed)
    }
}

/// A line to log now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    pub(crate) cause: Cause,
    pub(crate) text: String,
}

#[derive(Debug)]
struct Window {
    opened: Instant,
    suppressed: u64,
    latest: String,
}

/// The limiter: open windows by cause, then by subject (looked up by `&str`, so an event
/// that is only counted allocates nothing but its text).
#[derive(Debug)]
pub(crate) struct WarnLimit {
    window: Duration,
    open: HashMap<Cause, HashMap<String, Window>>,
}

impl Default for WarnLimit {
    fn default() -> Self {
        Self::new(WINDOW)
    }
}

impl WarnLimit {
    /// A limiter with windows of `window`.
    pub(crate) fn new(window: Duration) -> Self {
        Self {
            window,
            open: HashMap::new(),
        }
    }

    fn with_count(&self, text: &str, suppressed: u64) -> String {
        if suppressed == 0 {
            return text.to_owned();
        }
        format!("{text} ({suppressed} more in the last {} s)", self.window.as_secs())
    }

    /// An event about `subject` for `cause`: the line to log now, or `None` if it is only
    /// counted.
    pub(crate) fn note(&mut self, subject: &str, cause: Cause, text: String, now: Instant) -> Option<Line> {
        let window = self.window;
        let by_subject = self.open.entry(cause).or_default();
        let carried = match by_subject.get_mut(subject) {
            Some(w) if now < w.opened + window => {
                w.suppressed += 1;
                w.latest = text;
                return None;
            }
            // An ended window that `due` has not looked at yet: its count goes with this line.
            Some(w) => {
                let n = w.suppressed;
                w.opened = now;
                w.suppressed = 0;
                n
            }
            None => {
                by_subject.insert(
                    subject.to_owned(),
                    Window {
                        opened: now,
                        suppressed: 0,
                        latest: String::new(),
                    },
                );
                0
            }
        };
        Some(Line {
            cause,
            text: self.with_count(&text, carried),
        })
    }

    /// The lines of windows that ended by `now` with events counted (each opens the next
    /// window); windows that ended without any close.
    pub(crate) fn due(&mut self, now: Instant) -> Vec<Line> {
        let mut lines = Vec::new();
        let window = self.window;
        for (cause, by_subject) in &mut self.open {
            by_subject.retain(|_, w| {
                if now < w.opened + window {
                    return true;
                }
                if w.suppressed == 0 {
                    return false;
                }
                lines.push((*cause, std::mem::take(&mut w.latest), w.suppressed));
                w.opened = now;
                w.suppressed = 0;
                true
            });
        }
        lines
            .into_iter()
            .map(|(cause, text, n)| Line {
                cause,
                text: self.with_count(&text, n),
            })
            .collect()
    }

    /// When `due` next has a line to give, if any window holds counted events.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.open
            .values()
            .flat_map(HashMap::values)
            .filter(|w| w.suppressed > 0)
            .map(|w| w.opened + self.window)
            .min()
    }

    /// Every count still held, as lines (the sender stops).
    pub(crate) fn drain(&mut self) -> Vec<Line> {
        let mut lines = Vec::new();
        for (cause, by_subject) in std::mem::take(&mut self.open) {
            for (_, w) in by_subject {
                if w.suppressed > 0 {
                    lines.push(Line {
                        cause,
                        text: self.with_count(&w.latest, w.suppressed),
                    });
                }
            }
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn texts(lines: &[Line]) -> Vec<&str> {
        lines.iter().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn the_first_event_is_logged_at_once_and_the_next_ones_counted() {
        let t = Instant::now();
        let mut w = WarnLimit::default();
        let first = w.note("b1:9092", Cause::Connect, "refused 1".into(), t);
        assert_eq!(
            first,
            Some(Line {
                cause: Cause::Connect,
                text: "refused 1".into()
            })
        );
        for i in 2..=13 {
            assert_eq!(
                w.note("b1:9092", Cause::Connect, format!("refused {i}"), t + ms(700 * i)),
                None
            );
        }
        assert_eq!(w.next_due(), Some(t + WINDOW));
        assert!(w.due(t + ms(9_999)).is_empty());
        // The window ends: one line with the latest text and the count.
        let lines = w.due(t + WINDOW);
        assert_eq!(texts(&lines), vec!["refused 13 (12 more in the last 10 s)"]);
        assert_eq!(lines[0].cause, Cause::Connect);
        assert_eq!(w.next_due(), None, "nothing counted in the new window yet");
    }

    #[test]
    fn keys_are_the_subject_and_the_cause() {
        let t = Instant::now();
        let mut w = WarnLimit::default();
        assert!(w.note("b1", Cause::Connect, "a".into(), t).is_some());
        assert!(w.note("b2", Cause::Connect, "b".into(), t).is_some(), "another broker");
        assert!(w.note("b1", Cause::Retry, "c".into(), t).is_some(), "another cause");
        assert!(w.note("b1", Cause::Connect, "d".into(), t + ms(1)).is_none());
        assert!(w.note("b2", Cause::Connect, "e".into(), t + ms(1)).is_none());
        let mut lines = texts(&w.due(t + WINDOW))
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>();
        lines.sort();
        assert_eq!(
            lines,
            vec!["d (1 more in the last 10 s)", "e (1 more in the last 10 s)"]
        );
    }

    /// A steady fault: one line per window, each with the count of the window before, and
    /// every event logged or counted.
    #[test]
    fn a_steady_fault_logs_one_line_per_window() {
        fn count(l: &Line) -> u64 {
            let n = l.text.rsplit_once(" (").map_or("", |(_, r)| r);
            n.split(' ').next().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0)
        }
        let t = Instant::now();
        let mut w = WarnLimit::default();
        let (mut lines, mut events) = (0, 0);
        // An event every 100 ms for 60 s; `due` runs every 200 ms, as a sender pass would.
        for i in 0..600u64 {
            let now = t + ms(100 * i);
            if let Some(l) = w.note("b1", Cause::Retry, format!("retry {i}"), now) {
                // A line logged at once stands for itself and what it carries.
                assert!(i == 0 || l.text.ends_with("more in the last 10 s)"), "{}", l.text);
                lines += 1;
                events += 1 + count(&l);
            }
            if i % 2 == 0 {
                for l in w.due(now + ms(50)) {
                    assert!(l.text.ends_with("more in the last 10 s)"), "{}", l.text);
                    lines += 1;
                    events += count(&l);
                }
            }
        }
        assert!((6..=7).contains(&lines), "{lines} lines in 60 s");
        events += w.drain().iter().map(count).sum::<u64>();
        assert_eq!(events, 600);
    }

    #[test]
    fn a_quiet_window_closes_and_the_next_event_is_logged_at_once() {
        let t = Instant::now();
        let mut w = WarnLimit::default();
        assert!(w.note("b1", Cause::Throttle, "x".into(), t).is_some());
        assert!(w.due(t + WINDOW).is_empty());
        assert!(w.note("b1", Cause::Throttle, "y".into(), t + WINDOW + ms(1)).is_some());
    }

    /// An event after the window ended, before `due` looked: logged at once, with the count
    /// of the window that ended.
    #[test]
    fn a_late_due_carries_its_count_into_the_next_line() {
        let t = Instant::now();
        let mut w = WarnLimit::default();
        assert!(w.note("t", Cause::Failed, "a".into(), t).is_some());
        assert!(w.note("t", Cause::Failed, "b".into(), t + ms(5)).is_none());
        let late = w.note("t", Cause::Failed, "c".into(), t + WINDOW + ms(5));
        assert_eq!(late.map(|l| l.text), Some("c (1 more in the last 10 s)".into()));
        assert!(w.due(t + WINDOW + ms(6)).is_empty());
    }

    #[test]
    fn drain_gives_every_count_left() {
        let t = Instant::now();
        let mut w = WarnLimit::default();
        assert!(w.note("b1", Cause::Disconnect, "a".into(), t).is_some());
        assert!(w.note("b1", Cause::Disconnect, "b".into(), t + ms(1)).is_none());
        assert!(w.note("b1", Cause::Disconnect, "c".into(), t + ms(2)).is_none());
        assert!(w.note("b2", Cause::Disconnect, "quiet".into(), t).is_some());
        assert_eq!(texts(&w.drain()), vec!["c (2 more in the last 10 s)"]);
        assert!(w.drain().is_empty());
        assert!(Cause::Failed.is_error() && !Cause::Connect.is_error());
    }
}
