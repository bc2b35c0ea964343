//! Transaction control messages: FindCoordinator, InitProducerId with a transactional id,
//! AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit and EndTxn.
//!
//! As in [`crate::control`]: requests are encoded with the `kafka-protocol` crate, answers
//! are decoded here with the bounded [`Reader`] (the generated decoders allocate what a
//! hostile count asks for), and the generated encoders are the oracle of the tests.

use bytes::Bytes;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, EndTxnRequest, FindCoordinatorRequest, GroupId,
    InitProducerIdRequest, TopicName, TransactionalId, TxnOffsetCommitRequest,
};
use kafka_protocol::protocol::StrBytes;

use crate::control::{encode, EncodeError};
use crate::error::ErrorCode;
use crate::wire::{DecodeError, Reader};

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_owned())
}

/// A producer id and epoch.
pub type ProducerIdentity = (i64, i16);

/// Encodes FindCoordinator for one key (`key_type` 1: a transactional id, 0: a group).
/// v4+ carries the key in `coordinator_keys`.
///
/// # Errors
/// Encoding failure.
pub fn encode_find_coordinator(
    version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
    key: &str,
    key_type: i8,
) -> Result<Bytes, EncodeError> {
    let mut req = FindCoordinatorRequest::default().with_key_type(key_type);
    if version >= 4 {
        req.coordinator_keys = vec![s(key)];
    } else {
        req.key = s(key);
    }
    encode("FindCoordinator", &req, version, correlation_id, client_id)
}

/// A decoded FindCoordinator answer (the first coordinator of a v4+ answer: we ask for one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoordinatorAnswer {
    /// Error or `NONE`.
    pub error: ErrorCode,
    /// The coordinator's node id.
    pub node_id: i32,
    /// Its host.
    pub host: String,
    /// Its port.
    pub port: i32,
}

/// Decodes a FindCoordinator answer.
///
/// # Errors
/// Malformed input, or a v4+ answer without a coordinator.
pub fn decode_find_coordinator(version: i16, body: Bytes) -> Result<CoordinatorAnswer, DecodeError> {
    let flexible = version >= 3;
    let mut r = Reader::new(body);
    if flexible {
        r.tagged_fields("response header")?;
    }
    let _throttle = r.i32("throttle time")?;
    if version < 4 {
        let error = ErrorCode(r.i16("error code")?);
        let _message = r.nullable_string(flexible, "error message")?;
        let node_id = r.i32("node id")?;
        let host = r.string(flexible, "host")?;
        let port = r.i32("port")?;
        return Ok(CoordinatorAnswer {
            error,
            node_id,
            host,
            port,
        });
    }
    let n = r.array_len(true, 14, "coordinators")?.unwrap_or(0);
    let mut first = None;
    for _ in 0..n {
        let _key = r.string(true, "key")?;
        let node_id = r.i32("node id")?;
        let host = r.string(true, "host")?;
        let port = r.i32("port")?;
        let error = ErrorCode(r.i16("error code")?);
        let _message = r.nullable_string(true, "error message")?;
        r.tagged_fields("coordinator")?;
        first.get_or_insert(CoordinatorAnswer {
            error,
            node_id,
            host,
            port,
        });
    }
    first.ok_or(DecodeError::InvalidValue {
        what: "coordinators",
        detail: "the answer names no coordinator".into(),
    })
}

/// Encodes InitProducerId for a transactional producer; `current` is the identity to bump
/// (KIP-360), or `None` for a new one (which also fences older producers of the id).
///
/// # Errors
/// Encoding failure.
pub fn encode_init_producer_id_txn(
    version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
    transactional_id: &str,
    transaction_timeout_ms: i32,
    current: Option<ProducerIdentity>,
) -> Result<Bytes, EncodeError> {
    let (pid, epoch) = current.unwrap_or((-1, -1));
    let req = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(s(transactional_id))))
        .with_transaction_timeout_ms(transaction_timeout_ms)
        .with_producer_id(pid.into())
        .with_producer_epoch(epoch);
    encode("InitProducerId", &req, version, correlation_id, client_id)
}

/// Encodes AddPartitionsToTxn (v1 to v3: the client's form) for `partitions`.
///
/// # Errors
/// Encoding failure (including a version above 3).
pub fn encode_add_partitions(
    version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
    transactional_id: &str,
    producer: ProducerIdentity,
    partitions: &[(&str, i32)],
) -> Result<Bytes, EncodeError> {
    if version > 3 {
        return Err(EncodeError {
            api: "AddPartitionsToTxn",
            version,
            detail: "versions above 3 are for brokers".into(),
        });
    }
    let mut topics: Vec<AddPartitionsToTxnTopic> = Vec::new();
    for (topic, partition) in partitions {
        match topics.iter_mut().find(|t| &*t.name.0 == *topic) {
            Some(t) => t.partitions.push(*partition),
            None => topics.push(
                AddPartitionsToTxnTopic::default()
                    .with_name(TopicName(s(topic)))
                    .with_partitions(vec![*partition]),
            ),
        }
    }
    let req = AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(TransactionalId(s(transactional_id)))
        .with_v3_and_below_producer_id(producer.0.into())
        .with_v3_and_below_producer_epoch(producer.1)
        .with_v3_and_below_topics(topics);
    encode("AddPartitionsToTxn", &req, version, correlation_id, client_id)
}

/// Per-partition errors of an AddPartitionsToTxn (v1-v3) or TxnOffsetCommit answer.
pub type PartitionErrors = Vec<(String, i32, ErrorCode)>;

/// Reads `[topic name, [partition, error code]]`, the shape both answers share.
/// An answer that is a throttle time and per-partition errors (AddPartitionsToTxn up to
/// v3, TxnOffsetCommit): the two share their layout.
fn throttle_then_partition_errors(body: Bytes, flexible: bool) -> Result<PartitionErrors, DecodeError> {
    let mut r = Reader::new(body);
    if flexible {
        r.tagged_fields("response header")?;
    }
    let _throttle = r.i32("throttle time")?;
    partition_errors(&mut r, flexible)
}

fn partition_errors(r: &mut Reader, flexible: bool) -> Result<PartitionErrors, DecodeError> {
    let mut out = Vec::new();
    let n = r.array_len(flexible, 3, "topics")?.unwrap_or(0);
    for _ in 0..n {
        let topic = r.string(flexible, "topic name")?;
        let np = r.array_len(flexible, 6, "partitions")?.unwrap_or(0);
        for _ in 0..np {
            let partition = r.i32("partition index")?;
            let error = ErrorCode(r.i16("partition error code")?);
            if flexible {
                r.tagged_fields("partition result")?;
            }
            out.push((topic.clone(), partition, error));
        }
        if flexible {
            r.tagged_fields("topic result")?;
        }
    }
    Ok(out)
}

/// Decodes an AddPartitionsToTxn answer (v1 to v3).
///
/// # Errors
/// Malformed input.
pub fn decode_add_partitions(version: i16, body: Bytes) -> Result<PartitionErrors, DecodeError> {
    throttle_then_partition_errors(body, version >= 3)
}

/// Encodes AddOffsetsToTxn.
///
/// # Errors
/// Encoding failure.
pub fn encode_add_offsets(
    version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
    transactional_id: &str,
    producer: ProducerIdentity,
    group_id: &str,
) -> Result<Bytes, EncodeError> {
    let req = AddOffsetsToTxnRequest::default()
        .with_transactional_id(TransactionalId(s(transactional_id)))
        .with_producer_id(producer.0.into())
        .with_producer_epoch(producer.1)
        .with_group_id(GroupId(s(group_id)));
    encode("AddOffsetsToTxn", &req, version, correlation_id, client_id)
}

/// Decodes an AddOffsetsToTxn answer: its error code.
///
/// # Errors
/// Malformed input.
pub fn decode_add_offsets(version: i16, body: Bytes) -> Result<ErrorCode, DecodeError> {
    let mut r = Reader::new(body);
    if version >= 3 {
        r.tagged_fields("response header")?;
    }
    let _throttle = r.i32("throttle time")?;
    Ok(ErrorCode(r.i16("error code")?))
}

/// A consumer group as TxnOffsetCommit names it (KIP-447 fields from v3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember<'a> {
    /// Group id.
    pub group_id: &'a str,
    /// Generation, or -1.
    pub generation_id: i32,
    /// Member id, or `""`.
    pub member_id: &'a str,
    /// Static member's instance id.
    pub group_instance_id: Option<&'a str>,
}

/// One offset to commit: topic, partition, offset, leader epoch (-1 unknown), metadata.
pub type OffsetEntry<'a> = (&'a str, i32, i64, i32, Option<&'a str>);

/// Encodes TxnOffsetCommit.
///
/// # Errors
/// Encoding failure.
pub fn encode_txn_offset_commit(
    version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
    transactional_id: &str,
    producer: ProducerIdentity,
    group: &GroupMember<'_>,
    offsets: &[OffsetEntry<'_>],
) -> Result<Bytes, EncodeError> {
    let mut topics: Vec<TxnOffsetCommitRequestTopic> = Vec::new();
    for &(topic, partition, offset, leader_epoch, metadata) in offsets {
        let p = TxnOffsetCommitRequestPartition::default()
            .with_partition_index(partition)
            .with_committed_offset(offset)
            .with_committed_leader_epoch(leader_epoch)
            .with_committed_metadata(Some(s(metadata.unwrap_or(""))));
        match topics.iter_mut().find(|t| &*t.name.0 == topic) {
            Some(t) => t.partitions.push(p),
            None => topics.push(
                TxnOffsetCommitRequestTopic::default()
                    .with_name(TopicName(s(topic)))
                    .with_partitions(vec![p]),
            ),
        }
    }
    let mut req = TxnOffsetCommitRequest::default()
        .with_transactional_id(TransactionalId(s(transactional_id)))
        .with_group_id(GroupId(s(group.group_id)))
        .with_producer_id(producer.0.into())
        .with_producer_epoch(producer.1)
        .with_topics(topics);
    if version >= 3 {
        req = req
            .with_generation_id(group.generation_id)
            .with_member_id(s(group.member_id))
            .with_group_instance_id(group.group_instance_id.map(s));
    }
    encode("TxnOffsetCommit", &req, version, correlation_id, client_id)
}

/// Decodes a TxnOffsetCommit answer.
///
/// # Errors
/// Malformed input.
pub fn decode_txn_offset_commit(version: i16, body: Bytes) -> Result<PartitionErrors, DecodeError> {
    throttle_then_partition_errors(body, version >= 3)
}

/// Encodes EndTxn.
///
/// # Errors
/// Encoding failure.
pub fn encode_end_txn(
    version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
    transactional_id: &str,
    producer: ProducerIdentity,
    commit: bool,
) -> Result<Bytes, EncodeError> {
    let req = EndTxnRequest::default()
        .with_transactional_id(TransactionalId(s(transactional_id)))
        .with_producer_id(producer.0.into())
        .with_producer_epoch(producer.1)
        .with_committed(commit);
    encode("EndTxn", &req, version, correlation_id, client_id)
}

/// Decodes an EndTxn answer: its error, and from v5 (KIP-890) the producer id and epoch the
/// next transaction uses.
///
/// # Errors
/// Malformed input.
pub fn decode_end_txn(version: i16, body: Bytes) -> Result<(ErrorCode, Option<ProducerIdentity>), DecodeError> {
    let flexible = version >= 3;
    let mut r = Reader::new(body);
    if flexible {
        r.tagged_fields("response header")?;
    }
    let _throttle = r.i32("throttle time")?;
    let error = ErrorCode(r.i16("error code")?);
    let identity = if version >= 5 {
        let pid = r.i64("producer id")?;
        let epoch = r.i16("producer epoch")?;
        (pid >= 0 && epoch >= 0).then_some((pid, epoch))
    } else {
        None
    };
    Ok((error, identity))
}

#[cfg(test)]
#[path = "txn_tests.rs"]
mod tests;
