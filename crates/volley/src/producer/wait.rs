//! What `send` waits for in the metadata, and what the producer tells about a topic:
//! `partition_for` and `partitions_for`.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;
use volley_protocol::ErrorCode;

use super::{validate_topic, Producer};
use crate::error::Error;
use crate::metadata::Cluster;
use crate::sender::Command;

/// A broker, as the cluster's metadata names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Node {
    /// Node id.
    pub id: i32,
    /// `host:port` it is reached at.
    pub address: String,
}

/// One partition of a topic as the producer last saw it (Java's `PartitionInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartitionMetadata {
    /// Topic.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// The leader, or `None` while the partition has none (or its leader is a broker the
    /// metadata does not list).
    pub leader: Option<Node>,
    /// The leader's epoch, if the broker sent one; `None` also while there is no leader.
    pub leader_epoch: Option<i32>,
    /// Node ids of every replica.
    pub replicas: Vec<i32>,
    /// Node ids of the in-sync replicas.
    pub isr: Vec<i32>,
    /// Node ids of offline replicas.
    pub offline_replicas: Vec<i32>,
}

impl Producer {
    pub(super) async fn partitions_of(&self, topic: &str, deadline: Instant) -> Result<usize, Error> {
        let mut rx = self.cluster.clone();
        let mut asked = false;
        loop {
            let last_error;
            {
                let c = rx.borrow_and_update();
                // A fatal stop (e.g. TLS or SASL refused) ends the wait at once.
                if let Some(reason) = self.shared.fatal.get() {
                    return Err(Error::Fatal(reason.clone()));
                }
                if let Some(t) = c.topics.get(topic) {
                    return Ok(t.leaders.len());
                }
                // The brokers refuse our TLS or SASL settings: waiting cannot help.
                if let Some(e) = &c.auth_error {
                    return Err(e.clone());
                }
                // Java: an authorization failure is final, `send` fails at once. Only an answer
                // published after we asked counts (an older one may predate a grant).
                // UNKNOWN_TOPIC_OR_PARTITION and the rest keep waiting: the topic may be
                // being created.
                if asked && c.topic_errors.get(topic) == Some(&ErrorCode::TOPIC_AUTHORIZATION_FAILED) {
                    return Err(Error::Broker {
                        code: ErrorCode::TOPIC_AUTHORIZATION_FAILED,
                        message: Some(format!("not authorized to access topic '{topic}'")),
                    });
                }
                last_error = c
                    .topic_errors
                    .get(topic)
                    .map(|e| format!("the broker answered {e}"))
                    .or_else(|| c.last_error.clone());
            }
            if !asked {
                self.commands
                    .send(Command::NeedTopic(topic.to_owned()))
                    .map_err(|_| Error::Closed { detail: None })?;
                asked = true;
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            let timed_out = Error::TopicNotAvailable {
                topic: topic.to_owned(),
                waited: self.shared.config.max_block,
                cause: last_error,
            };
            if remaining.is_zero() {
                return Err(timed_out);
            }
            match tokio::time::timeout(remaining, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(Error::Closed { detail: None }),
                Err(_) => return Err(timed_out),
            }
        }
    }

    /// Waits until `topic` has partition `partition` (>= 0) in the metadata, asking the
    /// sender for a refresh, then again every `retry.backoff.ms`, until `deadline`.
    pub(super) async fn wait_for_partition(&self, topic: &str, partition: i32, deadline: Instant) -> Result<(), Error> {
        let mut rx = self.cluster.clone();
        let wanted = usize::try_from(partition).unwrap_or(usize::MAX);
        let count = |rx: &mut watch::Receiver<Arc<Cluster>>| {
            rx.borrow_and_update().topics.get(topic).map_or(0, |t| t.leaders.len())
        };
        let unknown = |count| Error::UnknownPartition {
            topic: topic.to_owned(),
            partition,
            count,
        };
        let mut n = count(&mut rx);
        while n <= wanted {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(unknown(n));
            }
            self.commands
                .send(Command::RefreshTopic(topic.to_owned()))
                .map_err(|_| Error::Closed { detail: None })?;
            match tokio::time::timeout(remaining, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(Error::Closed { detail: None }),
                Err(_) => return Err(unknown(n)),
            }
            n = count(&mut rx);
            if n <= wanted {
                // Not there yet: ask again after retry.backoff.ms, as Java's metadata does.
                let remaining = deadline.saturating_duration_since(Instant::now());
                tokio::time::sleep(self.shared.config.retry_backoff.min(remaining)).await;
                n = count(&mut rx);
            }
        }
        Ok(())
    }

    /// Waits until the producer knows the cluster's brokers: a metadata request (without
    /// topics if none is used yet) answered by one of them. Volley otherwise connects at the
    /// first `send`; kafka-python bootstraps in its constructor, and its Python twin calls
    /// this there. Not bounded here: the caller bounds the wait (the blocking
    /// [`crate::blocking::Producer::bootstrap`] takes a timeout).
    ///
    /// # Errors
    /// [`Error::Fatal`], a TLS or SASL refusal of the brokers ([`Error::Tls`],
    /// [`Error::Authentication`]), [`Error::Closed`].
    pub async fn bootstrap(&self) -> Result<(), Error> {
        let mut rx = self.cluster.clone();
        let mut asked = false;
        loop {
            {
                let c = rx.borrow_and_update();
                if let Some(reason) = self.shared.fatal.get() {
                    return Err(Error::Fatal(reason.clone()));
                }
                if !c.brokers.is_empty() {
                    return Ok(());
                }
                if let Some(e) = &c.auth_error {
                    return Err(e.clone());
                }
            }
            if !asked {
                self.commands
                    .send(Command::Bootstrap)
                    .map_err(|_| Error::Closed { detail: None })?;
                asked = true;
            }
            if rx.changed().await.is_err() {
                return Err(Error::Closed { detail: None });
            }
        }
    }

    /// Where a key would go now for `topic` (waits for metadata like `send`). `None` for
    /// a keyless record, which the sticky partitioner places.
    ///
    /// # Errors
    /// As the metadata part of [`Producer::send`].
    pub async fn partition_for(&self, topic: &str, key: Option<&[u8]>) -> Result<Option<i32>, Error> {
        validate_topic(topic)?;
        let deadline = Instant::now() + self.shared.config.max_block;
        let n = self.partitions_of(topic, deadline).await?;
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        Ok(self
            .partitioner
            .partition(topic, key, n)
            .map(|p| i32::try_from(p).unwrap_or(0)))
    }

    /// The partitions of `topic`, with leader, replicas and in-sync replicas, from the
    /// producer's metadata. A topic the producer does not know yet is asked for (and
    /// created, with `allow.auto.create.topics` and a broker that does); the wait is bounded
    /// by `max.block.ms`, as in `send`. A known topic is answered from the cache, which is
    /// refreshed every `metadata.max.age.ms` and after errors.
    ///
    /// # Errors
    /// As the metadata part of [`Producer::send`]: an invalid topic name,
    /// [`Error::TopicNotAvailable`] after `max.block.ms`, [`Error::Broker`] for a topic the
    /// client is not authorized for, [`Error::Closed`].
    pub async fn partitions_for(&self, topic: &str) -> Result<Vec<PartitionMetadata>, Error> {
        validate_topic(topic)?;
        let deadline = Instant::now() + self.shared.config.max_block;
        self.partitions_of(topic, deadline).await?;
        let cluster = self.shared.cluster.load();
        let Some(t) = cluster.topics.get(topic) else {
            // Dropped between the wait and this read (metadata.max.idle.ms): wait again.
            return Err(Error::TopicNotAvailable {
                topic: topic.to_owned(),
                waited: self.shared.config.max_block,
                cause: Some("the topic left the metadata while it was read".into()),
            });
        };
        Ok(t.leaders
            .iter()
            .enumerate()
            .map(|(i, &leader)| {
                let partition = i32::try_from(i).unwrap_or(i32::MAX);
                let replicas = t.replicas.get(i).cloned().unwrap_or_default();
                PartitionMetadata {
                    topic: topic.to_owned(),
                    partition,
                    leader: cluster.leader(topic, partition).map(|id| Node {
                        id,
                        address: cluster.brokers.get(&id).cloned().unwrap_or_default(),
                    }),
                    leader_epoch: t.epochs.get(i).copied().filter(|e| *e >= 0 && leader >= 0),
                    replicas: replicas.all,
                    isr: replicas.isr,
                    offline_replicas: replicas.offline,
                }
            })
            .collect())
    }
}
