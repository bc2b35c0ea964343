//! The blocking producer, for programs without async: no runtime to set up.
//!
//! `cargo run -p volley --example blocking -- 127.0.0.1:9092`

use std::time::Duration;

use volley::blocking::Producer;
use volley::{ProducerConfig, ProducerRecord};

/// Sends from two threads through one producer, then flushes and closes.
pub fn run(bootstrap: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let config = ProducerConfig::builder().bootstrap_servers(bootstrap).build()?;
    let producer = Producer::new(config)?;
    let workers: Vec<_> = (0..2)
        .map(|w| {
            let producer = producer.clone();
            std::thread::spawn(move || -> Result<(), volley::DeliveryError> {
                let handles: Vec<_> = (0..10)
                    .map(|i| producer.send(ProducerRecord::new("volley-example", format!("worker {w} record {i}"))))
                    .collect::<Result<_, _>>()?;
                for h in handles {
                    h.wait()?;
                }
                Ok(())
            })
        })
        .collect();
    for w in workers {
        w.join().map_err(|_| "a worker panicked")??;
    }
    let meta = producer.send_and_wait(ProducerRecord::new("volley-example", "last").key("k"))?;
    println!("last: partition {} offset {:?}", meta.partition, meta.offset);
    producer.flush(Duration::from_secs(30))?;
    producer.close(Duration::from_secs(5))?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let bootstrap = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9092".into());
    run(&bootstrap)
}
