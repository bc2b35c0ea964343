//! `volley produce --transactional-id` (issue 17): lines go out in transactions, read back
//! by librdkafka with `isolation.level=read_committed` on Apache Kafka.

#[path = "../../volley/tests/common/mod.rs"]
mod common;

mod support;

use common::{bootstrap, create_topic, create_topic_with, read_back_isolated, topic};
use support::{produce, text};

fn committed_values(t: &str, count: usize) -> Vec<String> {
    read_back_isolated(&bootstrap(), t, count, "read_committed")
        .into_iter()
        .map(|r| String::from_utf8(r.value.unwrap_or_default()).expect("utf-8"))
        .collect()
}

#[test]
fn lines_go_out_in_transactions() {
    let t = topic("cli-txn");
    create_topic(&t, 1);
    let input: String = (1..=25).map(|i| format!("line-{i}\n")).collect();
    let id = topic("cli-txn-id");
    // The loader reads regular files only.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("in.txt");
    std::fs::write(&file, &input).expect("write");
    let out = produce(
        &bootstrap(),
        &t,
        &[
            "--transactional-id",
            &id,
            "--transaction-records",
            "10",
            "-q",
            file.to_str().expect("path"),
        ],
        b"",
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("records: 25 delivered, 0 failed, 25 read"), "{stdout}");
    let want: Vec<String> = (1..=25).map(|i| format!("line-{i}")).collect();
    // One more than written: an extra record would show.
    assert_eq!(committed_values(&t, 26), want);
}

/// A record the broker refuses (over the topic's `max.message.bytes`) dooms its
/// transaction: the transaction is aborted, its lines fail, the run stops with status 1,
/// and a read_committed reader sees exactly the lines of the transactions committed
/// before it. (A record the producer itself would refuse is left out as a failed line
/// before it is sent: `loader.rs`, `a_record_too_large_fails_alone`.)
#[test]
fn a_failed_line_aborts_its_transaction_and_stops_the_run() {
    let t = topic("cli-txn-abort");
    create_topic_with(&t, 1, &["max.message.bytes=1000"]);
    let mut input = String::new();
    for i in 1..=30 {
        if i == 15 {
            input.push_str(&"x".repeat(3000));
            input.push('\n');
        } else {
            input.push_str(&format!("line-{i}\n"));
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("report.jsonl");
    let file = dir.path().join("in.txt");
    std::fs::write(&file, &input).expect("write");
    let id = topic("cli-txn-abort-id");
    let out = produce(
        &bootstrap(),
        &t,
        &[
            "--transactional-id",
            &id,
            "--transaction-records",
            "10",
            "--report",
            report.to_str().expect("path"),
            "-q",
            file.to_str().expect("path"),
        ],
        b"",
    );
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("could not commit"), "{stderr}");
    let rep: Vec<serde_json::Value> = std::fs::read_to_string(&report)
        .expect("report")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    // Lines 1-10 committed, 11-20 aborted (15 refused itself); nothing after 20 was read.
    assert_eq!(rep.len(), 20, "{rep:?}");
    // Report lines carry their transaction's number; the aborted one's are not persisted.
    for r in &rep[..10] {
        assert!(r.get("error").is_none(), "{r}");
        assert_eq!(r["transaction"], 1, "{r}");
    }
    for r in &rep[10..] {
        assert!(r["error"].is_string(), "{r}");
        assert_eq!(r["transaction"], 2, "{r}");
        assert_eq!(r["persistence"], "not_persisted", "{r}");
    }
    let want: Vec<String> = (1..=10).map(|i| format!("line-{i}")).collect();
    assert_eq!(committed_values(&t, 11), want);
}

/// Issue 17: `volley perf --transactional-id` sends in transactions, committing every
/// `--transaction-records` records (the last one at the end), all read back read_committed;
/// the transaction flags without a transactional id are a usage error.
#[test]
fn perf_sends_in_transactions() {
    let bs = bootstrap();
    let t = topic("perf-txn");
    create_topic(&t, 3);
    let id = format!("perf-{t}");
    let out = support::volley(
        &[
            "perf",
            "--bootstrap-servers",
            &bs,
            "--topic",
            &t,
            "--num-records",
            "2500",
            "--record-size",
            "50",
            "--keys",
            "10",
            "--transactional-id",
            &id,
            "--transaction-records",
            "1000",
            "--json",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["records"], 2500);
    assert_eq!(v["transactions"], 3, "1000 + 1000 + 500");
    assert_eq!(read_back_isolated(&bs, &t, 2500, "read_committed").len(), 2500);
    let out = support::volley(
        &[
            "perf",
            "--bootstrap-servers",
            &bs,
            "--topic",
            &t,
            "--num-records",
            "1",
            "--record-size",
            "5",
            "--transaction-records",
            "1",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
}
