//! Broker faults on a running [`KafkaCluster`] for long runs (the soak): every so often one
//! broker, picked at random, is killed (SIGKILL), shut down (SIGTERM) or frozen (SIGSTOP)
//! for longer than a request timeout, then brought back. Faults run in their own thread, one
//! at a time, so the producer under test goes on meanwhile.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::kafka::{KafkaCluster, KafkaError};

/// One kind of broker fault, and how it is undone.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// SIGKILL, then a restart.
    Kill,
    /// SIGTERM (controlled shutdown), then a restart.
    Term,
    /// SIGSTOP, then SIGCONT.
    Stop,
}

impl Fault {
    const ALL: [Self; 3] = [Self::Kill, Self::Term, Self::Stop];

    fn signal(self) -> &'static str {
        match self {
            Self::Kill => "SIGKILL",
            Self::Term => "SIGTERM",
            Self::Stop => "SIGSTOP",
        }
    }

    fn counter(self, c: &ChaosCounts) -> &AtomicU64 {
        match self {
            Self::Kill => &c.killed,
            Self::Term => &c.stopped,
            Self::Stop => &c.paused,
        }
    }

    fn apply(self, cluster: &KafkaCluster, id: i32) -> Result<(), KafkaError> {
        match self {
            Self::Kill => cluster.kill(id),
            Self::Term => cluster.stop(id),
            Self::Stop => cluster.pause(id),
        }
    }

    fn undo(self, cluster: &KafkaCluster, id: i32) -> Result<(), KafkaError> {
        match self {
            Self::Stop => cluster.resume(id),
            Self::Kill | Self::Term => cluster.restart(id).map(drop),
        }
    }
}

/// How many faults of each kind were applied.
#[derive(Debug, Default)]
pub struct ChaosCounts {
    /// Brokers SIGKILLed (and restarted).
    pub killed: AtomicU64,
    /// Brokers shut down with SIGTERM (and restarted).
    pub stopped: AtomicU64,
    /// Brokers frozen with SIGSTOP (and resumed).
    pub paused: AtomicU64,
    /// Faults whose recovery failed (the message is printed to stderr).
    pub failed: AtomicU64,
}

impl ChaosCounts {
    /// `killed K, stopped S, paused P, failed F`.
    #[must_use]
    pub fn summary(&self) -> String {
        format!(
            "killed {}, stopped {}, paused {}, failed recoveries {}",
            self.killed.load(Ordering::Relaxed),
            self.stopped.load(Ordering::Relaxed),
            self.paused.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed)
        )
    }
}

/// A running fault schedule; [`BrokerChaos::stop`] ends it with every broker running.
#[derive(Debug)]
pub struct BrokerChaos {
    stop: Arc<AtomicBool>,
    counts: Arc<ChaosCounts>,
    thread: Option<JoinHandle<()>>,
}

impl BrokerChaos {
    /// Starts faults on `cluster`'s brokers: one every `every` (the first after `every`),
    /// a broker down or frozen for `down` each time. Seeded: the same seed picks the same
    /// brokers and kinds.
    #[must_use]
    pub fn start(cluster: Arc<KafkaCluster>, every: Duration, down: Duration, seed: u64) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(ChaosCounts::default());
        let (s, c) = (Arc::clone(&stop), Arc::clone(&counts));
        let thread = std::thread::spawn(move || {
            let mut rng = StdRng::seed_from_u64(seed ^ 0xc4a05);
            let ids = cluster.broker_ids();
            while sleep_unless(&s, every) {
                let id = ids[rng.gen_range(0..ids.len())];
                let fault = Fault::ALL[usize::from(rng.gen_range(0..3u8))];
                let at = Instant::now();
                let r = fault.apply(&cluster, id).and_then(|()| {
                    fault.counter(&c).fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(down.saturating_sub(at.elapsed()));
                    fault.undo(&cluster, id)
                });
                let name = fault.signal();
                match r {
                    Ok(()) => eprintln!("chaos: broker {id} {name}, back after {:?}", at.elapsed()),
                    Err(e) => {
                        c.failed.fetch_add(1, Ordering::Relaxed);
                        eprintln!("chaos: broker {id} {name}: recovery failed: {e}");
                    }
                }
            }
        });
        Self {
            stop,
            counts,
            thread: Some(thread),
        }
    }

    /// The faults so far.
    #[must_use]
    pub fn counts(&self) -> &ChaosCounts {
        &self.counts
    }

    /// Ends the schedule after the fault under way (if any) has recovered.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for BrokerChaos {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sleeps `d` in short steps; false as soon as `stop` is set.
fn sleep_unless(stop: &AtomicBool, d: Duration) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100).min(end.saturating_duration_since(Instant::now())));
    }
    !stop.load(Ordering::SeqCst)
}
