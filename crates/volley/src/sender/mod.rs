//! The sender: one task that turns ready batches into Produce requests and answers into
//! outcomes (the role of the Java producer's `Sender`).
//!
//! It owns every piece of mutable delivery state, so none of it needs a lock; `send` only
//! touches the accumulator (one partition queue's lock) and the memory semaphore. The
//! policy is split by concern, each part checkable on its own:
//!
//! - [`partitions`]: per-partition sequences, in-flight batches, retries and the rules of
//!   RELIABILITY.md (pure, time as an argument);
//! - [`producer_id`]: the producer id and epoch, their requests and failures (pure);
//! - [`metadata`]: when to ask for metadata, backoff, idle topics, re-bootstrap (pure);
//! - [`answer`]: what a Produce answer means for a batch (a pure classification) and how
//!   outcomes, retries and lost connections are applied;
//! - [`drain`]: which batches go now, grouped into one request per broker;
//! - [`nodes`]: connections, their backoff and what is pending on each;
//! - [`warn_limit`]: at most one WARN or ERROR line per (broker or topic, cause) per 10 s,
//!   with the count of the events it stands for (pure, time as an argument);
//! - [`transaction`]: the transaction manager (Java's states, the user call in progress,
//!   which coordinator request goes next; pure), [`txn_errors`]: KIP-588's error classes
//!   by request (pure), [`txn_driver`]: its requests and answers on the wire;
//! - [`expiry`]: request and delivery timeouts, and what `close` fails when it runs out;
//! - this file: the tokio loop that feeds events and time in, control requests.

mod answer;
mod batch;
mod drain;
mod expiry;
mod metadata;
mod nodes;
mod partitions;
mod producer_id;
mod stats;
pub(crate) mod transaction;
mod txn_driver;
pub(crate) use txn_driver::lock as txn_lock;
mod txn_errors;
mod warn_limit;

use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::Rng;
use tokio::sync::{mpsc, oneshot, watch, Notify, Semaphore};
use volley_protocol::control::{decode_init_producer_id, decode_metadata, encode_init_producer_id, encode_metadata};

use crate::accumulator::Accumulator;
use crate::config::{MetadataRecovery, ProducerConfig};
use crate::error::Error;
use crate::metadata::Cluster;
use crate::net::{ConnEvent, Connection, Outbound};
use crate::record::{BatchCompletion, Settled};

use self::batch::SentBatch;
use self::metadata::{MetadataPolicy, MetadataSettings};
use self::nodes::{DialSettings, Nodes, PendingKind};
use self::partitions::{PartState, Rules};
use self::producer_id::{IdEvent, ProducerIdState};
use self::warn_limit::{Cause, Line, WarnLimit};

/// Called for every possibly-persisted batch a later acknowledgement proves persisted.
pub(crate) type SettleListener = Arc<dyn Fn(&Settled) + Send + Sync>;

/// State shared by the producer handle and the sender.
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
    /// Set when the producer stopped after a fatal error (strict gapless mode, a producer
    /// id the cluster will not give).
    pub(crate) fatal: std::sync::OnceLock<String>,
    /// Sequence gaps seen at the head of a partition (possible data loss on the broker).
    pub(crate) sequence_gaps: AtomicU64,
    /// Possibly-persisted batches later proven persisted.
    pub(crate) settled: AtomicU64,
    pub(crate) settle_listeners: RwLock<Vec<SettleListener>>,
    /// What `Producer::metrics` reports.
    pub(crate) metrics: crate::metrics::Metrics,
    /// `client.id`, or `producer-N` when it is empty.
    pub(crate) client_name: String,
    /// The transaction manager of a producer with a `transactional.id`: the sender drives
    /// it, the producer's transactional calls start operations and read their results.
    pub(crate) txn: Option<std::sync::Mutex<transaction::TransactionManager>>,
    /// Notified (all waiters) whenever the transaction manager may have a new result.
    pub(crate) txn_changed: Notify,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .field("fatal", &self.fatal.get())
            .finish_non_exhaustive()
    }
}

/// Requests from the producer handle.
#[derive(Debug)]
pub(crate) enum Command {
    /// `send` waits for this topic's metadata.
    NeedTopic(String),
    /// `send` waits for a partition the cached metadata of this known topic lacks.
    RefreshTopic(String),
    /// [`crate::Producer::bootstrap`] waits to learn the brokers.
    Bootstrap,
    /// Reply with every incomplete batch (the flush waits for them).
    Flush(oneshot::Sender<Vec<Arc<BatchCompletion>>>),
    /// Fail everything still pending and stop.
    Abort,
    /// Stop once nothing is pending.
    Shutdown,
    /// Reply with the statistics document (librdkafka's shape); `true` for the periodic one,
    /// which starts a new round-trip window.
    Statistics(oneshot::Sender<serde_json::Value>, bool),
}

/// `base` doubled per attempt up to `max`, with ±20 % jitter (Java's exponential backoff).
pub(super) fn backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.min(16).saturating_sub(1)).min(max);
    let jitter = rand::thread_rng().gen_range(0.8..1.2);
    exp.mul_f64(jitter).min(max.max(base))
}

type ConnectDone = (i32, u64, Result<Connection, Error>);

/// The sender task's state.
pub(crate) struct Sender {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedReceiver<Command>,
    commands_open: bool,
    shutdown: bool,
    events_rx: mpsc::UnboundedReceiver<(u64, ConnEvent)>,
    connect_rx: mpsc::UnboundedReceiver<ConnectDone>,
    cluster: Arc<Cluster>,
    cluster_tx: watch::Sender<Arc<Cluster>>,
    nodes: Nodes,
    correlation: i32,
    meta: MetadataPolicy,
    pid: ProducerIdState,
    parts: FxHashMap<(Arc<str>, i32), PartState>,
    rules: Rules,
    next_batch_id: u64,
    /// When the sender started (the statistics' `ts` and `age`).
    started: Instant,
    warns: WarnLimit,
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
        let cfg = &shared.config;
        let dial = DialSettings {
            client_id: (!cfg.client_id.is_empty()).then(|| cfg.client_id.clone()),
            timeout: cfg.connect_timeout,
            backoff: (cfg.reconnect_backoff, cfg.reconnect_backoff_max),
            security: cfg.security.clone(),
            socket: crate::net::SocketOptions::of(cfg),
            canonical_bootstrap: cfg.client_dns_lookup
                == crate::config::ClientDnsLookup::ResolveCanonicalBootstrapServersOnly,
        };
        let nodes = Nodes::new(&cfg.bootstrap_servers, dial, events_tx, connect_tx, now);
        let meta = MetadataPolicy::new(
            MetadataSettings {
                max_age: cfg.metadata_max_age,
                max_idle: cfg.metadata_max_idle,
                backoff: (cfg.retry_backoff, cfg.retry_backoff_max),
                rebootstrap_after: (cfg.metadata_recovery == MetadataRecovery::Rebootstrap)
                    .then_some(cfg.rebootstrap_trigger),
            },
            now,
        );
        let pid = ProducerIdState::new(cfg.enable_idempotence, now, (cfg.retry_backoff, cfg.retry_backoff_max));
        let rules = Rules {
            idempotent: cfg.enable_idempotence,
            max_in_flight: cfg.max_in_flight,
        };
        Self {
            commands,
            commands_open: true,
            shutdown: false,
            events_rx,
            connect_rx,
            cluster: Arc::new(Cluster::default()),
            cluster_tx,
            nodes,
            correlation: 0,
            meta,
            pid,
            parts: FxHashMap::default(),
            rules,
            next_batch_id: 0,
            started: now,
            warns: WarnLimit::default(),
            shared,
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
                    Some(c) => self.on_command(c, Instant::now()),
                    None => self.commands_open = false,
                },
                () = self.shared.wake.notified() => {}
                () = tokio::time::sleep_until(deadline.into()) => {}
            }
        }
        // What the limiter still counts is logged before the producer goes.
        for line in self.warns.drain() {
            log(&line);
        }
        // Close connections politely and wait for it, so that nothing written is lost to a
        // reset (see `Connection::shutdown`).
        self.count_closes();
        let closing: Vec<_> = self
            .nodes
            .take_connections()
            .into_iter()
            .map(|c| tokio::spawn(c.shutdown(Duration::from_secs(2))))
            .collect();
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

    /// A WARN (or, for lost records, ERROR) line about `subject`, rate limited per
    /// (subject, cause).
    fn warn(&mut self, subject: &str, cause: Cause, text: String, now: Instant) {
        if let Some(line) = self.warns.note(subject, cause, text, now) {
            log(&line);
        }
    }

    /// The address of a node, for log lines.
    fn addr_of(&self, node_id: i32) -> String {
        self.nodes
            .map
            .get(&node_id)
            .map_or_else(|| format!("node {node_id}"), |n| n.addr.clone())
    }

    fn next_batch_id(&mut self) -> u64 {
        self.next_batch_id += 1;
        self.next_batch_id
    }

    fn on_command(&mut self, c: Command, now: Instant) {
        match c {
            Command::NeedTopic(t) => self.meta.want_topic(&t, now),
            Command::Bootstrap => self.meta.want_bootstrap(now),
            Command::RefreshTopic(t) => {
                tracing::debug!(topic = %t, "a send waits for a partition beyond the cached count");
                self.meta.want_topic(&t, now);
                self.meta.request_refresh();
            }
            Command::Flush(reply) => {
                let mut all = self.shared.accumulator.completions();
                for p in self.parts.values() {
                    all.extend(p.retries.iter().map(|b| b.completion.root()));
                }
                for n in self.nodes.map.values() {
                    for p in &n.pending {
                        if let PendingKind::Produce { batches, .. } = &p.kind {
                            all.extend(batches.iter().map(|b| b.completion.root()));
                        }
                    }
                }
                let _ = reply.send(all);
            }
            Command::Abort => self.abort_all(),
            Command::Statistics(reply, periodic) => {
                let _ = reply.send(self.statistics(now, periodic));
            }
            Command::Shutdown => self.shutdown = true,
        }
    }

    /// Runs the policy once. Returns `true` when the sender should stop.
    fn step(&mut self, now: Instant) -> bool {
        self.expire(now);
        for line in self.warns.due(now) {
            log(&line);
        }
        if let Some(reason) = self.shared.fatal.get().cloned() {
            // Records appended after the producer stopped fail at once.
            self.fail_everything_queued(&Error::Fatal(reason));
        }
        self.expire_idle_topics(now);
        self.close_idle_connections(now);
        self.maybe_fetch_metadata(now);
        self.maybe_init_producer_id(now);
        self.drive_transaction(now);
        self.drain(now);
        (self.shutdown || !self.commands_open) && self.is_idle()
    }

    fn is_idle(&self) -> bool {
        self.shared.accumulator.is_empty()
            && self.parts.values().all(PartState::is_idle)
            && !self.nodes.produce_pending()
    }

    fn next_wakeup(&self, now: Instant) -> Instant {
        let cfg = self.config();
        let mut t = now + Duration::from_secs(1);
        let mut consider = |d: Instant| {
            if d > now && d < t {
                t = d;
            }
        };
        let acc = &self.shared.accumulator;
        if let Some(d) = acc.next_linger_deadline() {
            if d <= now {
                // Filed after this pass collected: look again at once.
                return now;
            }
            consider(d);
        }
        if let Some(o) = acc.oldest() {
            consider(o + cfg.delivery_timeout);
        }
        for p in self.parts.values() {
            if let Some(b) = p.retries.front() {
                consider(b.retry_at);
                consider(b.created + cfg.delivery_timeout);
            }
        }
        for n in self.nodes.map.values() {
            if let Some(p) = n.pending.front() {
                consider(p.sent_at + cfg.request_timeout);
            }
            if let Some(th) = n.throttled_until {
                consider(th);
            }
            consider(n.retry_at);
        }
        [
            self.warns.next_due(),
            self.meta.next_wakeup(),
            self.meta.next_idle_check(),
            self.pid.next_attempt(),
            self.config()
                .connections_max_idle
                .and_then(|d| self.nodes.next_idle_close(d)),
            self.txn_next_attempt(),
        ]
        .into_iter()
        .flatten()
        .for_each(&mut consider);
        t
    }

    // ----- connections and control requests -----

    fn on_connected(&mut self, node_id: i32, conn_id: u64, res: Result<Connection, Error>, now: Instant) {
        if res.is_ok() {
            self.shared.metrics.connection(node_id, true);
            if self.cluster.auth_error.is_some() {
                let mut c = (*self.cluster).clone();
                c.auth_error = None;
                self.publish(Arc::new(c));
            }
        }
        if let Some(e) = self.nodes.connected(node_id, conn_id, res, now) {
            self.shared.metrics.connection_failed(node_id);
            // As Java's NetworkClient: a broker that cannot be reached may have lost its
            // leadership (killed, fenced); without this, a producer idle when its leader died
            // kept dialling the dead broker until metadata.max.age.ms (the refresh on the lost
            // connection comes before the controller moves the leaders). Bounded by the
            // metadata backoff.
            self.meta.request_refresh();
            self.txn_unreachable(node_id, now);
            let addr = self.addr_of(node_id);
            self.warn(&addr, Cause::Connect, e.to_string(), now);
            let mut c = (*self.cluster).clone();
            c.last_error = Some(e.to_string());
            if e.is_authentication() {
                // TLS or SASL refused (issue 12): what waits fails now with the reason, and
                // so does every send waiting for metadata until a dial succeeds; the node is
                // dialled again with backoff (a broker may be restarting, a proxy resetting),
                // as Java does.
                c.auth_error = Some(e.clone());
                self.fail_everything_queued(&e);
                let retries: Vec<SentBatch> = self.parts.values_mut().flat_map(|p| p.retries.drain(..)).collect();
                for b in retries {
                    // Numbered already: the gap it leaves is resolved before the partition
                    // sends again (issue 10, defect 1).
                    self.fail_sealed(b, e.clone(), Vec::new());
                }
            }
            self.publish(Arc::new(c));
        }
    }

    fn publish(&mut self, c: Arc<Cluster>) {
        self.cluster = Arc::clone(&c);
        self.shared.cluster.store(Arc::clone(&c));
        self.cluster_tx.send_replace(c);
    }

    /// As Java: the bootstrap addresses until metadata names brokers, then only those, and the
    /// bootstrap addresses again when a re-bootstrap is due.
    fn pick_control_node(&mut self, now: Instant) -> Option<i32> {
        if self.shared.fatal.get().is_some() {
            // A stopped producer (no producer id, strict gapless mode) has nothing to ask for.
            return None;
        }
        let bootstrap = !self.nodes.knows_brokers() || self.meta.rebootstrap_due(now);
        self.nodes.pick_control_node(self.rules.max_in_flight, bootstrap, now)
    }

    fn send_control(&mut self, node_id: i32, kind: PendingKind, now: Instant) -> bool {
        let corr = self.next_correlation();
        let cfg = &self.shared.config;
        let client_id = (!cfg.client_id.is_empty()).then_some(cfg.client_id.as_str());
        let Some(node) = self.nodes.map.get_mut(&node_id) else {
            return false;
        };
        let nodes::ConnState::Up(conn) = &node.conn else {
            return false;
        };
        let (frame, version) = match &kind {
            PendingKind::Metadata { topics } => {
                let v = conn.versions.metadata;
                (
                    encode_metadata(v, corr, client_id, Some(topics), cfg.allow_auto_create_topics),
                    v,
                )
            }
            PendingKind::InitProducerId { current } => {
                let Some(v) = conn.versions.init_producer_id else {
                    let reason = format!(
                        "broker {} does not support InitProducerId v3 or later, which the idempotent producer needs (set enable.idempotence=false)",
                        node.addr
                    );
                    if let IdEvent::Fatal(msg) = self.pid.unsupported(reason) {
                        self.stop_fatally(msg);
                    }
                    return false;
                };
                (encode_init_producer_id(v, corr, client_id, *current), v)
            }
            PendingKind::Produce { .. } | PendingKind::Txn(_) => return false,
        };
        let frame = match frame {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode a control request");
                return false;
            }
        };
        let bytes = frame.len();
        let out = Outbound {
            chunks: vec![frame],
            correlation_id: corr,
            report_written: false,
        };
        let ok = node.write(out, version, kind, now).is_ok();
        if ok {
            self.shared.metrics.control_sent(node_id, bytes, now);
        }
        ok
    }

    // ----- metadata and producer id -----

    fn maybe_fetch_metadata(&mut self, now: Instant) {
        if !self.meta.due(now) {
            return;
        }
        if let Some(node) = self.pick_control_node(now) {
            let topics = self.meta.topics();
            if self.send_control(node, PendingKind::Metadata { topics }, now) {
                self.meta.sent();
            }
        }
    }

    fn expire_idle_topics(&mut self, now: Instant) {
        if self.meta.next_idle_check().is_none_or(|t| t > now) {
            return;
        }
        let parts = &self.parts;
        let acc = &self.shared.accumulator;
        let gone = self.meta.expire_idle(now, |topic| {
            acc.has_topic_batches(topic) || parts.iter().any(|((t, _), p)| &**t == topic && !p.is_idle())
        });
        if gone.is_empty() {
            return;
        }
        tracing::debug!(topics = ?gone, "dropping topics idle for metadata.max.idle.ms");
        let mut c = (*self.cluster).clone();
        for t in &gone {
            c.topics.remove(&**t);
            c.topic_errors.remove(&**t);
        }
        // The partitions' sequence state stays: the broker still knows this producer there, and
        // a partition that started over at sequence 0 under the same epoch would have its next
        // batch taken for a duplicate (or for a gap).
        self.publish(Arc::new(c));
    }

    fn maybe_init_producer_id(&mut self, now: Instant) {
        if self.shared.txn.is_some() {
            // The transaction manager asks for the transactional producer's id.
            return;
        }
        let bump_wanted = self
            .pid
            .current()
            .is_some_and(|c| self.parts.values().any(|p| p.wants_bump(c)));
        let Some(request) = self.pid.wanted(now, bump_wanted) else {
            return;
        };
        if self.meta.topics().is_empty() {
            return;
        }
        if let Some(node) = self.pick_control_node(now) {
            if self.send_control(node, PendingKind::InitProducerId { current: request }, now) {
                self.pid.requested(request);
            }
        }
    }

    /// `asked`: the topics the request named (topics wanted since are not judged by it).
    fn on_metadata(&mut self, version: i16, body: Bytes, asked: &[String], now: Instant) -> Result<(), String> {
        let answer = match decode_metadata(version, body) {
            Ok(a) => a,
            Err(e) => {
                self.meta.failed(now);
                return Err(e.to_string());
            }
        };
        // KIP-1102: a v13 answer names REBOOTSTRAP_REQUIRED at the top level. As Java's
        // DefaultMetadataUpdater: with the rebootstrap strategy such an answer is not applied
        // and the bootstrap servers are dialled at once; otherwise (strategy `none`, or any
        // other top-level code) the answer is applied as usual.
        if answer.error == volley_protocol::ErrorCode::REBOOTSTRAP_REQUIRED && self.meta.rebootstraps() {
            tracing::warn!("a broker asked for a rebootstrap: dialling the bootstrap servers again");
            self.meta.force_rebootstrap(now);
            return Ok(());
        }
        if answer
            .topics
            .iter()
            .any(|t| t.error == volley_protocol::ErrorCode::REBOOTSTRAP_REQUIRED)
        {
            self.meta.force_rebootstrap(now);
        }
        tracing::debug!(
            brokers = answer.brokers.len(),
            controller = answer.controller_id,
            topics = ?answer.topics.iter().map(|t| (t.name.as_str(), t.partitions.len(), t.error.name())).collect::<Vec<_>>(),
            "metadata"
        );
        let next = self.cluster.updated(&answer);
        let mut moved = Vec::new();
        for (id, addr) in &next.brokers {
            if self.nodes.learn(*id, addr, now) {
                moved.push(*id);
            }
        }
        for id in moved {
            // A broker now advertised at another address: its old connection goes.
            self.close_node(id, "the broker is advertised at a new address", now);
        }
        let mut unresolved = false;
        for t in asked {
            let problem = match next.topics.get(t.as_str()) {
                None => Some(match next.topic_errors.get(t.as_str()) {
                    Some(code) => format!("topic '{t}' is not in metadata: {code}"),
                    None => format!("topic '{t}' is not in metadata"),
                }),
                Some(m) => {
                    let leaderless = m
                        .leaders
                        .iter()
                        .filter(|l| **l < 0 || !next.brokers.contains_key(l))
                        .count();
                    (leaderless > 0).then(|| {
                        format!(
                            "topic '{t}': {leaderless} of {} partitions have no leader",
                            m.leaders.len()
                        )
                    })
                }
            };
            if let Some(text) = problem {
                unresolved = true;
                self.warn(t, Cause::Metadata, text, now);
            }
        }
        self.publish(next);
        self.meta.answered(now, unresolved);
        Ok(())
    }

    fn on_init_producer_id(&mut self, version: i16, body: Bytes, now: Instant) {
        let answer = decode_init_producer_id(version, body).map_err(|e| e.to_string());
        match self.pid.on_answer(answer, now) {
            IdEvent::NewIdentity { id, replaced } => {
                tracing::debug!(producer_id = id.0, epoch = id.1, "producer id");
                self.shared.metrics.identity(id);
                if let Some(old) = replaced {
                    let text = format!(
                        "new producer epoch: id {} epoch {} replaces id {} epoch {} (after a sequence error or fencing)",
                        id.0, id.1, old.0, old.1
                    );
                    self.warn("producer", Cause::NewEpoch, text, now);
                }
            }
            IdEvent::Retrying(why) => {
                self.warn(
                    "producer",
                    Cause::ProducerId,
                    format!("InitProducerId will be retried: {why}"),
                    now,
                );
            }
            IdEvent::Fatal(msg) => {
                tracing::error!(%msg, "the idempotent producer cannot get a producer id");
                self.stop_fatally(msg);
            }
        }
    }

    /// Closes, politely, the connections idle for `connections.max.idle.ms`.
    fn close_idle_connections(&mut self, now: Instant) {
        let Some(max_idle) = self.config().connections_max_idle else {
            return;
        };
        for (id, c) in self.nodes.take_idle(max_idle, now) {
            self.shared.metrics.connection(id, false);
            tokio::spawn(c.shutdown(Duration::from_secs(2)));
        }
    }

    /// The metrics of connections about to be dropped at once (shutdown, abort): closes, and
    /// requests that will get no answer.
    fn count_closes(&self) {
        for (id, n) in &self.nodes.map {
            if matches!(n.conn, nodes::ConnState::Up(_)) {
                self.shared.metrics.connection(*id, false);
            }
            self.shared.metrics.closed_with(*id, n.pending.len());
        }
    }

    /// The producer stops: everything queued or waiting fails, and every later send.
    fn stop_fatally(&mut self, reason: String) {
        let _ = self.shared.fatal.set(reason.clone());
        self.fail_everything_queued(&Error::Fatal(reason.clone()));
        let retries: Vec<SentBatch> = self.parts.values_mut().flat_map(|p| p.retries.drain(..)).collect();
        for b in retries {
            self.fail(b, Error::Fatal(reason.clone()), Vec::new());
        }
    }
}

/// Logs a line of the limiter at its level.
fn log(line: &Line) {
    if line.cause.is_error() {
        tracing::error!(cause = line.cause.name(), "{}", line.text);
    } else {
        tracing::warn!(cause = line.cause.name(), "{}", line.text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_caps() {
        let (b, m) = (Duration::from_millis(100), Duration::from_millis(1000));
        for (attempt, lo, hi) in [
            (1, 80, 120),
            (2, 160, 240),
            (3, 320, 480),
            (4, 640, 960),
            (9, 800, 1000),
        ] {
            let d = backoff(b, m, attempt).as_millis();
            assert!((lo..=hi).contains(&d), "attempt {attempt}: {d} ms");
        }
    }
}
