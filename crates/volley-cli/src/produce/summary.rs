//! How a `volley produce` run ended: the summary printed on standard output, and the same as
//! one JSON object for `--summary-json`, written on every exit path (usage errors, fatal
//! errors and signals included).

use std::path::Path;

use serde_json::{json, Map, Value};

use super::report::Summary;

/// The end of a run.
#[derive(Debug, Default)]
pub(super) struct End {
    /// The process's exit code.
    pub(super) code: u8,
    /// The first stopping signal, if one came.
    pub(super) signal: Option<&'static str>,
    /// The error that ended the run (a usage error, or a fatal one), if any.
    pub(super) error: Option<String>,
    /// Lines read.
    pub(super) read: u64,
    /// What came back from the sends.
    pub(super) summary: Summary,
    /// Seconds from the first read to the end.
    pub(super) elapsed: f64,
    /// Records without a key, when the key is taken from JSON.
    pub(super) keyless: Option<u64>,
    /// Empty records skipped (`--skip-empty`).
    pub(super) skipped: u64,
    /// With a transactional id: lines an earlier run had committed, skipped on resuming.
    pub(super) resumed: Option<u64>,
}

impl End {
    /// A run that ended before reading anything.
    pub(super) fn early(code: u8, error: String) -> Self {
        Self {
            code,
            error: Some(error),
            ..Self::default()
        }
    }

    /// `completed` (the input was read to its end or to `-c`), `signal` or `error`.
    fn reason(&self) -> &'static str {
        if self.signal.is_some() {
            "signal"
        } else if self.error.is_some() {
            "error"
        } else {
            "completed"
        }
    }

    fn per_second(&self, n: u64) -> f64 {
        n as f64 / self.elapsed.max(1e-9)
    }

    /// The summary on standard output.
    pub(super) fn print(&self) {
        use std::fmt::Write;
        let s = &self.summary;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "records: {} delivered, {} failed, {} read",
            s.delivered, s.failed, self.read
        );
        let _ = writeln!(out, "bytes delivered: {} (keys and values)", s.bytes);
        if let Some(k) = self.keyless {
            let _ = writeln!(out, "records without key: {k}");
        }
        if self.skipped > 0 {
            let _ = writeln!(out, "empty records skipped: {}", self.skipped);
        }
        if let Some(r) = self.resumed {
            let _ = writeln!(out, "resumed: {r} lines committed by an earlier run skipped");
        }
        for (p, n) in &s.per_partition {
            let _ = writeln!(out, "partition {p}: {n} records");
        }
        for (c, n) in &s.failures {
            let _ = writeln!(out, "failed ({c}): {n}");
        }
        if let Some(name) = self.signal {
            let _ = writeln!(
                out,
                "stopped by {name} after line {}; lines after it were not read",
                self.read
            );
        }
        let _ = writeln!(
            out,
            "throughput: {:.0} records/s, {:.2} MB/s over {:.2} s",
            self.per_second(s.delivered),
            self.per_second(s.bytes) / 1e6,
            self.elapsed
        );
        // A closed pipe (`| head`) or a full disk must not end the run in a panic.
        let _ = crate::write_stdout(out.as_bytes());
    }

    /// The `--summary-json` object.
    pub(super) fn to_json(&self) -> Value {
        let s = &self.summary;
        let partitions: Map<String, Value> = s
            .per_partition
            .iter()
            .map(|(p, n)| (p.to_string(), Value::from(*n)))
            .collect();
        let failures: Map<String, Value> = s.failures.iter().map(|(c, n)| (c.clone(), Value::from(*n))).collect();
        let mut v = json!({
            "read": self.read,
            "delivered": s.delivered,
            "failed": s.failed,
            "not_persisted": s.not_persisted,
            "possibly_persisted": s.possibly_persisted,
            "persisted_later": s.persisted_later,
            "bytes": s.bytes,
            "elapsed_s": self.elapsed,
            "records_per_s": self.per_second(s.delivered),
            "mb_per_s": self.per_second(s.bytes) / 1e6,
            "partitions": partitions,
            "failures": failures,
            "exit_reason": self.reason(),
            "signal": self.signal,
            "error": self.error,
            "exit_code": self.code,
            "skipped": self.skipped,
        });
        if let (Some(k), Some(o)) = (self.keyless, v.as_object_mut()) {
            o.insert("records_without_key".into(), Value::from(k));
        }
        if let (Some(r), Some(o)) = (self.resumed, v.as_object_mut()) {
            o.insert("resumed_skipped".into(), Value::from(r));
        }
        v
    }

    /// Writes the JSON object to `path` (one line).
    pub(super) fn write_json(&self, path: &Path) -> Result<(), String> {
        let mut text = self.to_json().to_string();
        text.push('\n');
        std::fs::write(path, text).map_err(|e| format!("cannot write --summary-json {}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_is_the_signal_then_the_error_then_completed() {
        let mut e = End::early(2, "bad flag".into());
        assert_eq!(e.to_json()["exit_reason"], "error");
        assert_eq!(e.to_json()["error"], "bad flag");
        assert_eq!(e.to_json()["exit_code"], 2);
        e.signal = Some("SIGTERM");
        assert_eq!(e.to_json()["exit_reason"], "signal");
        assert_eq!(e.to_json()["signal"], "SIGTERM");
        let done = End {
            read: 3,
            elapsed: 2.0,
            summary: Summary {
                delivered: 2,
                bytes: 4_000_000,
                failed: 1,
                not_persisted: 1,
                ..Summary::default()
            },
            ..End::default()
        };
        let j = done.to_json();
        assert_eq!(j["exit_reason"], "completed");
        assert_eq!(j["signal"], Value::Null);
        assert_eq!((j["read"].as_u64(), j["delivered"].as_u64()), (Some(3), Some(2)));
        assert_eq!(j["records_per_s"].as_f64(), Some(1.0));
        assert_eq!(j["mb_per_s"].as_f64(), Some(2.0));
        assert!(j.get("records_without_key").is_none());
    }
}
