//! One TCP connection to a broker: a writer task and a reader task.
//!
//! Requests are pipelined: the writer takes frames from a channel and writes them with
//! vectored writes (batch bytes are never copied into a request buffer); the reader splits
//! response frames, capped in size, and hands each body with its correlation id to the
//! sender. The first I/O error ends both tasks and is reported once as `Closed`; the sender
//! then treats every request still pending on the connection as possibly written
//! (rskafka's "poisoned messenger" discipline). Dropping a [`Connection`] aborts both tasks.

use std::io::IoSlice;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::config::ClientDnsLookup;
pub(crate) use crate::dial::SocketOptions;
use tokio::task::JoinHandle;
use volley_protocol::control::{decode_api_versions, encode_api_versions};
use volley_protocol::frame::{split_frame, DEFAULT_MAX_FRAME};
use volley_protocol::versions::{Api, BrokerVersions};

use crate::error::Error;
use crate::security::reauth::Reauth;
use crate::security::sasl::Transport;
use crate::security::Security;

/// Something a connection reports to the sender.
#[derive(Debug)]
pub(crate) enum ConnEvent {
    /// A response arrived.
    Response {
        conn: u64,
        correlation_id: i32,
        body: Bytes,
    },
    /// A request that expects no response (acks=0) was written to the socket.
    Written { conn: u64, correlation_id: i32 },
    /// The connection failed; nothing more will come from it.
    Closed { conn: u64, error: String },
}

/// A request frame to write.
#[derive(Debug)]
pub(crate) struct Outbound {
    pub(crate) chunks: Vec<Bytes>,
    pub(crate) correlation_id: i32,
    /// Report `Written` once it is on the socket (acks=0 Produce).
    pub(crate) report_written: bool,
}

/// How a connection's socket is opened.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Dial {
    /// The socket options.
    pub(crate) options: SocketOptions,
    /// A bootstrap address dialled through its canonical names
    /// (`client.dns.lookup=resolve_canonical_bootstrap_servers_only`).
    pub(crate) canonical: bool,
    /// Failed attempts since the node's last connection: the address to start with.
    pub(crate) attempt: u32,
}

/// Versions negotiated with the broker at connect time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Negotiated {
    pub(crate) produce: i16,
    pub(crate) metadata: i16,
    pub(crate) init_producer_id: Option<i16>,
    /// The transaction APIs (`None` where the broker lacks one).
    pub(crate) txn: TxnVersions,
    /// OffsetFetch v7+ (`None` where the broker lacks it).
    pub(crate) offset_fetch: Option<i16>,
}

/// Versions of the transaction APIs, and the cluster's finalized `transaction.version`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TxnVersions {
    pub(crate) find_coordinator: Option<i16>,
    pub(crate) add_partitions: Option<i16>,
    pub(crate) add_offsets: Option<i16>,
    pub(crate) end_txn: Option<i16>,
    pub(crate) txn_offset_commit: Option<i16>,
    /// The finalized `transaction.version` feature level (0 when not listed).
    pub(crate) transaction_version: i16,
}

impl TxnVersions {
    /// KIP-890 part 2 is in force: the feature is finalized at 2 or more and this broker
    /// speaks the versions that carry it (Produce v12, EndTxn v5, TxnOffsetCommit v5).
    pub(crate) fn tv2(&self, produce: i16) -> bool {
        self.transaction_version >= 2 && produce >= 12 && self.end_txn >= Some(5) && self.txn_offset_commit >= Some(5)
    }
}

/// A live connection.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) id: u64,
    pub(crate) versions: Negotiated,
    /// Requests queued so far (the next one's index).
    queued: u64,
    /// Requests whose bytes the writer has started to hand to the socket: a request at an
    /// index at or above this was certainly not written, so cannot be in the log.
    started: Arc<AtomicU64>,
    tx: Option<mpsc::UnboundedSender<Outbound>>,
    writer: Option<JoinHandle<()>>,
    reader: Option<JoinHandle<()>>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        for t in [self.writer.take(), self.reader.take()].into_iter().flatten() {
            t.abort();
        }
    }
}

impl Connection {
    /// Queues a frame for writing: its index on this connection, or `None` if the
    /// connection is already gone.
    pub(crate) fn send(&mut self, out: Outbound) -> Option<u64> {
        let ok = self.tx.as_ref().is_some_and(|tx| tx.send(out).is_ok());
        ok.then(|| {
            self.queued += 1;
            self.queued - 1
        })
    }

    /// Whether the writer may have written any byte of the request at `index`.
    pub(crate) fn maybe_written(&self, index: u64) -> bool {
        index < self.started.load(Ordering::Acquire)
    }

    /// Closes politely: the writer sends what is queued and then FIN, and the reader drains
    /// the socket for up to `linger`. Closing a socket with unread input makes the kernel
    /// reset it and drop unsent output, which would lose acks=0 records still queued.
    pub(crate) async fn shutdown(mut self, linger: Duration) {
        self.tx = None;
        if let Some(w) = self.writer.take() {
            let _ = tokio::time::timeout(linger, w).await;
        }
        if let Some(r) = self.reader.take() {
            let abort = r.abort_handle();
            if tokio::time::timeout(linger, r).await.is_err() {
                abort.abort();
            }
        }
    }
}

fn conn_err(addr: &str, detail: impl ToString) -> Error {
    Error::Connection {
        broker: addr.to_owned(),
        detail: detail.to_string(),
    }
}

fn tls_err(addr: &str, reason: impl Into<String>) -> Error {
    Error::Tls {
        broker: addr.to_owned(),
        reason: reason.into(),
    }
}

/// The host part of `host:port` (brackets of an IPv6 literal removed).
fn host_of(addr: &str) -> &str {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host)
}

/// An I/O error during connection setup: a TLS verdict (unknown CA, name mismatch, a
/// broker alert) becomes [`Error::Tls`], anything else [`Error::Connection`].
fn setup_io_err(addr: &str, e: &std::io::Error) -> Error {
    match crate::security::tls::reason(e, host_of(addr)) {
        Some(reason) => tls_err(addr, reason),
        None => conn_err(addr, e),
    }
}

/// Whether the bytes start like a TLS record (handshake or alert, TLS 1.0-1.3), which no
/// Kafka frame does (its length would be over 350 MB).
fn looks_like_tls(buf: &[u8]) -> bool {
    buf.len() >= 3 && matches!(buf[0], 0x15 | 0x16) && buf[1] == 0x03 && buf[2] <= 0x04
}

async fn read_one_frame<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut BytesMut, addr: &str) -> Result<Bytes, Error> {
    loop {
        if looks_like_tls(buf) {
            return Err(tls_err(
                addr,
                "the broker answered with TLS: this is a TLS listener; set security.protocol=SSL (or SASL_SSL)",
            ));
        }
        match split_frame(buf, DEFAULT_MAX_FRAME) {
            Ok(Some(f)) => return Ok(f),
            Ok(None) => {}
            Err(e) => {
                return Err(Error::Protocol {
                    broker: addr.to_owned(),
                    detail: e.to_string(),
                })
            }
        }
        if stream.read_buf(buf).await.map_err(|e| setup_io_err(addr, &e))? == 0 {
            return Err(conn_err(
                addr,
                "the broker closed the connection during the handshake (if this listener uses TLS or SASL, check security.protocol)",
            ));
        }
    }
}

/// Writes one request during setup and reads its answer: the body after the correlation id.
async fn round_trip<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    frame: &[u8],
    corr: i32,
    addr: &str,
) -> Result<Bytes, Error> {
    stream.write_all(frame).await.map_err(|e| setup_io_err(addr, &e))?;
    stream.flush().await.map_err(|e| setup_io_err(addr, &e))?;
    let mut body = read_one_frame(stream, buf, addr).await?;
    if body.len() < 4 {
        return Err(Error::Protocol {
            broker: addr.to_owned(),
            detail: "response shorter than its header".into(),
        });
    }
    let got = body.get_i32();
    if got != corr {
        return Err(Error::Protocol {
            broker: addr.to_owned(),
            detail: format!("correlation id {got}, expected {corr}"),
        });
    }
    Ok(body)
}

/// Asks the broker for its versions, falling back to v0 if it does not know ours.
async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    buf: &mut BytesMut,
    addr: &str,
    client_id: Option<&str>,
) -> Result<BrokerVersions, Error> {
    let mut version = Api::ApiVersions.supported().1;
    for attempt in 0..2 {
        let frame = encode_api_versions(version, attempt, client_id).map_err(|e| conn_err(addr, e))?;
        let body = round_trip(stream, buf, &frame, attempt, addr).await?;
        // A broker that does not know our version answers in v0 with UNSUPPORTED_VERSION.
        let answer = match decode_api_versions(version, body.clone()) {
            Ok(a) => a,
            Err(_) if version > 0 => decode_api_versions(0, body).map_err(|e| Error::Protocol {
                broker: addr.to_owned(),
                detail: e.to_string(),
            })?,
            Err(e) => {
                return Err(Error::Protocol {
                    broker: addr.to_owned(),
                    detail: e.to_string(),
                })
            }
        };
        if answer.error.is_ok() {
            return Ok(answer.versions);
        }
        if answer.error == volley_protocol::ErrorCode::UNSUPPORTED_VERSION && attempt == 0 {
            version = answer.versions.negotiate(Api::ApiVersions).unwrap_or(0);
            continue;
        }
        return Err(Error::Protocol {
            broker: addr.to_owned(),
            detail: format!("ApiVersions failed: {}", answer.error),
        });
    }
    Err(Error::Protocol {
        broker: addr.to_owned(),
        detail: "ApiVersions negotiation failed".into(),
    })
}

/// The SASL exchange over the fresh stream at connect time.
struct Setup<'a, S> {
    stream: &'a mut S,
    buf: &'a mut BytesMut,
    addr: &'a str,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Transport for Setup<'_, S> {
    async fn round_trip(&mut self, frame: &[u8], corr: i32) -> Result<Bytes, Error> {
        round_trip(self.stream, self.buf, frame, corr, self.addr).await
    }
}

/// ApiVersions, then SASL when configured: what every connection does before its first
/// request, on whatever stream (TCP or TLS) it runs. Returns the versions and, when the broker
/// announced a session lifetime, the plan to re-authenticate before it ends.
async fn negotiate<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    addr: &str,
    client_id: Option<&str>,
    security: &Security,
    timeout: Duration,
) -> Result<(BrokerVersions, Option<Reauth>), Error> {
    let mut buf = BytesMut::with_capacity(4096);
    let versions = handshake(stream, &mut buf, addr, client_id).await?;
    let mut reauth = None;
    if let Some(sasl) = &security.sasl {
        let start = tokio::time::Instant::now();
        let mut t = Setup {
            stream,
            buf: &mut buf,
            addr,
        };
        let session = crate::security::sasl::authenticate(&mut t, addr, client_id, &versions, sasl, 2).await?;
        tracing::debug!(
            broker = addr,
            mechanism = sasl.mechanism.name(),
            session_lifetime_ms = session.lifetime_ms,
            "authenticated"
        );
        reauth = Reauth::plan(
            start,
            session.lifetime_ms,
            addr,
            client_id,
            versions.clone(),
            sasl,
            timeout,
        );
    }
    Ok((versions, reauth))
}

/// Dials `addr` (TLS and SASL as `security` says), negotiates versions, and starts the
/// writer and reader.
pub(crate) async fn connect(
    id: u64,
    addr: String,
    client_id: Option<String>,
    timeout: Duration,
    events: mpsc::UnboundedSender<(u64, ConnEvent)>,
    security: Security,
    socket: Dial,
) -> Result<Connection, Error> {
    let setup = async {
        // The canonical names of a bootstrap address (client.dns.lookup), tried in order;
        // the one that answers is the name TLS verifies.
        let targets = if socket.canonical {
            crate::dial::bootstrap_addresses(
                std::slice::from_ref(&addr),
                ClientDnsLookup::ResolveCanonicalBootstrapServersOnly,
            )
            .await
        } else {
            vec![addr.clone()]
        };
        let mut dialled = Err(conn_err(&addr, "no address to dial"));
        for target in &targets {
            dialled = crate::dial::dial(target, socket.options, socket.attempt)
                .await
                .map(|s| (s, target.clone()))
                .map_err(|e| conn_err(&addr, e));
            if dialled.is_ok() {
                break;
            }
        }
        let (stream, target) = dialled?;
        match &security.tls {
            None => {
                let mut stream = stream;
                let (versions, reauth) =
                    negotiate(&mut stream, &addr, client_id.as_deref(), &security, timeout).await?;
                Ok::<_, Error>((Stream::Tcp(stream), versions, reauth))
            }
            Some(tls) => {
                let name = ServerName::try_from(host_of(&target).to_owned()).map_err(|e| {
                    tls_err(
                        &addr,
                        format!("'{}' is not a valid TLS server name: {e}", host_of(&target)),
                    )
                })?;
                let connector = tokio_rustls::TlsConnector::from(Arc::clone(&tls.client));
                let mut stream = connector.connect(name, stream).await.map_err(|e| {
                    if matches!(e.kind(), std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset)
                        && crate::security::tls::reason(&e, "").is_none()
                    {
                        tls_err(&addr, "the broker closed the connection during the TLS handshake: this is probably not a TLS listener (PLAINTEXT or SASL_PLAINTEXT); check security.protocol and the port")
                    } else {
                        setup_io_err(&addr, &e)
                    }
                })?;
                let (versions, reauth) =
                    negotiate(&mut stream, &addr, client_id.as_deref(), &security, timeout).await?;
                Ok((Stream::Tls(Box::new(stream)), versions, reauth))
            }
        }
    };
    let (stream, versions, reauth) = tokio::time::timeout(timeout, setup).await.map_err(|_| {
        conn_err(
            &addr,
            format!(
                "no connection within {} ms (socket.connection.setup.timeout.ms)",
                timeout.as_millis()
            ),
        )
    })??;
    let mismatch = |e: volley_protocol::versions::VersionMismatch| Error::Protocol {
        broker: addr.clone(),
        detail: e.to_string(),
    };
    let negotiated = Negotiated {
        produce: versions.negotiate(Api::Produce).map_err(mismatch)?,
        metadata: versions.negotiate(Api::Metadata).map_err(mismatch)?,
        init_producer_id: versions.negotiate(Api::InitProducerId).ok(),
        txn: TxnVersions {
            find_coordinator: versions.negotiate(Api::FindCoordinator).ok(),
            add_partitions: versions.negotiate(Api::AddPartitionsToTxn).ok(),
            add_offsets: versions.negotiate(Api::AddOffsetsToTxn).ok(),
            end_txn: versions.negotiate(Api::EndTxn).ok(),
            txn_offset_commit: versions.negotiate(Api::TxnOffsetCommit).ok(),
            transaction_version: versions.finalized("transaction.version").unwrap_or(0),
        },
        offset_fetch: versions.negotiate(Api::OffsetFetch).ok(),
    };
    let started = Arc::new(AtomicU64::new(0));
    let (tx, rx) = mpsc::unbounded_channel::<Outbound>();
    let (writer, reader) = match stream {
        Stream::Tcp(s) => {
            let (rd, wr) = s.into_split();
            spawn_io(id, rd, wr, rx, events, Arc::clone(&started), reauth)
        }
        Stream::Tls(s) => {
            let (rd, wr) = tokio::io::split(*s);
            spawn_io(id, rd, wr, rx, events, Arc::clone(&started), reauth)
        }
    };
    Ok(Connection {
        id,
        versions: negotiated,
        queued: 0,
        started,
        tx: Some(tx),
        writer: Some(writer),
        reader: Some(reader),
    })
}

enum Stream {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// Starts the writer and reader tasks of a connection over any split stream.
fn spawn_io<R, W>(
    id: u64,
    mut rd: R,
    mut wr: W,
    mut rx: mpsc::UnboundedReceiver<Outbound>,
    events: mpsc::UnboundedSender<(u64, ConnEvent)>,
    started: Arc<AtomicU64>,
    mut reauth: Option<Reauth>,
) -> (JoinHandle<()>, JoinHandle<()>)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let ev_w = events.clone();
    let started_w = started;
    // Answers to re-authentication requests (negative correlation ids), reader to writer.
    let (auth_tx, mut auth_rx) = mpsc::unbounded_channel::<(i32, Bytes)>();
    let writer = tokio::spawn(async move {
        // The writer's end: reported once, as the reader's is.
        let closed_w = |error: String| {
            let _ = ev_w.send((id, ConnEvent::Closed { conn: id, error }));
        };
        let mut batch: Vec<Outbound> = Vec::new();
        loop {
            let first = match reauth.as_ref().map(|r| r.due) {
                None => rx.recv().await,
                Some(due) => tokio::select! {
                    o = rx.recv() => o,
                    () = tokio::time::sleep_until(due) => None,
                },
            };
            // Re-authenticate when due, before writing anything more (KIP-368).
            if let Some(r) = reauth.as_mut().filter(|r| tokio::time::Instant::now() >= r.due) {
                match r.run(&mut wr, &mut auth_rx).await {
                    Ok(true) => {}
                    Ok(false) => reauth = None,
                    Err(e) => return closed_w(e.to_string()),
                }
            }
            let Some(first) = first.or_else(|| rx.try_recv().ok()) else {
                if rx.is_closed() && rx.is_empty() {
                    break;
                }
                continue;
            };
            batch.push(first);
            // Coalesce whatever else is queued into one vectored write.
            while batch.len() < 64 {
                match rx.try_recv() {
                    Ok(o) => batch.push(o),
                    Err(_) => break,
                }
            }
            started_w.fetch_add(batch.len() as u64, Ordering::AcqRel);
            if let Err(e) = write_all_chunks(&mut wr, batch.iter().flat_map(|o| o.chunks.iter())).await {
                return closed_w(e.to_string());
            }
            for o in batch.drain(..) {
                if o.report_written {
                    let _ = ev_w.send((
                        id,
                        ConnEvent::Written {
                            conn: id,
                            correlation_id: o.correlation_id,
                        },
                    ));
                }
            }
        }
        // Every sender is gone: send FIN after what was queued.
        let _ = wr.shutdown().await;
    });
    let reader = tokio::spawn(async move {
        let closed = |error: String| {
            let _ = events.send((id, ConnEvent::Closed { conn: id, error }));
        };
        let mut buf = BytesMut::with_capacity(64 * 1024);
        loop {
            loop {
                match split_frame(&mut buf, DEFAULT_MAX_FRAME) {
                    Ok(Some(mut f)) => {
                        if f.len() < 4 {
                            return closed("response shorter than its header".into());
                        }
                        let correlation_id = f.get_i32();
                        if correlation_id < 0 {
                            // A re-authentication answer, for the writer.
                            let _ = auth_tx.send((correlation_id, f));
                            continue;
                        }
                        let ev = ConnEvent::Response {
                            conn: id,
                            correlation_id,
                            body: f,
                        };
                        if events.send((id, ev)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => return closed(e.to_string()),
                }
            }
            match rd.read_buf(&mut buf).await {
                Ok(0) => return closed("the broker closed the connection".into()),
                Ok(_) => {}
                Err(e) => return closed(e.to_string()),
            }
        }
    });
    (writer, reader)
}

/// Writes every chunk, using vectored writes of up to 64 slices at a time.
async fn write_all_chunks<'a, W: AsyncWriteExt + Unpin>(
    w: &mut W,
    chunks: impl Iterator<Item = &'a Bytes>,
) -> std::io::Result<()> {
    let mut pending: Vec<Bytes> = chunks.filter(|c| !c.is_empty()).cloned().collect();
    let mut start = 0;
    while start < pending.len() {
        let end = (start + 64).min(pending.len());
        let slices: Vec<IoSlice<'_>> = pending[start..end].iter().map(|c| IoSlice::new(c)).collect();
        let mut n = w.write_vectored(&slices).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::WriteZero,
                "socket accepted no bytes",
            ));
        }
        while n > 0 && start < pending.len() {
            let len = pending[start].len();
            if n >= len {
                n -= len;
                start += 1;
            } else {
                pending[start].advance(n);
                n = 0;
            }
        }
    }
    w.flush().await
}

#[cfg(test)]
#[path = "net_tests.rs"]
mod tests;
