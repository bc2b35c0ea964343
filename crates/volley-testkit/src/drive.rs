//! Drives a producer through a fault scenario: queues test records (identity and checksum
//! in the value, see [`crate::oracle::value`]), lets the scenario act between records, and
//! collects every outcome within the liveness bound of RELIABILITY.md (I5).

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use volley::{Persistence, Producer, ProducerConfig, ProducerRecord};

use crate::oracle::{value, Outcome, Sent};

/// Logs the producer's decisions to the test's output when `VOLLEY_LOG` asks for them
/// (`VOLLEY_LOG=volley=debug`), once per test process; off otherwise.
pub fn test_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("VOLLEY_LOG").unwrap_or_else(|_| "off".into()))
        .with_test_writer()
        .try_init();
}

/// Maps a delivery result to the oracle's outcome.
#[must_use]
pub fn outcome(r: Result<volley::RecordMetadata, volley::DeliveryError>) -> Outcome {
    match r {
        Ok(m) if m.acknowledged => Outcome::Persisted {
            partition: m.partition,
            offset: m.offset,
        },
        Ok(_) => Outcome::Unacknowledged,
        Err(e) => match e.persistence {
            Persistence::NotPersisted => Outcome::NotPersisted(e.to_string()),
            Persistence::PossiblyPersisted => Outcome::PossiblyPersisted(e.to_string()),
        },
    }
}

/// What [`produce`] returns.
#[derive(Debug)]
pub struct Run {
    /// Every record with its outcome.
    pub sent: Vec<Sent>,
    /// How long `close` took.
    pub close_took: Duration,
}

/// Sends `records` records over `keys` keys to `topic` (seeded), calling `during(i)` before
/// record `i`, awaits every outcome within delivery timeout + request timeout + 1 s of its
/// queueing, then closes the producer with a 5-second bound.
///
/// # Panics
/// If the config is invalid.
pub async fn produce(
    props: &[(&str, String)],
    topic: &str,
    records: usize,
    keys: usize,
    seed: u64,
    mut during: impl FnMut(usize),
) -> Run {
    let config = ProducerConfig::from_properties(props.iter().map(|(k, v)| (*k, v.as_str()))).expect("config");
    let bound = config.delivery_timeout + config.request_timeout + Duration::from_secs(1);
    let producer = Producer::new(config).expect("producer");
    let mut rng = StdRng::seed_from_u64(seed);
    let mut per_key = vec![0u64; keys.max(1)];
    let mut sent = Vec::with_capacity(records);
    let mut futures = Vec::with_capacity(records);
    for i in 0..records {
        during(i);
        let k = rng.gen_range(0..keys.max(1));
        let key = format!("k{k}");
        let seq = per_key[k];
        per_key[k] += 1;
        let v = value(seed, &key, seq, rng.gen_range(0..200));
        match producer
            .send(ProducerRecord::new(topic, v.clone()).key(key.clone()))
            .await
        {
            Ok(f) => {
                futures.push(Some((f, Instant::now())));
                sent.push(Sent {
                    topic: topic.into(),
                    key,
                    seq,
                    value: v,
                    outcome: Outcome::Unresolved,
                });
            }
            Err(e) => {
                futures.push(None);
                sent.push(Sent {
                    topic: topic.into(),
                    key,
                    seq,
                    value: v,
                    outcome: Outcome::NotPersisted(e.to_string()),
                });
            }
        }
        if i % 97 == 0 {
            tokio::task::yield_now().await;
        }
    }
    for (s, f) in sent.iter_mut().zip(futures) {
        let Some((f, queued_at)) = f else { continue };
        let left = bound.saturating_sub(queued_at.elapsed());
        s.outcome = match tokio::time::timeout(left, f).await {
            Err(_) => Outcome::Unresolved,
            Ok(r) => outcome(r),
        };
    }
    let start = Instant::now();
    producer.close(Duration::from_secs(5)).await;
    Run {
        sent,
        close_took: start.elapsed(),
    }
}
