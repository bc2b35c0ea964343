//! Broker connections and what is pending on each: dialling with backoff, the node used for
//! control requests, and what a lost connection leaves behind.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::error::Error;
use crate::net::{connect, ConnEvent, Connection, Outbound};

use super::backoff;
use super::batch::SentBatch;
use super::partitions::Identity;

/// What a pending request was.
#[derive(Debug)]
pub(super) enum PendingKind {
    Produce {
        batches: Vec<SentBatch>,
        acks0: bool,
        /// The request's `produce_request` span (broker, correlation id, partitions,
        /// records, bytes; its outcome is recorded when it ends).
        span: tracing::Span,
    },
    /// `topics`: the topics the request names.
    Metadata { topics: Vec<String> },
    /// `current`: the id and epoch to bump, or `None` for a fresh producer id.
    InitProducerId { current: Option<Identity> },
    /// A request of the transaction manager.
    Txn(super::txn_driver::TxnPending),
}

/// A request written (or queued) on a connection, waiting for its answer.
#[derive(Debug)]
pub(super) struct Pending {
    pub(super) correlation_id: i32,
    pub(super) version: i16,
    pub(super) sent_at: Instant,
    /// Its index on the connection (see [`Connection::maybe_written`]).
    pub(super) index: u64,
    pub(super) kind: PendingKind,
}

impl Pending {
    pub(super) fn is_produce(&self) -> bool {
        matches!(self.kind, PendingKind::Produce { .. })
    }

    pub(super) fn is_acks0(&self) -> bool {
        matches!(self.kind, PendingKind::Produce { acks0: true, .. })
    }
}

#[derive(Debug)]
pub(super) enum ConnState {
    Down,
    Connecting,
    Up(Connection),
}

/// One broker (or bootstrap address, with a negative id).
#[derive(Debug)]
pub(super) struct Node {
    pub(super) addr: String,
    pub(super) conn: ConnState,
    pub(super) pending: VecDeque<Pending>,
    pub(super) throttled_until: Option<Instant>,
    failures: u32,
    pub(super) retry_at: Instant,
    /// Correlation ids of acks=0 requests already written (to ignore a broker's answers).
    pub(super) acks0_written: VecDeque<i32>,
    /// When the connection was last used: connected, a request written, an answer read
    /// (`connections.max.idle.ms` counts from here).
    pub(super) last_used: Instant,
}

/// How many written acks=0 requests a node remembers, to ignore a broker's late answers.
pub(super) const ACKS0_REMEMBERED: usize = 4096;

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
            last_used: now,
        }
    }

    /// The live connection's id, if up.
    pub(super) fn conn_id(&self) -> Option<u64> {
        match &self.conn {
            ConnState::Up(c) => Some(c.id),
            _ => None,
        }
    }

    /// Whether a Produce request may go to this node now: up, not throttled, with room.
    pub(super) fn ready_for(&self, max_in_flight: usize, now: Instant) -> Option<bool> {
        match self.conn {
            ConnState::Up(_) => {
                Some(self.pending.len() < max_in_flight && self.throttled_until.is_none_or(|t| t <= now))
            }
            _ => None,
        }
    }

    /// Queues a request; `None` if the connection is gone.
    pub(super) fn write(
        &mut self,
        out: Outbound,
        version: i16,
        kind: PendingKind,
        now: Instant,
    ) -> Result<(), PendingKind> {
        let ConnState::Up(conn) = &mut self.conn else {
            return Err(kind);
        };
        let correlation_id = out.correlation_id;
        self.last_used = now;
        match conn.send(out) {
            Some(index) => {
                self.pending.push_back(Pending {
                    correlation_id,
                    version,
                    sent_at: now,
                    index,
                    kind,
                });
                Ok(())
            }
            None => Err(kind),
        }
    }
}

/// Connection settings.
#[derive(Debug, Clone)]
pub(super) struct DialSettings {
    pub(super) client_id: Option<String>,
    pub(super) timeout: Duration,
    pub(super) backoff: (Duration, Duration),
    pub(super) security: crate::security::Security,
    pub(super) socket: crate::net::SocketOptions,
    /// Bootstrap addresses are dialled through their canonical names.
    pub(super) canonical_bootstrap: bool,
}

/// Every node the producer knows, and the channels their connections report on.
#[derive(Debug)]
pub(super) struct Nodes {
    pub(super) map: BTreeMap<i32, Node>,
    owner: HashMap<u64, i32>,
    next_conn_id: u64,
    settings: DialSettings,
    events_tx: mpsc::UnboundedSender<(u64, ConnEvent)>,
    connect_tx: mpsc::UnboundedSender<(i32, u64, Result<Connection, Error>)>,
}

/// What a closed connection leaves: its address and the requests pending on it, each with
/// whether any of its bytes may have been written.
pub(super) struct Closed {
    pub(super) addr: String,
    /// A live connection ended (not a dial that never connected).
    pub(super) was_up: bool,
    pub(super) pending: Vec<(Pending, bool)>,
}

impl Nodes {
    pub(super) fn new(
        bootstrap: &[String],
        settings: DialSettings,
        events_tx: mpsc::UnboundedSender<(u64, ConnEvent)>,
        connect_tx: mpsc::UnboundedSender<(i32, u64, Result<Connection, Error>)>,
        now: Instant,
    ) -> Self {
        let map = bootstrap
            .iter()
            .enumerate()
            .map(|(i, addr)| {
                (
                    -1 - i32::try_from(i).unwrap_or(i32::MAX - 1),
                    Node::new(addr.clone(), now),
                )
            })
            .collect();
        Self {
            map,
            owner: HashMap::new(),
            next_conn_id: 0,
            settings,
            events_tx,
            connect_tx,
        }
    }

    /// The node a connection belongs to.
    pub(super) fn owner(&self, conn: u64) -> Option<i32> {
        self.owner.get(&conn).copied()
    }

    /// Adds or updates a broker from metadata. Returns `true` if a known broker's address
    /// changed while it had a connection (the caller closes it).
    pub(super) fn learn(&mut self, id: i32, addr: &str, now: Instant) -> bool {
        let node = self.map.entry(id).or_insert_with(|| Node::new(addr.to_owned(), now));
        if node.addr == addr {
            return false;
        }
        node.addr = addr.to_owned();
        node.retry_at = now;
        !matches!(node.conn, ConnState::Down)
    }

    /// Starts dialling a node if it is down and its backoff has passed.
    pub(super) fn ensure_connecting(&mut self, node_id: i32, now: Instant) {
        let Some(node) = self.map.get_mut(&node_id) else {
            return;
        };
        if !matches!(node.conn, ConnState::Down) || now < node.retry_at {
            return;
        }
        node.conn = ConnState::Connecting;
        self.next_conn_id += 1;
        let id = self.next_conn_id;
        let addr = node.addr.clone();
        let (client_id, timeout) = (self.settings.client_id.clone(), self.settings.timeout);
        let security = self.settings.security.clone();
        let dial = crate::net::Dial {
            options: self.settings.socket,
            canonical: node_id < 0 && self.settings.canonical_bootstrap,
            attempt: node.failures,
        };
        let events = self.events_tx.clone();
        let done = self.connect_tx.clone();
        tokio::spawn(async move {
            // The dial runs in a task of its own so that a panic in it (a bug, or a library
            // under it) is a failed dial, not a node left `Connecting` for ever.
            let who = addr.clone();
            let task = tokio::spawn(connect(id, addr, client_id, timeout, events, security, dial));
            let res = task.await.unwrap_or_else(|e| {
                Err(Error::Connection {
                    broker: who,
                    detail: format!("the connection attempt failed unexpectedly: {e}"),
                })
            });
            let _ = done.send((node_id, id, res));
        });
    }

    /// A dial finished. Returns the error of a failed one.
    pub(super) fn connected(
        &mut self,
        node_id: i32,
        conn_id: u64,
        res: Result<Connection, Error>,
        now: Instant,
    ) -> Option<Error> {
        let (base, max) = self.settings.backoff;
        let node = self.map.get_mut(&node_id)?;
        match res {
            Ok(c) => {
                tracing::debug!(node = node_id, addr = %node.addr, "connected");
                node.failures = 0;
                node.last_used = now;
                node.conn = ConnState::Up(c);
                self.owner.insert(conn_id, node_id);
                None
            }
            Err(e) => {
                tracing::debug!(node = node_id, error = %e, "connect failed");
                node.failures += 1;
                node.conn = ConnState::Down;
                node.retry_at = now + backoff(base, max, node.failures);
                Some(e)
            }
        }
    }

    /// Whether metadata named any broker yet.
    pub(super) fn knows_brokers(&self) -> bool {
        self.map.keys().any(|id| *id >= 0)
    }

    /// A node with a usable connection and room for a request; starts dialling one if
    /// there is none. `bootstrap`: only the bootstrap addresses (before metadata named brokers,
    /// or re-bootstrapping); otherwise only the brokers metadata named.
    pub(super) fn pick_control_node(&mut self, max_in_flight: usize, bootstrap: bool, now: Instant) -> Option<i32> {
        let eligible = |id: i32| bootstrap == (id < 0);
        let up = self
            .map
            .iter()
            .filter(|(id, n)| eligible(**id) && matches!(n.conn, ConnState::Up(_)) && n.pending.len() < max_in_flight)
            .min_by_key(|(_, n)| n.pending.len())
            .map(|(id, _)| *id);
        if up.is_some() {
            return up;
        }
        if self
            .map
            .iter()
            .any(|(id, n)| eligible(*id) && matches!(n.conn, ConnState::Connecting | ConnState::Up(_)))
        {
            return None;
        }
        // One that can be tried now, the one whose backoff ended first.
        let candidate = self
            .map
            .iter()
            .filter(|(id, n)| eligible(**id) && n.retry_at <= now)
            .min_by_key(|(_, n)| n.retry_at)
            .map(|(id, _)| *id);
        if let Some(id) = candidate {
            self.ensure_connecting(id, now);
        }
        None
    }

    /// Ends a node's connection and takes what was pending on it.
    pub(super) fn close(&mut self, node_id: i32, error: &str, now: Instant) -> Option<Closed> {
        let (base, max) = self.settings.backoff;
        let node = self.map.get_mut(&node_id)?;
        let conn = std::mem::replace(&mut node.conn, ConnState::Down);
        if let ConnState::Up(c) = &conn {
            self.owner.remove(&c.id);
        }
        tracing::debug!(node = node_id, addr = %node.addr, %error, "connection closed");
        node.failures += 1;
        node.retry_at = now + backoff(base, max, node.failures);
        let pending = node
            .pending
            .drain(..)
            .map(|p| {
                let written = match &conn {
                    ConnState::Up(c) => c.maybe_written(p.index),
                    _ => true,
                };
                (p, written)
            })
            .collect();
        Some(Closed {
            was_up: matches!(conn, ConnState::Up(_)),
            addr: node.addr.clone(),
            pending,
        })
    }

    /// Notes that a connection was used now (an answer read).
    pub(super) fn touch(&mut self, conn: u64, now: Instant) {
        if let Some(n) = self.owner(conn).and_then(|id| self.map.get_mut(&id)) {
            n.last_used = now;
        }
    }

    /// Takes the connections that waited for nothing for `max_idle` (Java's
    /// `connections.max.idle.ms`): the node goes down without a backoff, so that the next
    /// request dials again at once.
    pub(super) fn take_idle(&mut self, max_idle: Duration, now: Instant) -> Vec<(i32, Connection)> {
        let mut out = Vec::new();
        for (id, n) in &mut self.map {
            let idle = n.pending.is_empty() && now.saturating_duration_since(n.last_used) >= max_idle;
            if !idle || !matches!(n.conn, ConnState::Up(_)) {
                continue;
            }
            if let ConnState::Up(c) = std::mem::replace(&mut n.conn, ConnState::Down) {
                tracing::debug!(node = *id, addr = %n.addr, idle_ms = max_idle.as_millis() as u64, "idle connection closed (connections.max.idle.ms)");
                self.owner.remove(&c.id);
                n.retry_at = now;
                out.push((*id, c));
            }
        }
        out
    }

    /// When the next idle connection is due to close.
    pub(super) fn next_idle_close(&self, max_idle: Duration) -> Option<Instant> {
        self.map
            .values()
            .filter(|n| matches!(n.conn, ConnState::Up(_)) && n.pending.is_empty())
            .map(|n| n.last_used + max_idle)
            .min()
    }

    /// Whether any Produce request is pending anywhere.
    pub(super) fn produce_pending(&self) -> bool {
        self.map.values().any(|n| n.pending.iter().any(Pending::is_produce))
    }

    /// Drops every connection at once (after an abort).
    pub(super) fn take_all_pending(&mut self) -> Vec<Pending> {
        let mut out = Vec::new();
        for n in self.map.values_mut() {
            out.extend(n.pending.drain(..));
            n.conn = ConnState::Down;
        }
        out
    }

    /// The live connections, for a polite shutdown.
    pub(super) fn take_connections(&mut self) -> Vec<Connection> {
        self.map
            .values_mut()
            .filter_map(|n| match std::mem::replace(&mut n.conn, ConnState::Down) {
                ConnState::Up(c) => Some(c),
                _ => None,
            })
            .collect()
    }
}
