//! Typed producing: string keys and JSON values of a Rust type, serialized by the producer.
//!
//! `cargo run -p volley --example typed_json -- 127.0.0.1:9092`

use std::time::Duration;

use serde::Serialize;
use volley::{JsonSerializer, PartitionerKind, Producer, ProducerConfig, StringSerializer, TypedRecord};

/// A click event.
#[derive(Serialize)]
pub struct Click {
    /// Who clicked.
    pub user: String,
    /// Where.
    pub page: String,
}

/// Sends clicks keyed by user.
pub async fn run(bootstrap: &str) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let config = ProducerConfig::builder()
        .bootstrap_servers(bootstrap)
        .partitioner(PartitionerKind::Default)
        .build()?;
    let producer = Producer::builder(config).typed::<str, Click>(StringSerializer, JsonSerializer)?;
    for (user, page) in [("alice", "/"), ("bob", "/cart"), ("alice", "/pay")] {
        let click = Click {
            user: user.into(),
            page: page.into(),
        };
        let meta = producer
            .send_and_wait(TypedRecord::new("volley-example", &click).key(user))
            .await?;
        println!("{user} {page}: partition {} offset {:?}", meta.partition, meta.offset);
    }
    producer.close(Duration::from_secs(5)).await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let bootstrap = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9092".into());
    run(&bootstrap).await
}
