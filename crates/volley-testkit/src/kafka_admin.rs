//! Admin operations on a [`KafkaCluster`]: topics with per-topic configs, added
//! partitions, deleted topics, altered configs, preferred-leader election, and who leads.
//!
//! They go through `scripts/reader.py` (librdkafka's AdminClient, the reader's Python),
//! not through Kafka's Java tools (`TopicCommand`, `ConfigCommand`,
//! `LeaderElectionCommand`): a Python call takes about 0.3 s, a JVM per call 2-3 s of CPU on
//! two cores that the brokers' four JVMs already share.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use crate::kafka::{KafkaCluster, KafkaError};
use crate::tansu::repo_root;

/// Who leads a partition and who replicates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionState {
    /// The leader's node id (-1: none).
    pub leader: i32,
    /// The assigned replicas, the preferred leader first.
    pub replicas: Vec<i32>,
    /// The in-sync replicas.
    pub isr: Vec<i32>,
}

fn python() -> PathBuf {
    std::env::var("VOLLEY_PYTHON").map_or_else(|_| repo_root().join(".volley/venv/bin/python"), PathBuf::from)
}

/// Runs `scripts/reader.py CMD BOOTSTRAP ARGS...` and returns its stdout.
///
/// # Errors
/// [`KafkaError::Tool`] with the reader's stderr when it fails.
pub fn reader(cmd: &str, bootstrap: &str, args: &[String]) -> Result<String, KafkaError> {
    let py = python();
    if !py.exists() {
        return Err(KafkaError::NotInstalled(format!("no reader at {}", py.display())));
    }
    let out = Command::new(&py)
        .arg(repo_root().join("scripts/reader.py"))
        .arg(cmd)
        .arg(bootstrap)
        .args(args)
        .output()
        .map_err(|source| KafkaError::Io {
            what: format!("running {}", py.display()),
            source,
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(KafkaError::Tool {
            what: format!("reader.py {cmd} {bootstrap} {}", args.join(" ")),
            output: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

fn pairs(configs: &[(&str, &str)]) -> Vec<String> {
    configs.iter().map(|(k, v)| format!("{k}={v}")).collect()
}

impl KafkaCluster {
    /// Creates `topic` with `partitions` partitions, replication factor `rf` (`None`: the
    /// brokers' `default.replication.factor`) and per-topic `configs` (e.g.
    /// `max.message.bytes`, `message.timestamp.type=LogAppendTime`, `cleanup.policy=compact`,
    /// `min.insync.replicas`).
    ///
    /// # Errors
    /// When the admin client fails (the broker's error is in the message).
    pub fn create_topic(
        &self,
        topic: &str,
        partitions: u32,
        rf: Option<u16>,
        configs: &[(&str, &str)],
    ) -> Result<(), KafkaError> {
        let mut args = vec![
            topic.to_owned(),
            partitions.to_string(),
            rf.map_or_else(|| "-1".to_owned(), |r| r.to_string()),
        ];
        args.extend(pairs(configs));
        reader("create", self.bootstrap(), &args).map(drop)
    }

    /// Grows `topic` to `total` partitions.
    ///
    /// # Errors
    /// When the admin client fails.
    pub fn add_partitions(&self, topic: &str, total: u32) -> Result<(), KafkaError> {
        reader(
            "add-partitions",
            self.bootstrap(),
            &[topic.to_owned(), total.to_string()],
        )
        .map(drop)
    }

    /// Deletes `topic`.
    ///
    /// # Errors
    /// When the admin client fails.
    pub fn delete_topic(&self, topic: &str) -> Result<(), KafkaError> {
        reader("delete", self.bootstrap(), &[topic.to_owned()]).map(drop)
    }

    /// Sets per-topic configs (incrementally: the others keep their values).
    ///
    /// # Errors
    /// When the admin client fails.
    pub fn alter_topic_config(&self, topic: &str, configs: &[(&str, &str)]) -> Result<(), KafkaError> {
        let mut args = vec![topic.to_owned()];
        args.extend(pairs(configs));
        reader("alter-config", self.bootstrap(), &args).map(drop)
    }

    /// Sets dynamic broker configs on every broker (e.g.
    /// `producer.id.expiration.ms`); an empty value removes the override.
    ///
    /// # Errors
    /// When the admin client fails (a static config is refused by the broker).
    pub fn alter_cluster_config(&self, configs: &[(&str, &str)]) -> Result<(), KafkaError> {
        let mut args = vec![String::new()];
        args.extend(pairs(configs));
        reader("alter-cluster-config", self.bootstrap(), &args).map(drop)
    }

    /// The producer ids whose state the leader of `topic`'s `partition` keeps (Kafka's own
    /// `TransactionsCommand describe-producers`, one JVM).
    ///
    /// # Errors
    /// When the tool fails or its table cannot be read.
    pub fn active_producers(&self, topic: &str, partition: i32) -> Result<Vec<i64>, KafkaError> {
        let out = crate::kafka::KafkaInstall::find()?
            .java("org.apache.kafka.tools.TransactionsCommand")
            .args([
                "--bootstrap-server",
                self.bootstrap(),
                "describe-producers",
                "--topic",
                topic,
            ])
            .args(["--partition", &partition.to_string()])
            .output()
            .map_err(|e| KafkaError::Tool {
                what: "TransactionsCommand describe-producers".into(),
                output: e.to_string(),
            })?;
        let text = String::from_utf8_lossy(&out.stdout);
        let bad = || KafkaError::Tool {
            what: "TransactionsCommand describe-producers".into(),
            output: format!("{text}{}", String::from_utf8_lossy(&out.stderr)),
        };
        if !out.status.success() {
            return Err(bad());
        }
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        if !lines.next().is_some_and(|h| h.trim_start().starts_with("ProducerId")) {
            return Err(bad());
        }
        lines
            .map(|l| {
                l.split_whitespace()
                    .next()
                    .and_then(|id| id.parse().ok())
                    .ok_or_else(bad)
            })
            .collect()
    }

    /// Moves the leadership of each partition of `topic` back to its preferred replica
    /// (what `LeaderElectionCommand --election-type PREFERRED` does).
    ///
    /// # Errors
    /// When the admin client fails or an election fails (other than "not needed").
    pub fn elect_preferred_leaders(&self, topic: &str) -> Result<(), KafkaError> {
        reader("elect-preferred", self.bootstrap(), &[topic.to_owned()]).map(drop)
    }

    /// Leader, replicas and ISR of every partition of `topic`.
    ///
    /// # Errors
    /// When the admin client fails or its answer cannot be read.
    pub fn describe(&self, topic: &str) -> Result<BTreeMap<i32, PartitionState>, KafkaError> {
        let out = reader("describe", self.bootstrap(), &[topic.to_owned()])?;
        let bad = || KafkaError::Tool {
            what: format!("describe {topic}"),
            output: out.clone(),
        };
        let v: serde_json::Value = serde_json::from_str(out.trim()).map_err(|_| bad())?;
        let ids = |v: &serde_json::Value| -> Vec<i32> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(serde_json::Value::as_i64)
                        .filter_map(|i| i32::try_from(i).ok())
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut parts = BTreeMap::new();
        for (p, s) in v.as_object().ok_or_else(bad)? {
            let p: i32 = p.parse().map_err(|_| bad())?;
            let leader = s["leader"]
                .as_i64()
                .and_then(|l| i32::try_from(l).ok())
                .ok_or_else(bad)?;
            parts.insert(
                p,
                PartitionState {
                    leader,
                    replicas: ids(&s["replicas"]),
                    isr: ids(&s["isr"]),
                },
            );
        }
        Ok(parts)
    }

    /// Waits (polling every 200 ms, up to `bound`) until `topic` has `partitions`
    /// partitions, each with a leader and all `replicas` replicas in sync: a healthy topic
    /// before a fault scenario starts.
    ///
    /// # Errors
    /// When that does not happen within `bound`.
    pub fn wait_fully_replicated(
        &self,
        topic: &str,
        partitions: u32,
        replicas: usize,
        bound: std::time::Duration,
    ) -> Result<(), KafkaError> {
        let start = std::time::Instant::now();
        loop {
            let healthy = self
                .describe(topic)
                .map(|d| d.len() == partitions as usize && d.values().all(|s| s.isr.len() == replicas && s.leader > 0))
                .unwrap_or(false);
            if healthy {
                return Ok(());
            }
            if start.elapsed() >= bound {
                return Err(KafkaError::Tool {
                    what: format!("waiting for {topic} to be fully replicated"),
                    output: format!("not within {bound:?}: {partitions} partitions, each with a leader and {replicas} replicas in sync"),
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    /// The leader of `topic`'s `partition` (-1 when it has none).
    ///
    /// # Errors
    /// When the admin client fails or the partition does not exist.
    pub fn leader_of(&self, topic: &str, partition: i32) -> Result<i32, KafkaError> {
        self.describe(topic)?
            .get(&partition)
            .map(|s| s.leader)
            .ok_or_else(|| KafkaError::Tool {
                what: format!("leader of {topic}-{partition}"),
                output: "no such partition".into(),
            })
    }
}
