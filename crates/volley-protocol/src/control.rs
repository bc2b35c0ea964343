//! Control-plane messages: ApiVersions, Metadata and InitProducerId.
//!
//! Requests are encoded with the `kafka-protocol` crate, which generates them from Kafka's
//! official schemas. Responses are decoded here with the bounded [`Reader`]: the generated
//! decoders call `Vec::with_capacity` with counts read from the wire, so a hostile count
//! aborts the process with an allocation failure (caught by this module's tests), which no
//! `catch_unwind` can stop. The generated encoders serve as the test oracle for these
//! decoders. Results are plain types that do not leak the crate's types into the producer.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, InitProducerIdRequest, MetadataRequest, RequestHeader, TopicName,
};
use kafka_protocol::protocol::{Encodable, Request, StrBytes};

use crate::error::ErrorCode;
use crate::versions::BrokerVersions;
use crate::wire::{DecodeError, Reader};

/// A request could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode {api} request v{version}: {detail}")]
pub struct EncodeError {
    /// API name.
    pub api: &'static str,
    /// Version.
    pub version: i16,
    /// Why.
    pub detail: String,
}

/// Encodes a generated request with its header and size prefix.
pub(crate) fn encode<R: Request>(
    api: &'static str,
    req: &R,
    version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
) -> Result<Bytes, EncodeError> {
    let e = |d: String| EncodeError {
        api,
        version,
        detail: d,
    };
    let key = ApiKey::try_from(R::KEY).map_err(|()| e("unknown api key".into()))?;
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(client_id.map(|c| StrBytes::from_string(c.to_owned())));
    let mut buf = BytesMut::with_capacity(128);
    buf.put_i32(0);
    header
        .encode(&mut buf, key.request_header_version(version))
        .map_err(|x| e(x.to_string()))?;
    req.encode(&mut buf, version).map_err(|x| e(x.to_string()))?;
    let len = i32::try_from(buf.len() - 4).map_err(|_| e("request too large".into()))?;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf.freeze())
}

/// Encodes an ApiVersions request.
///
/// # Errors
/// Encoding failure.
pub fn encode_api_versions(version: i16, correlation_id: i32, client_id: Option<&str>) -> Result<Bytes, EncodeError> {
    let req = ApiVersionsRequest::default()
        .with_client_software_name(StrBytes::from_static_str("volley"))
        .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
    encode("ApiVersions", &req, version, correlation_id, client_id)
}

/// A decoded ApiVersions answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersionsAnswer {
    /// Error, e.g. `UNSUPPORTED_VERSION` when our request version was too new.
    pub error: ErrorCode,
    /// What the broker supports.
    pub versions: BrokerVersions,
}

/// Decodes an ApiVersions answer (its response header never has tagged fields). A broker
/// that does not support our request version answers `UNSUPPORTED_VERSION` in version 0
/// with its ranges; callers retry with a version it names.
///
/// # Errors
/// Malformed input.
pub fn decode_api_versions(version: i16, body: Bytes) -> Result<ApiVersionsAnswer, DecodeError> {
    let flexible = version >= 3;
    let mut r = Reader::new(body);
    let error = ErrorCode(r.i16("error code")?);
    let n = r.array_len(flexible, 6, "api keys")?.unwrap_or(0);
    let mut ranges = Vec::with_capacity(n);
    for _ in 0..n {
        let key = r.i16("api key")?;
        let lo = r.i16("min version")?;
        let hi = r.i16("max version")?;
        if flexible {
            r.tagged_fields("api version")?;
        }
        ranges.push((key, lo, hi));
    }
    // A v0 error answer to a newer request stops here; everything after is optional.
    if version >= 1 && r.remaining() >= 4 {
        let _throttle = r.i32("throttle time")?;
    }
    let mut finalized = Vec::new();
    if flexible && r.remaining() > 0 {
        for (tag, field) in r.tagged_fields("api versions response")? {
            // Tag 2: FinalizedFeatures (KIP-584), where `transaction.version` is read.
            if tag == 2 {
                finalized = decode_finalized_features(field)?;
            }
        }
    }
    Ok(ApiVersionsAnswer {
        error,
        versions: BrokerVersions::new(ranges).with_finalized(finalized),
    })
}

/// The FinalizedFeatures tagged field of ApiVersions v3+: a compact array of (name, max
/// level, min level, tagged fields).
fn decode_finalized_features(field: Bytes) -> Result<Vec<(String, i16)>, DecodeError> {
    let mut r = Reader::new(field);
    let n = r.array_len(true, 6, "finalized features")?.unwrap_or(0);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let name = r.string(true, "feature name")?;
        let max = r.i16("max version level")?;
        let _min = r.i16("min version level")?;
        r.tagged_fields("finalized feature")?;
        out.push((name, max));
    }
    Ok(out)
}

/// Encodes a Metadata request for `topics` (`None` = all topics).
///
/// # Errors
/// Encoding failure.
pub fn encode_metadata(
    version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
    topics: Option<&[String]>,
    allow_auto_topic_creation: bool,
) -> Result<Bytes, EncodeError> {
    let req = MetadataRequest::default()
        .with_topics(topics.map(|ts| {
            ts.iter()
                .map(|t| MetadataRequestTopic::default().with_name(Some(TopicName(StrBytes::from_string(t.clone())))))
                .collect()
        }))
        .with_allow_auto_topic_creation(allow_auto_topic_creation);
    encode("Metadata", &req, version, correlation_id, client_id)
}

/// A broker in a Metadata answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    /// Node id.
    pub node_id: i32,
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
}

/// A partition in a Metadata answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// Partition index.
    pub partition: i32,
    /// Error for this partition (e.g. `LEADER_NOT_AVAILABLE`).
    pub error: ErrorCode,
    /// Leader node id, or -1.
    pub leader: i32,
    /// Leader epoch, or -1.
    pub leader_epoch: i32,
    /// Replica node ids, the leader's first as Kafka orders them.
    pub replicas: Vec<i32>,
    /// In-sync replica node ids.
    pub isr: Vec<i32>,
    /// Offline replica node ids (v5 and later; empty before).
    pub offline_replicas: Vec<i32>,
}

/// A topic in a Metadata answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    /// Topic name.
    pub name: String,
    /// Error for the topic (e.g. `UNKNOWN_TOPIC_OR_PARTITION`).
    pub error: ErrorCode,
    /// The topic's id (Metadata v10+; all zeros when not sent). A topic deleted and created
    /// again under the same name has a new id.
    pub topic_id: [u8; 16],
    /// Partitions, sorted by index.
    pub partitions: Vec<PartitionInfo>,
}

/// A decoded Metadata answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataAnswer {
    /// Brokers.
    pub brokers: Vec<BrokerInfo>,
    /// Topics.
    pub topics: Vec<TopicInfo>,
    /// Controller id.
    pub controller_id: i32,
    /// The answer's top-level error (Metadata v13+, KIP-1102: REBOOTSTRAP_REQUIRED);
    /// `NONE` for earlier versions.
    pub error: ErrorCode,
}

/// The most partitions a topic may claim in a Metadata answer before it is rejected as
/// hostile (Kafka's own practical limit is far lower).
pub const MAX_PARTITIONS: usize = 1 << 20;

/// An array of node ids; its length was checked against the bytes left before anything is
/// allocated.
fn node_ids(r: &mut Reader, flexible: bool, what: &'static str) -> Result<Vec<i32>, DecodeError> {
    let k = r.array_len(flexible, 4, what)?.unwrap_or(0);
    let mut ids = Vec::with_capacity(k);
    for _ in 0..k {
        ids.push(r.i32(what)?);
    }
    Ok(ids)
}

/// Decodes a Metadata answer (versions 4 to 13).
///
/// # Errors
/// Malformed input, or values out of range (ports, partition indexes).
pub fn decode_metadata(version: i16, body: Bytes) -> Result<MetadataAnswer, DecodeError> {
    let flexible = version >= 9;
    let bad = |what: &'static str, detail: String| DecodeError::InvalidValue { what, detail };
    let mut r = Reader::new(body);
    if flexible {
        r.tagged_fields("response header")?;
    }
    let _throttle = r.i32("throttle time")?;
    let n = r.array_len(flexible, 10, "brokers")?.unwrap_or(0);
    let mut brokers = Vec::with_capacity(n);
    for _ in 0..n {
        let node_id = r.i32("node id")?;
        let host = r.string(flexible, "host")?;
        let port = r.i32("port")?;
        let _rack = r.nullable_string(flexible, "rack")?;
        if flexible {
            r.tagged_fields("broker")?;
        }
        let port = u16::try_from(port).map_err(|_| bad("broker port", port.to_string()))?;
        brokers.push(BrokerInfo { node_id, host, port });
    }
    let _cluster_id = r.nullable_string(flexible, "cluster id")?;
    let controller_id = r.i32("controller id")?;
    let n = r.array_len(flexible, 8, "topics")?.unwrap_or(0);
    let mut topics = Vec::with_capacity(n);
    for _ in 0..n {
        let error = ErrorCode(r.i16("topic error code")?);
        let name = r.nullable_string(flexible, "topic name")?;
        let mut topic_id = [0u8; 16];
        if version >= 10 {
            topic_id.copy_from_slice(&r.bytes(16, "topic id")?);
        }
        let _internal = r.i8("is internal")?;
        let np = r.array_len(flexible, 14, "partitions")?.unwrap_or(0);
        if np > MAX_PARTITIONS {
            return Err(bad("partition count", np.to_string()));
        }
        let mut partitions = Vec::with_capacity(np);
        for _ in 0..np {
            let perror = ErrorCode(r.i16("partition error code")?);
            let partition = r.i32("partition index")?;
            let leader = r.i32("leader id")?;
            let leader_epoch = if version >= 7 { r.i32("leader epoch")? } else { -1 };
            let replicas = node_ids(&mut r, flexible, "replica nodes")?;
            let isr = node_ids(&mut r, flexible, "isr nodes")?;
            let offline_replicas = if version >= 5 {
                node_ids(&mut r, flexible, "offline replicas")?
            } else {
                Vec::new()
            };
            if flexible {
                r.tagged_fields("partition")?;
            }
            partitions.push(PartitionInfo {
                partition,
                error: perror,
                leader,
                leader_epoch,
                replicas,
                isr,
                offline_replicas,
            });
        }
        if version >= 8 {
            let _ops = r.i32("topic authorized operations")?;
        }
        if flexible {
            r.tagged_fields("topic")?;
        }
        let Some(name) = name else { continue };
        partitions.sort_by_key(|p| p.partition);
        for (i, p) in partitions.iter().enumerate() {
            if usize::try_from(p.partition).ok() != Some(i) {
                return Err(bad("partition indexes", format!("topic {name} has no partition {i}")));
            }
        }
        topics.push(TopicInfo {
            name,
            error,
            topic_id,
            partitions,
        });
    }
    if (8..=10).contains(&version) {
        let _ops = r.i32("cluster authorized operations")?;
    }
    let error = if version >= 13 {
        ErrorCode(r.i16("error code")?)
    } else {
        ErrorCode::NONE
    };
    if flexible {
        r.tagged_fields("metadata response")?;
    }
    Ok(MetadataAnswer {
        brokers,
        topics,
        controller_id,
        error,
    })
}

/// Encodes an InitProducerId request for a non-transactional producer. `current` is the
/// producer id and epoch to bump (KIP-360), or `None` for a new one.
///
/// # Errors
/// Encoding failure.
pub fn encode_init_producer_id(
    version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
    current: Option<(i64, i16)>,
) -> Result<Bytes, EncodeError> {
    let (pid, epoch) = current.unwrap_or((-1, -1));
    let req = InitProducerIdRequest::default()
        .with_transactional_id(None)
        .with_transaction_timeout_ms(-1)
        .with_producer_id(pid.into())
        .with_producer_epoch(epoch);
    encode("InitProducerId", &req, version, correlation_id, client_id)
}

/// A decoded InitProducerId answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitProducerIdAnswer {
    /// Error or `NONE`.
    pub error: ErrorCode,
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i16,
    /// Requested back-off.
    pub throttle_time_ms: i32,
}

/// Decodes an InitProducerId answer.
///
/// # Errors
/// Malformed input.
pub fn decode_init_producer_id(version: i16, body: Bytes) -> Result<InitProducerIdAnswer, DecodeError> {
    let flexible = version >= 2;
    let mut r = Reader::new(body);
    if flexible {
        r.tagged_fields("response header")?;
    }
    let throttle_time_ms = r.i32("throttle time")?;
    let error = ErrorCode(r.i16("error code")?);
    let producer_id = r.i64("producer id")?;
    let producer_epoch = r.i16("producer epoch")?;
    if flexible {
        r.tagged_fields("init producer id response")?;
    }
    Ok(InitProducerIdAnswer {
        error,
        producer_id,
        producer_epoch,
        throttle_time_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::api_versions_response::ApiVersion;
    use kafka_protocol::messages::metadata_response::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };
    use kafka_protocol::messages::{ApiVersionsResponse, BrokerId, InitProducerIdResponse, MetadataResponse};
    use proptest::prelude::*;

    fn with_header(version_flexible: bool, body: impl Encodable, version: i16) -> Bytes {
        let mut b = BytesMut::new();
        if version_flexible {
            b.put_u8(0);
        }
        body.encode(&mut b, version).unwrap();
        b.freeze()
    }

    fn sample_metadata() -> MetadataResponse {
        let mut m = MetadataResponse::default().with_controller_id(BrokerId(111));
        m.brokers.push(
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(111))
                .with_host(StrBytes::from_static_str("127.0.0.1"))
                .with_port(9092),
        );
        let mut t = MetadataResponseTopic::default().with_name(Some(TopicName(StrBytes::from_static_str("clicks"))));
        for i in (0..3).rev() {
            t.partitions.push(
                MetadataResponsePartition::default()
                    .with_partition_index(i)
                    .with_leader_id(BrokerId(111))
                    .with_leader_epoch(4)
                    .with_replica_nodes(vec![BrokerId(111), BrokerId(112)])
                    .with_isr_nodes(vec![BrokerId(111)])
                    .with_offline_replicas(vec![BrokerId(112)]),
            );
        }
        m.topics.push(t);
        m.topics.push(
            MetadataResponseTopic::default()
                .with_name(Some(TopicName(StrBytes::from_static_str("missing"))))
                .with_error_code(3),
        );
        m
    }

    /// Our decoder against the `kafka-protocol` crate's encoder, every version we speak.
    #[test]
    fn metadata_every_version() {
        for v in 4..=13 {
            let a = decode_metadata(v, with_header(v >= 9, sample_metadata(), v)).unwrap();
            assert_eq!(a.controller_id, 111);
            assert_eq!(
                a.brokers,
                vec![BrokerInfo {
                    node_id: 111,
                    host: "127.0.0.1".into(),
                    port: 9092
                }]
            );
            assert_eq!(a.topics[0].name, "clicks");
            assert_eq!(a.topics[0].partitions.len(), 3);
            assert_eq!(a.topics[0].partitions[2].partition, 2);
            assert_eq!(a.topics[0].partitions[2].leader_epoch, if v >= 7 { 4 } else { -1 });
            assert_eq!(a.topics[0].partitions[2].replicas, vec![111, 112]);
            assert_eq!(a.topics[0].partitions[2].isr, vec![111]);
            let offline: Vec<i32> = if v >= 5 { vec![112] } else { Vec::new() };
            assert_eq!(a.topics[0].partitions[2].offline_replicas, offline);
            assert_eq!(a.topics[1].error, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
            assert_eq!(a.error, ErrorCode::NONE);
        }
    }

    /// KIP-1102: a v13 answer's top-level error reaches the caller (the broker asking for a
    /// rebootstrap); earlier versions have no such field.
    #[test]
    fn metadata_v13_top_level_error() {
        let m = sample_metadata().with_error_code(ErrorCode::REBOOTSTRAP_REQUIRED.0);
        let a = decode_metadata(13, with_header(true, m, 13)).unwrap();
        assert_eq!(a.error, ErrorCode::REBOOTSTRAP_REQUIRED);
        assert_eq!(a.topics[0].name, "clicks");
    }

    #[test]
    fn init_producer_id_every_version() {
        for v in 0..=4 {
            let r = InitProducerIdResponse::default()
                .with_producer_id(42.into())
                .with_producer_epoch(3);
            let a = decode_init_producer_id(v, with_header(v >= 2, r, v)).unwrap();
            assert_eq!((a.producer_id, a.producer_epoch, a.error), (42, 3, ErrorCode::NONE));
        }
    }

    proptest! {
        #[test]
        fn decoders_never_panic(v in 0i16..=12, data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let b = Bytes::from(data);
            let _ = decode_api_versions(v.min(3), b.clone());
            let _ = decode_metadata(v.max(4), b.clone());
            let _ = decode_init_producer_id(v.min(4), b);
        }

        #[test]
        fn truncated_metadata_is_an_error(v in 4i16..=12, cut in 0usize..100) {
            let full = with_header(v >= 9, sample_metadata(), v);
            if cut < full.len() {
                prop_assert!(decode_metadata(v, full.slice(..cut)).is_err());
            }
        }
    }

    /// tansu 0.6.0's ApiVersions v3 answer carries top-level tagged fields; this fixture
    /// is such an answer (header v0, then the body with a tagged field 0 and 3 entries).
    #[test]
    fn api_versions_v3_with_tagged_fields() {
        let mut resp = ApiVersionsResponse::default();
        for (k, lo, hi) in [(0i16, 0i16, 11i16), (3, 0, 12), (18, 0, 4), (22, 0, 5)] {
            resp.api_keys.push(
                ApiVersion::default()
                    .with_api_key(k)
                    .with_min_version(lo)
                    .with_max_version(hi),
            );
        }
        resp.finalized_features_epoch = 5; // encoded as a tagged field in v3
        resp.unknown_tagged_fields.insert(7, Bytes::from_static(b"xyz"));
        let mut b = BytesMut::new();
        resp.encode(&mut b, 3).unwrap();
        let a = decode_api_versions(3, b.freeze()).unwrap();
        assert!(a.error.is_ok());
        assert_eq!(a.versions.negotiate(crate::versions::Api::Produce), Ok(11));
        assert_eq!(a.versions.finalized("transaction.version"), None);
    }

    /// KIP-890: the finalized `transaction.version` is read from ApiVersions v3's tagged
    /// field 2 (what Kafka 4.x sends), checked against the generated encoder.
    #[test]
    fn api_versions_finalized_features() {
        use kafka_protocol::messages::api_versions_response::FinalizedFeatureKey;
        for level in [1i16, 2] {
            let mut resp = ApiVersionsResponse::default();
            resp.api_keys.push(
                ApiVersion::default()
                    .with_api_key(0)
                    .with_min_version(3)
                    .with_max_version(12),
            );
            resp.finalized_features_epoch = 9;
            for (name, max) in [("metadata.version", 27i16), ("transaction.version", level)] {
                resp.finalized_features.push(
                    FinalizedFeatureKey::default()
                        .with_name(StrBytes::from_static_str(name))
                        .with_max_version_level(max)
                        .with_min_version_level(max),
                );
            }
            let mut b = BytesMut::new();
            resp.encode(&mut b, 3).unwrap();
            let a = decode_api_versions(3, b.freeze()).unwrap();
            assert_eq!(a.versions.finalized("transaction.version"), Some(level));
            assert_eq!(a.versions.finalized("metadata.version"), Some(27));
        }
    }

    #[test]
    fn hostile_bodies_are_errors_not_panics() {
        for v in [0i16, 3] {
            assert!(decode_api_versions(v, Bytes::from_static(&[0, 0, 0x7f, 0xff, 0xff, 0xff])).is_err());
        }
        assert!(decode_metadata(12, Bytes::from_static(&[0, 0, 0, 0, 1, 0xff])).is_err());
        assert!(decode_init_producer_id(4, Bytes::from_static(&[0])).is_err());
    }

    #[test]
    fn requests_encode() {
        let b = encode_metadata(12, 1, Some("c"), Some(&["t".to_string()]), true).unwrap();
        assert_eq!(i32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize, b.len() - 4);
        assert!(encode_init_producer_id(4, 2, None, None).is_ok());
        assert!(encode_api_versions(3, 3, Some("c")).is_ok());
    }
}
