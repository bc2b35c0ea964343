//! A consumer group's committed offsets, read without a consumer: FindCoordinator (key
//! type 0) at a bootstrap server, then OffsetFetch v7+ with `require_stable` at the group
//! coordinator, over one-off connections made as the producer's (TLS, SASL, socket options),
//! as [`crate::describe`] does. A loader that commits its progress with
//! `send_offsets_to_transaction` reads it back with this on its next start.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;
use volley_protocol::group::{decode_offset_fetch, encode_offset_fetch};
use volley_protocol::txn::{decode_find_coordinator, encode_find_coordinator};
use volley_protocol::ErrorCode;

use crate::config::{ClientDnsLookup, ProducerConfig};
use crate::error::Error;
use crate::net::{connect, ConnEvent, Dial, Negotiated, Outbound, SocketOptions};
use crate::transaction::OffsetAndMetadata;

/// Committed offsets by partition: `None` where the group has none.
pub type CommittedOffsets = Vec<((String, i32), Option<OffsetAndMetadata>)>;

/// Errors worth asking again for: the coordinator moves or loads, or a transaction that
/// commits offsets of these partitions is still open (`UNSTABLE_OFFSET_COMMIT`).
fn again(e: ErrorCode) -> bool {
    matches!(
        e,
        ErrorCode::UNSTABLE_OFFSET_COMMIT
            | ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
            | ErrorCode::COORDINATOR_NOT_AVAILABLE
            | ErrorCode::NOT_COORDINATOR
    )
}

/// The offsets `group` committed for `partitions` (topic, partition), read with
/// `require_stable`: offsets of a transaction still open are not answered until it ends,
/// so what comes back is what committed transactions left. The coordinator is looked up
/// again, and the request sent again, while it answers UNSTABLE_OFFSET_COMMIT,
/// COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE or NOT_COORDINATOR, or cannot be
/// reached; the whole call is bounded by `max.block.ms`.
///
/// # Errors
/// [`Error::TimedOut`] (with the last error in the log) after `max.block.ms`; another
/// broker error ([`Error::Broker`], e.g. GROUP_AUTHORIZATION_FAILED); a broker without
/// OffsetFetch v7 ([`Error::Protocol`]).
pub async fn committed_offsets(
    config: &ProducerConfig,
    group: &str,
    partitions: &[(String, i32)],
) -> Result<CommittedOffsets, Error> {
    let start = Instant::now();
    let deadline = start + config.max_block;
    let mut topics: Vec<(String, Vec<i32>)> = Vec::new();
    for (t, p) in partitions {
        match topics.iter_mut().find(|(n, _)| n == t) {
            Some((_, ps)) => ps.push(*p),
            None => topics.push((t.clone(), vec![*p])),
        }
    }
    let mut attempt = 0usize;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::TimedOut {
                what: "the group's committed offsets",
                waited: start.elapsed(),
            });
        }
        let addr = &config.bootstrap_servers[attempt % config.bootstrap_servers.len().max(1)];
        attempt += 1;
        match tokio::time::timeout(left, once(config, addr, group, &topics)).await {
            Ok(Ok(Some(answer))) => {
                return Ok(partitions
                    .iter()
                    .map(|(t, p)| {
                        let got = answer
                            .iter()
                            .find(|f| &f.topic == t && f.partition == *p)
                            .filter(|f| f.offset >= 0)
                            .map(|f| OffsetAndMetadata {
                                offset: f.offset,
                                metadata: f.metadata.clone(),
                                leader_epoch: (f.leader_epoch >= 0).then_some(f.leader_epoch),
                            });
                        ((t.clone(), *p), got)
                    })
                    .collect())
            }
            Ok(Ok(None)) => {}
            Ok(Err(e @ (Error::Broker { .. } | Error::Protocol { .. } | Error::Authentication { .. }))) => {
                return Err(e)
            }
            Ok(Err(e)) => tracing::debug!(error = %e, "reading committed offsets: asking again"),
            Err(_) => {}
        }
        tokio::time::sleep(
            config
                .retry_backoff
                .min(deadline.saturating_duration_since(Instant::now())),
        )
        .await;
    }
}

/// One round: the coordinator, then the offsets. `Ok(None)`: ask again.
async fn once(
    config: &ProducerConfig,
    bootstrap: &str,
    group: &str,
    topics: &[(String, Vec<i32>)],
) -> Result<Option<Vec<volley_protocol::group::FetchedOffset>>, Error> {
    let client_id = (!config.client_id.is_empty()).then(|| config.client_id.clone());
    let cid = client_id.as_deref();
    let (v, body) = exchange(config, bootstrap, |n| {
        let v = n
            .txn
            .find_coordinator
            .ok_or_else(|| unsupported(bootstrap, "FindCoordinator"))?;
        Ok((
            v,
            encode_find_coordinator(v, 1, cid, group, 0).map_err(|e| protocol(bootstrap, e))?,
        ))
    })
    .await?;
    let c = decode_find_coordinator(v, body).map_err(|e| protocol(bootstrap, e))?;
    if again(c.error) {
        return Ok(None);
    }
    if !c.error.is_ok() {
        return Err(Error::Broker {
            code: c.error,
            message: None,
        });
    }
    let addr = format!("{}:{}", c.host, c.port);
    let (v, body) = exchange(config, &addr, |n| {
        let v = n.offset_fetch.ok_or_else(|| unsupported(&addr, "OffsetFetch v7+"))?;
        Ok((
            v,
            encode_offset_fetch(v, 1, cid, group, topics).map_err(|e| protocol(&addr, e))?,
        ))
    })
    .await?;
    let answer = decode_offset_fetch(v, body).map_err(|e| protocol(&addr, e))?;
    let errors = std::iter::once(answer.error).chain(answer.partitions.iter().map(|p| p.error));
    let mut no_group = false;
    for e in errors {
        if again(e) {
            tracing::debug!(error = %e, group, "committed offsets not answered yet");
            return Ok(None);
        }
        if e == ErrorCode::GROUP_ID_NOT_FOUND {
            no_group = true;
        } else if !e.is_ok() {
            return Err(Error::Broker { code: e, message: None });
        }
    }
    Ok(Some(if no_group { Vec::new() } else { answer.partitions }))
}

fn protocol(broker: &str, e: impl std::fmt::Display) -> Error {
    Error::Protocol {
        broker: broker.to_owned(),
        detail: e.to_string(),
    }
}

fn unsupported(broker: &str, api: &str) -> Error {
    protocol(broker, format!("the broker does not support {api}"))
}

/// Connects to `addr` as the producer would (TLS, SASL, socket options), sends the one
/// request `build` makes for the negotiated versions (correlation id 1), and returns the
/// version used and the answer's body; the connection is then closed. Used for one-off
/// requests outside the sender (`describe_cluster`, the loader's OffsetFetch).
pub(crate) async fn exchange(
    config: &ProducerConfig,
    addr: &str,
    build: impl FnOnce(&Negotiated) -> Result<(i16, Bytes), Error>,
) -> Result<(i16, Bytes), Error> {
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let dial = Dial {
        options: SocketOptions::of(config),
        canonical: config.client_dns_lookup == ClientDnsLookup::ResolveCanonicalBootstrapServersOnly,
        attempt: 0,
    };
    let client_id = (!config.client_id.is_empty()).then(|| config.client_id.clone());
    let mut conn = connect(
        0,
        addr.to_owned(),
        client_id,
        config.connect_timeout,
        events_tx,
        config.security.clone(),
        dial,
    )
    .await?;
    let (version, request) = build(&conn.versions)?;
    conn.send(Outbound {
        chunks: vec![request],
        correlation_id: 1,
        report_written: false,
    });
    let body = loop {
        match tokio::time::timeout(config.request_timeout, events.recv()).await {
            Ok(Some((
                _,
                ConnEvent::Response {
                    correlation_id: 1,
                    body,
                    ..
                },
            ))) => break body,
            Ok(Some((_, ConnEvent::Closed { error, .. }))) => {
                return Err(Error::Connection {
                    broker: addr.to_owned(),
                    detail: error,
                })
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => {
                return Err(Error::Connection {
                    broker: addr.to_owned(),
                    detail: format!(
                        "no answer within request.timeout.ms ({} ms)",
                        config.request_timeout.as_millis()
                    ),
                })
            }
        }
    };
    tokio::spawn(conn.shutdown(Duration::from_secs(1)));
    Ok((version, body))
}
