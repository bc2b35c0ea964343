//! A fake Kafka cluster in the spirit of franz-go's kfake.
//!
//! Brokers listen on 127.0.0.1 random ports and share one state (topics, partition logs,
//! leaders, producer states). Requests are decoded with the `kafka-protocol` crate (the
//! client side uses Volley's own codecs, so the two are independent) and record batches
//! with Volley's decoder, which verifies CRC32C. A test installs a hook that sees every
//! request and returns an [`Action`].
//!
//! Idempotence follows the broker: per producer id and partition the last 5 batches are
//! kept; a retried batch is a duplicate (answered with its original offset, or with
//! DUPLICATE_SEQUENCE_NUMBER in [`DuplicateMode::Error`]); a gap is
//! OUT_OF_ORDER_SEQUENCE_NUMBER; a stale epoch INVALID_PRODUCER_EPOCH; a producer the
//! partition has no state for may start at any sequence.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::init_producer_id_response::InitProducerIdResponse;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, InitProducerIdRequest, MetadataRequest, ProduceRequest,
    RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use volley_protocol::frame::split_frame;
use volley_protocol::record_batch::{decode_batches, Header};
use volley_protocol::ErrorCode;

mod answers;
use answers::{metadata, produce_response};

/// A record in a partition log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Key.
    pub key: Option<Bytes>,
    /// Value.
    pub value: Option<Bytes>,
    /// Headers.
    pub headers: Vec<Header>,
    /// Timestamp.
    pub timestamp: i64,
    /// Producer id, epoch and sequence of the record.
    pub producer: crate::stamps::Stamp,
}

/// What a Produce request carried for one partition, for the request log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducedBatch {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub epoch: i16,
    /// Base sequence.
    pub base_sequence: i32,
    /// Records in the batch.
    pub records: i32,
    /// Bytes of the partition's record data in the request.
    pub bytes: usize,
}

/// A request as the hook and the request log see it.
#[derive(Debug, Clone)]
pub struct Request {
    /// Which broker got it.
    pub broker: i32,
    /// API key.
    pub api_key: i16,
    /// Version.
    pub version: i16,
    /// For Produce: the batches.
    pub batches: Vec<ProducedBatch>,
    /// For Produce: acks.
    pub acks: i16,
    /// For Metadata: the topics named (`None`: all topics).
    pub metadata_topics: Option<Vec<String>>,
}

/// What the fake broker does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Handle it normally.
    Respond,
    /// Produce: answer this error for every partition without appending (other APIs:
    /// the top-level error where there is one).
    Error(ErrorCode),
    /// Produce: answer errors per partition (partitions not listed are handled normally).
    PartitionErrors(Vec<((String, i32), ErrorCode)>),
    /// Handle it (append), then close the connection without answering.
    AppendThenDrop,
    /// Produce: append, then answer this error for every partition (an uncertain failure
    /// such as REQUEST_TIMED_OUT or NOT_ENOUGH_REPLICAS_AFTER_APPEND).
    AppendThenError(ErrorCode),
    /// Produce: append, then answer this error after waiting (without holding the broker or
    /// a runtime thread: a hook must not sleep, see the regression of the settle test).
    AppendThenErrorAfter(Duration, ErrorCode),
    /// Close the connection without handling the request.
    CloseBeforeHandling,
    /// Wait, then handle normally.
    Delay(Duration),
    /// Handle normally and ask the client to back off this long.
    Throttle(Duration),
    /// Answer with a frame that claims more bytes than it has, then close.
    TruncatedFrame,
    /// Answer with a 2 GiB length prefix.
    HugeLength,
    /// Answer with a wrong correlation id.
    WrongCorrelationId,
    /// Produce: answer INVALID_RECORD naming the record at this index of every batch.
    InvalidRecord(i32),
    /// Answer with the right correlation id and a body that does not decode.
    GarbageBody,
    /// Produce: wait, then answer this error for every partition without appending (a slow
    /// rejection, so that the client pipelines more requests behind it).
    ErrorAfter(Duration, ErrorCode),
    /// Metadata v13+: answer normally with this top-level error (KIP-1102's
    /// REBOOTSTRAP_REQUIRED).
    MetadataTopLevelError(ErrorCode),
}

/// How a duplicate batch is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DuplicateMode {
    /// Like Kafka: success with the original offset.
    #[default]
    OriginalOffset,
    /// Like tansu: DUPLICATE_SEQUENCE_NUMBER.
    Error,
}

type Hook = Box<dyn FnMut(&Request) -> Action + Send>;

#[derive(Debug, Default)]
struct ProducerState {
    epoch: i16,
    /// (first sequence, last sequence, base offset) of the last 5 batches.
    batches: VecDeque<(i32, i32, i64)>,
}

/// Leader and leader epoch per partition, as a frozen broker shows them.
type FrozenLeaders = HashMap<(String, i32), (i32, i32)>;

#[derive(Default)]
struct State {
    topics: BTreeMap<String, Vec<Vec<LogRecord>>>,
    leaders: HashMap<(String, i32), i32>,
    /// Leader epoch per partition: bumped by every `set_leader`.
    leader_epochs: HashMap<(String, i32), i32>,
    /// Brokers whose Metadata answers show the leaders and epochs as they were when frozen
    /// (a broker whose metadata is behind).
    frozen: HashMap<i32, FrozenLeaders>,
    /// Who asked for the metadata being answered (for `frozen`).
    answering: i32,
    producers: HashMap<(i64, String, i32), ProducerState>,
    epochs: HashMap<i64, i16>,
    next_producer_id: i64,
    hook: Option<Hook>,
    log: Vec<Request>,
    duplicate_mode: DuplicateMode,
    auto_create_partitions: Option<u32>,
    hidden_topics: Vec<String>,
    max_message_bytes: Option<usize>,
    strict_unknown_producer: bool,
    connection_lifetime_ms: Option<(u64, u64)>,
    black_hole: bool,
    /// Produce answers carry KIP-951 leader hints.
    leader_hints: bool,
    connections: u64,
    brokers: Vec<(i32, SocketAddr)>,
    /// ApiVersions ranges advertised instead of the defaults, by API key.
    api_ranges: HashMap<i16, (i16, i16)>,
    /// Replicas and in-sync replicas shown per partition (default: the leader alone).
    replica_sets: HashMap<(String, i32), (Vec<i32>, Vec<i32>)>,
    /// Offline replicas shown per partition (default: none).
    offline_replicas: HashMap<(String, i32), Vec<i32>>,
}

/// A fake cluster of brokers on 127.0.0.1.
pub struct FakeCluster {
    state: Arc<Mutex<State>>,
    tasks: Vec<JoinHandle<()>>,
    brokers: Vec<(i32, SocketAddr)>,
}

impl std::fmt::Debug for FakeCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeCluster")
            .field("brokers", &self.brokers)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeCluster {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn lock(s: &Mutex<State>) -> MutexGuard<'_, State> {
    s.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FakeCluster {
    /// Starts `brokers` brokers (node ids 1..=n).
    ///
    /// # Panics
    /// If a listener cannot be bound.
    pub async fn start(brokers: usize) -> Self {
        let state = Arc::new(Mutex::new(State {
            next_producer_id: 1000,
            ..State::default()
        }));
        let mut tasks = Vec::new();
        let mut addrs = Vec::new();
        for i in 0..brokers {
            let id = i32::try_from(i + 1).unwrap_or(i32::MAX);
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a fake broker");
            let addr = listener.local_addr().expect("local addr");
            addrs.push((id, addr));
            let st = Arc::clone(&state);
            tasks.push(tokio::spawn(async move {
                let mut conns = Vec::new();
                while let Ok((sock, _)) = listener.accept().await {
                    let st = Arc::clone(&st);
                    conns.push(tokio::spawn(serve(id, sock, st)));
                }
            }));
        }
        lock(&state).brokers.clone_from(&addrs);
        Self {
            state,
            tasks,
            brokers: addrs,
        }
    }

    /// Shows `replicas` and `isr` for a partition in Metadata answers (the log stays on its
    /// leader: replication is not simulated).
    pub fn set_replicas(&self, topic: &str, partition: i32, replicas: &[i32], isr: &[i32]) {
        lock(&self.state)
            .replica_sets
            .insert((topic.to_owned(), partition), (replicas.to_vec(), isr.to_vec()));
    }

    /// Shows `offline` as a partition's offline replicas in Metadata answers.
    pub fn set_offline_replicas(&self, topic: &str, partition: i32, offline: &[i32]) {
        lock(&self.state)
            .offline_replicas
            .insert((topic.to_owned(), partition), offline.to_vec());
    }

    /// Advertises `min..=max` for the API `api_key` in ApiVersions answers from now on
    /// (a broker of an older or newer Kafka version).
    pub fn advertise_api(&self, api_key: i16, min: i16, max: i16) {
        lock(&self.state).api_ranges.insert(api_key, (min, max));
    }

    /// `host:port,host:port` of every broker.
    #[must_use]
    pub fn bootstrap(&self) -> String {
        self.brokers
            .iter()
            .map(|(_, a)| a.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The address broker `id` listens on.
    #[must_use]
    pub fn address(&self, id: i32) -> Option<SocketAddr> {
        self.brokers.iter().find(|(b, _)| *b == id).map(|(_, a)| *a)
    }

    /// Makes Metadata answers advertise `addr` for broker `id` (a proxy in front of it, or
    /// the broker's own address again: a cluster that "moved").
    pub fn advertise(&self, id: i32, addr: SocketAddr) {
        for b in &mut lock(&self.state).brokers {
            if b.0 == id {
                b.1 = addr;
            }
        }
    }

    /// Creates a topic; partition `p` is led by broker `p % n + 1`.
    pub fn create_topic(&self, topic: &str, partitions: u32) {
        let mut s = lock(&self.state);
        let n = s.brokers.len().max(1);
        s.topics.insert(topic.to_owned(), vec![Vec::new(); partitions as usize]);
        for p in 0..partitions as usize {
            let leader = i32::try_from(p % n + 1).unwrap_or(1);
            s.leaders
                .insert((topic.to_owned(), i32::try_from(p).unwrap_or(0)), leader);
        }
    }

    /// Deletes a topic (its log and leaders).
    pub fn delete_topic(&self, topic: &str) {
        let mut s = lock(&self.state);
        s.topics.remove(topic);
        s.leaders.retain(|(t, _), _| t != topic);
        s.producers.retain(|(_, t, _), _| t != topic);
    }

    /// Topics asked about that do not exist are created with this many partitions
    /// (`None`: they stay unknown).
    pub fn auto_create(&self, partitions: Option<u32>) {
        lock(&self.state).auto_create_partitions = partitions;
    }

    /// Hides a topic from Metadata answers (it stays producible) until `show`.
    pub fn hide_topic(&self, topic: &str, hidden: bool) {
        let mut s = lock(&self.state);
        s.hidden_topics.retain(|t| t != topic);
        if hidden {
            s.hidden_topics.push(topic.to_owned());
        }
    }

    /// Adds partitions to a topic.
    pub fn add_partitions(&self, topic: &str, total: u32) {
        let mut s = lock(&self.state);
        let n = s.brokers.len().max(1);
        let have = s.topics.get(topic).map_or(0, Vec::len);
        if let Some(t) = s.topics.get_mut(topic) {
            t.resize(total as usize, Vec::new());
        }
        for p in have..total as usize {
            let leader = i32::try_from(p % n + 1).unwrap_or(1);
            s.leaders
                .insert((topic.to_owned(), i32::try_from(p).unwrap_or(0)), leader);
        }
    }

    /// Moves a partition's leadership (and bumps its leader epoch). `-1` leaves it without
    /// a leader: Metadata answers then show leader -1 and LEADER_NOT_AVAILABLE for it.
    pub fn set_leader(&self, topic: &str, partition: i32, broker: i32) {
        let mut s = lock(&self.state);
        s.leaders.insert((topic.to_owned(), partition), broker);
        *s.leader_epochs.entry((topic.to_owned(), partition)).or_default() += 1;
    }

    /// From now on `broker` answers Metadata with the leaders and leader epochs of this
    /// moment, as a broker whose metadata lags behind would (KIP-320).
    pub fn freeze_metadata(&self, broker: i32) {
        let mut s = lock(&self.state);
        let view = s
            .leaders
            .iter()
            .map(|(k, l)| (k.clone(), (*l, s.leader_epochs.get(k).copied().unwrap_or(0))))
            .collect();
        s.frozen.insert(broker, view);
    }

    /// Forgets every producer's state (like a broker that lost it).
    pub fn forget_producers(&self) {
        lock(&self.state).producers.clear();
    }

    /// Makes every producer's state on `topic` expect a sequence far ahead, as if the
    /// broker had lost acknowledged batches: the next batch at the head is answered
    /// OUT_OF_ORDER_SEQUENCE_NUMBER.
    pub fn lose_sequences(&self, topic: &str) {
        for ((_, t, _), st) in &mut lock(&self.state).producers {
            if t == topic {
                st.batches.clear();
                st.batches.push_back((1_000_000, 1_000_000, 0));
            }
        }
    }

    /// Like Kafka for a producer it has no state for: a batch with a sequence other than
    /// 0 is answered UNKNOWN_PRODUCER_ID (default: accepted, as "no state accepts any").
    pub fn strict_unknown_producer(&self, on: bool) {
        lock(&self.state).strict_unknown_producer = on;
    }

    /// How duplicates are answered.
    pub fn duplicate_mode(&self, mode: DuplicateMode) {
        lock(&self.state).duplicate_mode = mode;
    }

    /// Batches larger than this are answered MESSAGE_TOO_LARGE.
    pub fn max_message_bytes(&self, max: Option<usize>) {
        lock(&self.state).max_message_bytes = max;
    }

    /// Every new connection is closed after a random lifetime in this range (chaos).
    pub fn connection_lifetime(&self, ms: Option<(u64, u64)>) {
        lock(&self.state).connection_lifetime_ms = ms;
    }

    /// Whether NOT_LEADER_OR_FOLLOWER answers name the current leader (KIP-951; off by
    /// default, so that other tests see leader moves learned from metadata).
    pub fn leader_hints(&self, on: bool) {
        lock(&self.state).leader_hints = on;
    }

    /// While set, requests are held unanswered (a broker that stopped responding).
    pub fn set_black_hole(&self, on: bool) {
        lock(&self.state).black_hole = on;
    }

    /// Installs the hook that decides what happens to each request.
    pub fn set_hook(&self, hook: impl FnMut(&Request) -> Action + Send + 'static) {
        lock(&self.state).hook = Some(Box::new(hook));
    }

    /// Removes the hook.
    pub fn clear_hook(&self) {
        lock(&self.state).hook = None;
    }

    /// Every request seen so far.
    #[must_use]
    pub fn request_log(&self) -> Vec<Request> {
        lock(&self.state).log.clone()
    }

    /// Every record of a topic, in partition and offset order.
    #[must_use]
    pub fn records(&self, topic: &str) -> Vec<LogRecord> {
        lock(&self.state)
            .topics
            .get(topic)
            .map(|ps| ps.iter().flatten().cloned().collect())
            .unwrap_or_default()
    }
}

async fn serve(broker: i32, sock: TcpStream, state: Arc<Mutex<State>>) {
    let lifetime = {
        let mut s = lock(&state);
        s.connections += 1;
        let n = s.connections;
        s.connection_lifetime_ms.map(|(lo, hi)| {
            // Spread lifetimes deterministically over the range.
            let span = hi.saturating_sub(lo) + 1;
            Duration::from_millis(lo + n.wrapping_mul(2_654_435_761) % span)
        })
    };
    match lifetime {
        Some(d) => {
            let _ = tokio::time::timeout(d, serve_conn(broker, sock, state)).await;
        }
        None => serve_conn(broker, sock, state).await,
    }
}

async fn serve_conn(broker: i32, mut sock: TcpStream, state: Arc<Mutex<State>>) {
    let _ = sock.set_nodelay(true);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        let frame = loop {
            match split_frame(&mut buf, 64 << 20) {
                Ok(Some(f)) => break f,
                Ok(None) => {}
                Err(_) => return,
            }
            // A black hole stops reading too, so a client's writes fill the socket buffers
            // and block (what a broker that stopped looks like from the client).
            while lock(&state).black_hole {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            match sock.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        };
        while lock(&state).black_hole {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        match handle(broker, frame, &state) {
            Reply::Frame(out, delay) => {
                if let Some(d) = delay {
                    tokio::time::sleep(d).await;
                }
                if let Some(out) = out {
                    if sock.write_all(&out).await.is_err() {
                        return;
                    }
                }
            }
            Reply::Raw(bytes) => {
                let _ = sock.write_all(&bytes).await;
                return;
            }
            Reply::Close => return,
        }
    }
}

enum Reply {
    /// A framed answer (None for acks=0), after an optional delay.
    Frame(Option<Bytes>, Option<Duration>),
    /// Write these bytes and close.
    Raw(Bytes),
    /// Close without answering.
    Close,
}

fn respond<R: Encodable + HeaderVersion>(corr: i32, version: i16, body: &R) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i32(0);
    let header = ResponseHeader::default().with_correlation_id(corr);
    // Encoding our own well-formed values cannot fail.
    let _ = header.encode(&mut b, R::header_version(version));
    let _ = body.encode(&mut b, version);
    let len = i32::try_from(b.len() - 4).unwrap_or(i32::MAX);
    b[..4].copy_from_slice(&len.to_be_bytes());
    b.freeze()
}

fn handle(broker: i32, mut frame: Bytes, state: &Mutex<State>) -> Reply {
    if frame.len() < 4 {
        return Reply::Close;
    }
    let api_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let Ok(key) = ApiKey::try_from(api_key) else {
        return Reply::Close;
    };
    let Ok(header) = RequestHeader::decode(&mut frame, key.request_header_version(version)) else {
        return Reply::Close;
    };
    let corr = header.correlation_id;
    let mut s = lock(state);
    let mut req = Request {
        broker,
        api_key,
        version,
        batches: Vec::new(),
        acks: -1,
        metadata_topics: None,
    };
    let produce = if key == ApiKey::Produce {
        let Ok(p) = ProduceRequest::decode(&mut frame, version) else {
            return Reply::Close;
        };
        req.acks = p.acks;
        for t in &p.topic_data {
            for pd in &t.partition_data {
                let Some(records) = &pd.records else { continue };
                let bytes = records.len();
                if let Ok(batches) = decode_batches(records.clone(), 64 << 20) {
                    for b in batches {
                        req.batches.push(ProducedBatch {
                            topic: t.name.0.to_string(),
                            partition: pd.index,
                            producer_id: b.producer_id,
                            epoch: b.producer_epoch,
                            base_sequence: b.base_sequence,
                            records: i32::try_from(b.records.len()).unwrap_or(i32::MAX),
                            bytes,
                        });
                    }
                }
            }
        }
        Some(p)
    } else {
        None
    };
    let metadata_request = if key == ApiKey::Metadata {
        let Ok(m) = MetadataRequest::decode(&mut frame, version) else {
            return Reply::Close;
        };
        req.metadata_topics = m.topics.as_ref().map(|ts| {
            ts.iter()
                .filter_map(|t| t.name.as_ref().map(|n| n.0.to_string()))
                .collect()
        });
        Some(m)
    } else {
        None
    };
    s.log.push(req.clone());
    let action = match s.hook.as_mut() {
        Some(h) => h(&req),
        None => Action::Respond,
    };
    let mut delay = None;
    let mut throttle = 0;
    match &action {
        Action::CloseBeforeHandling => return Reply::Close,
        Action::TruncatedFrame => return Reply::Raw(Bytes::from_static(&[0, 0, 1, 0, 0, 0, 0, 1, 2, 3])),
        Action::HugeLength => return Reply::Raw(Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1])),
        Action::Delay(d) | Action::ErrorAfter(d, _) | Action::AppendThenErrorAfter(d, _) => delay = Some(*d),
        Action::Throttle(d) => throttle = i32::try_from(d.as_millis()).unwrap_or(i32::MAX),
        _ => {}
    }
    if action == Action::GarbageBody {
        let mut b = BytesMut::new();
        b.put_i32(6);
        b.put_i32(corr);
        b.put_u16(0xffff);
        return Reply::Frame(Some(b.freeze()), delay);
    }
    let corr = if action == Action::WrongCorrelationId {
        corr.wrapping_add(1000)
    } else {
        corr
    };
    let out = match key {
        ApiKey::ApiVersions => {
            let _ = ApiVersionsRequest::decode(&mut frame, version);
            let mut r = ApiVersionsResponse::default();
            for (k, lo, hi) in [(0i16, 3i16, 11i16), (3, 4, 13), (18, 0, 3), (22, 0, 4)] {
                let (lo, hi) = s.api_ranges.get(&k).copied().unwrap_or((lo, hi));
                r.api_keys.push(
                    ApiVersion::default()
                        .with_api_key(k)
                        .with_min_version(lo)
                        .with_max_version(hi),
                );
            }
            if version > 3 {
                r.error_code = ErrorCode::UNSUPPORTED_VERSION.0;
                return Reply::Frame(Some(respond(corr, 0, &r)), None);
            }
            Some(respond(corr, version, &r))
        }
        ApiKey::Metadata => {
            let m = metadata_request.expect("decoded above");
            s.answering = broker;
            let mut r = metadata(&mut s, &m, &action);
            if let Action::MetadataTopLevelError(e) = action {
                r.error_code = e.0;
            }
            Some(respond(corr, version, &r))
        }
        ApiKey::InitProducerId => {
            let Ok(r) = InitProducerIdRequest::decode(&mut frame, version) else {
                return Reply::Close;
            };
            let mut resp = InitProducerIdResponse::default();
            if let Action::Error(e) = action {
                resp.error_code = e.0;
            } else if r.producer_id.0 >= 0 {
                let cur = s.epochs.get(&r.producer_id.0).copied();
                if cur == Some(r.producer_epoch) {
                    let e = r.producer_epoch + 1;
                    s.epochs.insert(r.producer_id.0, e);
                    resp.producer_id = r.producer_id;
                    resp.producer_epoch = e;
                } else {
                    resp.error_code = ErrorCode::INVALID_PRODUCER_EPOCH.0;
                }
            } else {
                let id = s.next_producer_id;
                s.next_producer_id += 1;
                s.epochs.insert(id, 0);
                resp.producer_id = id.into();
                resp.producer_epoch = 0;
            }
            Some(respond(corr, version, &resp))
        }
        ApiKey::Produce => {
            let p = produce.expect("decoded above");
            let mut resp = produce_response(broker, &mut s, &p, &action);
            resp.throttle_time_ms = throttle;
            if p.acks == 0 {
                None
            } else {
                Some(respond(corr, version, &resp))
            }
        }
        _ => return Reply::Close,
    };
    drop(s);
    if action == Action::AppendThenDrop {
        return Reply::Close;
    }
    Reply::Frame(out, delay)
}
