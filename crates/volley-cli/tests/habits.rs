//! Issue 14, users' habits, end to end against Apache Kafka (read back by librdkafka):
//! `volley metadata`, `--dry-run`, `--sync`, JSON timestamps and headers, null markers,
//! skipped empty records, one record per file, config providers and `debug`, completions and
//! the man page.

#[path = "../../volley/tests/common/mod.rs"]
mod common;

mod support;

use std::io::Write;
use std::time::{Duration, Instant};

use common::{bootstrap, create_topic, read_back, topic};
use support::{interrupt, spawn, text, volley, volley_env, wait_within};

#[test]
fn metadata_lists_brokers_topics_and_partitions() {
    let bs = bootstrap();
    let t = topic("habits-meta");
    create_topic(&t, 3);
    let out = volley(&["metadata", "-b", &bs, "-t", &t, "--json"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    let brokers = v["brokers"].as_array().expect("brokers");
    assert_eq!(brokers.len(), 1, "{v}");
    let id = brokers[0]["id"].as_i64().expect("id");
    assert_eq!(brokers[0]["host"], "127.0.0.1");
    assert_eq!(v["topics"].as_array().map(Vec::len), Some(1));
    let parts = v["topics"][0]["partitions"].as_array().expect("partitions");
    assert_eq!(parts.len(), 3);
    for (i, p) in parts.iter().enumerate() {
        assert_eq!(p["partition"].as_i64(), Some(i as i64));
        assert_eq!(p["leader"].as_i64(), Some(id));
        assert_eq!(p["replicas"], serde_json::json!([id]));
        assert_eq!(p["isr"], serde_json::json!([id]));
    }
    // Text, as kcat -L, and every topic when -t is not given.
    let out = volley(&["metadata", "-b", &bs], b"");
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(s.contains(&format!("topic \"{t}\" with 3 partitions")), "{s}");
    assert!(
        s.contains(&format!("partition 2, leader {id}, replicas: {id}, isrs: {id}")),
        "{s}"
    );
    // A topic that does not exist is an error (and is not created).
    let missing = topic("habits-meta-missing");
    let out = volley(&["metadata", "-b", &bs, "-t", &missing], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("UNKNOWN_TOPIC_OR_PARTITION"),
        "{}",
        text(&out.stdout)
    );
    let out = volley(&["metadata", "-b", "127.0.0.1:1", "-X", "max.block.ms=1500"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("127.0.0.1:1"), "{}", text(&out.stderr));
}

/// `--dry-run` places each record where a real run puts it, with the broker's partition
/// count, and sends nothing: the real run that follows finds every partition empty.
#[test]
fn dry_run_places_records_as_a_real_run_and_sends_nothing() {
    let bs = bootstrap();
    let t = topic("habits-dry");
    create_topic(&t, 4);
    let input: String = (0..40)
        .map(|i| format!("{{\"id\": \"user-{i}\", \"n\": {i}}}\n"))
        .collect();
    let out = volley(
        &["produce", "-b", &bs, "-t", &t, "--key-field", "id", "--dry-run"],
        input.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let planned: Vec<(String, i64)> = text(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json line");
            (
                v["key"].as_str().expect("key").to_owned(),
                v["partition"].as_i64().expect("partition"),
            )
        })
        .collect();
    assert_eq!(planned.len(), 40);
    assert!(text(&out.stderr).contains("nothing was sent"), "{}", text(&out.stderr));
    // Offline: the same placement from --partitions, no broker asked.
    let offline = volley(
        &[
            "produce",
            "-b",
            "127.0.0.1:1",
            "-t",
            &t,
            "--key-field",
            "id",
            "--dry-run",
            "--partitions",
            "4",
        ],
        input.as_bytes(),
    );
    assert_eq!(offline.status.code(), Some(0), "{}", text(&offline.stderr));
    assert_eq!(text(&offline.stdout), text(&out.stdout));

    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("report.jsonl");
    let r = report.to_str().expect("path");
    let out = volley(
        &["produce", "-b", &bs, "-t", &t, "--key-field", "id", "--report", r],
        input.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut next_offset = std::collections::HashMap::new();
    for (line, (key, partition)) in std::fs::read_to_string(&report).expect("report").lines().zip(&planned) {
        let v: serde_json::Value = serde_json::from_str(line).expect("report line");
        assert_eq!(v["key"].as_str(), Some(key.as_str()));
        assert_eq!(v["partition"].as_i64(), Some(*partition), "{key}");
        let expected = next_offset.entry(*partition).or_insert(0i64);
        assert_eq!(v["offset"].as_i64(), Some(*expected), "the dry run sent nothing before");
        *expected += 1;
    }
}

/// `--timestamp-path`, `--header-path`, `--null-marker`, `--skip-empty` and
/// `--value-file-per-record`, read back by librdkafka.
#[test]
fn fields_nulls_skips_and_whole_files() {
    let bs = bootstrap();
    let t = topic("habits-fields");
    create_topic(&t, 1);
    let input = concat!(
        "{\"id\": \"a\", \"ts\": 1700000000123, \"meta\": {\"src\": \"web\"}}\n",
        "\n",
        "{\"id\": \"b\", \"ts\": \"2026-12-05T22:22:15.5+01:00\", \"meta\": {\"src\": 7}}\n",
    );
    let args = [
        "produce",
        "-b",
        &bs,
        "-t",
        &t,
        "--key-field",
        "id",
        "--timestamp-path",
        "/ts",
        "--header-path",
        "src=/meta/src",
        "--skip-empty",
    ];
    let out = volley(&args, input.as_bytes());
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("records: 2 delivered, 0 failed, 3 read"), "{stdout}");
    assert!(stdout.contains("empty records skipped: 1"), "{stdout}");
    let got = read_back(&t, 2);
    assert_eq!(got[0].timestamp, 1_700_000_000_123);
    assert_eq!(got[0].headers, vec![("src".into(), Some(b"web".to_vec()))]);
    assert_eq!(got[1].timestamp, 1_796_505_735_500);
    assert_eq!(got[1].headers, vec![("src".into(), Some(b"7".to_vec()))]);

    let t = topic("habits-null");
    create_topic(&t, 1);
    let out = volley(
        &["produce", "-b", &bs, "-t", &t, "-K:", "--null-marker", "NULL"],
        b"a:x\nb:NULL\nc:NULLS\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let values: Vec<Option<Vec<u8>>> = read_back(&t, 3).into_iter().map(|g| g.value).collect();
    assert_eq!(values, vec![Some(b"x".to_vec()), None, Some(b"NULLS".to_vec())]);

    let t = topic("habits-files");
    create_topic(&t, 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let (f1, f2) = (dir.path().join("a.bin"), dir.path().join("b.bin"));
    let blob: Vec<u8> = (0..=255u8).chain(b"\n\r\n".iter().copied()).collect();
    std::fs::write(&f1, &blob).expect("write");
    std::fs::write(&f2, b"second\nfile\n").expect("write");
    let (p1, p2) = (f1.to_str().expect("path"), f2.to_str().expect("path"));
    let out = volley(
        &[
            "produce",
            "-b",
            &bs,
            "-t",
            &t,
            "--value-file-per-record",
            "-k",
            "doc",
            p1,
            p2,
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let got = read_back(&t, 2);
    assert_eq!(got[0].value.as_deref(), Some(&blob[..]));
    assert_eq!(got[1].value.as_deref(), Some(&b"second\nfile\n"[..]));
    assert_eq!(got[1].key.as_deref(), Some(&b"doc"[..]));
}

/// `--sync`: each record is acknowledged before the next is read, so with a minute of
/// linger a record from a pipe that stays open is reported at once (without `--sync` it
/// would wait for the linger or the end of input).
#[test]
fn sync_acknowledges_each_record_before_reading_the_next() {
    let bs = bootstrap();
    let t = topic("habits-sync");
    create_topic(&t, 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("report.jsonl");
    let r = report.to_str().expect("path");
    let mut child = spawn(&[
        "produce",
        "-b",
        &bs,
        "-t",
        &t,
        "--sync",
        "-X",
        "linger.ms=60000",
        "--report",
        r,
        "-q",
    ]);
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"first\n").expect("write");
    stdin.flush().expect("flush");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = std::fs::read_to_string(&report).unwrap_or_default();
        if s.contains("\"offset\":0") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "--sync: the first record was not acknowledged while the input stayed open: {s}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(stdin);
    let out = wait_within(child, Duration::from_secs(30), "volley ends at the end of input");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// Review of issue 14: a signal stops `--sync`'s wait for an acknowledgement that does not
/// come (the in-repo fake cluster answers every Produce NOT_ENOUGH_REPLICAS, retried until
/// `delivery.timeout.ms`); it waited the whole delivery timeout before.
#[test]
fn a_signal_stops_a_sync_wait() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let cluster = rt.block_on(volley_testkit::fake::FakeCluster::start(1));
    cluster.create_topic("stuck", 1);
    cluster.set_hook(|r| {
        if r.api_key == 0 {
            volley_testkit::fake::Action::Error(volley::protocol::ErrorCode::NOT_ENOUGH_REPLICAS)
        } else {
            volley_testkit::fake::Action::Respond
        }
    });
    let bs = cluster.bootstrap();
    let mut child = spawn(&[
        "produce",
        "-b",
        &bs,
        "-t",
        "stuck",
        "--sync",
        "-q",
        "-X",
        "delivery.timeout.ms=120000",
    ]);
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"never acknowledged\n").expect("write");
    stdin.flush().expect("flush");
    std::thread::sleep(Duration::from_millis(1500));
    interrupt(&child);
    std::thread::sleep(Duration::from_millis(300));
    interrupt(&child);
    let out = wait_within(child, Duration::from_secs(15), "--sync heard Ctrl-C");
    drop(stdin);
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("0 delivered, 1 failed"),
        "{}",
        text(&out.stdout)
    );
}

/// Review of issue 14: `--dry-run` hears a signal while it asks a silent broker for the
/// partition count.
#[test]
fn a_signal_stops_a_dry_run_waiting_for_the_broker() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let held = std::thread::spawn(move || {
        // Accepts and never answers.
        let conns: Vec<_> = listener.incoming().take(4).collect();
        std::thread::sleep(Duration::from_secs(30));
        drop(conns);
    });
    let child = spawn(&[
        "produce",
        "-b",
        &addr,
        "-t",
        "t",
        "--dry-run",
        "-X",
        "max.block.ms=60000",
    ]);
    std::thread::sleep(Duration::from_millis(1500));
    interrupt(&child);
    let out = wait_within(child, Duration::from_secs(8), "--dry-run heard Ctrl-C");
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    drop(held);
}

/// A Java `producer.properties` with config providers (`${env:...}`, `${file:...}`),
/// serializers, an interceptor, a metric reporter, consumer keys and librdkafka's `debug`.
#[test]
fn properties_with_config_providers_and_debug() {
    let bs = bootstrap();
    let t = topic("habits-providers");
    create_topic(&t, 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let secrets = dir.path().join("secrets.properties");
    std::fs::write(&secrets, "acks=all\n").expect("write");
    let props = dir.path().join("producer.properties");
    std::fs::write(
        &props,
        format!(
            "config.providers=file,env\n\
             config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider\n\
             config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider\n\
             bootstrap.servers=${{env:VOLLEY_TEST_BOOTSTRAP}}\n\
             acks=${{file:{}:acks}}\n\
             key.serializer=org.apache.kafka.common.serialization.StringSerializer\n\
             value.serializer=org.apache.kafka.common.serialization.StringSerializer\n\
             interceptor.classes=com.example.Tracing\n\
             metric.reporters=com.example.Reporter\n\
             group.id=consumers\n\
             debug=broker,metadata\n",
            secrets.display()
        ),
    )
    .expect("write");
    let p = props.to_str().expect("path");
    // No -b: bootstrap.servers comes from the file, through the env provider.
    let out = volley_env(
        &["produce", "-t", &t, "--producer-config", p],
        b"v1\n",
        &[("VOLLEY_TEST_BOOTSTRAP", bs.as_str())],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("interceptor.classes"), "{stderr}");
    assert!(stderr.contains("'group.id' is not a producer property"), "{stderr}");
    assert!(
        stderr.contains("DEBUG volley::"),
        "debug=broker shows the connections' log: {stderr}"
    );
    assert_eq!(read_back(&t, 1)[0].value.as_deref(), Some(&b"v1"[..]));
    // Without the variable the reference cannot be resolved: a usage error naming it.
    let out = volley(&["produce", "-t", &t, "--producer-config", p], b"v2\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("VOLLEY_TEST_BOOTSTRAP"),
        "{}",
        text(&out.stderr)
    );
    // A reference that cannot be resolved stops the run before anything is sent.
    let bad = dir.path().join("bad.properties");
    std::fs::write(
        &bad,
        "config.providers=env\n\
         config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider\n\
         linger.ms=${env:VOLLEY_TEST_SURELY_UNSET}\n",
    )
    .expect("write");
    let b = bad.to_str().expect("path");
    let out = volley(&["produce", "-b", &bs, "-t", &t, "--producer-config", b], b"v3\n");
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("'linger.ms'") && stderr.contains("VOLLEY_TEST_SURELY_UNSET"),
        "{stderr}"
    );
}

/// Completions and the man page come from the same definitions as --help.
#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish"] {
        let out = volley(&["completions", shell], b"");
        assert_eq!(out.status.code(), Some(0));
        let s = text(&out.stdout);
        assert!(
            s.contains("value-file-per-record") && s.contains("timestamp-path"),
            "{shell}: {s}"
        );
    }
    let out = volley(&["man"], b"");
    let s = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(s.contains(".TH volley 1") && s.contains(".TH volley-produce 1"), "{s}");
    assert!(s.contains("null\\-marker"), "{s}");
}
