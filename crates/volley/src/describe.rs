//! A one-off look at a cluster, without a producer: brokers, controller, topics,
//! partitions, leaders, replicas and in-sync replicas (what `kcat -L` prints). It connects
//! to a bootstrap server exactly as the producer would (TLS, SASL, socket options) and sends
//! one Metadata request.

use std::time::Instant;

use volley_protocol::control::{decode_metadata, encode_metadata};
use volley_protocol::ErrorCode;

use crate::config::ProducerConfig;
use crate::error::Error;

/// A broker the cluster lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerDescription {
    /// Node id.
    pub id: i32,
    /// Host it advertises.
    pub host: String,
    /// Port it advertises.
    pub port: u16,
}

/// A partition of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionDescription {
    /// Partition index.
    pub partition: i32,
    /// Leader node id, `None` while it has none.
    pub leader: Option<i32>,
    /// Leader epoch, when the broker sent one.
    pub leader_epoch: Option<i32>,
    /// Replica node ids.
    pub replicas: Vec<i32>,
    /// In-sync replica node ids.
    pub isr: Vec<i32>,
    /// Offline replica node ids.
    pub offline_replicas: Vec<i32>,
    /// The partition's error name (`LEADER_NOT_AVAILABLE`), `None` when there is none.
    pub error: Option<String>,
}

/// A topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDescription {
    /// Name.
    pub name: String,
    /// The topic's error name (`UNKNOWN_TOPIC_OR_PARTITION`), `None` when there is none.
    pub error: Option<String>,
    /// Partitions, by index.
    pub partitions: Vec<PartitionDescription>,
}

/// What a cluster says of itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDescription {
    /// The bootstrap server that answered.
    pub answered_by: String,
    /// Brokers, by id.
    pub brokers: Vec<BrokerDescription>,
    /// The controller's id as the broker reports it (KRaft brokers name a broker at random),
    /// `None` if unknown.
    pub controller_id: Option<i32>,
    /// Topics, by name.
    pub topics: Vec<TopicDescription>,
}

fn error_name(e: ErrorCode) -> Option<String> {
    (e != ErrorCode::NONE).then(|| e.name().to_owned())
}

/// Describes the cluster behind `config`'s bootstrap servers: `topics` (`None`: every topic,
/// internal ones included). Topics are never created by this call. Each bootstrap server is
/// tried in turn; the whole call is bounded by `max.block.ms`.
///
/// # Errors
/// No bootstrap server answered in time (the last server's error), or the answer could not
/// be decoded.
pub async fn describe_cluster(config: &ProducerConfig, topics: Option<&[String]>) -> Result<ClusterDescription, Error> {
    let deadline = Instant::now() + config.max_block;
    let mut last = Error::Connection {
        broker: config.bootstrap_servers.join(","),
        detail: "no bootstrap server".into(),
    };
    for addr in &config.bootstrap_servers {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match tokio::time::timeout(left, ask(config, addr, topics)).await {
            Ok(Ok(d)) => return Ok(d),
            Ok(Err(e)) => last = e,
            Err(_) => {
                last = Error::Connection {
                    broker: addr.clone(),
                    detail: format!("no answer within max.block.ms ({} ms)", config.max_block.as_millis()),
                }
            }
        }
    }
    Err(last)
}

async fn ask(config: &ProducerConfig, addr: &str, topics: Option<&[String]>) -> Result<ClusterDescription, Error> {
    let client_id = (!config.client_id.is_empty()).then(|| config.client_id.clone());
    let (version, body) = crate::group::exchange(config, addr, |versions| {
        let v = versions.metadata;
        encode_metadata(v, 1, client_id.as_deref(), topics, false)
            .map(|r| (v, r))
            .map_err(|e| Error::Protocol {
                broker: addr.to_owned(),
                detail: e.to_string(),
            })
    })
    .await?;
    let answer = decode_metadata(version, body).map_err(|e| Error::Protocol {
        broker: addr.to_owned(),
        detail: e.to_string(),
    })?;
    let mut brokers: Vec<BrokerDescription> = answer
        .brokers
        .into_iter()
        .map(|b| BrokerDescription {
            id: b.node_id,
            host: b.host,
            port: b.port,
        })
        .collect();
    brokers.sort_by_key(|b| b.id);
    let mut topics: Vec<TopicDescription> = answer
        .topics
        .into_iter()
        .map(|t| TopicDescription {
            name: t.name,
            error: error_name(t.error),
            partitions: t
                .partitions
                .into_iter()
                .map(|p| PartitionDescription {
                    partition: p.partition,
                    leader: (p.leader >= 0).then_some(p.leader),
                    leader_epoch: (p.leader_epoch >= 0).then_some(p.leader_epoch),
                    replicas: p.replicas,
                    isr: p.isr,
                    offline_replicas: p.offline_replicas,
                    error: error_name(p.error),
                })
                .collect(),
        })
        .collect();
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(ClusterDescription {
        answered_by: addr.to_owned(),
        brokers,
        controller_id: (answer.controller_id >= 0).then_some(answer.controller_id),
        topics,
    })
}
