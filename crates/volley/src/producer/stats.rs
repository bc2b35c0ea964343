//! Statistics (librdkafka's `statistics.interval.ms`): a JSON document in the shape of
//! librdkafka's STATISTICS.md, on demand ([`Producer::statistics`]) or every interval to a
//! callback ([`ProducerBuilder::on_statistics`](super::ProducerBuilder::on_statistics)).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::Producer;
use crate::sender::Command;

/// What receives each statistics document (a JSON object, as text).
pub type StatisticsCallback = Arc<dyn Fn(&str) + Send + Sync>;

impl Producer {
    /// The statistics document now (librdkafka's shape: `brokers`, `topics` with
    /// `partitions`, `eos`, totals), or `None` once the producer has stopped.
    pub async fn statistics(&self) -> Option<String> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::Statistics(tx, false)).ok()?;
        rx.await.ok().map(|v| v.to_string())
    }

    /// Calls `f` with a statistics document every `interval` until the producer stops.
    pub(super) fn spawn_statistics(&self, interval: Duration, f: StatisticsCallback) {
        let commands = self.commands.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let (tx, rx) = oneshot::channel();
                if commands.send(Command::Statistics(tx, true)).is_err() {
                    return;
                }
                match rx.await {
                    Ok(doc) => f(&doc.to_string()),
                    Err(_) => return,
                }
            }
        });
    }
}
