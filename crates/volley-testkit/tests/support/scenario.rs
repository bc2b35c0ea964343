//! Shared set-up of the fake-cluster scenarios (split from `scenarios.rs` to keep each
//! file readable): fast timeouts, the plan of a run, the run itself checked by the oracle,
//! seeds and random faults.

#![allow(dead_code)]

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use volley_testkit::drive::produce;
use volley_testkit::fake::{Action, FakeCluster, Request};
use volley_testkit::oracle::{check, Report};

pub const PRODUCE: i16 = 0;
pub const METADATA: i16 = 3;

/// Fast timeouts so that faults resolve quickly in real time.
pub const FAST: &[(&str, &str)] = &[
    ("linger.ms", "2"),
    ("batch.size", "4096"),
    ("request.timeout.ms", "1000"),
    ("delivery.timeout.ms", "8000"),
    ("retry.backoff.ms", "10"),
    ("retry.backoff.max.ms", "100"),
    ("reconnect.backoff.ms", "10"),
    ("reconnect.backoff.max.ms", "100"),
    ("metadata.max.age.ms", "2000"),
];

pub struct Plan<'a> {
    pub brokers: usize,
    pub partitions: u32,
    pub records: usize,
    pub keys: usize,
    pub props: &'a [(&'a str, &'a str)],
    /// Compress by seed (none, lz4, zstd in turn), so that batches compressed away from the
    /// sender go through the same faults.
    pub codecs: bool,
}

impl Default for Plan<'_> {
    fn default() -> Self {
        Self {
            brokers: 3,
            partitions: 6,
            records: 3000,
            keys: 40,
            props: &[],
            codecs: false,
        }
    }
}

pub fn codec(seed: u64) -> &'static str {
    ["none", "lz4", "zstd"][usize::try_from(seed % 3).unwrap_or(0)]
}

/// Produces `plan.records` test records while `during(i)` may change the cluster, awaits
/// every outcome, and checks the oracle against the fake cluster's log.
pub async fn run(
    seed: u64,
    cluster: &FakeCluster,
    topic: &str,
    plan: &Plan<'_>,
    mut during: impl FnMut(usize, &FakeCluster),
) -> Report {
    let mut props: Vec<(&str, String)> = vec![("bootstrap.servers", cluster.bootstrap())];
    props.extend(FAST.iter().map(|(k, v)| (*k, (*v).to_owned())));
    props.extend(plan.props.iter().map(|(k, v)| (*k, (*v).to_owned())));
    if plan.codecs {
        props.push(("compression.type", codec(seed).to_owned()));
    }
    let run = produce(&props, topic, plan.records, plan.keys, seed, |i| during(i, cluster)).await;
    let mut report = check(seed, &run.sent, &cluster.records(topic));
    if run.close_took > Duration::from_secs(10) {
        report
            .violations
            .push(format!("I5: close(5 s) took {:?}", run.close_took));
    }
    report
}

pub async fn cluster(plan: &Plan<'_>, topic: &str) -> FakeCluster {
    let c = FakeCluster::start(plan.brokers).await;
    c.create_topic(topic, plan.partitions);
    c
}

pub fn assert_clean(name: &str, seed: u64, r: &Report) {
    assert!(r.ok(), "scenario {name}, seed {seed}: {}", r.summary());
    eprintln!("scenario {name}, seed {seed}: {}", r.summary());
}

pub fn is_produce(r: &Request) -> bool {
    r.api_key == PRODUCE
}

pub fn random_faults(seed: u64, rate: f64, action: Action) -> impl FnMut(&Request) -> Action + Send {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    move |r| {
        if is_produce(r) && rng.gen_bool(rate) {
            action.clone()
        } else {
            Action::Respond
        }
    }
}

/// Seeds per scenario: `VOLLEY_SEEDS` (default 20, what CI runs: about a minute in all).
pub fn seeds() -> std::ops::Range<u64> {
    let n = std::env::var("VOLLEY_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20u64);
    1..n + 1
}
