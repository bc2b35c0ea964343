//! The transaction messages against the `kafka-protocol` crate: our requests decode with its
//! decoders, its encoded answers decode with ours, every version we speak.

use super::*;
use bytes::{Buf, BufMut, BytesMut};
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnResponse, AddPartitionsToTxnResponse, ApiKey, BrokerId, EndTxnResponse, FindCoordinatorResponse,
    RequestHeader, TxnOffsetCommitResponse,
};
use kafka_protocol::protocol::{Decodable, Encodable};
use proptest::prelude::*;

/// An answer body as a broker sends it: the response header's tagged fields when flexible.
fn answer(flexible: bool, body: &impl Encodable, version: i16) -> Bytes {
    let mut b = BytesMut::new();
    if flexible {
        b.put_u8(0);
    }
    body.encode(&mut b, version).unwrap();
    b.freeze()
}

/// Decodes one of our request frames with the generated decoder.
fn request<R: Decodable>(frame: Bytes, key: ApiKey, version: i16) -> R {
    let mut b = frame;
    let len = b.get_i32();
    assert_eq!(usize::try_from(len).unwrap(), b.remaining());
    let h = RequestHeader::decode(&mut b, key.request_header_version(version)).unwrap();
    assert_eq!((h.request_api_key, h.request_api_version), (key as i16, version));
    R::decode(&mut b, version).unwrap()
}

#[test]
fn find_coordinator_every_version() {
    for v in 1..=6 {
        let f = encode_find_coordinator(v, 1, Some("c"), "txn-a", 1).unwrap();
        let r: FindCoordinatorRequest = request(f, ApiKey::FindCoordinator, v);
        assert_eq!(r.key_type, 1);
        if v >= 4 {
            assert_eq!(r.coordinator_keys, vec![StrBytes::from_static_str("txn-a")]);
        } else {
            assert_eq!(&*r.key, "txn-a");
        }
        let resp = if v >= 4 {
            FindCoordinatorResponse::default().with_coordinators(vec![Coordinator::default()
                .with_key(StrBytes::from_static_str("txn-a"))
                .with_node_id(BrokerId(3))
                .with_host(StrBytes::from_static_str("127.0.0.1"))
                .with_port(9093)
                .with_error_code(0)])
        } else {
            FindCoordinatorResponse::default()
                .with_node_id(BrokerId(3))
                .with_host(StrBytes::from_static_str("127.0.0.1"))
                .with_port(9093)
        };
        let a = decode_find_coordinator(v, answer(v >= 3, &resp, v)).unwrap();
        assert_eq!(
            a,
            CoordinatorAnswer {
                error: ErrorCode::NONE,
                node_id: 3,
                host: "127.0.0.1".into(),
                port: 9093
            },
            "v{v}"
        );
        let not = if v >= 4 {
            FindCoordinatorResponse::default().with_coordinators(vec![Coordinator::default().with_error_code(15)])
        } else {
            FindCoordinatorResponse::default().with_error_code(15)
        };
        let a = decode_find_coordinator(v, answer(v >= 3, &not, v)).unwrap();
        assert_eq!(a.error, ErrorCode::COORDINATOR_NOT_AVAILABLE);
    }
    let empty = FindCoordinatorResponse::default();
    assert!(decode_find_coordinator(4, answer(true, &empty, 4)).is_err());
}

#[test]
fn init_producer_id_with_a_transactional_id() {
    for v in 3..=4 {
        let f = encode_init_producer_id_txn(v, 1, None, "txn-a", 60_000, Some((7, 2))).unwrap();
        let r: InitProducerIdRequest = request(f, ApiKey::InitProducerId, v);
        assert_eq!(r.transactional_id.as_ref().map(|t| &*t.0), Some("txn-a"));
        assert_eq!(r.transaction_timeout_ms, 60_000);
        assert_eq!((r.producer_id.0, r.producer_epoch), (7, 2));
    }
}

#[test]
fn add_partitions_every_version() {
    for v in 1..=3 {
        let f = encode_add_partitions(v, 1, None, "txn-a", (7, 1), &[("a", 0), ("b", 2), ("a", 1)]).unwrap();
        let r: AddPartitionsToTxnRequest = request(f, ApiKey::AddPartitionsToTxn, v);
        assert_eq!(&*r.v3_and_below_transactional_id.0, "txn-a");
        assert_eq!((r.v3_and_below_producer_id.0, r.v3_and_below_producer_epoch), (7, 1));
        let topics: Vec<(&str, Vec<i32>)> = r
            .v3_and_below_topics
            .iter()
            .map(|t| (&*t.name.0, t.partitions.clone()))
            .collect();
        assert_eq!(topics, vec![("a", vec![0, 1]), ("b", vec![2])]);
        let resp = AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(vec![
            AddPartitionsToTxnTopicResult::default()
                .with_name(TopicName(StrBytes::from_static_str("a")))
                .with_results_by_partition(vec![
                    AddPartitionsToTxnPartitionResult::default().with_partition_index(0),
                    AddPartitionsToTxnPartitionResult::default()
                        .with_partition_index(1)
                        .with_partition_error_code(51),
                ]),
        ]);
        let a = decode_add_partitions(v, answer(v >= 3, &resp, v)).unwrap();
        assert_eq!(
            a,
            vec![
                ("a".into(), 0, ErrorCode::NONE),
                ("a".into(), 1, ErrorCode::CONCURRENT_TRANSACTIONS)
            ]
        );
    }
    assert!(encode_add_partitions(4, 1, None, "t", (1, 1), &[]).is_err());
}

#[test]
fn add_offsets_every_version() {
    for v in 1..=4 {
        let f = encode_add_offsets(v, 1, None, "txn-a", (7, 1), "g").unwrap();
        let r: AddOffsetsToTxnRequest = request(f, ApiKey::AddOffsetsToTxn, v);
        assert_eq!((&*r.transactional_id.0, &*r.group_id.0), ("txn-a", "g"));
        let resp = AddOffsetsToTxnResponse::default().with_error_code(30);
        assert_eq!(
            decode_add_offsets(v, answer(v >= 3, &resp, v)).unwrap(),
            ErrorCode::GROUP_AUTHORIZATION_FAILED
        );
    }
}

#[test]
fn txn_offset_commit_every_version() {
    let group = GroupMember {
        group_id: "g",
        generation_id: 4,
        member_id: "m-1",
        group_instance_id: Some("i-1"),
    };
    for v in 1..=5 {
        let f = encode_txn_offset_commit(
            v,
            1,
            None,
            "txn-a",
            (7, 1),
            &group,
            &[("in", 0, 42, -1, None), ("in", 1, 7, 3, Some("m"))],
        )
        .unwrap();
        let r: TxnOffsetCommitRequest = request(f, ApiKey::TxnOffsetCommit, v);
        assert_eq!(&*r.group_id.0, "g");
        assert_eq!(r.topics.len(), 1);
        assert_eq!(r.topics[0].partitions[1].committed_offset, 7);
        if v >= 2 {
            assert_eq!(r.topics[0].partitions[1].committed_leader_epoch, 3);
        }
        if v >= 3 {
            assert_eq!((r.generation_id, &*r.member_id), (4, "m-1"));
            assert_eq!(r.group_instance_id.as_deref(), Some("i-1"));
        }
        let resp = TxnOffsetCommitResponse::default().with_topics(vec![TxnOffsetCommitResponseTopic::default()
            .with_name(TopicName(StrBytes::from_static_str("in")))
            .with_partitions(vec![TxnOffsetCommitResponsePartition::default()
                .with_partition_index(1)
                .with_error_code(22)])]);
        assert_eq!(
            decode_txn_offset_commit(v, answer(v >= 3, &resp, v)).unwrap(),
            vec![("in".into(), 1, ErrorCode::ILLEGAL_GENERATION)]
        );
    }
}

#[test]
fn end_txn_every_version() {
    for v in 1..=5 {
        let f = encode_end_txn(v, 1, None, "txn-a", (7, 1), true).unwrap();
        let r: EndTxnRequest = request(f, ApiKey::EndTxn, v);
        assert!(r.committed);
        assert_eq!((r.producer_id.0, r.producer_epoch), (7, 1));
        let resp = EndTxnResponse::default()
            .with_producer_id(7.into())
            .with_producer_epoch(2);
        let (e, id) = decode_end_txn(v, answer(v >= 3, &resp, v)).unwrap();
        assert_eq!(e, ErrorCode::NONE);
        // Only v5 (KIP-890) carries the next identity.
        assert_eq!(id, (v >= 5).then_some((7, 2)), "v{v}");
    }
    let fenced = EndTxnResponse::default()
        .with_error_code(90)
        .with_producer_id((-1).into())
        .with_producer_epoch(-1);
    assert_eq!(
        decode_end_txn(5, answer(true, &fenced, 5)).unwrap(),
        (ErrorCode::PRODUCER_FENCED, None)
    );
}

proptest! {
    #[test]
    fn decoders_never_panic(v in 1i16..=6, data in proptest::collection::vec(any::<u8>(), 0..120)) {
        let b = Bytes::from(data);
        let _ = decode_find_coordinator(v, b.clone());
        let _ = decode_add_partitions(v.min(3), b.clone());
        let _ = decode_add_offsets(v.min(4), b.clone());
        let _ = decode_txn_offset_commit(v.min(5), b.clone());
        let _ = decode_end_txn(v.min(5), b);
    }
}
