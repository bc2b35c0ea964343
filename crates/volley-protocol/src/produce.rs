//! Produce requests and responses, hand-written because they carry every record.
//!
//! The encoder never copies batch bytes: a request is a list of chunks, small header
//! pieces interleaved with the sealed batches' own [`Bytes`], written to the socket with a
//! vectored write. Versions 3 to 11 are supported; version 9 and later use the flexible
//! (compact) encoding with tagged fields.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::ErrorCode;
use crate::wire::{put_array_len, put_string, put_uvarint, DecodeError, Reader};

/// The Produce API key.
pub const PRODUCE_API_KEY: i16 = 0;

/// One partition's batch inside a request.
#[derive(Debug, Clone)]
pub struct PartitionData {
    /// Partition index.
    pub partition: i32,
    /// The sealed record batch.
    pub records: Bytes,
}

/// One topic's partitions inside a request.
#[derive(Debug, Clone)]
pub struct TopicData {
    /// Topic name.
    pub topic: String,
    /// Its partitions, each with one batch.
    pub partitions: Vec<PartitionData>,
}

/// A Produce request to encode.
#[derive(Debug, Clone)]
pub struct ProduceRequest<'a> {
    /// Transactional id (`None` for a non-transactional producer).
    pub transactional_id: Option<&'a str>,
    /// `0`, `1` or `-1`.
    pub acks: i16,
    /// How long the broker may wait for replication.
    pub timeout_ms: i32,
    /// The data.
    pub topics: &'a [TopicData],
}

/// An encoded request frame, size prefix included, as chunks for a vectored write.
#[derive(Debug, Clone, Default)]
pub struct Frame {
    /// The chunks, in order.
    pub chunks: Vec<Bytes>,
    /// Total bytes, size prefix included.
    pub len: usize,
}

impl Frame {
    /// One contiguous copy (for tests and small requests).
    #[must_use]
    pub fn to_bytes(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(self.len);
        for c in &self.chunks {
            b.extend_from_slice(c);
        }
        b.freeze()
    }
}

/// Encodes a Produce request with its request header.
#[must_use]
pub fn encode_produce(version: i16, correlation_id: i32, client_id: Option<&str>, req: &ProduceRequest<'_>) -> Frame {
    let flexible = version >= 9;
    let mut meta = BytesMut::with_capacity(64 + 32 * req.topics.len());
    let mut chunks = Vec::with_capacity(2 + 2 * req.topics.iter().map(|t| t.partitions.len()).sum::<usize>());
    meta.put_i32(0); // size, patched below
    meta.put_i16(PRODUCE_API_KEY);
    meta.put_i16(version);
    meta.put_i32(correlation_id);
    put_string(&mut meta, client_id, false); // client id is never compact
    if flexible {
        put_uvarint(&mut meta, 0); // header tagged fields
    }
    put_string(&mut meta, req.transactional_id, flexible);
    meta.put_i16(req.acks);
    meta.put_i32(req.timeout_ms);
    put_array_len(&mut meta, req.topics.len(), flexible);
    let mut total = 0usize;
    for t in req.topics {
        put_string(&mut meta, Some(&t.topic), flexible);
        put_array_len(&mut meta, t.partitions.len(), flexible);
        for p in &t.partitions {
            meta.put_i32(p.partition);
            let n = p.records.len();
            if flexible {
                put_uvarint(&mut meta, u32::try_from(n + 1).unwrap_or(u32::MAX));
            } else {
                meta.put_i32(i32::try_from(n).unwrap_or(i32::MAX));
            }
            let piece = meta.split().freeze();
            total += piece.len() + n;
            chunks.push(piece);
            chunks.push(p.records.clone());
            if flexible {
                put_uvarint(&mut meta, 0); // partition tagged fields
            }
        }
        if flexible {
            put_uvarint(&mut meta, 0); // topic tagged fields
        }
    }
    if flexible {
        put_uvarint(&mut meta, 0); // request tagged fields
    }
    if !meta.is_empty() {
        total += meta.len();
        chunks.push(meta.freeze());
    }
    // Patch the size prefix into the first chunk.
    let size = i32::try_from(total - 4).unwrap_or(i32::MAX).to_be_bytes();
    if let Some(first) = chunks.first_mut() {
        let mut b = BytesMut::from(&first[..]);
        b[..4].copy_from_slice(&size);
        *first = b.freeze();
    }
    Frame { chunks, len: total }
}

/// The leader a broker names in a NOT_LEADER_OR_FOLLOWER answer (v10+).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrentLeader {
    /// Leader broker id.
    pub leader_id: i32,
    /// Leader epoch.
    pub leader_epoch: i32,
}

/// One partition's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionResponse {
    /// Partition index.
    pub partition: i32,
    /// Error, or `NONE`.
    pub error: ErrorCode,
    /// Offset of the batch's first record.
    pub base_offset: i64,
    /// Broker append time when the topic uses LogAppendTime, else -1.
    pub log_append_time_ms: i64,
    /// Log start offset (v5+).
    pub log_start_offset: i64,
    /// Per-record errors (v8+): index within the batch and message.
    pub record_errors: Vec<(i32, Option<String>)>,
    /// Error message (v8+).
    pub error_message: Option<String>,
    /// New leader hint (v10+).
    pub current_leader: Option<CurrentLeader>,
}

/// One topic's answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicResponse {
    /// Topic name.
    pub topic: String,
    /// Per-partition answers.
    pub partitions: Vec<PartitionResponse>,
}

/// A broker described in a Produce answer (v10+, KIP-951), so that a new leader named in
/// [`PartitionResponse::current_leader`] can be reached without a metadata refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeEndpoint {
    /// Broker id.
    pub node_id: i32,
    /// Host.
    pub host: String,
    /// Port.
    pub port: i32,
}

/// A decoded Produce response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceResponse {
    /// Per-topic answers.
    pub topics: Vec<TopicResponse>,
    /// How long the broker asks us to back off.
    pub throttle_time_ms: i32,
    /// Brokers the answer describes (v10+).
    pub node_endpoints: Vec<NodeEndpoint>,
}

/// Decodes a Produce response body (after the correlation id).
///
/// # Errors
/// Malformed input.
pub fn decode_produce_response(version: i16, body: Bytes) -> Result<ProduceResponse, DecodeError> {
    let flexible = version >= 9;
    let mut r = Reader::new(body);
    if flexible {
        r.tagged_fields("response header")?;
    }
    let n_topics = r.array_len(flexible, 2, "topics")?.unwrap_or(0);
    let mut topics = Vec::with_capacity(n_topics);
    for _ in 0..n_topics {
        let topic = r.string(flexible, "topic name")?;
        let n_parts = r.array_len(flexible, 14, "partitions")?.unwrap_or(0);
        let mut partitions = Vec::with_capacity(n_parts);
        for _ in 0..n_parts {
            let partition = r.i32("partition index")?;
            let error = ErrorCode(r.i16("error code")?);
            let base_offset = r.i64("base offset")?;
            let log_append_time_ms = r.i64("log append time")?;
            let log_start_offset = if version >= 5 { r.i64("log start offset")? } else { -1 };
            let mut record_errors = Vec::new();
            let mut error_message = None;
            if version >= 8 {
                let n = r.array_len(flexible, 5, "record errors")?.unwrap_or(0);
                for _ in 0..n {
                    let idx = r.i32("batch index")?;
                    let msg = r.nullable_string(flexible, "record error message")?;
                    if flexible {
                        r.tagged_fields("record error")?;
                    }
                    record_errors.push((idx, msg));
                }
                error_message = r.nullable_string(flexible, "error message")?;
            }
            let mut current_leader = None;
            if flexible {
                for (tag, data) in r.tagged_fields("partition response")? {
                    if tag == 0 && version >= 10 {
                        let mut t = Reader::new(data);
                        let leader_id = t.i32("current leader id")?;
                        let leader_epoch = t.i32("current leader epoch")?;
                        current_leader = Some(CurrentLeader {
                            leader_id,
                            leader_epoch,
                        });
                    }
                }
            }
            partitions.push(PartitionResponse {
                partition,
                error,
                base_offset,
                log_append_time_ms,
                log_start_offset,
                record_errors,
                error_message,
                current_leader,
            });
        }
        if flexible {
            r.tagged_fields("topic response")?;
        }
        topics.push(TopicResponse { topic, partitions });
    }
    let throttle_time_ms = r.i32("throttle time")?;
    let mut node_endpoints = Vec::new();
    if flexible {
        for (tag, data) in r.tagged_fields("response")? {
            if tag == 0 && version >= 10 {
                let mut t = Reader::new(data);
                let n = t.array_len(true, 12, "node endpoints")?.unwrap_or(0);
                for _ in 0..n {
                    let node_id = t.i32("node id")?;
                    let host = t.string(true, "node host")?;
                    let port = t.i32("node port")?;
                    let _rack = t.nullable_string(true, "node rack")?;
                    t.tagged_fields("node endpoint")?;
                    node_endpoints.push(NodeEndpoint { node_id, host, port });
                }
            }
        }
    }
    Ok(ProduceResponse {
        topics,
        throttle_time_ms,
        node_endpoints,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::produce_response::{
        LeaderIdAndEpoch, PartitionProduceResponse, TopicProduceResponse,
    };
    use kafka_protocol::messages::{
        BrokerId, ProduceRequest as KpRequest, ProduceResponse as KpResponse, RequestHeader, TopicName,
    };
    use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
    use proptest::prelude::*;

    fn sample_topics() -> Vec<TopicData> {
        vec![
            TopicData {
                topic: "clicks".into(),
                partitions: vec![
                    PartitionData {
                        partition: 0,
                        records: Bytes::from_static(b"batch-zero"),
                    },
                    PartitionData {
                        partition: 3,
                        records: Bytes::from_static(b"batch-three!"),
                    },
                ],
            },
            TopicData {
                topic: "pay".into(),
                partitions: vec![PartitionData {
                    partition: 1,
                    records: Bytes::from_static(b"b1"),
                }],
            },
        ]
    }

    /// Our hand-written encoder, decoded by the `kafka-protocol` crate, for every version.
    #[test]
    fn kafka_protocol_decodes_our_requests() {
        let topics = sample_topics();
        for version in 3..=12 {
            let req = ProduceRequest {
                transactional_id: None,
                acks: -1,
                timeout_ms: 30_000,
                topics: &topics,
            };
            let frame = encode_produce(version, 77, Some("volley"), &req);
            let mut b = frame.to_bytes();
            assert_eq!(b.len(), frame.len);
            assert_eq!(i32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize, frame.len - 4);
            bytes::Buf::advance(&mut b, 4);
            let hv = if version >= 9 { 2 } else { 1 };
            let header = RequestHeader::decode(&mut b, hv).unwrap();
            assert_eq!(header.correlation_id, 77);
            assert_eq!(header.request_api_version, version);
            let theirs = KpRequest::decode(&mut b, version).unwrap();
            assert_eq!(b.len(), 0, "v{version}: trailing bytes");
            assert_eq!(theirs.acks, -1);
            assert_eq!(theirs.timeout_ms, 30_000);
            assert_eq!(theirs.topic_data.len(), 2);
            assert_eq!(theirs.topic_data[0].name.0.as_str(), "clicks");
            let p = &theirs.topic_data[0].partition_data[1];
            assert_eq!(p.index, 3);
            assert_eq!(p.records.as_deref(), Some(&b"batch-three!"[..]));
        }
    }

    fn kp_response(version: i16, n_topics: usize, err: i16, leader: bool) -> Bytes {
        let mut resp = KpResponse::default().with_throttle_time_ms(12);
        for t in 0..n_topics {
            let mut tr = TopicProduceResponse::default().with_name(TopicName(StrBytes::from_string(format!("t{t}"))));
            let mut p = PartitionProduceResponse::default()
                .with_index(t as i32)
                .with_error_code(err)
                .with_base_offset(1000 + t as i64)
                .with_log_append_time_ms(-1)
                .with_log_start_offset(5);
            if leader && version >= 10 {
                p = p.with_current_leader(
                    LeaderIdAndEpoch::default()
                        .with_leader_id(BrokerId(3))
                        .with_leader_epoch(9),
                );
            }
            tr.partition_responses.push(p);
            resp.responses.push(tr);
        }
        if leader && version >= 10 {
            resp.node_endpoints.push(
                kafka_protocol::messages::produce_response::NodeEndpoint::default()
                    .with_node_id(BrokerId(3))
                    .with_host(StrBytes::from_static_str("b3.local"))
                    .with_port(9094)
                    .with_rack(Some(StrBytes::from_static_str("r1"))),
            );
        }
        let mut b = BytesMut::new();
        if version >= 9 {
            b.put_u8(0); // response header tagged fields
        }
        resp.encode(&mut b, version).unwrap();
        b.freeze()
    }

    #[test]
    fn decodes_kafka_protocol_responses_every_version() {
        for version in 3..=12 {
            let r = decode_produce_response(version, kp_response(version, 2, 6, true)).unwrap();
            assert_eq!(r.throttle_time_ms, 12);
            assert_eq!(r.topics.len(), 2);
            assert_eq!(r.topics[1].topic, "t1");
            let p = &r.topics[1].partitions[0];
            assert_eq!(p.error, ErrorCode::NOT_LEADER_OR_FOLLOWER);
            assert_eq!(p.base_offset, 1001);
            if version >= 10 {
                assert_eq!(
                    r.node_endpoints,
                    vec![NodeEndpoint {
                        node_id: 3,
                        host: "b3.local".into(),
                        port: 9094
                    }]
                );
                assert_eq!(
                    p.current_leader,
                    Some(CurrentLeader {
                        leader_id: 3,
                        leader_epoch: 9
                    })
                );
            }
        }
    }

    proptest! {
        #[test]
        fn response_decoder_never_panics(version in 3i16..=11, data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_produce_response(version, Bytes::from(data));
        }

        #[test]
        fn truncated_responses_are_errors(version in 3i16..=11, cut in 0usize..60) {
            let full = kp_response(version, 1, 0, false);
            if cut < full.len() {
                prop_assert!(decode_produce_response(version, full.slice(..cut)).is_err());
            }
        }
    }
}
