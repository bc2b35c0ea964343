//! The async producer: send, await the outcome, flush and close.
//!
//! `cargo run -p volley --example async_producer -- 127.0.0.1:9092`

use std::time::Duration;

use volley::{Producer, ProducerConfig, ProducerRecord};

/// Sends three keyed records to `volley-example` and prints where they went.
pub async fn run(bootstrap: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let config = ProducerConfig::builder()
        .bootstrap_servers(bootstrap)
        .linger(Duration::from_millis(5))
        .build()?;
    let producer = Producer::new(config)?;
    for user in ["alice", "bob", "carol"] {
        // `send` queues the record (waiting at most max.block.ms for metadata and room) and
        // returns a future of its outcome; `?` on a failed send keeps the cause.
        let delivery = producer
            .send(ProducerRecord::new("volley-example", format!(r#"{{"user":"{user}"}}"#)).key(user))
            .await?;
        let meta = delivery.await?;
        println!("{user}: partition {} offset {:?}", meta.partition, meta.offset);
    }
    // Both steps in one call, with one error type.
    let meta = producer
        .send_and_wait(ProducerRecord::new("volley-example", "done"))
        .await?;
    println!("done: partition {}", meta.partition);
    producer.flush().await;
    producer.close(Duration::from_secs(5)).await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let bootstrap = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9092".into());
    run(&bootstrap).await
}
