//! OffsetFetch against the `kafka-protocol` crate: our requests decode with its decoder, its
//! encoded answers decode with ours, every version we speak (7 to 9).

use super::*;
use bytes::{Buf, BufMut, BytesMut};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions, OffsetFetchResponseTopic,
    OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{ApiKey, OffsetFetchResponse, RequestHeader};
use kafka_protocol::protocol::{Decodable, Encodable};

#[test]
fn offset_fetch_requests_decode_with_kafka_protocol() {
    for v in 7..=9 {
        let mut b = encode_offset_fetch(v, 5, Some("c"), "g", &[("t".into(), vec![0, 2])]).unwrap();
        let len = b.get_i32();
        assert_eq!(usize::try_from(len).unwrap(), b.remaining());
        let h = RequestHeader::decode(&mut b, ApiKey::OffsetFetch.request_header_version(v)).unwrap();
        assert_eq!((h.request_api_key, h.request_api_version, h.correlation_id), (9, v, 5));
        let r = OffsetFetchRequest::decode(&mut b, v).unwrap();
        assert!(r.require_stable, "v{v}");
        if v >= 8 {
            let g = &r.groups[0];
            assert_eq!(g.group_id.0.as_str(), "g");
            let t = &g.topics.as_ref().unwrap()[0];
            assert_eq!((t.name.0.as_str(), t.partition_indexes.clone()), ("t", vec![0, 2]));
        } else {
            assert_eq!(r.group_id.0.as_str(), "g");
            let t = &r.topics.as_ref().unwrap()[0];
            assert_eq!((t.name.0.as_str(), t.partition_indexes.clone()), ("t", vec![0, 2]));
        }
    }
    assert!(encode_offset_fetch(6, 1, None, "g", &[]).is_err());
}

#[test]
fn offset_fetch_answers_decode() {
    let want = |error: i16| OffsetFetchAnswer {
        error: ErrorCode(error),
        partitions: vec![
            FetchedOffset {
                topic: "t".into(),
                partition: 0,
                offset: 42,
                leader_epoch: 3,
                metadata: Some("{\"v\":1}".into()),
                error: ErrorCode::NONE,
            },
            FetchedOffset {
                topic: "t".into(),
                partition: 1,
                offset: -1,
                leader_epoch: -1,
                metadata: None,
                error: ErrorCode(88),
            },
        ],
    };
    for v in 7..=9 {
        let mut resp = OffsetFetchResponse::default().with_throttle_time_ms(1);
        if v >= 8 {
            resp.groups = vec![OffsetFetchResponseGroup::default()
                .with_group_id(GroupId(s("g")))
                .with_error_code(16)
                .with_topics(vec![OffsetFetchResponseTopics::default()
                    .with_name(TopicName(s("t")))
                    .with_partitions(vec![
                        OffsetFetchResponsePartitions::default()
                            .with_partition_index(0)
                            .with_committed_offset(42)
                            .with_committed_leader_epoch(3)
                            .with_metadata(Some(s("{\"v\":1}"))),
                        OffsetFetchResponsePartitions::default()
                            .with_partition_index(1)
                            .with_committed_offset(-1)
                            .with_committed_leader_epoch(-1)
                            .with_metadata(None)
                            .with_error_code(88),
                    ])])];
        } else {
            resp.error_code = 16;
            resp.topics = vec![OffsetFetchResponseTopic::default()
                .with_name(TopicName(s("t")))
                .with_partitions(vec![
                    OffsetFetchResponsePartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(42)
                        .with_committed_leader_epoch(3)
                        .with_metadata(Some(s("{\"v\":1}"))),
                    OffsetFetchResponsePartition::default()
                        .with_partition_index(1)
                        .with_committed_offset(-1)
                        .with_committed_leader_epoch(-1)
                        .with_metadata(None)
                        .with_error_code(88),
                ])];
        }
        let mut b = BytesMut::new();
        b.put_u8(0);
        resp.encode(&mut b, v).unwrap();
        assert_eq!(decode_offset_fetch(v, b.freeze()).unwrap(), want(16), "v{v}");
    }
    // A v8 answer without a group, and a truncated one.
    assert!(decode_offset_fetch(8, Bytes::from_static(&[0, 0, 0, 0, 0, 1, 0])).is_err());
    assert!(decode_offset_fetch(7, Bytes::from_static(&[0, 0, 0])).is_err());
}
