//! librdkafka through the `rdkafka` crate (bundled build), and the host of its mock cluster.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::message::DeliveryResult;
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;

use crate::{Recorder, Workload};

/// The context shared with librdkafka's threads: outcomes go to the recorder.
struct Ctx(Arc<Recorder>);

impl ClientContext for Ctx {}

impl ProducerContext for Ctx {
    type DeliveryOpaque = Box<Instant>;
    fn delivery(&self, r: &DeliveryResult<'_>, sent_at: Box<Instant>) {
        self.0.done(*sent_at, r.as_ref().err().map(|(e, _)| e.to_string()));
    }
}

/// Runs the workload through librdkafka's threaded producer (its own poll thread serves
/// delivery reports), sending without waiting, as librdkafka's docs recommend.
pub fn run(w: &Workload, recorder: &Arc<Recorder>, start: Instant) {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", &w.bootstrap);
    cfg.set("partitioner", "murmur2_random");
    cfg.set("queue.buffering.max.messages", "1000000");
    cfg.set("queue.buffering.max.kbytes", "32768");
    for (k, v) in &w.props {
        cfg.set(k, v);
    }
    let producer: ThreadedProducer<Ctx> = cfg.create_with_context(Ctx(Arc::clone(recorder))).expect("producer");
    for i in 0..w.records {
        if let Some(due) = w.due(start, i) {
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        let mut opaque = Box::new(Instant::now());
        loop {
            let mut rec = BaseRecord::with_opaque_to(w.topic(i), opaque).payload(w.payload(i));
            if let Some(k) = w.key(i) {
                rec = rec.key(k);
            }
            match producer.send(rec) {
                Ok(()) => break,
                Err((_, back)) => {
                    // Queue full: wait for deliveries, as librdkafka's docs recommend.
                    opaque = back.delivery_opaque;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(120)).expect("flush");
}

/// Hosts librdkafka's mock cluster (3 brokers, topic `bench` with 6 partitions): prints
/// the bootstrap address, then obeys one command per line on standard input until it closes,
/// answering `ok` or `error: ...` to each:
///
/// ```text
/// topic NAME PARTITIONS        create a topic
/// leader TOPIC PARTITION ID    move a partition's leader
/// down ID | up ID              take a broker down or up
/// errors CODE...               the next Produce requests fail with these Kafka error codes
/// ```
pub fn mock_cluster() {
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
    use std::io::BufRead;
    let mock = rdkafka::mocking::MockCluster::new(3).expect("mock cluster");
    mock.create_topic("bench", 6, 1).expect("create topic");
    println!("{}", mock.bootstrap_servers());
    let _ = std::io::Write::flush(&mut std::io::stdout());
    let code = |n: &str| -> Option<RDKafkaRespErr> {
        Some(match n {
            "5" => RDKafkaRespErr::RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
            "6" => RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            "19" => RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
            "56" => RDKafkaRespErr::RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR,
            _ => return None,
        })
    };
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let w: Vec<&str> = line.split_whitespace().collect();
        let res: Result<(), String> = match w.as_slice() {
            ["topic", name, n] => mock
                .create_topic(name, n.parse().unwrap_or(1), 1)
                .map_err(|e| e.to_string()),
            ["leader", t, p, b] => mock
                .partition_leader(t, p.parse().unwrap_or(0), b.parse().ok())
                .map_err(|e| e.to_string()),
            ["down", b] => mock.broker_down(b.parse().unwrap_or(1)).map_err(|e| e.to_string()),
            ["up", b] => mock.broker_up(b.parse().unwrap_or(1)).map_err(|e| e.to_string()),
            ["errors", codes @ ..] => match codes.iter().map(|c| code(c)).collect::<Option<Vec<_>>>() {
                Some(errs) => {
                    mock.request_errors(RDKafkaApiKey::Produce, &errs);
                    Ok(())
                }
                None => Err("unsupported error code".into()),
            },
            _ => Err(format!("unknown command {line}")),
        };
        match res {
            Ok(()) => println!("ok"),
            Err(e) => println!("error: {e}"),
        }
        let _ = std::io::Write::flush(&mut std::io::stdout());
    }
}
