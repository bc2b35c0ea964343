//! Reproduces, without Volley's producer, the broker fault behind scenario 8's order
//! violations (RELIABILITY.md): tansu 0.6.0 can append one producer's batches out of
//! sequence order when they reach it on several connections at once.
//!
//! Each round starts a tansu broker, takes a producer id, encodes `--batches` batches of 5
//! records with consecutive sequence numbers, stops the broker (SIGSTOP), writes every batch
//! on each of `--connections` connections (one Produce request per batch, pipelined), resumes
//! the broker (SIGCONT) and reads the log back with librdkafka, plus the producer id, epoch
//! and sequence tansu stored with each record. A correct broker appends each batch once, in
//! sequence order (later copies are duplicates); the round reports any batch found before
//! one with a lower sequence.
//!
//! ```text
//! cargo run --release -p volley-testkit --example tansu_sequence_race -- --rounds 10
//! ```
//! The fault is timing-dependent: with both cores busy it showed up in 2 of 8 rounds.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use volley_protocol::control::{decode_init_producer_id, encode_init_producer_id};
use volley_protocol::produce::{decode_produce_response, encode_produce, PartitionData, ProduceRequest, TopicData};
use volley_protocol::record_batch::{BatchBuilder, SealParams};
use volley_testkit::tansu::{free_addr, Tansu, Tools};

/// Command-line options.
#[derive(Parser, Debug)]
struct Args {
    /// Rounds, each against a fresh broker.
    #[arg(long, default_value_t = 10)]
    rounds: u32,
    /// Batches (of 5 records) per round.
    #[arg(long, default_value_t = 300)]
    batches: i32,
    /// Connections carrying the same batches.
    #[arg(long, default_value_t = 4)]
    connections: usize,
}

const RECORDS_PER_BATCH: i32 = 5;
const PRODUCE_VERSION: i16 = 9;
const INIT_PRODUCER_ID_VERSION: i16 = 4;

fn read_frame(s: &mut TcpStream) -> std::io::Result<Bytes> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    let mut buf = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut buf)?;
    // The correlation id comes first; the decoders take what follows it.
    Ok(Bytes::from(buf).slice(4..))
}

fn round(tools: &Tools, args: &Args) -> Result<(usize, BTreeMap<String, usize>), String> {
    let addr = free_addr();
    let broker = Tansu::start(&tools.tansu, &addr, &addr);
    tools.create_topic(&addr, "race", 1);
    let io = |e: std::io::Error| e.to_string();
    let mut control = TcpStream::connect(&addr).map_err(io)?;
    let init = encode_init_producer_id(INIT_PRODUCER_ID_VERSION, 1, Some("race"), None).map_err(|e| e.to_string())?;
    control.write_all(&init).map_err(io)?;
    let answer = decode_init_producer_id(INIT_PRODUCER_ID_VERSION, read_frame(&mut control).map_err(io)?)
        .map_err(|e| e.to_string())?;
    let (pid, epoch) = (answer.producer_id, answer.producer_epoch);
    let mut frames: Vec<Vec<u8>> = Vec::new();
    for i in 0..args.batches {
        let mut b = BatchBuilder::with_capacity(256);
        for j in 0..RECORDS_PER_BATCH {
            b.append(0, None, Some(format!("{i:06}-{j}").as_bytes()), &[]);
        }
        let params = SealParams {
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: i * RECORDS_PER_BATCH,
            ..SealParams::default()
        };
        let records = b.seal(&params).map_err(|e| e.to_string())?;
        let topics = [TopicData {
            topic: "race".into(),
            partitions: vec![PartitionData { partition: 0, records }],
        }];
        let request = ProduceRequest {
            transactional_id: None,
            acks: -1,
            timeout_ms: 30_000,
            topics: &topics,
        };
        let frame = encode_produce(PRODUCE_VERSION, 100 + i, Some("race"), &request);
        frames.push(frame.chunks.iter().flat_map(|c| c.iter().copied()).collect());
    }
    broker.signal("STOP");
    let mut streams = Vec::new();
    for _ in 0..args.connections {
        streams.push(TcpStream::connect(&addr).map_err(io)?);
    }
    let writers: Vec<_> = streams
        .iter()
        .map(|s| {
            let mut s = s.try_clone().map_err(io)?;
            let frames = frames.clone();
            Ok(std::thread::spawn(move || {
                frames.iter().try_for_each(|f| s.write_all(f))
            }))
        })
        .collect::<Result<_, String>>()?;
    std::thread::sleep(Duration::from_millis(300));
    broker.signal("CONT");
    for w in writers {
        w.join().map_err(|_| "writer panicked".to_owned())?.map_err(io)?;
    }
    let mut answers = BTreeMap::new();
    for mut s in streams {
        for _ in 0..args.batches {
            let response =
                decode_produce_response(PRODUCE_VERSION, read_frame(&mut s).map_err(io)?).map_err(|e| e.to_string())?;
            for p in response.topics.iter().flat_map(|t| &t.partitions) {
                *answers.entry(p.error.to_string()).or_insert(0) += 1;
            }
        }
    }
    let expected = usize::try_from(args.batches * RECORDS_PER_BATCH).unwrap_or(0);
    let mut log = tools.read_back_stamped(&addr, "race", expected, 1);
    log.sort_by_key(|r| r.offset);
    if log.len() != expected {
        return Err(format!("{} records in the log, {expected} expected", log.len()));
    }
    let inversions = log.windows(2).filter(|w| w[1].producer.2 < w[0].producer.2).count();
    Ok((inversions, answers))
}

fn main() {
    let args = Args::parse();
    let tools = Tools::find();
    let mut faulty = 0;
    for r in 1..=args.rounds {
        match round(&tools, &args) {
            Ok((inversions, answers)) => {
                faulty += usize::from(inversions > 0);
                println!("round {r}: sequence-order inversions in the log: {inversions}; answers {answers:?}");
            }
            Err(e) => println!("round {r}: {e}"),
        }
    }
    println!(
        "{faulty} of {} rounds found batches appended out of sequence order",
        args.rounds
    );
}
