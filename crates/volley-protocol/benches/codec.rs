//! Micro-benchmarks of the hot path: record append, batch sealing (CRC32C and each codec),
//! Produce request encoding and response decoding.
#![allow(missing_docs)]

use bytes::{BufMut, Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use volley_protocol::compression::Compression;
use volley_protocol::produce::{decode_produce_response, encode_produce, PartitionData, ProduceRequest, TopicData};
use volley_protocol::record_batch::{BatchBuilder, Header, SealParams};

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'A' + (i * 7 % 26) as u8).collect()
}

fn filled(records: usize, size: usize) -> BatchBuilder {
    let v = payload(size);
    let mut b = BatchBuilder::with_capacity(records * (size + 20) + 64);
    for i in 0..records {
        let key = format!("key-{}", i % 1000);
        b.append(1_700_000_000_000 + i as i64, Some(key.as_bytes()), Some(&v), &[]);
    }
    b
}

fn append(c: &mut Criterion) {
    let mut g = c.benchmark_group("append");
    for size in [100usize, 1024] {
        let v = payload(size);
        let headers = [Header::new("trace", "abc")];
        g.throughput(Throughput::Elements(1));
        g.bench_function(format!("{size}B key, no headers"), |bench| {
            let mut b = BatchBuilder::with_capacity(1 << 20);
            let mut i = 0i64;
            bench.iter(|| {
                if b.size() > (1 << 20) - 2048 {
                    b = BatchBuilder::with_capacity(1 << 20);
                }
                i += 1;
                b.append(i, Some(b"key-42"), Some(&v), &[])
            });
        });
        g.bench_function(format!("{size}B key, 1 header"), |bench| {
            let mut b = BatchBuilder::with_capacity(1 << 20);
            bench.iter(|| {
                if b.size() > (1 << 20) - 2048 {
                    b = BatchBuilder::with_capacity(1 << 20);
                }
                b.append(7, Some(b"key-42"), Some(&v), &headers)
            });
        });
    }
    g.finish();
}

fn seal(c: &mut Criterion) {
    let mut g = c.benchmark_group("seal 64 KiB batch of 100-byte records");
    let records = 64 * 1024 / 120;
    g.throughput(Throughput::Bytes(filled(records, 100).size() as u64));
    for codec in Compression::ALL {
        g.bench_function(codec.name(), |bench| {
            bench.iter_batched(
                || filled(records, 100),
                |b| {
                    b.seal(&SealParams {
                        compression: codec,
                        producer_id: 1,
                        producer_epoch: 0,
                        base_sequence: 0,
                        ..SealParams::default()
                    })
                },
                BatchSize::SmallInput,
            );
        });
    }
    g.finish();
}

fn produce(c: &mut Criterion) {
    let batch = filled(500, 100).seal(&SealParams::default()).expect("seal");
    let topics: Vec<TopicData> = (0..2)
        .map(|t| TopicData {
            topic: format!("topic-{t}"),
            partitions: (0..6)
                .map(|p| PartitionData {
                    partition: p,
                    records: batch.clone(),
                })
                .collect(),
        })
        .collect();
    let req = ProduceRequest {
        transactional_id: None,
        acks: -1,
        timeout_ms: 30_000,
        topics: &topics,
    };
    let mut g = c.benchmark_group("produce");
    g.bench_function("encode request, 12 partitions, v11", |b| {
        b.iter(|| encode_produce(11, 1, Some("volley"), &req))
    });
    g.bench_function("encode request, 12 partitions, v8", |b| {
        b.iter(|| encode_produce(8, 1, Some("volley"), &req))
    });
    // A v11 answer for 12 partitions.
    let mut r = BytesMut::new();
    r.put_u8(0);
    r.put_u8(3);
    for t in 0..2 {
        let name = format!("topic-{t}");
        r.put_u8(u8::try_from(name.len() + 1).expect("short"));
        r.put_slice(name.as_bytes());
        r.put_u8(7);
        for p in 0..6 {
            r.put_i32(p);
            r.put_i16(0);
            r.put_i64(1000);
            r.put_i64(-1);
            r.put_i64(0);
            r.put_u8(1);
            r.put_u8(0);
            r.put_u8(0);
        }
        r.put_u8(0);
    }
    r.put_i32(0);
    r.put_u8(0);
    let body: Bytes = r.freeze();
    assert!(decode_produce_response(11, body.clone()).is_ok());
    g.bench_function("decode response, 12 partitions, v11", |b| {
        b.iter(|| decode_produce_response(11, body.clone()))
    });
    g.finish();
}

criterion_group!(benches, append, seal, produce);
criterion_main!(benches);
