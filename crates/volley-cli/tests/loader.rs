//! The exactly-once loader (issue 17): `volley produce --transactional-id` commits its
//! progress with each transaction and resumes after a crash. Killed (SIGKILL) or stopped
//! (SIGTERM) at random moments and run again until it finishes, the `read_committed` log
//! (librdkafka) holds every line exactly once, in input order per key, on Apache Kafka.
//!
//! The CI figures are 100,000 lines and 3 kills; by hand:
//! `VOLLEY_LOADER_LINES=1000000 VOLLEY_LOADER_KILLS=10 cargo test -p volley-cli --test loader -- --nocapture`.

#[path = "../../volley/tests/common/mod.rs"]
mod common;

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use common::{bootstrap, create_topic, read_back_isolated, topic, watermarks};
use support::{send_signal, spawn, text, volley};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A small xorshift generator; the seed is printed so a failing run can be replayed
/// (`VOLLEY_LOADER_SEED`).
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        let seed = env_or(
            "VOLLEY_LOADER_SEED",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1,
        );
        eprintln!("seed {seed} (VOLLEY_LOADER_SEED)");
        Self(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

const KEYS: u64 = 64;

/// `lines` JSON lines with 64 keys: line i (from 1) is `{"k":"key-<i%64>","seq":i,...}`.
fn write_input(path: &Path, lines: u64) {
    let mut s = String::with_capacity(usize::try_from(lines).unwrap_or(0) * 60);
    for i in 1..=lines {
        s.push_str(&format!(
            "{{\"k\":\"key-{}\",\"seq\":{i},\"pad\":\"abcdefghijklmnop\"}}\n",
            i % KEYS
        ));
    }
    std::fs::write(path, s).expect("write input");
}

/// Checks the read_committed log: every line 1..=lines exactly once and, per key, in input
/// order. Returns the number of violations (missing, duplicated or out-of-order records).
fn violations(t: &str, lines: u64) -> u64 {
    violations_on(&bootstrap(), t, lines)
}

/// [`violations`] on the broker at `bs`.
fn violations_on(bs: &str, t: &str, lines: u64) -> u64 {
    let recs = read_back_isolated(bs, t, usize::try_from(lines).expect("lines") + 100, "read_committed");
    let mut seen = vec![0u32; usize::try_from(lines).expect("lines") + 1];
    let mut last: HashMap<String, u64> = HashMap::new();
    let mut bad = 0u64;
    for r in &recs {
        let v: serde_json::Value = serde_json::from_slice(r.value.as_deref().expect("value")).expect("json");
        let seq = v["seq"].as_u64().expect("seq");
        let key = String::from_utf8(r.key.clone().expect("key")).expect("utf-8");
        assert_eq!(key, format!("key-{}", seq % KEYS));
        seen[usize::try_from(seq).expect("seq")] += 1;
        // Records are sorted by partition and offset: a key's records are in offset order.
        if last.insert(key, seq).is_some_and(|prev| prev >= seq) {
            bad += 1;
        }
    }
    let missing = seen[1..].iter().filter(|&&n| n == 0).count() as u64;
    let extra: u64 = seen[1..].iter().map(|&n| u64::from(n.saturating_sub(1))).sum();
    eprintln!(
        "read_committed: {} records, {missing} missing, {extra} duplicated, {bad} out of order",
        recs.len()
    );
    missing + extra + bad
}

/// `volley produce -b BS -t T --transactional-id ID --transaction-records PER`.
fn loader<'a>(bs: &'a str, t: &'a str, id: &'a str, per: &'a str) -> Vec<&'a str> {
    vec![
        "produce",
        "-b",
        bs,
        "-t",
        t,
        "--transactional-id",
        id,
        "--transaction-records",
        per,
    ]
}

fn loader_args<'a>(t: &'a str, id: &'a str, input: &'a str, per: &'a str) -> Vec<&'a str> {
    let mut args = loader(leak(bootstrap()), t, id, per);
    args.extend(["--key-field", "k", "-q", input]);
    args
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// The number that follows `prefix` at the start of a line of `out`.
fn number_after(out: &str, prefix: &str) -> u64 {
    out.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .and_then(|l| l.split([' ', ';']).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in {out}"))
}

/// Waits up to `d` for `child` to end on its own; `true` if it did.
fn ended_within(child: &mut Child, d: Duration) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if child.try_wait().expect("wait").is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// Runs the loader, stopping it with `signal` (`None`: SIGKILL) at random moments `stops`
/// times (a run that ends first ends the load), then lets the last run finish, and checks
/// the log. With SIGKILL, at least one kill must land inside an open transaction: when a
/// whole load ends without one (the moments are random, and a fast machine can finish the
/// load before the extra kills come: CI once saw one kill, between two transactions, then
/// a run that loaded the rest), the load is done again on a new topic, up to four loads.
fn load_with_stops(t: &str, lines: u64, stops: u64, signal: Option<&str>) {
    let mut topic_now = t.to_owned();
    for attempt in 1..=4 {
        let inside = load_once(&topic_now, lines, stops, signal);
        if signal.is_some() || stops == 0 || inside > 0 {
            return;
        }
        eprintln!("load {attempt}: no SIGKILL landed inside an open transaction; again on a new topic");
        topic_now = topic("loader-kill-again");
        create_topic(&topic_now, 4);
    }
    panic!("no SIGKILL landed inside an open transaction in 4 loads");
}

/// One load of [`load_with_stops`]; how many SIGKILLs landed inside an open transaction.
fn load_once(t: &str, lines: u64, stops: u64, signal: Option<&str>) -> u64 {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("input.jsonl");
    write_input(&input, lines);
    let id = topic("loader-id");
    let mut rng = Rng::new();
    let input = input.to_str().expect("path");
    let args = loader_args(t, &id, input, "2000");
    // The random moment: 100 ms to 100 + `VOLLEY_LOADER_STOP_MS` (800) ms after the start,
    // short enough that each stop lands before the run ends (a run here loads about 50,000
    // lines a second), long enough that most runs commit some transactions first.
    let spread = env_or("VOLLEY_LOADER_STOP_MS", 800);
    let mut landed = 0u64;
    // SIGKILLs that left an open transaction with records written (the log's last stable
    // offset below its high watermark until the next run fences it), and the others (during
    // initialization, or between a commit and the next record).
    let mut inside = 0u64;
    let mut outside = 0u64;
    let mut runs = 0u64;
    let mut expected_resume: Option<u64> = None;
    let started = Instant::now();
    loop {
        runs += 1;
        let run_start = Instant::now();
        let mut child = spawn(&args);
        drop(child.stdin.take());
        // SIGKILL: if none of the stops landed inside an open transaction, up to five more
        // until one does (the moments are random; the kill in a transaction is the case
        // that matters).
        let more = signal.is_none() && stops > 0 && inside == 0 && landed < stops + 5;
        if landed < stops || more {
            let at = Duration::from_millis(100 + rng.below(spread));
            if !ended_within(&mut child, at) {
                match signal {
                    None => child.kill().expect("SIGKILL"),
                    Some(s) => send_signal(&child, s),
                }
                landed += 1;
                let out = child.wait_with_output().expect("output");
                let stdout = text(&out.stdout);
                eprintln!(
                    "run {runs}: stopped ({}) after {:?}: {:?}",
                    signal.unwrap_or("SIGKILL"),
                    at,
                    out.status
                );
                if signal.is_none() {
                    let open = watermarks(&bootstrap(), t)
                        .iter()
                        .filter(|(committed, high)| committed < high)
                        .count();
                    if open > 0 {
                        inside += 1;
                    } else {
                        outside += 1;
                    }
                    eprintln!("run {runs}: killed with an open transaction in {open} partitions");
                }
                let before_loading = text(&out.stderr).contains("before the load started");
                if signal.is_some() && out.status.code() == Some(143) && !before_loading {
                    // SIGTERM commits what was read: the next run resumes there (or one
                    // line earlier, if the signal stopped a send). A signal that came while
                    // the run fenced its predecessor and read the progress (CI's loaded
                    // machine: 276 ms after the start) stops it before any line is read,
                    // with no summary; the next run resumes where the last one committed.
                    let stop = number_after(&stdout, "stopped by SIGTERM after line ");
                    let resumed = number_after(&stdout, "resumed: ");
                    if let Some(want) = expected_resume.take() {
                        assert!(
                            resumed == want || resumed + 1 == want,
                            "expected to resume at {want}, resumed at {resumed}"
                        );
                    }
                    expected_resume = Some(stop.max(resumed));
                }
                continue;
            }
        }
        let out = child.wait_with_output().expect("output");
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "run {runs}: {stdout}\n{}",
            text(&out.stderr)
        );
        let resumed = number_after(&stdout, "resumed: ");
        if let Some(want) = expected_resume.take() {
            assert!(
                resumed == want || resumed + 1 == want,
                "expected to resume at {want}, resumed at {resumed}"
            );
        }
        eprintln!(
            "run {runs}: finished in {:?}; resumed after {resumed} lines",
            run_start.elapsed()
        );
        break;
    }
    eprintln!(
        "{lines} lines, {landed} stops ({}), {runs} runs in {:?}",
        signal.unwrap_or("SIGKILL"),
        started.elapsed()
    );
    assert!(landed >= 1.min(stops), "no stop landed");
    if signal.is_none() && stops > 0 {
        eprintln!("SIGKILLs inside an open transaction: {inside}; outside one: {outside}");
    }
    assert_eq!(violations(t, lines), 0);
    inside
}

/// SIGKILL at random moments, run again each time until it finishes: every line exactly
/// once, in order per key.
#[test]
fn sigkilled_loads_resume_exactly_once() {
    let t = topic("loader-kill");
    create_topic(&t, 4);
    load_with_stops(
        &t,
        env_or("VOLLEY_LOADER_LINES", 100_000),
        env_or("VOLLEY_LOADER_KILLS", 3),
        None,
    );
}

/// SIGTERM at random moments: each run commits what it read and exits 143; the next run
/// resumes at that line.
#[test]
fn sigtermed_loads_resume_exactly_once() {
    let t = topic("loader-term");
    create_topic(&t, 4);
    load_with_stops(
        &t,
        env_or("VOLLEY_LOADER_LINES", 100_000),
        env_or("VOLLEY_LOADER_KILLS", 3),
        Some("-TERM"),
    );
}

fn committed(t: &str, count: usize) -> Vec<String> {
    read_back_isolated(&bootstrap(), t, count, "read_committed")
        .into_iter()
        .map(|r| String::from_utf8(r.value.unwrap_or_default()).expect("utf-8"))
        .collect()
}

/// A finished load run again skips every line; another input under the same id is refused
/// (exit 2) unless `--restart`; report lines carry their transaction's number.
#[test]
fn the_fingerprint_guards_the_progress() {
    let t = topic("loader-fp");
    create_topic(&t, 1);
    let id = topic("loader-fp-id");
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.txt");
    let report = dir.path().join("report.jsonl");
    std::fs::write(&input, (1..=25).map(|i| format!("a-{i}\n")).collect::<String>()).expect("write");
    let bs = bootstrap();
    let run = |extra: &[&str]| {
        let mut args = loader(&bs, &t, &id, "10");
        args.extend(["--report", report.to_str().expect("path"), "-q"]);
        args.extend_from_slice(extra);
        args.push(input.to_str().expect("path"));
        volley(&args, b"")
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("resumed: 0 lines"), "{}", text(&out.stdout));
    let rep: Vec<serde_json::Value> = std::fs::read_to_string(&report)
        .expect("report")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(rep.len(), 25);
    for r in &rep {
        let line = r["line"].as_u64().expect("line");
        assert_eq!(r["transaction"].as_u64(), Some((line - 1) / 10 + 1), "{r}");
    }
    // Again: nothing left to load.
    let out = run(&[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(stdout.contains("records: 0 delivered, 0 failed, 25 read"), "{stdout}");
    assert!(
        stdout.contains("resumed: 25 lines committed by an earlier run skipped"),
        "{stdout}"
    );
    // Another input: refused.
    std::fs::write(&input, (1..=5).map(|i| format!("b-{i}\n")).collect::<String>()).expect("write");
    let out = run(&[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the input differs") && stderr.contains("--restart"),
        "{stderr}"
    );
    // --restart loads it from its first line.
    let out = run(&["--restart"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("records: 5 delivered"),
        "{}",
        text(&out.stdout)
    );
    let mut want: Vec<String> = (1..=25).map(|i| format!("a-{i}")).collect();
    want.extend((1..=5).map(|i| format!("b-{i}")));
    assert_eq!(committed(&t, 31), want);
}

/// A line too large for `max.request.size` is left out as a failed line: its refusal does
/// not abort its transaction (every run would stop there), the other lines commit, and a
/// run again has nothing left to load.
#[test]
fn a_record_too_large_fails_alone() {
    let t = topic("loader-large");
    create_topic(&t, 1);
    let id = topic("loader-large-id");
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.txt");
    let mut lines: Vec<String> = (1..=9).map(|i| format!("small-{i}")).collect();
    lines.insert(4, "x".repeat(5000));
    std::fs::write(&input, lines.join("\n") + "\n").expect("write");
    let bs = bootstrap();
    let mut args = loader(&bs, &t, &id, "3");
    args.extend(["-X", "max.request.size=2000", "-q", input.to_str().expect("path")]);
    let out = volley(&args, b"");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("records: 9 delivered, 1 failed, 10 read"), "{stdout}");
    let want: Vec<String> = (1..=9).map(|i| format!("small-{i}")).collect();
    assert_eq!(committed(&t, 11), want);
    let out = volley(&args, b"");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("resumed: 10 lines committed"), "{stdout}");
}

/// A second Ctrl-C while the loader waits for a commit (the broker stopped with SIGSTOP)
/// stops the wait at once: exit 130, the transaction's lines reported possibly persisted
/// (the commit may go through). With the broker back, a run again ends the load: every
/// line exactly once. Its own broker (paused).
#[test]
fn a_second_signal_stops_waiting_for_a_commit() {
    let k = volley_testkit::kafka::KafkaCluster::single().unwrap_or_else(|e| panic!("{e}"));
    let bs = k.bootstrap().to_owned();
    let t = topic("loader-stall");
    common::create_topic_on(&bs, &t, 2);
    let id = topic("loader-stall-id");
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("input.jsonl");
    // Long enough that the run is still reading when the broker stops.
    let lines = 200_000;
    write_input(&input, lines);
    let report = dir.path().join("report.jsonl");
    // One transaction for the whole input: its commit is the one the broker's pause holds.
    let mut args = loader(&bs, &t, &id, "10000000");
    args.extend([
        "--transaction-duration-ms",
        "10000000",
        "--key-field",
        "k",
        "--report",
        report.to_str().expect("path"),
        "-q",
        input.to_str().expect("path"),
    ]);
    let child = spawn(&args);
    std::thread::sleep(Duration::from_millis(1500)); // fenced, reading and sending
    k.pause(1).expect("SIGSTOP the broker");
    std::thread::sleep(Duration::from_millis(500));
    support::interrupt(&child); // commit what was read: that waits for the stopped broker
    std::thread::sleep(Duration::from_millis(500));
    let asked = Instant::now();
    support::interrupt(&child); // stop waiting
    let out = support::wait_within(child, Duration::from_secs(20), "a second signal stops the wait");
    let stopped_in = asked.elapsed();
    k.resume(1).expect("SIGCONT the broker");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "{stdout}{}", text(&out.stderr));
    eprintln!("second SIGINT: exit after {stopped_in:?}");
    assert!(stopped_in < Duration::from_secs(10), "{stopped_in:?}");
    let rep = std::fs::read_to_string(&report).expect("report");
    let unknown = rep
        .lines()
        .filter(|l| l.contains("possibly_persisted") && l.contains("is unknown"))
        .count();
    assert!(unknown > 0, "no line reported possibly persisted: {stdout}");
    // The broker is back: a run again ends the load.
    let again = volley(&args, b"");
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert_eq!(violations_on(&bs, &t, lines), 0);
}

/// Standard input (or a pipe) cannot be read again after a crash: a usage error.
#[test]
fn standard_input_is_refused() {
    for input in ["-", "/dev/stdin"] {
        let out = volley(
            &[
                "produce",
                "-b",
                "127.0.0.1:1",
                "-t",
                "t",
                "--transactional-id",
                "x",
                input,
            ],
            b"a\n",
        );
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{input}: {stderr}");
        assert!(stderr.contains("regular files only"), "{stderr}");
    }
    // A dry run of a load checks its input as the load would.
    let out = volley(
        &[
            "produce",
            "--dry-run",
            "-b",
            "127.0.0.1:1",
            "-t",
            "t",
            "--transactional-id",
            "x",
            "-",
        ],
        b"a\n",
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("regular files only"));
    let out = volley(&["produce", "-b", "127.0.0.1:1", "-t", "t", "--restart", "-"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--restart needs --transactional-id"));
}

/// Ctrl-C while the loader waits for a transaction coordinator (here: no broker at all)
/// stops it at once, not after max.block.ms.
#[test]
fn a_signal_stops_the_wait_for_the_coordinator() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "a\n").expect("write");
    let child = spawn(&[
        "produce",
        "-b",
        "127.0.0.1:1",
        "-t",
        "t",
        "--transactional-id",
        "x",
        "-X",
        "max.block.ms=60000",
        "-q",
        input.to_str().expect("path"),
    ]);
    std::thread::sleep(Duration::from_millis(1500));
    support::interrupt(&child);
    let out = support::wait_within(child, Duration::from_secs(15), "SIGINT stops the wait");
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("stopped by SIGINT before the load started"));
}
