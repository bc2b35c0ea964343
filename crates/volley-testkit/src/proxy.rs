//! A TCP fault proxy for Kafka connections, controllable while a test runs.
//!
//! It forwards whole frames in both directions, so it knows which answer belongs to which
//! request (Kafka answers in order). Faults: delay, black-hole (hold everything), reset a
//! connection after N bytes from the client, forward a Produce request and then drop its
//! answer and close (the broker appended, the client never hears), and chaos (every
//! connection dies after a random 0.5–1.5 s). Put it in front of any broker that
//! advertises the proxy's address.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The proxy's behaviour; change it at any time with [`FaultProxy::set`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Faults {
    /// Extra delay before each forwarded frame.
    pub delay: Duration,
    /// Hold every byte (both directions) while set.
    pub black_hole: bool,
    /// Reset each new connection after the client sent this many bytes.
    pub reset_after_bytes: Option<usize>,
    /// Fraction of Produce requests forwarded whose answer is dropped (connection closed).
    pub drop_produce_answers: f64,
    /// Kill every connection after a random time in this range (milliseconds).
    pub chaos_ms: Option<(u64, u64)>,
}

/// Counters of what the proxy did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ProxyStats {
    /// Connections accepted.
    pub connections: u64,
    /// Produce answers dropped after the broker handled the request.
    pub dropped_answers: u64,
    /// Connections killed by chaos or reset.
    pub killed: u64,
    /// Requests forwarded to the broker.
    pub requests: u64,
}

/// A running proxy.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    faults: watch::Sender<Faults>,
    stats: Arc<Mutex<ProxyStats>>,
    task: JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A tiny deterministic generator (xorshift) so runs are repeatable per seed.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl FaultProxy {
    /// Binds 127.0.0.1 on a free port; forwards to `upstream` once started with
    /// [`FaultProxy::start`]. Bind first, so the broker can advertise this address.
    ///
    /// # Errors
    /// Binding failed.
    pub async fn bind() -> std::io::Result<(TcpListener, SocketAddr)> {
        let l = TcpListener::bind("127.0.0.1:0").await?;
        let a = l.local_addr()?;
        Ok((l, a))
    }

    /// Starts forwarding connections accepted on `listener` to `upstream`.
    #[must_use]
    pub fn start(listener: TcpListener, upstream: SocketAddr, seed: u64) -> Self {
        let addr = listener.local_addr().unwrap_or(upstream);
        let (faults, rx) = watch::channel(Faults::default());
        let stats = Arc::new(Mutex::new(ProxyStats::default()));
        let st = Arc::clone(&stats);
        let task = tokio::spawn(async move {
            let rng = Arc::new(Mutex::new(Rng(seed.max(1))));
            let mut conns = Vec::new();
            while let Ok((client, _)) = listener.accept().await {
                lock(&st).connections += 1;
                conns.retain(|c: &JoinHandle<()>| !c.is_finished());
                conns.push(tokio::spawn(relay(
                    client,
                    upstream,
                    rx.clone(),
                    Arc::clone(&st),
                    Arc::clone(&rng),
                )));
            }
        });
        Self {
            addr,
            faults,
            stats,
            task,
        }
    }

    /// The address clients (and the broker's advertised listener) use.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes the faults.
    pub fn set(&self, f: Faults) {
        self.faults.send_replace(f);
    }

    /// The faults in force.
    #[must_use]
    pub fn faults(&self) -> Faults {
        self.faults.borrow().clone()
    }

    /// What happened so far.
    #[must_use]
    pub fn stats(&self) -> ProxyStats {
        *lock(&self.stats)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    faults: watch::Receiver<Faults>,
    stats: Arc<Mutex<ProxyStats>>,
    rng: Arc<Mutex<Rng>>,
) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    // One flag per forwarded request that expects an answer: drop that answer?
    let plan: Arc<Mutex<VecDeque<bool>>> = Arc::new(Mutex::new(VecDeque::new()));
    let f0 = faults.borrow().clone();
    let lifetime = f0.chaos_ms.map(|(lo, hi)| {
        let r = lock(&rng).next();
        Duration::from_millis(lo + r % (hi.saturating_sub(lo) + 1))
    });
    let up = pump_requests(
        cr,
        sw,
        faults.clone(),
        Arc::clone(&plan),
        Arc::clone(&rng),
        Arc::clone(&stats),
    );
    let down = pump_answers(sr, cw, faults, plan, Arc::clone(&stats));
    let killed = async {
        match lifetime {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = up => {}
        () = down => {}
        () = killed => lock(&stats).killed += 1,
    }
}

async fn read_frame(r: &mut OwnedReadHalf, buf: &mut BytesMut) -> Option<BytesMut> {
    loop {
        if buf.len() >= 4 {
            let n = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
            let n = usize::try_from(n).ok()?;
            if buf.len() >= 4 + n {
                return Some(buf.split_to(4 + n));
            }
        }
        match r.read_buf(buf).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// Holds a frame while the black-hole is on, then applies the delay; returns the faults
/// in force for the frame.
async fn gate(faults: &mut watch::Receiver<Faults>) -> Faults {
    let f = loop {
        let f = faults.borrow().clone();
        if !f.black_hole || faults.changed().await.is_err() {
            break f;
        }
    };
    if !f.delay.is_zero() {
        tokio::time::sleep(f.delay).await;
    }
    f
}

async fn pump_requests(
    mut r: OwnedReadHalf,
    mut w: OwnedWriteHalf,
    mut faults: watch::Receiver<Faults>,
    plan: Arc<Mutex<VecDeque<bool>>>,
    rng: Arc<Mutex<Rng>>,
    stats: Arc<Mutex<ProxyStats>>,
) {
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut sent = 0usize;
    let reset_after = faults.borrow().reset_after_bytes;
    while let Some(frame) = read_frame(&mut r, &mut buf).await {
        let f = gate(&mut faults).await;
        lock(&stats).requests += 1;
        let mut body = &frame[4..];
        let api_key = if body.len() >= 2 { body.get_i16() } else { -1 };
        // acks is at a fixed place only for non-flexible versions; a Produce request with
        // acks=0 gets no answer. The proxy is meant for acks=1/all runs.
        let drop_it = api_key == 0 && f.drop_produce_answers > 0.0 && lock(&rng).unit() < f.drop_produce_answers;
        lock(&plan).push_back(drop_it);
        if let Some(limit) = reset_after {
            if sent + frame.len() > limit {
                let cut = limit.saturating_sub(sent);
                let _ = w.write_all(&frame[..cut]).await;
                return;
            }
        }
        sent += frame.len();
        if w.write_all(&frame).await.is_err() {
            return;
        }
    }
}

async fn pump_answers(
    mut r: OwnedReadHalf,
    mut w: OwnedWriteHalf,
    mut faults: watch::Receiver<Faults>,
    plan: Arc<Mutex<VecDeque<bool>>>,
    stats: Arc<Mutex<ProxyStats>>,
) {
    let mut buf = BytesMut::with_capacity(64 * 1024);
    while let Some(frame) = read_frame(&mut r, &mut buf).await {
        gate(&mut faults).await;
        let drop_it = lock(&plan).pop_front().unwrap_or(false);
        if drop_it {
            lock(&stats).dropped_answers += 1;
            return;
        }
        if w.write_all(&frame).await.is_err() {
            return;
        }
    }
}
