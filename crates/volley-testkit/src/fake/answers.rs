//! The fake broker's answers to Metadata and Produce, and its log with Kafka's idempotence
//! rules (split from `fake.rs` by concern: connections and hooks there, answers here).

use bytes::Bytes;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, LeaderIdAndEpoch, NodeEndpoint, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{
    BrokerId, MetadataRequest, MetadataResponse, ProduceRequest, ProduceResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use volley_protocol::record_batch::decode_batches;
use volley_protocol::ErrorCode;

use super::{Action, DuplicateMode, LogRecord, State};

pub(super) fn metadata(s: &mut State, m: &MetadataRequest, action: &Action) -> MetadataResponse {
    let mut r = MetadataResponse::default().with_controller_id(BrokerId(1));
    for (id, addr) in &s.brokers {
        r.brokers.push(
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(*id))
                .with_host(StrBytes::from_string(addr.ip().to_string()))
                .with_port(i32::from(addr.port())),
        );
    }
    let names: Vec<String> = match &m.topics {
        Some(ts) => ts
            .iter()
            .filter_map(|t| t.name.as_ref().map(|n| n.0.to_string()))
            .collect(),
        None => s.topics.keys().cloned().collect(),
    };
    for name in names {
        if !s.topics.contains_key(&name) {
            if let Some(n) = s.auto_create_partitions.filter(|_| m.allow_auto_topic_creation) {
                let brokers = s.brokers.len().max(1);
                s.topics.insert(name.clone(), vec![Vec::new(); n as usize]);
                for p in 0..n as usize {
                    s.leaders.insert(
                        (name.clone(), i32::try_from(p).unwrap_or(0)),
                        i32::try_from(p % brokers + 1).unwrap_or(1),
                    );
                }
            }
        }
        let mut t = MetadataResponseTopic::default().with_name(Some(TopicName(StrBytes::from_string(name.clone()))));
        if let Action::Error(e) = action {
            t.error_code = e.0;
        } else if s.hidden_topics.contains(&name) || !s.topics.contains_key(&name) {
            t.error_code = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0;
        } else {
            let n = s.topics.get(&name).map_or(0, Vec::len);
            for p in 0..n {
                let p = i32::try_from(p).unwrap_or(0);
                let key = (name.clone(), p);
                let current = (
                    s.leaders.get(&key).copied().unwrap_or(-1),
                    s.leader_epochs.get(&key).copied().unwrap_or(0),
                );
                let (leader, epoch) = s
                    .frozen
                    .get(&s.answering)
                    .and_then(|view| view.get(&key).copied())
                    .unwrap_or(current);
                let (replicas, isr) = s
                    .replica_sets
                    .get(&key)
                    .cloned()
                    .unwrap_or_else(|| (vec![leader], vec![leader]));
                let offline = s.offline_replicas.get(&key).cloned().unwrap_or_default();
                t.partitions.push(
                    MetadataResponsePartition::default()
                        .with_error_code(if leader < 0 {
                            ErrorCode::LEADER_NOT_AVAILABLE.0
                        } else {
                            0
                        })
                        .with_partition_index(p)
                        .with_leader_id(BrokerId(leader))
                        .with_leader_epoch(epoch)
                        .with_replica_nodes(replicas.into_iter().map(BrokerId).collect())
                        .with_isr_nodes(isr.into_iter().map(BrokerId).collect())
                        .with_offline_replicas(offline.into_iter().map(BrokerId).collect()),
                );
            }
        }
        r.topics.push(t);
    }
    r
}

pub(super) fn produce_response(broker: i32, s: &mut State, p: &ProduceRequest, action: &Action) -> ProduceResponse {
    let mut resp = ProduceResponse::default();
    for t in &p.topic_data {
        let topic = t.name.0.to_string();
        let mut tr = TopicProduceResponse::default().with_name(t.name.clone());
        for pd in &t.partition_data {
            let mut pr = PartitionProduceResponse::default()
                .with_index(pd.index)
                .with_base_offset(-1)
                .with_log_append_time_ms(-1);
            let forced = match action {
                Action::Error(e) | Action::ErrorAfter(_, e) => Some(*e),
                Action::PartitionErrors(list) => list
                    .iter()
                    .find(|((tt, pp), _)| *tt == topic && *pp == pd.index)
                    .map(|(_, e)| *e),
                _ => None,
            };
            let res = if let Some(e) = forced {
                Err(e)
            } else if let Action::InvalidRecord(i) = action {
                pr.record_errors.push(
                    BatchIndexAndErrorMessage::default()
                        .with_batch_index(*i)
                        .with_batch_index_error_message(Some(StrBytes::from_static_str("rejected by the fake broker"))),
                );
                Err(ErrorCode::INVALID_RECORD)
            } else {
                append(broker, s, &topic, pd.index, pd.records.clone().unwrap_or_default())
            };
            match (res, action) {
                (Ok(_), Action::AppendThenError(e) | Action::AppendThenErrorAfter(_, e)) => pr.error_code = e.0,
                (Ok(base), _) => pr.base_offset = base,
                (Err(e), _) => pr.error_code = e.0,
            }
            // KIP-951: NOT_LEADER_OR_FOLLOWER names the current leader when there is one.
            if pr.error_code == ErrorCode::NOT_LEADER_OR_FOLLOWER.0 && s.leader_hints {
                let key = (topic.clone(), pd.index);
                if let Some(&leader) = s.leaders.get(&key).filter(|l| **l >= 0) {
                    let epoch = s.leader_epochs.get(&key).copied().unwrap_or(0);
                    pr.current_leader = LeaderIdAndEpoch::default()
                        .with_leader_id(BrokerId(leader))
                        .with_leader_epoch(epoch);
                    if let Some((_, addr)) = s.brokers.iter().find(|(id, _)| *id == leader) {
                        let ep = NodeEndpoint::default()
                            .with_node_id(BrokerId(leader))
                            .with_host(StrBytes::from_string(addr.ip().to_string()))
                            .with_port(i32::from(addr.port()));
                        if !resp.node_endpoints.iter().any(|e| e.node_id == BrokerId(leader)) {
                            resp.node_endpoints.push(ep);
                        }
                    }
                }
            }
            tr.partition_responses.push(pr);
        }
        resp.responses.push(tr);
    }
    resp
}

fn append(broker: i32, s: &mut State, topic: &str, partition: i32, records: Bytes) -> Result<i64, ErrorCode> {
    let Some(parts) = s.topics.get(topic) else {
        return Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
    };
    if usize::try_from(partition).map_or(true, |p| p >= parts.len()) {
        return Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
    }
    if s.leaders.get(&(topic.to_owned(), partition)) != Some(&broker) {
        return Err(ErrorCode::NOT_LEADER_OR_FOLLOWER);
    }
    if s.max_message_bytes.is_some_and(|m| records.len() > m) {
        return Err(ErrorCode::MESSAGE_TOO_LARGE);
    }
    let batches = decode_batches(records, 64 << 20).map_err(|_| ErrorCode::CORRUPT_MESSAGE)?;
    let mut first_base = None;
    for b in batches {
        let n = i32::try_from(b.records.len()).unwrap_or(i32::MAX);
        if b.producer_id >= 0 {
            let key = (b.producer_id, topic.to_owned(), partition);
            // Like Kafka, the epoch is checked against this partition's producer state: a
            // bump elsewhere does not fence batches of the old epoch here until a batch of
            // the new epoch arrives.
            let cur_epoch = s
                .producers
                .get(&key)
                .filter(|st| !st.batches.is_empty())
                .map(|st| st.epoch);
            if cur_epoch.is_some_and(|e| b.producer_epoch < e) {
                return Err(ErrorCode::INVALID_PRODUCER_EPOCH);
            }
            let last = b.base_sequence.wrapping_add(n - 1);
            let dup_mode = s.duplicate_mode;
            let strict = s.strict_unknown_producer;
            let st = s.producers.entry(key).or_default();
            if strict && st.batches.is_empty() && b.base_sequence != 0 {
                return Err(ErrorCode::UNKNOWN_PRODUCER_ID);
            }
            if st.batches.is_empty() || b.producer_epoch > st.epoch {
                if !st.batches.is_empty() && b.base_sequence != 0 {
                    return Err(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
                }
                st.epoch = b.producer_epoch;
                st.batches.clear();
            } else {
                if let Some(&(_, _, off)) = st.batches.iter().find(|(f, l, _)| *f == b.base_sequence && *l == last) {
                    return match dup_mode {
                        DuplicateMode::OriginalOffset => Ok(off),
                        DuplicateMode::Error => Err(ErrorCode::DUPLICATE_SEQUENCE_NUMBER),
                    };
                }
                let expected = st
                    .batches
                    .back()
                    .map_or(0, |(_, l, _)| if *l == i32::MAX { 0 } else { l + 1 });
                if b.base_sequence != expected {
                    return Err(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
                }
            }
        }
        let log = &mut s.topics.get_mut(topic).expect("checked above")[usize::try_from(partition).unwrap_or(0)];
        let base = i64::try_from(log.len()).unwrap_or(i64::MAX);
        for (i, r) in b.records.iter().enumerate() {
            log.push(LogRecord {
                topic: topic.to_owned(),
                partition,
                offset: base + i64::try_from(i).unwrap_or(0),
                key: r.key.clone(),
                value: r.value.clone(),
                headers: r.headers.clone(),
                timestamp: r.timestamp,
                producer: (
                    b.producer_id,
                    b.producer_epoch,
                    b.base_sequence.wrapping_add(i32::try_from(i).unwrap_or(0)),
                ),
            });
        }
        if b.producer_id >= 0 {
            let st = s
                .producers
                .entry((b.producer_id, topic.to_owned(), partition))
                .or_default();
            st.batches
                .push_back((b.base_sequence, b.base_sequence.wrapping_add(n - 1), base));
            while st.batches.len() > 5 {
                st.batches.pop_front();
            }
        }
        first_base.get_or_insert(base);
    }
    Ok(first_base.unwrap_or(0))
}
