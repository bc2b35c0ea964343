//! The producer id, epoch and sequence number the broker stored with each record, fetched
//! over a plain Fetch request and decoded by the `kafka-protocol` crate (not by Volley's own
//! decoder). librdkafka, the independent reader, does not expose them.
//!
//! The oracle uses them to tell apart two different faults behind a per-key order violation
//! (I3): the producer numbering records out of send order, or the broker appending a
//! producer's batches out of sequence order (tansu 0.6.0 does this when the same producer's
//! batches reach it on two connections at once; RELIABILITY.md, scenario 8).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{ApiKey, FetchRequest, FetchResponse, RequestHeader, ResponseHeader, TopicName};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use kafka_protocol::records::RecordBatchDecoder;

/// Fetch v4: the first version with record batches (magic 2) and no flexible fields.
const FETCH_VERSION: i16 = 4;

/// Producer id, producer epoch and sequence of one record, as the broker stored them.
pub type Stamp = (i64, i16, i32);

/// Whether a stamp was seen (a reader that cannot see stamps leaves them at -1).
#[must_use]
pub fn known(stamp: Stamp) -> bool {
    stamp.0 >= 0 && stamp.1 >= 0 && stamp.2 >= 0
}

/// `(partition, offset)` → [`Stamp`] for every record of
/// `topic`'s partitions `0..partitions` (any codec).
///
/// # Errors
/// A connection, protocol or broker error, as text.
pub fn producer_stamps(bootstrap: &str, topic: &str, partitions: u32) -> Result<HashMap<(i32, i64), Stamp>, String> {
    let mut s = TcpStream::connect(bootstrap).map_err(|e| format!("connect {bootstrap}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let mut out = HashMap::new();
    let mut correlation_id = 0;
    for partition in 0..i32::try_from(partitions).map_err(|e| e.to_string())? {
        let mut offset = 0i64;
        loop {
            correlation_id += 1;
            let (mut buf, high_watermark) = fetch(&mut s, correlation_id, topic, partition, offset)?;
            let sets = RecordBatchDecoder::decode_all(&mut buf).map_err(|e| format!("decode: {e}"))?;
            let before = offset;
            for set in sets {
                for r in set.records {
                    out.insert((partition, r.offset), (r.producer_id, r.producer_epoch, r.sequence));
                    offset = offset.max(r.offset + 1);
                }
            }
            if offset == before || offset >= high_watermark {
                break;
            }
        }
    }
    Ok(out)
}

/// One Fetch of one partition from `offset`: the records field and the high watermark.
/// (tansu answers a Fetch with `min_bytes` 0 with no partitions at all, so it asks for 1
/// byte and stops at the high watermark instead of fetching until an empty answer.)
fn fetch(
    s: &mut TcpStream,
    correlation_id: i32,
    topic: &str,
    partition: i32,
    offset: i64,
) -> Result<(Bytes, i64), String> {
    let request = FetchRequest::default()
        .with_replica_id((-1).into())
        .with_max_wait_ms(500)
        .with_min_bytes(1)
        .with_max_bytes(16 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(StrBytes::from_string(topic.to_owned())))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(8 << 20)])]);
    let header = RequestHeader::default()
        .with_request_api_key(ApiKey::Fetch as i16)
        .with_request_api_version(FETCH_VERSION)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str("volley-testkit-stamps")));
    let mut body = BytesMut::new();
    header
        .encode(&mut body, FetchRequest::header_version(FETCH_VERSION))
        .map_err(|e| e.to_string())?;
    request.encode(&mut body, FETCH_VERSION).map_err(|e| e.to_string())?;
    let len = u32::try_from(body.len()).map_err(|e| e.to_string())?;
    s.write_all(&len.to_be_bytes()).map_err(|e| e.to_string())?;
    s.write_all(&body).map_err(|e| e.to_string())?;
    let mut len = [0u8; 4];
    s.read_exact(&mut len).map_err(|e| format!("read: {e}"))?;
    let mut answer = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut answer).map_err(|e| format!("read: {e}"))?;
    let mut answer = Bytes::from(answer);
    let header = ResponseHeader::decode(&mut answer, FetchResponse::header_version(FETCH_VERSION))
        .map_err(|e| format!("decode: {e}"))?;
    if header.correlation_id != correlation_id {
        return Err(format!("correlation id {} for {correlation_id}", header.correlation_id));
    }
    let response = FetchResponse::decode(&mut answer, FETCH_VERSION).map_err(|e| format!("decode: {e}"))?;
    let data = response
        .responses
        .into_iter()
        .flat_map(|t| t.partitions)
        .find(|p| p.partition_index == partition)
        .ok_or_else(|| format!("no answer for partition {partition}"))?;
    if data.error_code != 0 {
        return Err(format!("Fetch of {topic}/{partition}: error code {}", data.error_code));
    }
    Ok((data.records.unwrap_or_default(), data.high_watermark))
}
