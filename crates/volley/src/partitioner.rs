//! Partitioners: where a record goes.
//!
//! Keyed records use a hash of the key over ALL partitions of the topic (so a key keeps its
//! partition while the count is unchanged). Keyless records are "sticky": they stay on one
//! partition until about `batch.size` bytes went there, then move to another chosen at
//! random (KIP-794's uniform sticky partitioner, without the adaptive queue weighting).

use rand::Rng;

use crate::config::PartitionerKind;

/// Kafka's murmur2 (as `org.apache.kafka.common.utils.Utils.murmur2`), signed result.
#[must_use]
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    let mut h: u32 = SEED ^ (len as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition Java's default partitioner gives a key: `(murmur2 & 0x7fffffff) % n`.
#[must_use]
pub fn murmur2_partition(key: &[u8], partitions: u32) -> u32 {
    ((murmur2(key) as u32) & 0x7fff_ffff) % partitions.max(1)
}

/// FNV-1a (32-bit) as librdkafka computes it, signed.
#[must_use]
pub fn fnv1a(data: &[u8]) -> i32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in data {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h as i32
}

/// Chooses a partition for a record. Implement this for a custom partitioner.
pub trait Partitioner: Send + Sync + std::fmt::Debug {
    /// The partition for `key` among `partitions`, or `None` to leave a keyless record to
    /// the sticky partitioner. `partitions` is at least 1.
    fn partition(&self, topic: &str, key: Option<&[u8]>, partitions: u32) -> Option<u32>;
}

/// The built-in partitioners, by [`PartitionerKind`].
#[derive(Debug)]
pub struct BuiltinPartitioner {
    kind: PartitionerKind,
    ignore_keys: bool,
    round_robin: std::sync::atomic::AtomicU32,
}

impl BuiltinPartitioner {
    /// A built-in partitioner; `ignore_keys` is `partitioner.ignore.keys`.
    #[must_use]
    pub fn new(kind: PartitionerKind, ignore_keys: bool) -> Self {
        Self {
            kind,
            ignore_keys,
            round_robin: std::sync::atomic::AtomicU32::new(0),
        }
    }
}

impl Partitioner for BuiltinPartitioner {
    fn partition(&self, _topic: &str, key: Option<&[u8]>, n: u32) -> Option<u32> {
        use PartitionerKind as K;
        let key = if self.ignore_keys { None } else { key };
        match (self.kind, key) {
            (K::RoundRobin, _) => Some(self.round_robin.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % n),
            (K::Random, _) => Some(rand::thread_rng().gen_range(0..n)),
            (K::Default | K::Murmur2Random, Some(k)) | (K::Murmur2, Some(k)) => Some(murmur2_partition(k, n)),
            (K::Murmur2, None) => Some(murmur2_partition(b"", n)),
            (K::ConsistentRandom, Some(k)) if !k.is_empty() => Some(crc32fast::hash(k) % n),
            (K::Consistent, k) => Some(crc32fast::hash(k.unwrap_or_default()) % n),
            (K::Fnv1aRandom, Some(k)) | (K::Fnv1a, Some(k)) => Some(fnv1a(k).unsigned_abs() % n),
            (K::Fnv1a, None) => Some(fnv1a(b"").unsigned_abs() % n),
            (K::Default | K::Murmur2Random | K::ConsistentRandom | K::Fnv1aRandom, _) => None,
        }
    }
}

/// KIP-794 sticky choice for one topic's keyless records (uniform, or adaptive to how much
/// each partition has queued).
#[derive(Debug, Clone, Default)]
pub struct StickyPartition {
    current: Option<u32>,
    bytes: usize,
}

impl StickyPartition {
    /// The partition for the next keyless record of `size` bytes. Switches (randomly, to
    /// another partition when there is one) once `batch_size` bytes went to the current one.
    pub fn next(&mut self, partitions: u32, size: usize, batch_size: usize) -> u32 {
        self.next_among(partitions, &[], size, batch_size)
    }

    /// Like [`StickyPartition::next`], choosing only among `available` (ascending partition
    /// numbers, those with a leader: Java's `availablePartitionsForTopic`) when any of them
    /// is below `partitions`; among all partitions otherwise. A current partition that is no
    /// longer available is left at once.
    pub fn next_among(&mut self, partitions: u32, available: &[u32], size: usize, batch_size: usize) -> u32 {
        self.next_adaptive(partitions, available, size, batch_size, None)
    }

    /// Like [`StickyPartition::next_among`], with KIP-794's adaptive choice when `load` is
    /// given: `load(p)` is the number of batches queued for partition `p`, or `None` when
    /// `p` is unavailable (its oldest ready batch waited past `partitioner.availability.
    /// timeout.ms`). A switch skips unavailable partitions (unless all are) and picks
    /// partition `p` with a weight of `max_queued + 1 - queued(p)`, as Java's built-in
    /// partitioner does, so a partition whose broker drains slowly gets fewer records. With
    /// equal queues the choice is uniform among the others, as without `load`.
    pub fn next_adaptive(
        &mut self,
        partitions: u32,
        available: &[u32],
        size: usize,
        batch_size: usize,
        load: Option<&dyn Fn(u32) -> Option<usize>>,
    ) -> u32 {
        let n = partitions.max(1);
        let usable = &available[..available.partition_point(|&p| p < n)];
        let switch = match self.current {
            None => true,
            Some(p) => {
                p >= n || self.bytes >= batch_size.max(1) || (!usable.is_empty() && usable.binary_search(&p).is_err())
            }
        };
        if switch {
            let weighted = load.and_then(|load| weighted_choice(n, usable, load));
            self.current = Some(weighted.unwrap_or_else(|| self.uniform_choice(n, usable)));
            self.bytes = 0;
        }
        self.bytes += size;
        self.current.unwrap_or(0)
    }

    /// Another candidate than the current one, uniformly (the usable partitions, or all of
    /// them if none is usable).
    fn uniform_choice(&self, n: u32, usable: &[u32]) -> u32 {
        let count = candidate_count(n, usable);
        let prev = self.current.and_then(|p| {
            if usable.is_empty() {
                (p < n).then_some(p)
            } else {
                usable.binary_search(&p).ok().and_then(|i| u32::try_from(i).ok())
            }
        });
        let mut rng = rand::thread_rng();
        let index = match prev {
            Some(prev) if count > 1 => {
                let r = rng.gen_range(0..count - 1);
                if r >= prev {
                    r + 1
                } else {
                    r
                }
            }
            _ => rng.gen_range(0..count),
        };
        candidate(usable, index)
    }
}

/// How many partitions a switch chooses among: the usable ones, or all `n` if none is.
fn candidate_count(n: u32, usable: &[u32]) -> u32 {
    if usable.is_empty() {
        n
    } else {
        u32::try_from(usable.len()).unwrap_or(u32::MAX)
    }
}

/// The `i`-th candidate of [`candidate_count`]'s.
fn candidate(usable: &[u32], i: u32) -> u32 {
    if usable.is_empty() {
        i
    } else {
        usable[i as usize]
    }
}

/// KIP-794's weighted pick, or `None` when the queues give no preference (all equal).
fn weighted_choice(n: u32, usable: &[u32], load: &dyn Fn(u32) -> Option<usize>) -> Option<u32> {
    let count = candidate_count(n, usable);
    let live: Vec<(u32, usize)> = (0..count)
        .filter_map(|i| {
            let p = candidate(usable, i);
            load(p).map(|q| (p, q))
        })
        .collect();
    let max = live.iter().map(|&(_, q)| q).max()?;
    let min = live.iter().map(|&(_, q)| q).min().unwrap_or(max);
    if min == max && live.len() == count as usize {
        return None;
    }
    let total: usize = live.iter().map(|&(_, q)| max + 1 - q).sum();
    let mut r = rand::thread_rng().gen_range(0..total.max(1));
    for &(p, q) in &live {
        let w = max + 1 - q;
        if r < w {
            return Some(p);
        }
        r -= w;
    }
    live.last().map(|&(p, _)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_golden_values_from_kafka() {
        for (k, v) in [
            ("21", -973_932_308),
            ("foobar", -790_332_482),
            ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829),
            ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
            ("abc", 479_470_107),
        ] {
            assert_eq!(murmur2(k.as_bytes()), v, "{k}");
        }
    }

    #[test]
    fn librdkafka_partitioner_vectors() {
        for (k, crc, mm, fnv) in [
            ("", 0u32, 0x106e_08d9u32, 0x7ee3_623bu32),
            ("23456", 0xb1b4_51d7, 0x058d_780f, 0x27e6_f469),
            (
                "this is another string with more length to it perhaps",
                0xb015_0df7,
                0x4f77_03da,
                0x155e_3e5f,
            ),
            ("hejsan", 0xd077_037e, 0x5ec1_9395, 0x17b1_e27a),
        ] {
            let b = k.as_bytes();
            assert_eq!(crc32fast::hash(b), crc, "crc {k}");
            assert_eq!((murmur2(b) as u32) & 0x7fff_ffff, mm, "murmur2 {k}");
            assert_eq!(fnv1a(b).unsigned_abs(), fnv, "fnv1a {k}");
        }
    }

    #[test]
    fn empty_key_is_a_key_for_the_default_partitioner() {
        let p = BuiltinPartitioner::new(PartitionerKind::Default, false);
        assert_eq!(p.partition("t", Some(b""), 1000), Some(0x106e_08d9 % 1000));
        assert_eq!(p.partition("t", None, 1000), None);
        let c = BuiltinPartitioner::new(PartitionerKind::ConsistentRandom, false);
        assert_eq!(
            c.partition("t", Some(b""), 10),
            None,
            "librdkafka: empty key is keyless"
        );
        let i = BuiltinPartitioner::new(PartitionerKind::Default, true);
        assert_eq!(i.partition("t", Some(b"k"), 10), None);
    }

    #[test]
    fn sticky_switches_after_batch_size() {
        let mut s = StickyPartition::default();
        let first = s.next(6, 100, 1000);
        for _ in 0..9 {
            assert_eq!(s.next(6, 100, 1000), first);
        }
        assert_ne!(s.next(6, 100, 1000), first);
        let mut one = StickyPartition::default();
        for _ in 0..50 {
            assert_eq!(one.next(1, 500, 1000), 0);
        }
    }

    #[test]
    fn sticky_chooses_among_available_partitions() {
        let mut s = StickyPartition::default();
        for _ in 0..200 {
            // Every record switches (batch size 1): only 1 and 3 of 0..5 have a leader.
            let p = s.next_among(5, &[1, 3], 10, 1);
            assert!(p == 1 || p == 3, "{p}");
        }
        // A sticky partition that loses its leader is left at once, before its batch is full.
        let mut s = StickyPartition::default();
        let first = s.next_among(4, &[0, 1, 2, 3], 10, 1000);
        let others: Vec<u32> = (0..4).filter(|&p| p != first).collect();
        for _ in 0..20 {
            let p = s.next_among(4, &others, 10, 1000);
            assert_ne!(p, first);
            assert!(others.contains(&p));
        }
        // Available partitions beyond the count in use are ignored; none usable means all.
        let mut s = StickyPartition::default();
        let mut seen = [false; 3];
        for _ in 0..300 {
            seen[s.next_among(3, &[7], 10, 1) as usize] = true;
        }
        assert_eq!(seen, [true; 3]);
        // One available partition: it every time.
        let mut s = StickyPartition::default();
        for _ in 0..20 {
            assert_eq!(s.next_among(2, &[0], 10, 1), 0);
        }
    }

    #[test]
    fn round_robin_cycles() {
        let p = BuiltinPartitioner::new(PartitionerKind::RoundRobin, false);
        let v: Vec<_> = (0..6).map(|_| p.partition("t", Some(b"k"), 3).unwrap()).collect();
        assert_eq!(v, vec![0, 1, 2, 0, 1, 2]);
    }

    /// KIP-794: a switch weighs partitions by `max_queued + 1 - queued`, skips unavailable
    /// ones, and falls back to the uniform choice when the queues are equal.
    #[test]
    fn adaptive_choice_follows_the_queues() {
        let mut s = StickyPartition::default();
        let queues = [0usize, 10, 10, 10];
        let load = |p: u32| Some(queues[p as usize]);
        let mut counts = [0u32; 4];
        for _ in 0..4000 {
            counts[s.next_adaptive(4, &[], 10, 1, Some(&load)) as usize] += 1;
        }
        // Weights 11, 1, 1, 1: partition 0 takes about 11/14 of the switches.
        assert!(counts[0] > 2800 && counts[0] < 3500, "{counts:?}");
        assert!(counts[1] > 100 && counts[1] < 450, "{counts:?}");
        // An unavailable partition takes nothing, however short its queue.
        let load = |p: u32| if p == 0 { None } else { Some(queues[p as usize]) };
        for _ in 0..500 {
            assert_ne!(s.next_adaptive(4, &[], 10, 1, Some(&load)), 0);
        }
        // Equal queues: uniform, and never the same partition twice in a row.
        let load = |_: u32| Some(3);
        let mut prev = s.next_adaptive(4, &[], 10, 1, Some(&load));
        for _ in 0..200 {
            let p = s.next_adaptive(4, &[], 10, 1, Some(&load));
            assert_ne!(p, prev);
            prev = p;
        }
        // Only available partitions are weighed.
        let load = |p: u32| Some(if p == 1 { 0 } else { 50 });
        for _ in 0..200 {
            let p = s.next_adaptive(4, &[2, 3], 10, 1, Some(&load));
            assert!(p == 2 || p == 3, "{p}");
        }
    }
}
