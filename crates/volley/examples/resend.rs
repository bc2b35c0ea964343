//! Resending records that were certainly not written: a `NotPersisted` failure hands the
//! record back, so the program does not keep a copy of everything it sends.
//!
//! `cargo run -p volley --example resend -- 127.0.0.1:9092`

use std::time::Duration;

use volley::{Persistence, Producer, ProducerConfig, ProducerRecord};

/// Sends 10 records; those that fail as not persisted are sent again, up to 3 rounds.
/// Returns how many rounds of resending were needed, or an error naming the records it could
/// not account for (possibly persisted, or not persisted without the record to resend).
pub async fn run(bootstrap: &str) -> Result<u32, Box<dyn std::error::Error + Send + Sync>> {
    let config = ProducerConfig::builder().bootstrap_servers(bootstrap).build()?;
    let producer = Producer::new(config)?;
    let mut pending: Vec<ProducerRecord> = (0..10)
        .map(|i| ProducerRecord::new("volley-example", format!("payment {i}")).key(format!("account-{i}")))
        .collect();
    let mut rounds = 0;
    let mut unaccounted = Vec::new();
    while !pending.is_empty() {
        if rounds == 3 {
            return Err(format!("{} records still not persisted after 3 rounds", pending.len()).into());
        }
        let mut futures = Vec::new();
        for record in pending.drain(..) {
            futures.push(producer.send(record).await?);
        }
        for f in futures {
            match f.await {
                Ok(_) => {}
                // Certainly not in the log: safe to send again, and the error has the record.
                Err(e) if e.persistence == Persistence::NotPersisted => {
                    eprintln!("not persisted, resending: {e}");
                    let text = e.to_string();
                    match e.into_record() {
                        Some(r) => pending.push(r),
                        // Nothing to resend from (e.g. its batch was still being compressed
                        // when it failed): not silently dropped, reported below.
                        None => unaccounted.push(format!("not persisted, record not recoverable: {text}")),
                    }
                }
                // Possibly in the log: resending could duplicate it; report instead.
                Err(e) => {
                    eprintln!("possibly persisted, not resent: {e}");
                    unaccounted.push(format!("possibly persisted: {e}"));
                }
            }
        }
        if !pending.is_empty() {
            rounds += 1;
        }
    }
    producer.close(Duration::from_secs(5)).await;
    if !unaccounted.is_empty() {
        return Err(format!(
            "{} record(s) not known to be delivered: {}",
            unaccounted.len(),
            unaccounted.join("; ")
        )
        .into());
    }
    println!("all delivered after {rounds} resend round(s)");
    Ok(rounds)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let bootstrap = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9092".into());
    run(&bootstrap).await.map(|_| ())
}
