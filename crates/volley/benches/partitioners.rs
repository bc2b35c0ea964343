//! Micro-benchmarks of the partitioners.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use volley::{BuiltinPartitioner, Partitioner, PartitionerKind};

fn partitioners(c: &mut Criterion) {
    let keys: Vec<String> = (0..1000).map(|i| format!("user-{i}")).collect();
    let mut g = c.benchmark_group("partition a key of ~8 bytes among 12");
    for (name, kind) in [
        ("default (murmur2)", PartitionerKind::Default),
        ("consistent_random (crc32)", PartitionerKind::ConsistentRandom),
        ("fnv1a", PartitionerKind::Fnv1a),
        ("round_robin", PartitionerKind::RoundRobin),
    ] {
        let p = BuiltinPartitioner::new(kind, false);
        let mut i = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % keys.len();
                p.partition("t", Some(keys[i].as_bytes()), 12)
            });
        });
    }
    g.finish();
}

criterion_group!(benches, partitioners);
criterion_main!(benches);
