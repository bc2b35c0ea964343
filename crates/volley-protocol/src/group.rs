//! A consumer group's committed offsets: OffsetFetch v7+ (`require_stable`, KIP-447), as
//! in [`crate::txn`]: encoded with the `kafka-protocol` crate, decoded with the bounded
//! [`Reader`].

use bytes::Bytes;
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{GroupId, OffsetFetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::control::{encode, EncodeError};
use crate::error::ErrorCode;
use crate::wire::{DecodeError, Reader};

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_owned())
}

/// Encodes OffsetFetch v7+ for one group's `topics` (name and partitions), with
/// `require_stable` (offsets of a pending transaction answer UNSTABLE_OFFSET_COMMIT).
///
/// # Errors
/// Encoding failure (a version below 7 included).
pub fn encode_offset_fetch(
    version: i16,
    correlation_id: i32,
    client_id: Option<&str>,
    group: &str,
    topics: &[(String, Vec<i32>)],
) -> Result<Bytes, EncodeError> {
    if version < 7 {
        return Err(EncodeError {
            api: "OffsetFetch",
            version,
            detail: "require_stable needs v7 or later".into(),
        });
    }
    let mut req = OffsetFetchRequest::default().with_require_stable(true);
    if version >= 8 {
        req.groups = vec![OffsetFetchRequestGroup::default()
            .with_group_id(GroupId(s(group)))
            .with_topics(Some(
                topics
                    .iter()
                    .map(|(t, p)| {
                        OffsetFetchRequestTopics::default()
                            .with_name(TopicName(s(t)))
                            .with_partition_indexes(p.clone())
                    })
                    .collect(),
            ))];
    } else {
        req.group_id = GroupId(s(group));
        req.topics = Some(
            topics
                .iter()
                .map(|(t, p)| {
                    OffsetFetchRequestTopic::default()
                        .with_name(TopicName(s(t)))
                        .with_partition_indexes(p.clone())
                })
                .collect(),
        );
    }
    encode("OffsetFetch", &req, version, correlation_id, client_id)
}

/// One partition of an OffsetFetch answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedOffset {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// The committed offset, -1 when none.
    pub offset: i64,
    /// The leader epoch committed with it, -1 when none.
    pub leader_epoch: i32,
    /// The metadata committed with it.
    pub metadata: Option<String>,
    /// The partition's error, or `NONE`.
    pub error: ErrorCode,
}

/// A decoded OffsetFetch answer: the group's error and its partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetFetchAnswer {
    /// The group-level error (UNSTABLE_OFFSET_COMMIT, NOT_COORDINATOR, ...), or `NONE`.
    pub error: ErrorCode,
    /// The partitions asked for.
    pub partitions: Vec<FetchedOffset>,
}

fn topics(r: &mut Reader, out: &mut Vec<FetchedOffset>) -> Result<(), DecodeError> {
    let n = r.array_len(true, 3, "topics")?.unwrap_or(0);
    for _ in 0..n {
        let topic = r.string(true, "topic")?;
        let m = r.array_len(true, 20, "partitions")?.unwrap_or(0);
        for _ in 0..m {
            let partition = r.i32("partition")?;
            let offset = r.i64("committed offset")?;
            let leader_epoch = r.i32("leader epoch")?;
            let metadata = r.nullable_string(true, "metadata")?;
            let error = ErrorCode(r.i16("error code")?);
            r.tagged_fields("partition")?;
            out.push(FetchedOffset {
                topic: topic.clone(),
                partition,
                offset,
                leader_epoch,
                metadata,
                error,
            });
        }
        r.tagged_fields("topic")?;
    }
    Ok(())
}

/// Decodes an OffsetFetch v7+ answer (v8+: the first group's, we ask for one).
///
/// # Errors
/// Malformed input, or a v8+ answer without a group.
pub fn decode_offset_fetch(version: i16, body: Bytes) -> Result<OffsetFetchAnswer, DecodeError> {
    let mut r = Reader::new(body);
    r.tagged_fields("response header")?;
    let _throttle = r.i32("throttle time")?;
    let mut partitions = Vec::new();
    if version < 8 {
        topics(&mut r, &mut partitions)?;
        let error = ErrorCode(r.i16("error code")?);
        return Ok(OffsetFetchAnswer { error, partitions });
    }
    let n = r.array_len(true, 5, "groups")?.unwrap_or(0);
    let mut first = None;
    for _ in 0..n {
        let _group = r.string(true, "group")?;
        let mut parts = Vec::new();
        topics(&mut r, &mut parts)?;
        let error = ErrorCode(r.i16("error code")?);
        r.tagged_fields("group")?;
        first.get_or_insert(OffsetFetchAnswer {
            error,
            partitions: parts,
        });
    }
    first.ok_or(DecodeError::InvalidValue {
        what: "groups",
        detail: "the answer names no group".into(),
    })
}

#[cfg(test)]
#[path = "group_tests.rs"]
mod tests;
