#!/usr/bin/env python3
"""kafka-python through the same workload as `volley perf`; prints the same JSON.

Driven as its documentation recommends for throughput: send() returns a future and is not
awaited one at a time; callbacks record latency; flush() at the end. Keys use kafka-python's
default partitioner, which is Java's murmur2.
"""
import argparse
import json
import random
import resource
import time

from kafka import KafkaProducer


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap-servers", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--num-records", type=int, required=True)
    p.add_argument("--record-size", type=int, required=True)
    p.add_argument("--keys", type=int, default=0)
    p.add_argument("--throughput", type=int, default=-1)
    p.add_argument("-X", action="append", default=[])
    a = p.parse_args()
    conf = {}
    for x in a.X:
        k, v = x.split("=", 1)
        k = k.replace(".", "_")
        if k in ("batch_size", "linger_ms", "retries", "max_in_flight_requests_per_connection"):
            v = int(v)
        elif k == "acks":
            v = v if v == "all" else int(v)
        elif k == "enable_idempotence":
            v = v == "true"
        elif k == "compression_type" and v == "none":
            v = None
        conf[k] = v
    rnd = random.Random(0)
    payload = bytes(65 + rnd.randrange(26) for _ in range(a.record_size))
    keys = [f"key-{i}".encode() for i in range(a.keys)]
    producer = KafkaProducer(bootstrap_servers=a.bootstrap_servers, **conf)
    lat = []
    failed = [0]

    def ok(sent_at):
        return lambda _md: lat.append(time.perf_counter() - sent_at)

    def bad(_e):
        failed[0] += 1

    cpu0 = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
    start = time.perf_counter()
    for i in range(a.num_records):
        if a.throughput > 0:
            due = start + i / a.throughput
            now = time.perf_counter()
            if due > now:
                time.sleep(due - now)
        key = keys[i % len(keys)] if keys else None
        producer.send(a.topic, value=payload, key=key).add_callback(ok(time.perf_counter())).add_errback(bad)
    producer.flush()
    elapsed = time.perf_counter() - start
    cpu = sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - cpu0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    lat.sort()
    q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))] * 1000 if lat else 0.0
    n = len(lat)
    print(json.dumps({
        "records": n, "failed": failed[0], "seconds": round(elapsed, 3),
        "records_per_sec": round(n / elapsed, 1), "mb_per_sec": round(n * a.record_size / elapsed / 1048576, 3),
        "latency_ms": {"avg": sum(lat) / n * 1000 if n else 0, "p50": q(0.5), "p95": q(0.95), "p99": q(0.99), "p999": q(0.999), "max": q(1.0)},
        "peak_rss_bytes": rss, "cpu_seconds": round(cpu, 3), "cpu_seconds_per_million": round(cpu / n * 1e6, 3) if n else 0,
    }))


if __name__ == "__main__":
    main()
