//! `volley produce`'s progress: records read, delivered, failed and in flight, records/s and
//! MB/s. On a terminal it is one live line, rewritten in place; otherwise a plain line every
//! interval (10 s unless `--progress-interval-ms`), which a log collector keeps as it is.
//!
//! Everything else written to standard error while a live line is shown (log lines, line
//! errors, signal notices) goes through [`eprint`] or [`clear_live_line`], which erase the
//! live line first so that it never runs into another line.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Whether a live line is on the terminal now (set and cleared under stderr's lock).
static LIVE: AtomicBool = AtomicBool::new(false);

/// Standard error, locked, with the live line erased: for log lines (the tracing writer).
pub(crate) fn clear_live_line() -> std::io::StderrLock<'static> {
    let mut err = std::io::stderr().lock();
    if LIVE.swap(false, Ordering::Relaxed) {
        let _ = err.write_all(b"\r\x1b[K");
    }
    err
}

/// `eprintln!` that erases the live line first.
pub(crate) fn eprint(msg: impl std::fmt::Display) {
    let mut err = clear_live_line();
    let _ = writeln!(err, "{msg}");
}

/// What the run has done so far: the reading loop and the collector store, the progress
/// task reads.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) read: AtomicU64,
    pub(super) read_bytes: AtomicU64,
    pub(super) delivered: AtomicU64,
    pub(super) delivered_bytes: AtomicU64,
    pub(super) failed: AtomicU64,
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// `--quiet`.
    Off,
    /// A live line on a terminal, rewritten every interval.
    Live(Duration),
    /// A plain line every interval.
    Lines(Duration),
}

impl Mode {
    /// `quiet`, `interval_ms` as given; `terminal`: whether standard error is one.
    pub(super) fn choose(quiet: bool, interval_ms: Option<u64>, terminal: bool) -> Self {
        match (quiet, terminal) {
            (true, _) => Self::Off,
            (false, true) => Self::Live(Duration::from_millis(interval_ms.unwrap_or(1000).max(1))),
            (false, false) => Self::Lines(Duration::from_millis(interval_ms.unwrap_or(10_000).max(1))),
        }
    }
}

/// One progress text: totals, and rates since the previous one.
struct Snapshot {
    at: Instant,
    delivered: u64,
    bytes: u64,
}

/// The progress text; `retries`: records sent again so far (the producer's
/// `record-retry-total`).
fn text(
    c: &Counters,
    prev: &Snapshot,
    now: Instant,
    start: Instant,
    total_bytes: Option<u64>,
    retries: u64,
) -> (String, Snapshot) {
    let read = c.read.load(Ordering::Relaxed);
    let delivered = c.delivered.load(Ordering::Relaxed);
    let failed = c.failed.load(Ordering::Relaxed);
    let bytes = c.delivered_bytes.load(Ordering::Relaxed);
    let dt = now.saturating_duration_since(prev.at).as_secs_f64().max(1e-9);
    let rate = delivered.saturating_sub(prev.delivered) as f64 / dt;
    let mbps = bytes.saturating_sub(prev.bytes) as f64 / dt / 1e6;
    let mut s = format!(
        "progress: {:.0} s, {read} read, {delivered} delivered, {failed} failed, {} in flight, {rate:.0} records/s, {mbps:.2} MB/s, {retries} retries",
        now.saturating_duration_since(start).as_secs_f64(),
        read.saturating_sub(delivered + failed),
    );
    if let Some(total) = total_bytes.filter(|t| *t > 0) {
        let pct = c.read_bytes.load(Ordering::Relaxed) as f64 * 100.0 / total as f64;
        s.push_str(&format!(", {pct:.0}% of input"));
    }
    (
        s,
        Snapshot {
            at: now,
            delivered,
            bytes,
        },
    )
}

/// The progress task; [`Progress::stop`] ends it and erases the live line.
pub(super) struct Progress {
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// Starts showing progress (nothing for [`Mode::Off`]). `total_bytes`: the input's size
    /// when it is known (files only).
    pub(super) fn start(
        mode: Mode,
        counters: Arc<Counters>,
        total_bytes: Option<u64>,
        metrics: volley::MetricsHandle,
    ) -> Self {
        let (interval, live) = match mode {
            Mode::Off => return Self { task: None },
            Mode::Live(i) => (i, true),
            Mode::Lines(i) => (i, false),
        };
        let start = Instant::now();
        let task = tokio::spawn(async move {
            let mut prev = Snapshot {
                at: start,
                delivered: 0,
                bytes: 0,
            };
            loop {
                tokio::time::sleep(interval).await;
                let retries = metrics.snapshot().get("record-retry-total").unwrap_or(0.0) as u64;
                let (line, next) = text(&counters, &prev, Instant::now(), start, total_bytes, retries);
                prev = next;
                let mut err = std::io::stderr().lock();
                if live {
                    let _ = write!(err, "\r{line}\x1b[K");
                    LIVE.store(true, Ordering::Relaxed);
                } else {
                    let _ = writeln!(err, "{line}");
                }
                let _ = err.flush();
            }
        });
        Self { task: Some(task) }
    }

    /// Stops the task and erases the live line.
    pub(super) fn stop(self) {
        if let Some(t) = self.task {
            t.abort();
        }
        drop(clear_live_line());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!(Mode::choose(true, Some(5), true), Mode::Off);
        assert_eq!(Mode::choose(false, None, true), Mode::Live(Duration::from_secs(1)));
        assert_eq!(Mode::choose(false, None, false), Mode::Lines(Duration::from_secs(10)));
        assert_eq!(
            Mode::choose(false, Some(200), false),
            Mode::Lines(Duration::from_millis(200))
        );
    }

    #[test]
    fn the_text_has_totals_and_rates_since_the_last_one() {
        let c = Counters::default();
        let t = Instant::now();
        c.read.store(1500, Ordering::Relaxed);
        c.read_bytes.store(250, Ordering::Relaxed);
        c.delivered.store(1200, Ordering::Relaxed);
        c.delivered_bytes.store(3_000_000, Ordering::Relaxed);
        c.failed.store(100, Ordering::Relaxed);
        let prev = Snapshot {
            at: t,
            delivered: 200,
            bytes: 1_000_000,
        };
        let (s, next) = text(&c, &prev, t + Duration::from_secs(2), t, Some(1000), 7);
        assert_eq!(
            s,
            "progress: 2 s, 1500 read, 1200 delivered, 100 failed, 200 in flight, 500 records/s, 1.00 MB/s, 7 retries, 25% of input"
        );
        assert_eq!((next.delivered, next.bytes), (1200, 3_000_000));
    }
}
