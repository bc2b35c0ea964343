//! A tansu broker as a child process, and the independent read-back through librdkafka
//! (`scripts/reader.py` with confluent-kafka), for tests and the soak.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;

use crate::fake::LogRecord;

/// The repository root (two levels above this crate).
#[must_use]
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Paths of the installed tools (`scripts/install`), overridable by environment variables
/// `VOLLEY_TANSU` and `VOLLEY_PYTHON`.
#[derive(Debug, Clone)]
pub struct Tools {
    /// The tansu binary.
    pub tansu: PathBuf,
    /// Python with confluent-kafka.
    pub python: PathBuf,
    /// `scripts/reader.py`.
    pub reader: PathBuf,
}

impl Tools {
    /// Finds the tools; panics with what to run if they are missing (never skips).
    ///
    /// # Panics
    /// When tansu or the reader's Python is not installed.
    #[must_use]
    pub fn find() -> Self {
        let root = repo_root();
        let tansu = std::env::var("VOLLEY_TANSU").map_or_else(|_| root.join(".volley/bin/tansu"), PathBuf::from);
        let python =
            std::env::var("VOLLEY_PYTHON").map_or_else(|_| root.join(".volley/venv/bin/python"), PathBuf::from);
        assert!(tansu.exists(), "no tansu at {} (run scripts/install)", tansu.display());
        assert!(
            python.exists(),
            "no reader at {} (run scripts/install)",
            python.display()
        );
        Self {
            tansu,
            python,
            reader: root.join("scripts/reader.py"),
        }
    }
}

/// A tansu broker listening on `listen`, advertising `advertise`.
#[derive(Debug)]
pub struct Tansu {
    child: Child,
    /// Where it listens.
    pub listen: String,
    tansu: PathBuf,
    advertise: String,
}

impl Tansu {
    /// Starts tansu and waits until it accepts connections.
    ///
    /// # Panics
    /// If it cannot be started within 20 seconds.
    #[must_use]
    pub fn start(tansu: &Path, listen: &str, advertise: &str) -> Self {
        let child = Command::new(tansu)
            .args([
                "broker",
                "--listener-url",
                &format!("tcp://{listen}"),
                "--advertised-listener-url",
                &format!("tcp://{advertise}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tansu");
        let start = Instant::now();
        while std::net::TcpStream::connect(listen).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "tansu did not listen on {listen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            listen: listen.to_owned(),
            tansu: tansu.to_owned(),
            advertise: advertise.to_owned(),
        }
    }

    /// The process id (for SIGSTOP/SIGCONT).
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`STOP`, `CONT`, `KILL`).
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status();
    }

    /// SIGKILLs the broker and starts a new one on the same address (its log is in memory,
    /// so it starts empty).
    pub fn kill_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        *self = Self::start(&self.tansu.clone(), &self.listen.clone(), &self.advertise.clone());
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free port on 127.0.0.1.
///
/// # Panics
/// If no port can be bound.
#[must_use]
pub fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").to_string()
}

impl Tools {
    /// Creates a topic through librdkafka's AdminClient.
    ///
    /// # Panics
    /// If the reader fails.
    pub fn create_topic(&self, bootstrap: &str, topic: &str, partitions: u32) {
        let st = Command::new(&self.python)
            .arg(&self.reader)
            .args(["create", bootstrap, topic, &partitions.to_string()])
            .status()
            .expect("run the reader");
        assert!(st.success(), "create topic {topic}");
    }

    /// Like [`Tools::read_back`], with each record's producer id, epoch and sequence as the
    /// broker stored them ([`crate::stamps`]) in [`LogRecord::producer`], so the oracle can
    /// tell a producer's ordering fault from the broker's. If they cannot be fetched, they
    /// stay unknown and every order violation counts against the producer.
    ///
    /// # Panics
    /// If the reader fails.
    #[must_use]
    pub fn read_back_stamped(&self, bootstrap: &str, topic: &str, at_least: usize, partitions: u32) -> Vec<LogRecord> {
        let mut log = self.read_back(bootstrap, topic, at_least);
        match crate::stamps::producer_stamps(bootstrap, topic, partitions) {
            Ok(stamps) => {
                for r in &mut log {
                    if let Some(s) = stamps.get(&(r.partition, r.offset)) {
                        r.producer = *s;
                    }
                }
            }
            Err(e) => {
                eprintln!("producer stamps of {topic} not fetched ({e}): order faults count against the producer")
            }
        }
        log
    }

    /// Reads a whole topic back with librdkafka (CRCs checked).
    ///
    /// # Panics
    /// If the reader fails.
    #[must_use]
    pub fn read_back(&self, bootstrap: &str, topic: &str, at_least: usize) -> Vec<LogRecord> {
        let out = Command::new(&self.python)
            .arg(&self.reader)
            .args(["read", bootstrap, topic, &(at_least + 1_000_000).to_string()])
            .stderr(Stdio::inherit())
            .output()
            .expect("run the reader");
        assert!(out.status.success(), "reader failed");
        let b64 = |v: &serde_json::Value| {
            v.as_str()
                .map(|s| Bytes::from(base64::engine::general_purpose::STANDARD.decode(s).expect("base64")))
        };
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("json");
                LogRecord {
                    topic: topic.to_owned(),
                    partition: i32::try_from(v["p"].as_i64().unwrap_or(-1)).unwrap_or(-1),
                    offset: v["o"].as_i64().unwrap_or(-1),
                    key: b64(&v["k"]),
                    value: b64(&v["v"]),
                    headers: Vec::new(),
                    timestamp: v["ts"].as_i64().unwrap_or(0),
                    producer: (-1, -1, -1),
                }
            })
            .collect()
    }
}
