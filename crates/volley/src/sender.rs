//! The sender: one task that turns ready batches into Produce requests and answers into
//! outcomes (the role of the Java producer's `Sender`).
//!
//! It owns every piece of mutable delivery state (connections, in-flight requests,
//! per-partition sequence numbers, retries, metadata, the producer id) so none of it needs a
//! lock; `send` only touches the accumulator (the lock of one partition's queue) and the memory
//! semaphore.
//! Connections do their I/O in their own tasks and report back over a channel; the loop
//! reacts to connection events, commands from the producer handle, wake-ups from `send`, and
//! timers, and after each one runs [`Sender::step`], which is synchronous and takes `now`.
//!
//! Ordering and idempotence (RELIABILITY.md): a partition's sequence numbers are assigned
//! when its batch is first drained and never change; a failed batch goes back to the head of
//! its partition's retry queue, ordered by sequence; while a partition has a retry pending,
//! nothing new is sent for it until every request in flight for it has answered (rule 3);
//! the first batch after a new producer id or a reconnect goes alone (rule 5).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::Rng;
use tokio::sync::{mpsc, oneshot, watch, Notify, Semaphore};
use volley_protocol::compression::Compression;
use volley_protocol::control::{decode_init_producer_id, decode_metadata, encode_init_producer_id, encode_metadata};
use volley_protocol::produce::{decode_produce_response, encode_produce, PartitionData, ProduceRequest, TopicData};
use volley_protocol::record_batch::{
    decode_batches, restamp, BatchBuilder, SealParams, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE,
};
use volley_protocol::ErrorCode;

use crate::accumulator::{Accumulator, Body, QueuedBatch};
use crate::config::{Acks, ProducerConfig};
use crate::error::{DeliveryError, Error};
use crate::metadata::Cluster;
use crate::net::{connect, ConnEvent, Connection, Outbound};
use crate::record::{BatchCompletion, BatchOutcome};

/// State shared by the producer handle and the sender.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: ProducerConfig,
    pub(crate) accumulator: Accumulator,
    /// The latest metadata, read by every `send` without a lock (the watch channel beside it
    /// is for waiting on a change).
    pub(crate) cluster: arc_swap::ArcSwap<Cluster>,
    pub(crate) wake: Notify,
    pub(crate) memory: Semaphore,
    pub(crate) flushing: AtomicUsize,
    pub(crate) closing: AtomicBool,
    /// Set when the producer stopped after a fatal error (strict gapless mode).
    pub(crate) fatal: std::sync::OnceLock<String>,
    /// Sequence gaps seen at the head of a partition (possible data loss on the broker).
    pub(crate) sequence_gaps: AtomicU64,
}

/// Requests from the producer handle.
#[derive(Debug)]
pub(crate) enum Command {
    /// `send` waits for this topic's metadata.
    NeedTopic(String),
    /// `send` waits for a partition the cached metadata of this known topic lacks.
    RefreshTopic(String),
    /// Reply with every incomplete batch (the flush waits for them).
    Flush(oneshot::Sender<Vec<Arc<BatchCompletion>>>),
    /// Fail everything still pending and stop.
    Abort,
    /// Stop once nothing is pending.
    Shutdown,
}

/// A sealed batch on its way to (or back from) a broker.
#[derive(Debug)]
struct SentBatch {
    topic: String,
    partition: i32,
    bytes: Bytes,
    completion: CompletionRef,
    created: Instant,
    reserved: usize,
    /// Producer id and epoch the bytes were sealed with.
    stamp: (i64, i16),
    /// Send order within the partition: the batch's number, then, for the halves of a split
    /// batch, 0 (first) or 1 (second) per split. Retries are resent in this order.
    order: (u64, Vec<u8>),
    base_sequence: i32,
    record_count: i32,
    attempts: u32,
    retry_at: Instant,
    /// A send of this batch may have reached the log.
    maybe_written: bool,
    last_error: Option<String>,
}

/// Where a batch's outcome goes: its own completion, or one half of a split batch.
#[derive(Debug, Clone)]
enum CompletionRef {
    Whole(Arc<BatchCompletion>),
    Half { join: Arc<SplitJoin>, second: bool },
}

/// Joins the outcomes of the two halves of a split batch into the original's completion.
#[derive(Debug)]
struct SplitJoin {
    parent: CompletionRef,
    first_len: i32,
    halves: Mutex<(Option<BatchOutcome>, Option<BatchOutcome>)>,
}

impl CompletionRef {
    /// The completion the records' futures wait on.
    fn root(&self) -> Arc<BatchCompletion> {
        match self {
            CompletionRef::Whole(c) => Arc::clone(c),
            CompletionRef::Half { join, .. } => join.parent.root(),
        }
    }

    fn complete(&self, outcome: BatchOutcome) {
        match self {
            CompletionRef::Whole(c) => {
                c.complete(outcome);
            }
            CompletionRef::Half { join, second } => {
                let both = {
                    let mut h = join.halves.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    if *second {
                        h.1 = Some(outcome);
                    } else {
                        h.0 = Some(outcome);
                    }
                    match (&h.0, &h.1) {
                        (Some(_), Some(_)) => h.0.take().zip(h.1.take()),
                        _ => None,
                    }
                };
                if let Some((first, second)) = both {
                    join.parent.complete(BatchOutcome::Split {
                        first_len: join.first_len,
                        first: Box::new(first),
                        second: Box::new(second),
                    });
                }
            }
        }
    }
}

#[derive(Debug, Default)]
struct PartState {
    next_sequence: i32,
    /// Send order (`SentBatch::order`) of this partition's batches in flight.
    in_flight: BTreeSet<(u64, Vec<u8>)>,
    /// Batches to resend, in sequence order.
    retries: VecDeque<SentBatch>,
    /// A success was seen for the current producer id/epoch on the current connection.
    confirmed: bool,
    /// A batch of this partition was failed or split after its sequence was assigned, so
    /// the broker will answer OUT_OF_ORDER_SEQUENCE_NUMBER to later ones until the epoch
    /// is bumped: those answers are not data loss.
    gap_expected: bool,
    /// Number of the next batch drained from the accumulator (see `SentBatch::order`).
    next_order: u64,
}

#[derive(Debug)]
enum PendingKind {
    Produce {
        batches: Vec<SentBatch>,
        acks0: bool,
    },
    Metadata,
    /// `current`: the id and epoch to bump (KIP-360), or `None` for a fresh producer id.
    InitProducerId {
        current: Option<(i64, i16)>,
    },
}

#[derive(Debug)]
struct Pending {
    correlation_id: i32,
    version: i16,
    sent_at: Instant,
    kind: PendingKind,
}

#[derive(Debug)]
enum ConnState {
    Down,
    Connecting,
    Up(Connection),
}

#[derive(Debug)]
struct Node {
    addr: String,
    conn: ConnState,
    pending: VecDeque<Pending>,
    throttled_until: Option<Instant>,
    failures: u32,
    retry_at: Instant,
    /// Correlation ids of acks=0 requests already written (see `on_conn_event`).
    acks0_written: VecDeque<i32>,
}

impl Node {
    fn new(addr: String, now: Instant) -> Self {
        Self {
            addr,
            conn: ConnState::Down,
            pending: VecDeque::new(),
            throttled_until: None,
            failures: 0,
            retry_at: now,
            acks0_written: VecDeque::new(),
        }
    }
}

#[derive(Debug, Clone)]
enum PidState {
    Missing { not_before: Instant },
    Requesting { previous: Option<(i64, i16)> },
    Ready { producer_id: i64, epoch: i16 },
    Fatal(String),
}

#[derive(Debug)]
struct MetaState {
    in_flight: bool,
    need: bool,
    next_periodic: Instant,
    not_before: Instant,
}

/// The sender task's state.
pub(crate) struct Sender {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedReceiver<Command>,
    commands_open: bool,
    shutdown: bool,
    events_tx: mpsc::UnboundedSender<(u64, ConnEvent)>,
    events_rx: mpsc::UnboundedReceiver<(u64, ConnEvent)>,
    connect_tx: mpsc::UnboundedSender<(i32, u64, Result<Connection, Error>)>,
    connect_rx: mpsc::UnboundedReceiver<(i32, u64, Result<Connection, Error>)>,
    cluster: Arc<Cluster>,
    cluster_tx: watch::Sender<Arc<Cluster>>,
    nodes: BTreeMap<i32, Node>,
    conn_owner: HashMap<u64, i32>,
    next_conn_id: u64,
    correlation: i32,
    wanted: HashSet<String>,
    meta: MetaState,
    pid: PidState,
    parts: HashMap<(String, i32), PartState>,
    /// An epoch bump is wanted (`Some(true)`: a fresh producer id); nothing is sent until
    /// every request in flight has answered (rule 4).
    bump: Option<bool>,
    /// The pending bump answers UNKNOWN_PRODUCER_ID.
    bump_for_unknown: bool,
    /// The id and epoch a bump for UNKNOWN_PRODUCER_ID produced: if the broker does not
    /// know that one either (it does not support KIP-360 bumps), ask for a fresh id.
    unknown_bumped: Option<(i64, i16)>,
}

fn jittered(base: Duration, max: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.min(16).saturating_sub(1)).min(max);
    let jitter = rand::thread_rng().gen_range(0.8..1.2);
    exp.mul_f64(jitter).min(max.max(base))
}

impl Sender {
    pub(crate) fn new(
        shared: Arc<Shared>,
        commands: mpsc::UnboundedReceiver<Command>,
        cluster_tx: watch::Sender<Arc<Cluster>>,
    ) -> Self {
        let now = Instant::now();
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (connect_tx, connect_rx) = mpsc::unbounded_channel();
        let nodes = shared
            .config
            .bootstrap_servers
            .iter()
            .enumerate()
            .map(|(i, addr)| {
                (
                    -1 - i32::try_from(i).unwrap_or(i32::MAX - 1),
                    Node::new(addr.clone(), now),
                )
            })
            .collect();
        let pid = if shared.config.enable_idempotence {
            PidState::Missing { not_before: now }
        } else {
            PidState::Ready {
                producer_id: NO_PRODUCER_ID,
                epoch: NO_PRODUCER_EPOCH,
            }
        };
        Self {
            shared,
            commands,
            commands_open: true,
            shutdown: false,
            events_tx,
            events_rx,
            connect_tx,
            connect_rx,
            cluster: Arc::new(Cluster::default()),
            cluster_tx,
            nodes,
            conn_owner: HashMap::new(),
            next_conn_id: 0,
            correlation: 0,
            wanted: HashSet::new(),
            meta: MetaState {
                in_flight: false,
                need: true,
                next_periodic: now,
                not_before: now,
            },
            pid,
            parts: HashMap::new(),
            bump: None,
            bump_for_unknown: false,
            unknown_bumped: None,
        }
    }

    /// Runs until shut down.
    pub(crate) async fn run(mut self) {
        loop {
            let now = Instant::now();
            if self.step(now) {
                break;
            }
            let deadline = self.next_wakeup(now);
            tokio::select! {
                biased;
                Some((_, ev)) = self.events_rx.recv() => self.on_conn_event(ev, Instant::now()),
                Some((node, conn, res)) = self.connect_rx.recv() => self.on_connected(node, conn, res, Instant::now()),
                cmd = self.commands.recv(), if self.commands_open => match cmd {
                    Some(c) => self.on_command(c),
                    None => self.commands_open = false,
                },
                () = self.shared.wake.notified() => {}
                () = tokio::time::sleep_until(deadline.into()) => {}
            }
        }
        // Close connections politely and wait for it, so that nothing written is lost to a
        // reset (see `Connection::shutdown`).
        let mut closing = Vec::new();
        for node in self.nodes.values_mut() {
            if let ConnState::Up(c) = std::mem::replace(&mut node.conn, ConnState::Down) {
                closing.push(tokio::spawn(c.shutdown(Duration::from_secs(2))));
            }
        }
        for c in closing {
            let _ = c.await;
        }
    }

    fn config(&self) -> &ProducerConfig {
        &self.shared.config
    }

    fn next_correlation(&mut self) -> i32 {
        self.correlation = self.correlation.wrapping_add(1) & i32::MAX;
        self.correlation
    }

    fn on_command(&mut self, c: Command) {
        match c {
            Command::NeedTopic(t) => {
                if !self.cluster.topics.contains_key(&t) && self.wanted.insert(t) {
                    self.meta.need = true;
                    self.meta.not_before = Instant::now();
                }
            }
            Command::Flush(reply) => {
                let mut all = self.shared.accumulator.completions();
                for p in self.parts.values() {
                    all.extend(p.retries.iter().map(|b| b.completion.root()));
                }
                for n in self.nodes.values() {
                    for p in &n.pending {
                        if let PendingKind::Produce { batches, .. } = &p.kind {
                            all.extend(batches.iter().map(|b| b.completion.root()));
                        }
                    }
                }
                let _ = reply.send(all);
            }
            Command::RefreshTopic(topic) => {
                tracing::debug!(%topic, "a send waits for a partition beyond the cached count");
                self.meta.need = true;
            }
            Command::Abort => self.abort_all(),
            Command::Shutdown => self.shutdown = true,
        }
    }

    /// Runs the policy once. Returns `true` when the sender should stop.
    fn step(&mut self, now: Instant) -> bool {
        self.expire(now);
        self.maybe_fetch_metadata(now);
        self.maybe_init_producer_id(now);
        self.drain(now);
        (self.shutdown || !self.commands_open) && self.is_idle()
    }

    fn is_idle(&self) -> bool {
        self.shared.accumulator.is_empty()
            && self.parts.values().all(|p| p.retries.is_empty())
            && self
                .nodes
                .values()
                .all(|n| n.pending.iter().all(|p| !matches!(p.kind, PendingKind::Produce { .. })))
    }

    fn next_wakeup(&self, now: Instant) -> Instant {
        let cfg = self.config();
        let mut t = now + Duration::from_secs(1);
        let mut consider = |d: Instant| {
            if d > now && d < t {
                t = d;
            }
        };
        {
            let acc = &self.shared.accumulator;
            if let Some(d) = acc.next_linger_deadline(now) {
                consider(d);
            }
            if let Some(o) = acc.oldest() {
                consider(o + cfg.delivery_timeout);
            }
        }
        for p in self.parts.values() {
            if let Some(b) = p.retries.front() {
                consider(b.retry_at);
                consider(b.created + cfg.delivery_timeout);
            }
        }
        for n in self.nodes.values() {
            if let Some(p) = n.pending.front() {
                consider(p.sent_at + cfg.request_timeout);
            }
            if let Some(th) = n.throttled_until {
                consider(th);
            }
            consider(n.retry_at);
        }
        consider(self.meta.next_periodic);
        consider(self.meta.not_before);
        if let PidState::Missing { not_before } = self.pid {
            consider(not_before);
        }
        t
    }

    // ----- connections -----

    fn ensure_connecting(&mut self, node_id: i32, now: Instant) {
        let Some(node) = self.nodes.get_mut(&node_id) else {
            return;
        };
        if !matches!(node.conn, ConnState::Down) || now < node.retry_at {
            return;
        }
        node.conn = ConnState::Connecting;
        self.next_conn_id += 1;
        let id = self.next_conn_id;
        let addr = node.addr.clone();
        let cfg = &self.shared.config;
        let client_id = (!cfg.client_id.is_empty()).then(|| cfg.client_id.clone());
        let timeout = cfg.connect_timeout;
        let events = self.events_tx.clone();
        let done = self.connect_tx.clone();
        tokio::spawn(async move {
            let res = connect(id, addr, client_id, timeout, events).await;
            let _ = done.send((node_id, id, res));
        });
    }

    fn on_connected(&mut self, node_id: i32, conn_id: u64, res: Result<Connection, Error>, now: Instant) {
        let (base, max) = (self.config().reconnect_backoff, self.config().reconnect_backoff_max);
        let Some(node) = self.nodes.get_mut(&node_id) else {
            return;
        };
        match res {
            Ok(c) => {
                tracing::debug!(node = node_id, addr = %node.addr, "connected");
                node.failures = 0;
                node.conn = ConnState::Up(c);
                self.conn_owner.insert(conn_id, node_id);
            }
            Err(e) => {
                tracing::debug!(node = node_id, error = %e, "connect failed");
                node.failures += 1;
                node.conn = ConnState::Down;
                node.retry_at = now + jittered(base, max, node.failures);
                let mut c = (*self.cluster).clone();
                c.last_error = Some(e.to_string());
                self.publish(Arc::new(c));
            }
        }
    }

    fn publish(&mut self, c: Arc<Cluster>) {
        self.cluster = Arc::clone(&c);
        self.shared.cluster.store(Arc::clone(&c));
        self.cluster_tx.send_replace(c);
    }

    /// A node with a usable connection and room for a request; starts connecting to one
    /// if there is none.
    fn pick_control_node(&mut self, now: Instant) -> Option<i32> {
        let max = self.config().max_in_flight;
        let up = self
            .nodes
            .iter()
            .filter(|(_, n)| matches!(n.conn, ConnState::Up(_)) && n.pending.len() < max)
            .min_by_key(|(_, n)| n.pending.len())
            .map(|(id, _)| *id);
        if up.is_some() {
            return up;
        }
        if self
            .nodes
            .values()
            .any(|n| matches!(n.conn, ConnState::Connecting | ConnState::Up(_)))
        {
            return None;
        }
        // Prefer known brokers, then bootstrap addresses; the one that can be tried soonest.
        let candidate = self
            .nodes
            .iter()
            .filter(|(_, n)| n.retry_at <= now)
            .max_by_key(|(id, _)| **id >= 0)
            .map(|(id, _)| *id);
        if let Some(id) = candidate {
            self.ensure_connecting(id, now);
        }
        None
    }

    fn send_control(&mut self, node_id: i32, kind: PendingKind, now: Instant) -> bool {
        let corr = self.next_correlation();
        let client_id = (!self.config().client_id.is_empty()).then(|| self.config().client_id.clone());
        let Some(node) = self.nodes.get_mut(&node_id) else {
            return false;
        };
        let ConnState::Up(conn) = &node.conn else { return false };
        let (frame, version) = match kind {
            PendingKind::Metadata => {
                let mut topics: Vec<String> = self.cluster.topics.keys().cloned().collect();
                topics.extend(
                    self.wanted
                        .iter()
                        .filter(|t| !self.cluster.topics.contains_key(*t))
                        .cloned(),
                );
                topics.sort();
                let v = conn.versions.metadata;
                (
                    encode_metadata(
                        v,
                        corr,
                        client_id.as_deref(),
                        Some(&topics),
                        self.shared.config.allow_auto_create_topics,
                    ),
                    v,
                )
            }
            PendingKind::InitProducerId { .. } => {
                let Some(v) = conn.versions.init_producer_id else {
                    self.pid = PidState::Fatal(format!("broker {} does not support InitProducerId v3 or later, which the idempotent producer needs (set enable.idempotence=false)", node.addr));
                    return false;
                };
                let current = match &kind {
                    PendingKind::InitProducerId { current } => *current,
                    _ => None,
                };
                (encode_init_producer_id(v, corr, client_id.as_deref(), current), v)
            }
            PendingKind::Produce { .. } => return false,
        };
        let frame = match frame {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode a control request");
                return false;
            }
        };
        if !conn.send(Outbound {
            chunks: vec![frame],
            correlation_id: corr,
            report_written: false,
        }) {
            return false;
        }
        node.pending.push_back(Pending {
            correlation_id: corr,
            version,
            sent_at: now,
            kind,
        });
        true
    }

    // ----- metadata and producer id -----

    fn maybe_fetch_metadata(&mut self, now: Instant) {
        let missing = self.wanted.iter().any(|t| !self.cluster.topics.contains_key(t));
        let due = self.meta.need || missing || now >= self.meta.next_periodic;
        if !due || self.meta.in_flight || now < self.meta.not_before {
            return;
        }
        if self.cluster.topics.is_empty() && self.wanted.is_empty() {
            // Nothing to ask about yet.
            return;
        }
        if let Some(node) = self.pick_control_node(now) {
            if self.send_control(node, PendingKind::Metadata, now) {
                self.meta.in_flight = true;
            }
        }
    }

    fn produce_in_flight(&self) -> bool {
        self.nodes
            .values()
            .any(|n| n.pending.iter().any(|p| matches!(p.kind, PendingKind::Produce { .. })))
    }

    fn maybe_init_producer_id(&mut self, now: Instant) {
        let current = match self.pid {
            PidState::Missing { not_before } if now >= not_before => None,
            // Rule 4: bump only when no request of the old epoch can still be in flight.
            PidState::Ready { producer_id, epoch } if self.bump.is_some() && !self.produce_in_flight() => {
                (self.bump == Some(false)).then_some((producer_id, epoch))
            }
            _ => return,
        };
        let has_work = !self.wanted.is_empty() || !self.cluster.topics.is_empty();
        if !has_work {
            return;
        }
        if let Some(node) = self.pick_control_node(now) {
            if self.send_control(node, PendingKind::InitProducerId { current }, now) {
                self.pid = PidState::Requesting { previous: current };
                self.bump = None;
            }
        }
        if let PidState::Fatal(msg) = self.pid.clone() {
            self.fail_everything_queued(&Error::ProducerId(msg));
        }
    }

    /// Asks for a new epoch (or a fresh producer id) once nothing is in flight.
    fn request_bump(&mut self, fresh: bool) {
        if self.shared.config.enable_idempotence {
            self.bump = Some(fresh || self.bump == Some(true));
        }
    }

    fn on_metadata(&mut self, version: i16, body: Bytes, now: Instant) -> Result<(), String> {
        self.meta.in_flight = false;
        let answer = decode_metadata(version, body).map_err(|e| e.to_string())?;
        let next = self.cluster.updated(&answer);
        // Add or refresh broker nodes.
        for (id, addr) in &next.brokers {
            let node = self.nodes.entry(*id).or_insert_with(|| Node::new(addr.clone(), now));
            node.addr.clone_from(addr);
        }
        self.wanted.retain(|t| !next.topics.contains_key(t));
        self.publish(next);
        self.meta.need = false;
        self.meta.next_periodic = now + self.config().metadata_max_age;
        if !self.wanted.is_empty() {
            self.meta.not_before = now + self.config().retry_backoff;
        }
        Ok(())
    }

    fn on_init_producer_id(&mut self, version: i16, body: Bytes, now: Instant) -> Result<(), String> {
        let previous = match self.pid {
            PidState::Requesting { previous } => previous,
            _ => None,
        };
        let a = decode_init_producer_id(version, body).map_err(|e| e.to_string())?;
        if !a.error.is_ok() {
            tracing::debug!(error = %a.error, ?previous, "InitProducerId failed");
        }
        if a.error.is_ok() {
            tracing::debug!(
                producer_id = a.producer_id,
                epoch = a.producer_epoch,
                ?previous,
                "producer id"
            );
            self.pid = PidState::Ready {
                producer_id: a.producer_id,
                epoch: a.producer_epoch,
            };
            self.unknown_bumped =
                std::mem::take(&mut self.bump_for_unknown).then_some((a.producer_id, a.producer_epoch));
            self.on_new_epoch();
        } else if previous.is_some() && a.error != ErrorCode::CLUSTER_AUTHORIZATION_FAILED {
            // The broker would not bump this epoch (tansu answers UNKNOWN_SERVER_ERROR for
            // an id it does not know): start over with a fresh producer id, which is just
            // as safe (`on_new_epoch` applies rule 2 to any change of id or epoch).
            self.pid = PidState::Missing {
                not_before: now + self.shared.config.retry_backoff,
            };
        } else if a.error == ErrorCode::CLUSTER_AUTHORIZATION_FAILED
            || !a.error.is_retriable() && a.error != ErrorCode::UNKNOWN_SERVER_ERROR
        {
            let msg = format!("InitProducerId failed with {}", a.error);
            self.pid = PidState::Fatal(msg.clone());
            self.fail_everything_queued(&Error::ProducerId(msg));
        } else {
            self.retry_producer_id(previous, now);
        }
        Ok(())
    }

    /// After a failed InitProducerId: try the same bump again, or a fresh id later.
    fn retry_producer_id(&mut self, previous: Option<(i64, i16)>, now: Instant) {
        match previous {
            Some((producer_id, epoch)) => {
                self.pid = PidState::Ready { producer_id, epoch };
                self.bump = Some(false);
            }
            None => {
                self.pid = PidState::Missing {
                    not_before: now + self.shared.config.retry_backoff,
                }
            }
        }
    }

    /// A new producer id or epoch: sequences restart at 0. Batches sealed under the old
    /// identity that may have been written are never resent (rule 2): they end as
    /// possibly persisted. The others are re-stamped when drained.
    fn on_new_epoch(&mut self) {
        let mut stale = Vec::new();
        for p in self.parts.values_mut() {
            p.next_sequence = 0;
            p.confirmed = false;
            p.gap_expected = false;
            // Every batch waiting here was sealed before this answer, even if a restarted
            // broker handed out the same id and epoch again: its sequences belong to the
            // old sequence space.
            let (keep, drop): (VecDeque<SentBatch>, VecDeque<SentBatch>) =
                p.retries.drain(..).partition(|b| !b.maybe_written);
            p.retries = keep;
            for b in &mut p.retries {
                b.stamp = (NO_PRODUCER_ID, NO_PRODUCER_EPOCH);
            }
            stale.extend(drop);
        }
        for b in stale {
            let last = b.last_error.clone().unwrap_or_default();
            self.fail(b, Error::EpochChanged { last }, Vec::new());
        }
    }

    // ----- draining -----

    fn producer_id(&self) -> Option<(i64, i16)> {
        match self.pid {
            PidState::Ready { producer_id, epoch } => Some((producer_id, epoch)),
            _ => None,
        }
    }

    /// Hands every batch that is ready but not yet compressed to a task of its own, so
    /// compression runs on every core instead of in the sender (the records section does not
    /// depend on the producer id or sequence, which are stamped when the batch is drained).
    fn start_compressing(&mut self, now: Instant, flushing: bool) {
        let cfg = &self.shared.config;
        if cfg.compression == Compression::None {
            return;
        }
        let jobs = self.shared.accumulator.take_to_close(now, flushing);
        for (builder, slot) in jobs {
            let (codec, level) = (cfg.compression, cfg.compression_level);
            let shared = Arc::clone(&self.shared);
            tokio::spawn(async move {
                let closed = builder.close(codec, level, false);
                *slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(closed);
                shared.wake.notify_one();
            });
        }
    }

    fn flushing(&self) -> bool {
        self.shared.flushing.load(Ordering::Acquire) > 0
            || self.shared.closing.load(Ordering::Acquire)
            || self.shutdown
            || !self.commands_open
    }

    fn drain(&mut self, now: Instant) {
        let flushing = self.flushing();
        self.start_compressing(now, flushing);
        let Some((pid, epoch)) = self.producer_id() else { return };
        if self.bump.is_some() {
            // Waiting for in-flight requests to answer before the epoch changes (rule 4).
            return;
        }
        let shared = Arc::clone(&self.shared);
        let cfg = &shared.config;
        let idempotent = cfg.enable_idempotence;
        let mut candidates: Vec<(String, i32)> = self
            .parts
            .iter()
            .filter(|(_, p)| p.retries.front().is_some_and(|b| b.retry_at <= now))
            .map(|(k, _)| k.clone())
            .collect();
        candidates.extend(self.shared.accumulator.ready(now, flushing));
        if candidates.is_empty() {
            return;
        }
        let mut requests: BTreeMap<i32, (Vec<SentBatch>, usize)> = BTreeMap::new();
        let mut seen = HashSet::new();
        for (topic, partition) in candidates {
            if !seen.insert((topic.clone(), partition)) {
                continue;
            }
            let Some(leader) = self.cluster.leader(&topic, partition) else {
                self.meta.need = true;
                continue;
            };
            let node_ready = match self.nodes.get(&leader) {
                Some(n) => {
                    let up = matches!(n.conn, ConnState::Up(_));
                    let room = n.pending.len() < cfg.max_in_flight;
                    let throttled = n.throttled_until.is_some_and(|t| t > now);
                    if !up {
                        None
                    } else {
                        Some(room && !throttled)
                    }
                }
                None => None,
            };
            match node_ready {
                None => {
                    self.ensure_connecting(leader, now);
                    continue;
                }
                Some(false) => continue,
                Some(true) => {}
            }
            let entry = requests.entry(leader).or_default();
            let part = self.parts.entry((topic.clone(), partition)).or_default();
            let batch = if let Some(head) = part.retries.front() {
                // Rule 3: resend only once everything in flight for the partition answered.
                if !part.in_flight.is_empty() || head.retry_at > now {
                    continue;
                }
                if entry.1 > 0 && entry.1 + head.bytes.len() > cfg.max_request_size {
                    continue;
                }
                let Some(mut b) = part.retries.pop_front() else {
                    continue;
                };
                // Nothing new follows a resent batch until it is answered: if it failed again
                // while newer batches were appended, it would fall out of the broker's window of
                // five and come back OUT_OF_ORDER_SEQUENCE_NUMBER although it is in the log.
                part.confirmed = false;
                if b.stamp != (pid, epoch) {
                    // Sealed under an older epoch (or split) and certainly not written:
                    // only such batches are kept across an epoch change (`on_new_epoch`).
                    let seq = if idempotent { part.next_sequence } else { NO_SEQUENCE };
                    match restamp(&b.bytes, pid, epoch, seq) {
                        Ok(bytes) => {
                            b.bytes = bytes;
                            b.stamp = (pid, epoch);
                            b.base_sequence = seq;
                            if idempotent {
                                part.next_sequence = next_sequence(seq, b.record_count);
                            }
                        }
                        Err(e) => {
                            let err = Error::Internal(format!("cannot re-stamp a batch: {e}"));
                            b.completion.complete(BatchOutcome::Failed {
                                error: DeliveryError::not_persisted(err),
                                record_errors: Vec::new(),
                            });
                            self.shared.memory.add_permits(b.reserved);
                            continue;
                        }
                    }
                }
                Some(b)
            } else {
                // Rule 5: until a success is seen, one batch at a time.
                if idempotent
                    && ((!part.confirmed && !part.in_flight.is_empty()) || part.in_flight.len() >= cfg.max_in_flight)
                {
                    continue;
                }
                let popped = {
                    let acc = &self.shared.accumulator;
                    acc.pop_ready(&topic, partition, now, flushing)
                };
                let Some(q) = popped else { continue };
                let seq = if idempotent { part.next_sequence } else { NO_SEQUENCE };
                part.next_order += 1;
                match seal(q, cfg, (pid, epoch, seq), (&topic, partition, part.next_order), now) {
                    Ok(b) => {
                        if idempotent {
                            part.next_sequence = next_sequence(part.next_sequence, b.record_count);
                        }
                        Some(b)
                    }
                    Err(failed) => {
                        failed.completion.complete(BatchOutcome::Failed {
                            error: DeliveryError::not_persisted(failed.error),
                            record_errors: Vec::new(),
                        });
                        self.shared.memory.add_permits(failed.reserved);
                        None
                    }
                }
            };
            if let Some(b) = batch {
                part.in_flight.insert(b.order.clone());
                entry.1 += b.bytes.len();
                entry.0.push(b);
            }
        }
        for (node_id, (batches, _)) in requests {
            if !batches.is_empty() {
                self.send_produce(node_id, batches, now);
            }
        }
    }

    fn send_produce(&mut self, node_id: i32, mut batches: Vec<SentBatch>, now: Instant) {
        let corr = self.next_correlation();
        let cfg = &self.shared.config;
        let acks0 = cfg.acks == Acks::None;
        let client_id = (!cfg.client_id.is_empty()).then(|| cfg.client_id.clone());
        let Some(node) = self.nodes.get_mut(&node_id) else {
            return;
        };
        let ConnState::Up(conn) = &node.conn else { return };
        let version = conn.versions.produce;
        let mut topics: Vec<TopicData> = Vec::new();
        for b in &batches {
            let pd = PartitionData {
                partition: b.partition,
                records: b.bytes.clone(),
            };
            match topics.iter_mut().find(|t| t.topic == b.topic) {
                Some(t) => t.partitions.push(pd),
                None => topics.push(TopicData {
                    topic: b.topic.clone(),
                    partitions: vec![pd],
                }),
            }
        }
        let timeout_ms = i32::try_from(cfg.request_timeout.as_millis()).unwrap_or(i32::MAX);
        let frame = encode_produce(
            version,
            corr,
            client_id.as_deref(),
            &ProduceRequest {
                transactional_id: None,
                acks: cfg.acks.wire(),
                timeout_ms,
                topics: &topics,
            },
        );
        for b in &mut batches {
            b.attempts += 1;
            tracing::trace!(
                node = node_id,
                correlation_id = corr,
                topic = %b.topic,
                partition = b.partition,
                producer = ?b.stamp,
                sequence = b.base_sequence,
                records = b.record_count,
                attempt = b.attempts,
                "produce"
            );
        }
        let sent = conn.send(Outbound {
            chunks: frame.chunks,
            correlation_id: corr,
            report_written: acks0,
        });
        node.pending.push_back(Pending {
            correlation_id: corr,
            version,
            sent_at: now,
            kind: PendingKind::Produce { batches, acks0 },
        });
        if !sent {
            self.close_node(
                node_id,
                "the connection closed before the request was written".into(),
                now,
            );
        }
    }

    // ----- answers -----

    fn on_conn_event(&mut self, ev: ConnEvent, now: Instant) {
        match ev {
            ConnEvent::Response {
                conn,
                correlation_id,
                body,
            } => {
                let Some(&node_id) = self.conn_owner.get(&conn) else {
                    return;
                };
                let Some(node) = self.nodes.get_mut(&node_id) else {
                    return;
                };
                // Some brokers (tansu 0.6) answer acks=0 Produce requests, which Kafka never
                // does. Such an answer is accepted and ignored: the request resolves when it
                // is written, as acks=0 promises nothing more.
                if let Some(i) = node.pending.iter().position(|p| p.correlation_id == correlation_id) {
                    if matches!(node.pending[i].kind, PendingKind::Produce { acks0: true, .. }) {
                        if let Some(Pending {
                            kind: PendingKind::Produce { batches, .. },
                            ..
                        }) = node.pending.remove(i)
                        {
                            for b in batches {
                                self.answered(&b);
                                self.finish(b, unacknowledged());
                            }
                        }
                        return;
                    }
                } else if node.acks0_written.contains(&correlation_id) {
                    return;
                }
                // Kafka answers in order; acks=0 requests get no answer and are skipped.
                let pos = node
                    .pending
                    .iter()
                    .position(|p| !matches!(p.kind, PendingKind::Produce { acks0: true, .. }));
                let Some(pos) = pos.filter(|&i| node.pending[i].correlation_id == correlation_id) else {
                    self.close_node(
                        node_id,
                        format!("unexpected correlation id {correlation_id} (answers must come in order)"),
                        now,
                    );
                    return;
                };
                let Some(p) = node.pending.remove(pos) else { return };
                let res = match p.kind {
                    PendingKind::Metadata => self.on_metadata(p.version, body, now),
                    PendingKind::InitProducerId { .. } => self.on_init_producer_id(p.version, body, now),
                    PendingKind::Produce { batches, .. } => {
                        self.on_produce_response(node_id, p.version, body, batches, now)
                    }
                };
                if let Err(e) = res {
                    self.close_node(node_id, format!("malformed response: {e}"), now);
                }
            }
            ConnEvent::Written { conn, correlation_id } => {
                let Some(&node_id) = self.conn_owner.get(&conn) else {
                    return;
                };
                let Some(node) = self.nodes.get_mut(&node_id) else {
                    return;
                };
                if let Some(pos) = node.pending.iter().position(|p| p.correlation_id == correlation_id) {
                    if let Some(Pending {
                        kind: PendingKind::Produce { batches, .. },
                        ..
                    }) = node.pending.remove(pos)
                    {
                        node.acks0_written.push_back(correlation_id);
                        if node.acks0_written.len() > ACKS0_REMEMBERED {
                            node.acks0_written.pop_front();
                        }
                        for b in batches {
                            self.answered(&b);
                            self.finish(b, unacknowledged());
                        }
                    }
                }
            }
            ConnEvent::Closed { conn, error } => {
                if let Some(node_id) = self.conn_owner.get(&conn).copied() {
                    self.close_node(node_id, error, now);
                }
            }
        }
    }

    fn on_produce_response(
        &mut self,
        node_id: i32,
        version: i16,
        body: Bytes,
        batches: Vec<SentBatch>,
        now: Instant,
    ) -> Result<(), String> {
        for b in &batches {
            self.answered(b);
        }
        let resp = match decode_produce_response(version, body) {
            Ok(r) => r,
            Err(e) => {
                // Put the batches back as possibly written before the connection is closed.
                for b in batches {
                    self.retry_or_fail(b, "malformed Produce response".into(), true, now);
                }
                return Err(e.to_string());
            }
        };
        if resp.throttle_time_ms > 0 {
            if let Some(n) = self.nodes.get_mut(&node_id) {
                n.throttled_until =
                    Some(now + Duration::from_millis(u64::try_from(resp.throttle_time_ms).unwrap_or(0)));
            }
        }
        let idempotent = self.shared.config.enable_idempotence;
        for b in batches {
            let answer = resp
                .topics
                .iter()
                .filter(|t| t.topic == b.topic)
                .flat_map(|t| t.partitions.iter())
                .find(|p| p.partition == b.partition);
            let Some(p) = answer else {
                self.retry_or_fail(b, "the broker's answer did not mention the partition".into(), true, now);
                continue;
            };
            let code = p.error;
            tracing::trace!(
                node = node_id,
                topic = %b.topic,
                partition = b.partition,
                producer = ?b.stamp,
                sequence = b.base_sequence,
                %code,
                base_offset = p.base_offset,
                "produce answer"
            );
            let key = (b.topic.clone(), b.partition);
            match code {
                ErrorCode::NONE => {
                    if let Some(part) = self.parts.get_mut(&key) {
                        part.confirmed = true;
                    }
                    let base_offset = Some(p.base_offset);
                    self.finish(
                        b,
                        BatchOutcome::Delivered {
                            base_offset,
                            log_append_time: p.log_append_time_ms,
                            acknowledged: true,
                        },
                    );
                }
                ErrorCode::DUPLICATE_SEQUENCE_NUMBER => {
                    self.finish(
                        b,
                        BatchOutcome::Delivered {
                            base_offset: None,
                            log_append_time: -1,
                            acknowledged: true,
                        },
                    );
                }
                ErrorCode::MESSAGE_TOO_LARGE if b.record_count > 1 => self.split(b, now),
                ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER | ErrorCode::UNKNOWN_PRODUCER_ID if idempotent => {
                    self.on_sequence_error(b, code, now);
                }
                ErrorCode::INVALID_PRODUCER_EPOCH | ErrorCode::PRODUCER_FENCED if idempotent => {
                    // Rejected, so not written: resend under a fresh producer id (rule 8).
                    self.retry_or_fail(b, describe(code, p.error_message.as_deref()), false, now);
                    self.request_bump(true);
                }
                c if is_retriable(c) && !(c == ErrorCode::CORRUPT_MESSAGE && b.attempts > 1) => {
                    if matches!(
                        c,
                        ErrorCode::NOT_LEADER_OR_FOLLOWER
                            | ErrorCode::LEADER_NOT_AVAILABLE
                            | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                            | ErrorCode::KAFKA_STORAGE_ERROR
                            | ErrorCode::NETWORK_EXCEPTION
                            | ErrorCode::FENCED_LEADER_EPOCH
                    ) {
                        self.meta.need = true;
                    }
                    let maybe = matches!(
                        c,
                        ErrorCode::REQUEST_TIMED_OUT
                            | ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND
                            | ErrorCode::NETWORK_EXCEPTION
                            | ErrorCode::UNKNOWN_SERVER_ERROR
                    );
                    let text = describe(c, p.error_message.as_deref());
                    self.retry_or_fail(b, text, maybe, now);
                }
                c => {
                    let err = Error::Broker {
                        code: c,
                        message: p.error_message.clone(),
                    };
                    let record_errors = p.record_errors.clone();
                    self.fail(b, err, record_errors);
                    if idempotent {
                        // The failed batch's sequences are a gap now: later batches will be
                        // answered OUT_OF_ORDER until the epoch is bumped and they are renumbered.
                        self.parts.entry(key).or_default().gap_expected = true;
                        self.request_bump(false);
                    }
                }
            }
        }
        Ok(())
    }

    /// A request carrying `b` was answered (or its connection lost).
    fn answered(&mut self, b: &SentBatch) {
        if let Some(part) = self.parts.get_mut(&(b.topic.clone(), b.partition)) {
            part.in_flight.remove(&b.order);
        }
    }

    /// OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID for a batch (rule 8).
    fn on_sequence_error(&mut self, b: SentBatch, code: ErrorCode, now: Instant) {
        let current = self.producer_id();
        let key = (b.topic.clone(), b.partition);
        let part = self.parts.entry(key).or_default();
        let earlier_pending =
            part.retries.iter().any(|r| r.order < b.order) || part.in_flight.first().is_some_and(|o| *o < b.order);
        let text = code.to_string();
        if part.gap_expected || earlier_pending || Some(b.stamp) != current {
            // Behind a batch that failed or will be resent: this one was not written and
            // goes again, in order, after the earlier ones.
            self.retry_or_fail(b, text, false, now);
            return;
        }
        part.gap_expected = true;
        if code == ErrorCode::UNKNOWN_PRODUCER_ID {
            // Every earlier batch is acknowledged, so nothing can duplicate: bump the
            // epoch and resend this one; if the broker does not know the bumped id either,
            // get a fresh one.
            let fresh = self.unknown_bumped == Some(b.stamp);
            self.retry_or_fail(b, text, false, now);
            self.request_bump(fresh);
            self.bump_for_unknown = true;
            return;
        }
        // A real gap at the head: the broker lost acknowledged records or forgot us.
        self.shared.sequence_gaps.fetch_add(1, Ordering::Relaxed);
        tracing::error!(topic = %b.topic, partition = b.partition, sequence = b.base_sequence, "sequence gap: the broker lost acknowledged records or forgot this producer");
        let err = Error::SequenceGap {
            topic: b.topic.clone(),
            partition: b.partition,
            code,
        };
        if self.shared.config.gapless {
            self.stop_fatally(err.to_string());
        }
        self.fail(b, err, Vec::new());
        self.request_bump(false);
    }

    /// MESSAGE_TOO_LARGE for a batch of several records: it was not written, so it is split
    /// in two and both halves go back to the head of the partition, renumbered after an
    /// epoch bump (rule 2 allows renumbering only for batches certainly not written).
    fn split(&mut self, b: SentBatch, now: Instant) {
        let records = match decode_batches(b.bytes.clone(), usize::MAX >> 1) {
            Ok(batches) => batches.into_iter().flat_map(|x| x.records).collect::<Vec<_>>(),
            Err(e) => {
                self.fail(b, Error::Internal(format!("cannot split a batch: {e}")), Vec::new());
                return;
            }
        };
        let mid = records.len() / 2;
        let seal_half = |rs: &[volley_protocol::record_batch::DecodedRecord]| {
            let mut builder = BatchBuilder::with_capacity(b.bytes.len() / 2 + 64);
            for r in rs {
                builder.append(r.timestamp, r.key.as_deref(), r.value.as_deref(), &r.headers);
            }
            let params = SealParams {
                compression: self.shared.config.compression,
                level: self.shared.config.compression_level,
                ..SealParams::default()
            };
            builder.seal(&params)
        };
        let (first, second) = match (seal_half(&records[..mid]), seal_half(&records[mid..])) {
            (Ok(f), Ok(s)) => (f, s),
            (Err(e), _) | (_, Err(e)) => {
                self.fail(b, Error::Internal(format!("cannot split a batch: {e}")), Vec::new());
                return;
            }
        };
        tracing::debug!(topic = %b.topic, partition = b.partition, records = records.len(), "splitting a batch the broker found too large");
        let join = Arc::new(SplitJoin {
            parent: b.completion.clone(),
            first_len: i32::try_from(mid).unwrap_or(i32::MAX),
            halves: Mutex::new((None, None)),
        });
        let half = |bytes: Bytes, n: usize, second: bool, reserved: usize| SentBatch {
            order: {
                let mut o = b.order.clone();
                o.1.push(u8::from(second));
                o
            },
            topic: b.topic.clone(),
            partition: b.partition,
            bytes,
            completion: CompletionRef::Half {
                join: Arc::clone(&join),
                second,
            },
            created: b.created,
            reserved,
            stamp: (NO_PRODUCER_ID, NO_PRODUCER_EPOCH),
            base_sequence: NO_SEQUENCE,
            record_count: i32::try_from(n).unwrap_or(i32::MAX),
            attempts: 0,
            retry_at: now,
            maybe_written: false,
            last_error: Some(ErrorCode::MESSAGE_TOO_LARGE.to_string()),
        };
        let h1 = half(first, mid, false, b.reserved);
        let h2 = half(second, records.len() - mid, true, 0);
        let part = self.parts.entry((b.topic.clone(), b.partition)).or_default();
        let pos = retry_position(&part.retries, &b);
        part.retries.insert(pos, h2);
        part.retries.insert(pos, h1);
        part.gap_expected = true;
        self.request_bump(false);
    }

    /// Strict mode: the producer stops; everything queued or waiting fails.
    fn stop_fatally(&mut self, reason: String) {
        let _ = self.shared.fatal.set(reason.clone());
        self.fail_everything_queued(&Error::Fatal(reason.clone()));
        let retries: Vec<SentBatch> = self.parts.values_mut().flat_map(|p| p.retries.drain(..)).collect();
        for b in retries {
            self.fail(b, Error::Fatal(reason.clone()), Vec::new());
        }
    }

    fn retry_or_fail(&mut self, mut b: SentBatch, error: String, maybe_written: bool, now: Instant) {
        b.maybe_written |= maybe_written;
        b.last_error = Some(error.clone());
        if let Some(reason) = self.shared.fatal.get().cloned() {
            self.fail(b, Error::Fatal(reason), Vec::new());
            return;
        }
        let cfg = &self.shared.config;
        let expired = now >= b.created + cfg.delivery_timeout;
        let exhausted = b.attempts > cfg.retries;
        let part = self.parts.entry((b.topic.clone(), b.partition)).or_default();
        if expired || exhausted {
            let err = if expired {
                Error::DeliveryTimeout {
                    timeout: cfg.delivery_timeout,
                    last: Some(error),
                }
            } else {
                Error::RetriesExhausted {
                    attempts: b.attempts,
                    last: error,
                }
            };
            self.fail(b, err, Vec::new());
            return;
        }
        tracing::debug!(topic = %b.topic, partition = b.partition, attempts = b.attempts, %error, "retrying batch");
        b.retry_at = now + jittered(cfg.retry_backoff, cfg.retry_backoff_max, b.attempts);
        part.confirmed = false;
        let pos = retry_position(&part.retries, &b);
        part.retries.insert(pos, b);
    }

    /// Fails a batch: possibly persisted if any send of it may have reached the log.
    fn fail(&mut self, b: SentBatch, error: Error, record_errors: Vec<(i32, Option<String>)>) {
        let error = if b.maybe_written {
            DeliveryError::possibly_persisted(error)
        } else {
            DeliveryError::not_persisted(error)
        };
        self.finish(b, BatchOutcome::Failed { error, record_errors });
    }

    fn finish(&mut self, b: SentBatch, outcome: BatchOutcome) {
        b.completion.complete(outcome);
        self.shared.memory.add_permits(b.reserved);
    }

    /// Ends a connection: every request pending on it may have been written.
    fn close_node(&mut self, node_id: i32, error: String, now: Instant) {
        let (base, max) = (self.config().reconnect_backoff, self.config().reconnect_backoff_max);
        let Some(node) = self.nodes.get_mut(&node_id) else {
            return;
        };
        if let ConnState::Up(c) = &node.conn {
            self.conn_owner.remove(&c.id);
        }
        tracing::debug!(node = node_id, addr = %node.addr, %error, "connection closed");
        node.conn = ConnState::Down;
        node.failures += 1;
        node.retry_at = now + jittered(base, max, node.failures);
        let pending: Vec<Pending> = node.pending.drain(..).collect();
        let addr = node.addr.clone();
        self.meta.need = true;
        for p in pending {
            match p.kind {
                PendingKind::Metadata => {
                    self.meta.in_flight = false;
                    self.meta.not_before = now + self.shared.config.retry_backoff;
                }
                PendingKind::InitProducerId { current } => self.retry_producer_id(current, now),
                PendingKind::Produce { batches, .. } => {
                    for b in batches {
                        self.answered(&b);
                        self.retry_or_fail(b, format!("connection to {addr} lost: {error}"), true, now);
                    }
                }
            }
        }
    }

    // ----- timeouts -----

    fn expire(&mut self, now: Instant) {
        let shared = Arc::clone(&self.shared);
        let cfg = &shared.config;
        // Requests without an answer within request.timeout.ms end their connection.
        let timed_out: Vec<i32> = self
            .nodes
            .iter()
            .filter(|(_, n)| {
                n.pending.iter().any(|p| {
                    !matches!(p.kind, PendingKind::Produce { acks0: true, .. })
                        && now >= p.sent_at + cfg.request_timeout
                })
            })
            .map(|(id, _)| *id)
            .collect();
        for id in timed_out {
            self.close_node(
                id,
                format!(
                    "no answer within request.timeout.ms ({} ms)",
                    cfg.request_timeout.as_millis()
                ),
                now,
            );
        }
        // Queued batches past the delivery timeout were never sent.
        if let Some(cutoff) = now.checked_sub(cfg.delivery_timeout) {
            let expired = self.shared.accumulator.expire(cutoff);
            for q in expired {
                let last = self.cluster.last_error.clone();
                self.fail_queued(
                    q,
                    Error::DeliveryTimeout {
                        timeout: cfg.delivery_timeout,
                        last,
                    },
                );
            }
        }
        // Retries past the delivery timeout: possibly persisted if any send may have landed.
        let mut dead = Vec::new();
        for p in self.parts.values_mut() {
            while p
                .retries
                .front()
                .is_some_and(|b| now >= b.created + cfg.delivery_timeout)
            {
                dead.extend(p.retries.pop_front());
            }
        }
        for b in dead {
            let err = Error::DeliveryTimeout {
                timeout: cfg.delivery_timeout,
                last: b.last_error.clone(),
            };
            self.fail(b, err, Vec::new());
        }
    }

    fn fail_queued(&self, q: QueuedBatch, error: Error) {
        q.completion.complete(BatchOutcome::Failed {
            error: DeliveryError::not_persisted(error),
            record_errors: Vec::new(),
        });
        self.shared.memory.add_permits(q.reserved);
    }

    fn fail_everything_queued(&mut self, error: &Error) {
        let queued = self.shared.accumulator.drain_all();
        for q in queued {
            self.fail_queued(q, error.clone());
        }
    }

    /// `close` ran out of time: queued records were not written; records in flight may be.
    fn abort_all(&mut self) {
        let closed = |d: &str| Error::Closed {
            detail: Some(d.to_owned()),
        };
        self.fail_everything_queued(&closed("closed before the record was sent"));
        let mut all = Vec::new();
        for p in self.parts.values_mut() {
            all.extend(p.retries.drain(..));
            p.in_flight.clear();
        }
        for n in self.nodes.values_mut() {
            for p in n.pending.drain(..) {
                if let PendingKind::Produce { batches, .. } = p.kind {
                    all.extend(batches.into_iter().map(|mut b| {
                        b.maybe_written = true;
                        b
                    }));
                }
            }
            n.conn = ConnState::Down;
        }
        for b in all {
            let err = closed("closed while the record was in flight or waiting to be retried");
            self.fail(b, err, Vec::new());
        }
        self.shutdown = true;
    }
}

/// Where a batch goes back into its partition's retry queue: in send order. With
/// idempotence this is also sequence order within one epoch; batches of an older epoch are
/// re-stamped, in this order, when drained.
fn retry_position(retries: &VecDeque<SentBatch>, b: &SentBatch) -> usize {
    retries.iter().position(|r| r.order > b.order).unwrap_or(retries.len())
}

/// Sequences wrap from `i32::MAX` to 0, as the broker expects.
fn next_sequence(seq: i32, records: i32) -> i32 {
    i32::try_from((i64::from(seq) + i64::from(records)) % (1i64 << 31)).unwrap_or(0)
}

/// How many written acks=0 requests a node remembers, to ignore a broker's late answers.
const ACKS0_REMEMBERED: usize = 4096;

fn unacknowledged() -> BatchOutcome {
    BatchOutcome::Delivered {
        base_offset: None,
        log_append_time: -1,
        acknowledged: false,
    }
}

/// Errors after which a batch is retried (bounded by `delivery.timeout.ms`).
fn is_retriable(c: ErrorCode) -> bool {
    c.is_retriable() || c == ErrorCode::UNKNOWN_SERVER_ERROR
}

fn describe(c: ErrorCode, msg: Option<&str>) -> String {
    match msg {
        Some(m) if !m.is_empty() => format!("{c}: {m}"),
        _ => c.to_string(),
    }
}

/// A batch whose sealing (compression) failed; its records fail as not persisted.
struct SealFailed {
    completion: Arc<BatchCompletion>,
    reserved: usize,
    error: Error,
}

/// Seals a queued batch with its producer id, epoch and first sequence: from here on its
/// bytes never change (RELIABILITY.md rule 2).
fn seal(
    q: QueuedBatch,
    cfg: &ProducerConfig,
    (producer_id, producer_epoch, base_sequence): (i64, i16, i32),
    (topic, partition, order): (&str, i32, u64),
    now: Instant,
) -> Result<SentBatch, Box<SealFailed>> {
    let QueuedBatch {
        body,
        completion,
        created,
        reserved,
        ..
    } = q;
    let closed = match body {
        Body::Open(builder) => Ok(builder.close(cfg.compression, cfg.compression_level, false)),
        Body::Closed(r) => Ok(r),
        Body::Closing(_) => Err(Error::Internal("a batch was drained while being compressed".into())),
    }
    .and_then(|r| r.map_err(|e| Error::Internal(format!("compression failed: {e}"))));
    match closed {
        Ok(closed) => Ok(SentBatch {
            record_count: closed.record_count(),
            bytes: closed.seal(producer_id, producer_epoch, base_sequence),
            topic: topic.to_owned(),
            partition,
            completion: CompletionRef::Whole(completion),
            created,
            reserved,
            stamp: (producer_id, producer_epoch),
            order: (order, Vec::new()),
            base_sequence,
            attempts: 0,
            retry_at: now,
            maybe_written: false,
            last_error: None,
        }),
        Err(error) => Err(Box::new(SealFailed {
            completion,
            reserved,
            error,
        })),
    }
}
