//! What the connection knows about which requests reached the socket (issue 10: "a request
//! that was never written is not possibly written").

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::{spawn_io, ConnEvent, Connection, Negotiated, Outbound};

fn frame(len: usize, correlation_id: i32) -> Outbound {
    Outbound {
        chunks: vec![Bytes::from(vec![7u8; len])],
        correlation_id,
        report_written: false,
    }
}

/// A connection to a peer that never reads: its pipe holds 1 KiB, so the first large
/// request blocks the writer part-way.
fn stalled_connection() -> (Connection, tokio::io::DuplexStream) {
    let (ours, theirs) = tokio::io::duplex(1024);
    let (rd, wr) = tokio::io::split(ours);
    let (tx, rx) = mpsc::unbounded_channel();
    let (events, _events_rx) = mpsc::unbounded_channel();
    let started = Arc::new(AtomicU64::new(0));
    let (writer, reader) = spawn_io(1, rd, wr, rx, events, Arc::clone(&started), None);
    let conn = Connection {
        id: 1,
        versions: Negotiated {
            produce: 9,
            metadata: 12,
            init_producer_id: Some(4),
            txn: super::TxnVersions::default(),
            offset_fetch: None,
        },
        queued: 0,
        started,
        tx: Some(tx),
        writer: Some(writer),
        reader: Some(reader),
    };
    (conn, theirs)
}

async fn until(what: &str, f: impl Fn() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("not within 1 s: {what}");
}

/// Requests queued behind one the writer is stuck on were never handed to the socket: if
/// the connection dies now they are certainly not in the log (resend them, never report
/// them possibly persisted); the one under way may be.
#[tokio::test]
async fn requests_queued_behind_a_stalled_write_are_not_written() {
    let (mut conn, _peer) = stalled_connection();
    let first = conn.send(frame(64 * 1024, 1)).expect("queued");
    until("the writer took the first request", || {
        conn.started.load(Ordering::Acquire) == 1
    })
    .await;
    let second = conn.send(frame(100, 2)).expect("queued");
    let third = conn.send(frame(100, 3)).expect("queued");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(conn.maybe_written(first), "the request being written may be in the log");
    assert!(
        !conn.maybe_written(second),
        "queued behind a stalled write: never written"
    );
    assert!(
        !conn.maybe_written(third),
        "queued behind a stalled write: never written"
    );
}

/// Once the peer reads, the writer goes on and every request counts as (possibly) written.
#[tokio::test]
async fn requests_count_as_written_once_the_writer_reaches_them() {
    let (mut conn, mut peer) = stalled_connection();
    let first = conn.send(frame(64 * 1024, 1)).expect("queued");
    until("the writer took the first request", || {
        conn.started.load(Ordering::Acquire) == 1
    })
    .await;
    let second = conn.send(frame(100, 2)).expect("queued");
    let drain = tokio::spawn(async move {
        let mut sink = tokio::io::sink();
        let _ = tokio::io::copy(&mut peer, &mut sink).await;
    });
    until("the writer reached the second request", || conn.maybe_written(second)).await;
    assert!(conn.maybe_written(first));
    drain.abort();
}

/// A request frame as the broker sees it: (api key, correlation id).
async fn read_request(peer: &mut tokio::io::DuplexStream) -> (i16, i32) {
    use tokio::io::AsyncReadExt;
    let len = peer.read_i32().await.expect("length");
    let mut body = vec![0u8; usize::try_from(len).expect("len")];
    peer.read_exact(&mut body).await.expect("body");
    let key = i16::from_be_bytes([body[0], body[1]]);
    let corr = i32::from_be_bytes([body[4], body[5], body[6], body[7]]);
    (key, corr)
}

/// A minimal request frame: length, API key 0 (Produce), version 9, correlation id.
fn request(correlation_id: i32) -> Outbound {
    let mut f = Vec::new();
    f.extend_from_slice(&8i32.to_be_bytes());
    f.extend_from_slice(&0i16.to_be_bytes());
    f.extend_from_slice(&9i16.to_be_bytes());
    f.extend_from_slice(&correlation_id.to_be_bytes());
    Outbound {
        chunks: vec![Bytes::from(f)],
        correlation_id,
        report_written: false,
    }
}

async fn answer(peer: &mut tokio::io::DuplexStream, corr: i32, body: &[u8]) {
    use tokio::io::AsyncWriteExt;
    let len = i32::try_from(body.len() + 4).expect("len");
    peer.write_all(&len.to_be_bytes()).await.expect("write");
    peer.write_all(&corr.to_be_bytes()).await.expect("write");
    peer.write_all(body).await.expect("write");
}

/// KIP-368: when the session is due for renewal, the writer stops writing requests,
/// re-authenticates on the same socket, and goes on; the answer to a request already in
/// flight, which the broker sends before the handshake's, still reaches the sender.
#[tokio::test]
async fn reauthentication_runs_between_requests_and_keeps_answers_in_flight() {
    use crate::security::reauth::Reauth;
    use crate::security::{SaslMechanism, SaslSettings, Secret};
    use volley_protocol::sasl::{SASL_AUTHENTICATE_KEY, SASL_HANDSHAKE_KEY};
    use volley_protocol::versions::BrokerVersions;

    let (ours, mut peer) = tokio::io::duplex(1 << 16);
    let (rd, wr) = tokio::io::split(ours);
    let (tx, rx) = mpsc::unbounded_channel();
    let (events, mut events_rx) = mpsc::unbounded_channel();
    let sasl = SaslSettings {
        mechanism: SaslMechanism::Plain,
        username: "alice".into(),
        password: Secret::new("pw"),
        oauth: None,
    };
    let versions = BrokerVersions::new([(SASL_HANDSHAKE_KEY, 0, 1), (SASL_AUTHENTICATE_KEY, 0, 1)]);
    // A 2 s session: renewal due 1.7-1.9 s after the start.
    let start = tokio::time::Instant::now();
    let plan = Reauth::plan(start, 2000, "b:1", None, versions, &sasl, Duration::from_secs(5));
    let (_w, _r) = spawn_io(1, rd, wr, rx, events, Arc::new(AtomicU64::new(0)), plan);
    tx.send(request(5)).expect("queued");
    assert_eq!(read_request(&mut peer).await.1, 5, "the request in flight");
    // Renewal begins while request 5 is unanswered.
    let (key, hs) = read_request(&mut peer).await;
    assert_eq!(key, SASL_HANDSHAKE_KEY);
    assert!(hs < 0, "re-authentication uses negative correlation ids: {hs}");
    assert!(
        start.elapsed() >= Duration::from_millis(170),
        "not before 85 % of the session"
    );
    // A request queued now waits for the re-authentication to end.
    tx.send(request(6)).expect("queued");
    // The broker answers in order: request 5 first, then the handshake.
    answer(&mut peer, 5, b"produce answer").await;
    let mut mechs = vec![0, 0, 0, 0, 0, 1, 0, 5];
    mechs.extend_from_slice(b"PLAIN");
    answer(&mut peer, hs, &mechs).await;
    let (key, au) = read_request(&mut peer).await;
    assert_eq!(key, SASL_AUTHENTICATE_KEY);
    // SaslAuthenticate v1: no error, null message, empty token, lifetime 0 (no more renewals).
    let mut ok = vec![0, 0, 0xFF, 0xFF, 0, 0, 0, 0];
    ok.extend_from_slice(&0i64.to_be_bytes());
    answer(&mut peer, au, &ok).await;
    assert_eq!(
        read_request(&mut peer).await.1,
        6,
        "the queued request follows the renewal"
    );
    match tokio::time::timeout(Duration::from_secs(1), events_rx.recv()).await {
        Ok(Some((
            _,
            ConnEvent::Response {
                correlation_id, body, ..
            },
        ))) => {
            assert_eq!(correlation_id, 5);
            assert_eq!(&body[..], b"produce answer");
        }
        other => panic!("the in-flight answer reaches the sender: {other:?}"),
    }
    assert!(events_rx.try_recv().is_err(), "the SASL answers are not the sender's");
}
