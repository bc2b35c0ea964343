//! `volley-kafka`: Apache Kafka for people (`scripts/kafka`). Starts one KRaft node or a
//! cluster of brokers plus a controller on 127.0.0.1 free ports, prints the bootstrap
//! address on stdout, and stops everything on Ctrl-C (or when stdin closes with `--stdin`).
//!
//! ```text
//! volley-kafka                 # one combined broker+controller node
//! volley-kafka --brokers 3     # three brokers + one controller, RF=3, min.insync.replicas=2
//! volley-kafka -X log.retention.ms=60000
//! ```

use std::io::Write as _;

use clap::Parser;
use volley_testkit::kafka::{KafkaCluster, Layout};

#[derive(Parser)]
#[command(about = "Start Apache Kafka on 127.0.0.1 (single node, or brokers + a controller) until Ctrl-C")]
struct Args {
    /// Broker-only nodes plus one controller-only node; 0 = one combined node.
    #[arg(long, default_value_t = 0)]
    brokers: usize,
    /// Extra broker settings, KEY=VALUE (repeatable).
    #[arg(short = 'X', value_parser = parse_kv)]
    set: Vec<(String, String)>,
}

fn parse_kv(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected KEY=VALUE, got '{s}'"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let started = KafkaCluster::start(&Layout {
        brokers: args.brokers,
        extra: args.set,
        features: Vec::new(),
    });
    let cluster = match started {
        Ok(c) => c,
        Err(e) => {
            eprintln!("volley-kafka: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("{}", cluster.bootstrap());
    let _ = std::io::stdout().flush();
    eprintln!("volley-kafka: Ctrl-C stops the broker(s)");
    let _ = tokio::signal::ctrl_c().await;
    drop(cluster);
    eprintln!("volley-kafka: stopped");
    std::process::ExitCode::SUCCESS
}
