//! The cluster as the producer last saw it: brokers, and each topic's partition leaders.
//!
//! The sender owns updates; `send` reads the latest snapshot (an `Arc`) without waiting for
//! the sender, and waits on the watch channel only when its topic is not known yet.

use rustc_hash::FxHashMap;
use std::collections::HashMap;
use std::sync::Arc;

use volley_protocol::control::MetadataAnswer;
use volley_protocol::ErrorCode;

/// One topic's partitions: leader node id per partition (-1 when there is none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TopicMeta {
    pub(crate) leaders: Vec<i32>,
    /// Leader epoch per partition (-1 when the broker does not send one): metadata with an
    /// older epoch than the one known is stale and ignored for that partition (KIP-320).
    pub(crate) epochs: Vec<i32>,
    /// Partitions whose leader is a known broker, ascending (Java's
    /// `availablePartitionsForTopic`): where keyless records may stick.
    pub(crate) available: Vec<u32>,
    /// Replicas per partition, as the last Metadata answer had them (for
    /// `Producer::partitions_for`; shared, so that copying a snapshot does not copy them).
    pub(crate) replicas: Arc<[Replicas]>,
    /// The topic's id (zeros when the broker does not send one).
    pub(crate) id: [u8; 16],
}

/// One partition's replica sets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Replicas {
    pub(crate) all: Vec<i32>,
    pub(crate) isr: Vec<i32>,
    pub(crate) offline: Vec<i32>,
}

/// An immutable snapshot of the cluster.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cluster {
    /// Broker node id to `host:port`.
    pub(crate) brokers: HashMap<i32, String>,
    /// Known topics.
    pub(crate) topics: FxHashMap<String, TopicMeta>,
    /// Why wanted topics are not known: last broker error per topic.
    pub(crate) topic_errors: HashMap<String, ErrorCode>,
    /// The last connection problem, shown when a topic never appears.
    pub(crate) last_error: Option<String>,
    /// A TLS or SASL refusal of the last dial, until a dial succeeds: sends waiting for
    /// metadata fail with it at once (retrying with the same settings cannot help now, but
    /// the sender keeps dialling with backoff, as Java does, in case the broker recovers).
    pub(crate) auth_error: Option<crate::Error>,
}

impl Cluster {
    /// The leader of a partition, if it has one.
    pub(crate) fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        let l = *self.topics.get(topic)?.leaders.get(usize::try_from(partition).ok()?)?;
        (l >= 0 && self.brokers.contains_key(&l)).then_some(l)
    }

    /// Merges a Metadata answer into a new snapshot.
    pub(crate) fn updated(&self, answer: &MetadataAnswer) -> Arc<Cluster> {
        let mut next = self.clone();
        next.brokers = answer
            .brokers
            .iter()
            .map(|b| (b.node_id, format!("{}:{}", b.host, b.port)))
            .collect();
        for t in &answer.topics {
            if t.error.is_ok() && !t.partitions.is_empty() {
                next.topic_errors.remove(&t.name);
                // A topic deleted and created again has a new id and starts its leader epochs
                // afresh: the old topic's epochs say nothing about it (without this, KIP-320's
                // check kept the deleted topic's leaders for good).
                let known = self
                    .topics
                    .get(&t.name)
                    .filter(|k| k.id == t.topic_id || k.id == [0; 16] || t.topic_id == [0; 16]);
                let mut meta = TopicMeta {
                    id: t.topic_id,
                    available: Vec::new(),
                    leaders: Vec::with_capacity(t.partitions.len()),
                    epochs: Vec::with_capacity(t.partitions.len()),
                    replicas: t
                        .partitions
                        .iter()
                        .map(|p| Replicas {
                            all: p.replicas.clone(),
                            isr: p.isr.clone(),
                            offline: p.offline_replicas.clone(),
                        })
                        .collect(),
                };
                for (i, p) in t.partitions.iter().enumerate() {
                    let old = known.and_then(|k| Some((*k.leaders.get(i)?, *k.epochs.get(i)?)));
                    let fresh = (
                        if p.error == ErrorCode::LEADER_NOT_AVAILABLE {
                            -1
                        } else {
                            p.leader
                        },
                        p.leader_epoch,
                    );
                    // KIP-320: a broker whose metadata is behind (an older leader epoch) must not
                    // move the partition back to a former leader.
                    let (leader, epoch) = match old {
                        Some(o) if fresh.1 >= 0 && o.1 > fresh.1 => o,
                        _ => fresh,
                    };
                    meta.leaders.push(leader);
                    meta.epochs.push(epoch);
                }
                next.topics.insert(t.name.clone(), meta);
            } else {
                let code = if t.error.is_ok() {
                    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                } else {
                    t.error
                };
                next.topic_errors.insert(t.name.clone(), code);
                // A deleted topic disappears; a transient error keeps the last known layout.
                if code == ErrorCode::UNKNOWN_TOPIC_OR_PARTITION {
                    next.topics.remove(&t.name);
                }
            }
        }
        // Brokers may have changed for topics this answer did not mention, too.
        for t in next.topics.values_mut() {
            t.available = available(&t.leaders, &next.brokers);
        }
        next.last_error = None;
        Arc::new(next)
    }
}

impl Cluster {
    /// Applies a Produce answer's hint that `partition` is now led by `leader` at
    /// `leader_epoch` (KIP-951), if it is newer than what is known and the broker is known
    /// (`endpoints` adds brokers the answer described). Returns the new snapshot, or `None`
    /// if the hint changes nothing.
    pub(crate) fn with_leader_hint(
        &self,
        topic: &str,
        partition: i32,
        leader: i32,
        leader_epoch: i32,
        endpoints: &[(i32, String)],
    ) -> Option<Arc<Cluster>> {
        let idx = usize::try_from(partition).ok()?;
        let t = self.topics.get(topic)?;
        let known_epoch = *t.epochs.get(idx)?;
        if leader < 0
            || leader_epoch < 0
            || known_epoch >= leader_epoch
            || t.leaders.get(idx) == Some(&leader) && known_epoch == leader_epoch
        {
            return None;
        }
        let mut next = self.clone();
        for (id, addr) in endpoints {
            next.brokers.entry(*id).or_insert_with(|| addr.clone());
        }
        if !next.brokers.contains_key(&leader) {
            return None;
        }
        let m = next.topics.get_mut(topic)?;
        m.leaders[idx] = leader;
        m.epochs[idx] = leader_epoch;
        m.available = available(&m.leaders, &next.brokers);
        Some(Arc::new(next))
    }
}

/// The partitions whose leader is a known broker, ascending.
fn available(leaders: &[i32], brokers: &HashMap<i32, String>) -> Vec<u32> {
    leaders
        .iter()
        .enumerate()
        .filter(|(_, l)| **l >= 0 && brokers.contains_key(*l))
        .filter_map(|(p, _)| u32::try_from(p).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use volley_protocol::control::{BrokerInfo, PartitionInfo, TopicInfo};

    fn answer(brokers: &[i32], topics: &[(&str, &[(i32, ErrorCode)])]) -> MetadataAnswer {
        MetadataAnswer {
            brokers: brokers
                .iter()
                .map(|&node_id| BrokerInfo {
                    node_id,
                    host: "localhost".into(),
                    port: 9092,
                })
                .collect(),
            topics: topics
                .iter()
                .map(|(name, parts)| TopicInfo {
                    name: (*name).to_owned(),
                    error: ErrorCode::NONE,
                    topic_id: [0; 16],
                    partitions: parts
                        .iter()
                        .enumerate()
                        .map(|(i, &(leader, error))| PartitionInfo {
                            partition: i32::try_from(i).unwrap(),
                            error,
                            leader,
                            leader_epoch: 0,
                            replicas: vec![leader],
                            isr: vec![leader],
                            offline_replicas: Vec::new(),
                        })
                        .collect(),
                })
                .collect(),
            controller_id: 1,
            error: ErrorCode::NONE,
        }
    }

    /// KIP-320 keeps a partition's leader when an answer carries an older leader epoch; a
    /// topic deleted and created again (a new topic id) starts at epoch 0 and must not be
    /// taken for stale metadata (issue 11 review: production stalled for good after a
    /// re-creation whose old partitions had moved leaders).
    #[test]
    fn a_recreated_topic_is_not_stale_metadata() {
        let ok = ErrorCode::NONE;
        let with = |id: u8, leader: i32, epoch: i32| {
            let mut a = answer(&[1, 2], &[("t", &[(leader, ok)][..])]);
            a.topics[0].topic_id = [id; 16];
            a.topics[0].partitions[0].leader_epoch = epoch;
            a
        };
        let old = Cluster::default().updated(&with(1, 1, 7));
        let stale = old.updated(&with(1, 2, 3));
        assert_eq!(
            stale.leader("t", 0),
            Some(1),
            "an older epoch of the same topic is stale"
        );
        let recreated = old.updated(&with(2, 2, 0));
        assert_eq!(recreated.leader("t", 0), Some(2), "a new topic id starts afresh");
        assert_eq!(recreated.topics["t"].epochs, vec![0]);
    }

    #[test]
    fn available_partitions_are_those_led_by_a_known_broker() {
        let ok = ErrorCode::NONE;
        let c = Cluster::default().updated(&answer(
            &[1, 2],
            &[(
                "t",
                &[
                    (1, ok),
                    (-1, ok),
                    (2, ErrorCode::LEADER_NOT_AVAILABLE),
                    (3, ok),
                    (2, ok),
                ],
            )],
        ));
        let t = &c.topics["t"];
        assert_eq!(t.leaders, vec![1, -1, -1, 3, 2]);
        assert_eq!(t.available, vec![0, 4], "no leader, or a leader not in the broker list");
        // A later answer that does not name the topic still re-checks its leaders' brokers.
        let c = c.updated(&answer(&[1, 2, 3], &[]));
        assert_eq!(c.topics["t"].available, vec![0, 3, 4]);
    }
}
