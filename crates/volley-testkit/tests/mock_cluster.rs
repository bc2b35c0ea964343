//! Scenario 33: the same faults against a second, independent implementation, librdkafka's
//! mock cluster (three brokers), hosted by `bench/compare`'s `volley-compare --client
//! mock-cluster` (built by `scripts/test`; it compiles librdkafka, so it stays out of the
//! workspace). Leaders move and Produce requests meet injected errors; librdkafka reads the
//! records back and the oracle checks them. The mock cluster does not deduplicate
//! idempotent batches, so only faults that happen before an append are injected.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use volley_testkit::drive::produce;
use volley_testkit::oracle::check;
use volley_testkit::tansu::{repo_root, Tools};

struct Mock {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    bootstrap: String,
}

impl Mock {
    fn start() -> Self {
        let bin = std::env::var("VOLLEY_MOCK_CLUSTER").map_or_else(
            |_| repo_root().join("bench/compare/target/release/volley-compare"),
            PathBuf::from,
        );
        assert!(
            bin.exists(),
            "no mock-cluster host at {} (scripts/test builds it: cd bench/compare && cargo build --release)",
            bin.display()
        );
        let mut child = Command::new(bin)
            .args([
                "--client",
                "mock-cluster",
                "--bootstrap-servers",
                "-",
                "--topic",
                "-",
                "--num-records",
                "0",
                "--record-size",
                "0",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the mock cluster");
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut bootstrap = String::new();
        stdout.read_line(&mut bootstrap).expect("bootstrap line");
        Self {
            child,
            stdin,
            stdout,
            bootstrap: bootstrap.trim().to_owned(),
        }
    }

    fn cmd(&mut self, c: &str) {
        writeln!(self.stdin, "{c}").expect("command");
        self.stdin.flush().expect("flush");
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).expect("answer");
        assert_eq!(answer.trim(), "ok", "mock cluster refused '{c}'");
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s33_leader_moves_and_injected_errors_on_librdkafkas_mock_cluster() {
    let tools = Tools::find();
    for seed in 1..=3u64 {
        let mut mock = Mock::start();
        let topic = format!("diff{seed}");
        mock.cmd(&format!("topic {topic} 6"));
        let bootstrap = mock.bootstrap.clone();
        let props: Vec<(&str, String)> = vec![
            ("bootstrap.servers", bootstrap.clone()),
            ("linger.ms", "5".into()),
            ("request.timeout.ms", "2000".into()),
            ("delivery.timeout.ms", "20000".into()),
            ("retry.backoff.ms", "20".into()),
            ("metadata.max.age.ms", "1000".into()),
        ];
        let mut rng = StdRng::seed_from_u64(seed);
        let run = produce(&props, &topic, 6000, 50, seed, |i| {
            if i > 0 && i % 1000 == 0 {
                for p in 0..6 {
                    mock.cmd(&format!("leader {topic} {p} {}", rng.gen_range(1..=3)));
                }
            }
            if i % 1500 == 700 {
                mock.cmd("errors 19 6 5 56 19");
            }
        })
        .await;
        let r = check(seed, &run.sent, &tools.read_back(&bootstrap, &topic, run.sent.len()));
        assert!(r.ok(), "seed {seed}: {}", r.summary());
        assert_eq!(r.persisted, 6000, "seed {seed}: {}", r.summary());
        eprintln!("scenario 33 (mock cluster), seed {seed}: {}", r.summary());
    }
}
