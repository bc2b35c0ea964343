//! What the connection knows about which requests reached the socket (issue 10: "a request
//! that was never written is not possibly written").

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::{spawn_io, Connection, Negotiated, Outbound};

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
    let (writer, reader) = spawn_io(1, rd, wr, rx, events, Arc::clone(&started));
    let conn = Connection {
        id: 1,
        versions: Negotiated {
            produce: 9,
            metadata: 12,
            init_producer_id: Some(4),
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
