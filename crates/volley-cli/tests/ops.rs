//! `volley produce` in production (issue 13): the summary as JSON on every exit, progress
//! lines, a report written as outcomes arrive, signals at a random moment of a long run,
//! Ctrl-C before any broker answered, and rate-limited WARN lines.

#[path = "../../volley/tests/common/mod.rs"]
mod common;

mod support;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use common::{bootstrap, create_topic, read_back, topic};
use serde_json::Value;
use support::{interrupt, produce, send_signal, spawn, text, volley_env, wait_within};

fn json_file(p: &Path) -> Value {
    let s = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("{}: {e}: {s}", p.display()))
}

fn report_lines(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("report line {l}: {e}")))
        .collect()
}

/// A port nothing listens on.
fn closed_port() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    format!("127.0.0.1:{port}")
}

/// Waits until `p` exists (the run has started: its signal handlers are installed before
/// the report is created).
fn wait_for_file(p: &Path, child: &mut Child) {
    let start = Instant::now();
    while !p.exists() {
        assert!(child.try_wait().expect("wait").is_none(), "volley ended early");
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{} never appeared",
            p.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn produce_args<'a>(bs: &'a str, t: &'a str, report: &'a Path, json: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "produce",
        "--bootstrap-servers",
        bs,
        "--topic",
        t,
        "--report",
        report.to_str().expect("utf-8 path"),
        "--summary-json",
        json.to_str().expect("utf-8 path"),
    ];
    args.extend_from_slice(extra);
    args
}

/// `--summary-json` after a run to the end of its input, after SIGTERM, and after a usage
/// error: one object with the counts, the reason and the exit code.
#[test]
fn summary_json_on_every_exit() {
    let bs = bootstrap();
    let t = topic("ops-summary");
    create_topic(&t, 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let (report, json) = (dir.path().join("r.jsonl"), dir.path().join("s.json"));
    let out = support::volley(&produce_args(&bs, &t, &report, &json, &[]), b"a\nbb\nccc\n");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let j = json_file(&json);
    eprintln!("{j}");
    for (k, want) in [
        ("read", 3),
        ("delivered", 3),
        ("failed", 0),
        ("not_persisted", 0),
        ("possibly_persisted", 0),
        ("bytes", 6),
        ("exit_code", 0),
    ] {
        assert_eq!(j[k], want, "{k}: {j}");
    }
    assert_eq!(j["exit_reason"], "completed");
    assert_eq!(j["signal"], Value::Null);
    assert_eq!(j["partitions"]["0"], 3);
    assert!(j["elapsed_s"].as_f64().is_some_and(|s| s > 0.0) && j["records_per_s"].as_f64().is_some());

    // SIGTERM while the input stays open.
    let (report, json) = (dir.path().join("r2.jsonl"), dir.path().join("s2.json"));
    let mut child = spawn(&produce_args(&bs, &t, &report, &json, &["-X", "linger.ms=0"]));
    wait_for_file(&report, &mut child);
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"x\ny\n").expect("write");
    stdin.flush().expect("flush");
    let start = Instant::now();
    while report_lines(&report).len() < 2 && start.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(50));
    }
    send_signal(&child, "-TERM");
    let out = wait_within(child, Duration::from_secs(15), "SIGTERM ends the run");
    drop(stdin);
    assert_eq!(out.status.code(), Some(143), "{}", text(&out.stderr));
    let j = json_file(&json);
    assert_eq!(
        (
            &j["exit_reason"],
            &j["signal"],
            &j["exit_code"],
            &j["read"],
            &j["delivered"]
        ),
        (&"signal".into(), &"SIGTERM".into(), &143.into(), &2.into(), &2.into()),
        "{j}"
    );

    // A usage error: nothing read, the error named.
    let json = dir.path().join("s3.json");
    let out = support::volley(&produce_args(&bs, &t, &report, &json, &["--acks", "2"]), b"");
    assert_eq!(out.status.code(), Some(2));
    let j = json_file(&json);
    assert_eq!(
        (&j["exit_reason"], &j["exit_code"], &j["read"]),
        (&"error".into(), &2.into(), &0.into())
    );
    assert!(j["error"].as_str().is_some_and(|e| e.contains("'acks'")), "{j}");
}

/// Standard error is not a terminal here: progress comes as plain lines every
/// `--progress-interval-ms`, and not at all with `--quiet`.
#[test]
fn progress_lines_when_stderr_is_not_a_terminal() {
    let bs = bootstrap();
    let t = topic("ops-progress");
    create_topic(&t, 1);
    for quiet in [false, true] {
        let mut args = vec!["produce", "-b", &bs, "-t", &t, "--progress-interval-ms", "200"];
        if quiet {
            args.push("--quiet");
        }
        let mut child = spawn(&args);
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"1\n2\n3\n4\n5\n").expect("write");
        stdin.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(1100));
        drop(stdin);
        let out = wait_within(child, Duration::from_secs(15), "the run ends with its input");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}");
        let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("progress: ")).collect();
        eprintln!("quiet={quiet}: {lines:#?}");
        if quiet {
            assert!(lines.is_empty(), "{err}");
            continue;
        }
        // About one per 200 ms over 1.1 s (fewer if volley starts slowly).
        assert!((2..=8).contains(&lines.len()), "{err}");
        let last = lines.last().expect("a line");
        for part in [
            "5 read",
            "delivered",
            "0 failed",
            "in flight",
            "records/s",
            "MB/s",
            "0 retries",
        ] {
            assert!(last.contains(part), "{part} in {last}");
        }
        assert!(
            !err.contains('\r') && !err.contains('\u{1b}'),
            "no terminal codes: {err:?}"
        );
    }
}

/// Review of issue 13: the report is written as outcomes arrive, in line order. Line 1 goes
/// to broker 1, line 2 to broker 2, whose Produce answers take 4 s (the fake cluster): line
/// 1's report line is in the file while line 2 waits and the process runs. (Before, a chunk
/// of lines was written when its last outcome was known.)
#[test]
fn report_lines_are_written_as_outcomes_arrive() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let cluster = rt.block_on(volley_testkit::fake::FakeCluster::start(2));
    cluster.create_topic("slow", 2);
    cluster.set_hook(|r| {
        if r.api_key == 0 && r.broker == 2 {
            volley_testkit::fake::Action::Delay(Duration::from_secs(4))
        } else {
            volley_testkit::fake::Action::Respond
        }
    });
    // Partition p is led by broker p + 1.
    let key_for = |p: u32| {
        (0..1000)
            .map(|i| format!("k{i}"))
            .find(|k| volley::murmur2_partition(k.as_bytes(), 2) == p)
            .expect("a key")
    };
    let input = format!("{}:fast\n{}:slow\n", key_for(0), key_for(1));
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("r.jsonl");
    let bs = cluster.bootstrap();
    let mut child = spawn(&[
        "produce",
        "-b",
        &bs,
        "-t",
        "slow",
        "--key-separator",
        ":",
        "-X",
        "linger.ms=0",
        "--report",
        report.to_str().expect("utf-8 path"),
    ]);
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.as_bytes()).expect("write");
    stdin.flush().expect("flush");
    let start = Instant::now();
    let mut seen = Vec::new();
    while start.elapsed() < Duration::from_millis(3000) {
        seen = report_lines(&report);
        if !seen.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = start.elapsed();
    assert!(child.try_wait().expect("wait").is_none(), "still running");
    drop(stdin);
    let out = wait_within(child, Duration::from_secs(20), "the slow answer comes");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    eprintln!("first report line after {took:?}: {seen:?}");
    assert_eq!(seen.len(), 1, "line 1 alone, while line 2 waits: {seen:?}");
    assert_eq!((&seen[0]["line"], &seen[0]["partition"]), (&1.into(), &0.into()));
    let all = report_lines(&report);
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!((&all[1]["line"], &all[1]["partition"]), (&2.into(), &1.into()));
    drop(cluster);
}

/// One signal at a random moment of a run of 100,000 lines fed through a pipe.
fn signal_at_random(sig: &str, name: &str, code: i32, seed: u64) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let delay = Duration::from_millis(rng.gen_range(0..1000));
    eprintln!("{name}: seed {seed}, signal {delay:?} after the run started");
    let bs = bootstrap();
    let t = topic("ops-signal");
    create_topic(&t, 3);
    let dir = tempfile::tempdir().expect("tempdir");
    let (report, json) = (dir.path().join("r.jsonl"), dir.path().join("s.json"));
    const LINES: usize = 100_000;
    let value = move |i: usize| format!("{seed}-{i}");
    let mut child = spawn(&produce_args(&bs, &t, &report, &json, &[]));
    let mut stdin = child.stdin.take().expect("stdin");
    // The feed takes about a second, then the input stays open (a live pipe): the run ends
    // by the signal only. After volley exits, writes fail and the feeder stops.
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let feeder = std::thread::spawn(move || {
        let mut i = 1;
        while i <= LINES {
            let chunk: String = (i..(i + 2000).min(LINES + 1)).map(|j| value(j) + "\n").collect();
            if stdin.write_all(chunk.as_bytes()).is_err() {
                return;
            }
            i += 2000;
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = done_rx.recv();
    });
    wait_for_file(&report, &mut child);
    std::thread::sleep(delay);
    send_signal(&child, sig);
    let out = wait_within(child, Duration::from_secs(40), "the run stops on the signal");
    drop(done_tx);
    let _ = feeder.join();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(code), "{name}: {stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("records: ") && stdout.contains(&format!("stopped by {name}")),
        "{stdout}"
    );
    let j = json_file(&json);
    let read = usize::try_from(j["read"].as_u64().expect("read")).expect("count");
    let delivered = j["delivered"].as_u64().expect("delivered");
    let possibly = j["possibly_persisted"].as_u64().expect("possibly");
    eprintln!("{name}: {j}");
    assert_eq!((&j["exit_code"], &j["signal"]), (&code.into(), &name.into()));
    assert!(read <= LINES);
    // The report: exactly one outcome per line read, nothing after.
    let mut outcome: HashMap<usize, Value> = HashMap::new();
    for r in report_lines(&report) {
        if r["persistence"] == "persisted_later" {
            continue;
        }
        let line = usize::try_from(r["line"].as_u64().expect("line")).expect("line");
        assert!((1..=read).contains(&line), "{r}");
        assert!(outcome.insert(line, r.clone()).is_none(), "line {line} reported twice");
    }
    assert_eq!(outcome.len(), read, "every line read is in the report");
    // The log: nothing twice, nothing that was not read, every delivered line where the
    // report says, no line reported not persisted.
    let got = read_back(&t, usize::try_from(delivered + possibly).expect("count") + 1);
    let mut at: HashMap<(i64, i64), usize> = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    for g in &got {
        let v = String::from_utf8(g.value.clone().expect("value")).expect("utf-8");
        let i: usize = v
            .strip_prefix(&format!("{seed}-"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("unexpected value {v}"));
        assert!(seen.insert(i), "line {i} is in the log twice");
        assert!(i <= read, "line {i} was never read but is in the log");
        let r = &outcome[&i];
        assert_ne!(r["persistence"], "not_persisted", "{r}");
        at.insert((i64::from(g.partition), g.offset), i);
    }
    let mut n_delivered = 0;
    for (line, r) in &outcome {
        if let Some(off) = r["offset"].as_i64() {
            n_delivered += 1;
            let p = r["partition"].as_i64().expect("partition");
            assert_eq!(at.get(&(p, off)), Some(line), "line {line} at {p}/{off}");
        } else {
            assert!(r["error"].is_string(), "{r}");
        }
    }
    assert_eq!(n_delivered, delivered);
}

/// SIGTERM and SIGINT at a random moment of a 100,000-line run (`VOLLEY_SEED` repeats a
/// run): the exit code names the signal, the summary is printed, and every line read is in
/// the log once or reported failed; nothing read is lost silently, nothing is written twice.
#[test]
fn a_signal_at_a_random_moment_loses_nothing() {
    let seed = std::env::var("VOLLEY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_secs())
        });
    eprintln!("seed {seed} (set VOLLEY_SEED={seed} to repeat)");
    // The two runs overlap: the reader waits 10 s for a record beyond the last expected one.
    let term = std::thread::spawn(move || signal_at_random("-TERM", "SIGTERM", 143, seed));
    signal_at_random("-INT", "SIGINT", 130, seed.wrapping_add(1));
    term.join().expect("the SIGTERM run");
}

/// Ctrl-C while no broker was ever reached (the bootstrap address refuses connections):
/// the run ends within a second and every line read is reported not persisted.
#[test]
fn ctrl_c_before_any_broker_answered() {
    let addr = closed_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let (report, json) = (dir.path().join("r.jsonl"), dir.path().join("s.json"));
    let mut child = spawn(&produce_args(&addr, "t", &report, &json, &["-X", "max.block.ms=60000"]));
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"a\nb\nc\n").expect("write");
    stdin.flush().expect("flush");
    wait_for_file(&report, &mut child);
    std::thread::sleep(Duration::from_millis(700));
    let start = Instant::now();
    interrupt(&child);
    let out = wait_within(child, Duration::from_secs(10), "Ctrl-C ends the run");
    let took = start.elapsed();
    drop(stdin);
    eprintln!("ended {took:?} after Ctrl-C");
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    let j = json_file(&json);
    let read = j["read"].as_u64().expect("read");
    assert!(read >= 1, "{j}");
    assert_eq!(
        (j["not_persisted"].as_u64(), j["delivered"].as_u64()),
        (Some(read), Some(0))
    );
    let lines = report_lines(&report);
    assert_eq!(lines.len() as u64, read, "{lines:?}");
    for l in &lines {
        assert_eq!(l["persistence"], "not_persisted", "{l}");
    }
}

/// A broker that refuses connections: a WARN line names it and the cause, and a 10.5 s
/// outage gives not more than a few (one at once, then one per 10 s with a count). The log
/// filter follows `VOLLEY_LOG`, then `RUST_LOG`; no colours when standard error is a file.
#[test]
fn warn_lines_name_the_broker_and_are_rate_limited() {
    let addr = closed_port();
    let start = Instant::now();
    let out = produce(&addr, "t", &["-X", "max.block.ms=10500"], b"a\n");
    let took = start.elapsed();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let warns: Vec<&str> = err
        .lines()
        .filter(|l| l.contains(" WARN ") && l.contains(&format!("connection to {addr} failed")))
        .collect();
    eprintln!("{} WARN lines in {took:?}:\n{}", warns.len(), warns.join("\n"));
    assert!(!warns.is_empty() && warns.len() <= 3, "{err}");
    assert!(warns[0].contains("Connection refused"), "{}", warns[0]);
    assert!(
        warns[1..].iter().any(|w| w.contains("more in the last 10 s)")),
        "the later lines count what they stand for: {err}"
    );
    assert!(!err.contains('\u{1b}'), "no colours in a file: {err:?}");

    // RUST_LOG alone is followed; VOLLEY_LOG wins over it.
    let args = ["produce", "-b", &addr, "-t", "t", "-X", "max.block.ms=300"];
    let out = volley_env(&args, b"a\n", &[("RUST_LOG", "debug")]);
    let err = text(&out.stderr);
    assert!(err.contains(" DEBUG ") && err.contains("connect failed"), "{err}");
    let out = volley_env(&args, b"a\n", &[("RUST_LOG", "debug"), ("VOLLEY_LOG", "error")]);
    let err = text(&out.stderr);
    assert!(!err.contains(" DEBUG ") && !err.contains(" WARN "), "{err}");
    assert!(err.contains("error: topic 't' not present in metadata"), "{err}");
}
