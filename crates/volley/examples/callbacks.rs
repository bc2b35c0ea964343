//! Callbacks instead of futures: for code that does not keep a future per record.
//!
//! `cargo run -p volley --example callbacks -- 127.0.0.1:9092`

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use volley::{Producer, ProducerConfig, ProducerRecord};

/// Sends 100 records with a callback each; returns how many were delivered.
pub async fn run(bootstrap: &str) -> Result<usize, Box<dyn std::error::Error + Send + Sync>> {
    let config = ProducerConfig::builder().bootstrap_servers(bootstrap).build()?;
    let producer = Producer::new(config)?;
    let delivered = Arc::new(AtomicUsize::new(0));
    for i in 0..100 {
        let delivered = Arc::clone(&delivered);
        // The callback runs on the producer's callback thread, in completion order per
        // partition; it may call the producer (even its blocking twin) without deadlock.
        producer
            .send_with_callback(
                ProducerRecord::new("volley-example", format!("record {i}")).key(format!("k{}", i % 4)),
                move |outcome| match outcome {
                    Ok(_) => {
                        delivered.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) => eprintln!("record {i}: {e}"),
                },
            )
            .await?;
    }
    // close flushes; every callback has been handed its outcome once close returns, and
    // runs shortly after on the callback thread.
    producer.close(Duration::from_secs(5)).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while delivered.load(Ordering::SeqCst) < 100 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let n = delivered.load(Ordering::SeqCst);
    println!("{n} of 100 delivered");
    Ok(n)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let bootstrap = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9092".into());
    run(&bootstrap).await.map(|_| ())
}
