#!/usr/bin/env python3
"""Transactional throughput (issue 17): Volley's `volley perf --transactional-id` against the
Java producer (`bench/java/VolleyJavaPerf.java`, `initTransactions` / `beginTransaction` /
`commitTransaction`), on one Apache Kafka 4.4 node from the project's launcher, with
transactions of N records (N = 1,000 and 10,000), runs interleaved client by client.

    bench/transactions [--runs 3] [--records 200000] [--sizes 100]

Both clients: acks=all, idempotent (a transactional id implies it), batch.size 64 KiB,
linger.ms 5, no compression, 100-byte distinct click-event values (bench/payloads.py),
keys key-0..key-999, a new 6-partition topic per measurement, read back read_committed by
librdkafka after the first run of each cell. Prints a markdown table of medians.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as common  # noqa: E402  (bench/run.py: the drivers, the Kafka launcher, payloads)

WORKLOAD = {"acks": "all", "enable.idempotence": "true", "compression.type": "none"}


def measure(client, bootstrap, n, size, per_txn, payloads):
    topic = f"txn-bench-{uuid.uuid4().hex[:10]}"
    common.create_topic(bootstrap, topic)
    txn = ["--transactional-id", f"bench-{client}-{uuid.uuid4().hex[:8]}", "--transaction-records", str(per_txn)]
    args = ["--bootstrap-servers", bootstrap, "--topic", topic, "--num-records", str(n), "--keys", "1000",
            "--payload-file", payloads, *txn]
    xs = sum((["-X", p] for p in common.props(WORKLOAD)), [])
    if client == "volley":
        cmd = [common.VOLLEY, "perf", *args, *xs, "--json"]
    else:
        cmd = ["java", "-Xmx1g", "-cp", f"{common.JAVA_BENCH}:{common.KAFKA_LIB}/*", "VolleyJavaPerf", *args, *xs]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise SystemExit(f"{client} failed: {out.stderr.strip()[-400:]}")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return topic, r


def read_committed(bootstrap, topic, n):
    out = subprocess.run([common.PY, common.READER, "read", bootstrap, topic, str(n), "read_committed"],
                         capture_output=True, text=True, timeout=600, check=True)
    return len(out.stdout.splitlines())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--per-txn", default="1000,10000")
    ap.add_argument("--size", type=int, default=100)
    a = ap.parse_args()
    os.makedirs(common.JAVA_BENCH, exist_ok=True)
    subprocess.run(["javac", "-cp", common.KAFKA_LIB + "/*", "-d", common.JAVA_BENCH,
                    os.path.join(common.ROOT, "bench/java/VolleyJavaPerf.java")], check=True)
    payloads = common.payload_file(a.size, "distinct")
    kafka = common.Kafka(0)
    rows = []
    try:
        bs = kafka.addr
        measure("volley", bs, 20_000, a.size, 1000, payloads)  # warm the broker, discarded
        for per_txn in [int(x) for x in a.per_txn.split(",")]:
            results = {"volley": [], "java": []}
            for run in range(a.runs):
                for client in ("volley", "java"):
                    topic, r = measure(client, bs, a.records, a.size, per_txn, payloads)
                    if r.get("failed"):
                        raise SystemExit(f"{client} failed {r['failed']} records: {r}")
                    if run == 0:
                        got = read_committed(bs, topic, a.records)
                        if got != a.records:
                            raise SystemExit(f"{client}: read_committed found {got} of {a.records} records")
                    results[client].append(r)
                    print(f"N={per_txn} run {run + 1} {client}: {r['records_per_sec']:.0f} records/s, "
                          f"{r['cpu_seconds_per_million']:.2f} CPU s/M, {r.get('transactions')} transactions",
                          file=sys.stderr)
                    common.delete_topic(bs, topic)
            for client in ("volley", "java"):
                rs = results[client]
                rps = [x["records_per_sec"] for x in rs]
                cpu = [x["cpu_seconds_per_million"] for x in rs]
                rows.append((per_txn, client, statistics.median(rps), min(rps), max(rps), statistics.median(cpu),
                             min(cpu), max(cpu), rs[0].get("transactions")))
    finally:
        kafka.stop()
    print(f"\n**Transactions of N records, {a.records:,} {a.size}-byte distinct values, acks=all, "
          f"idempotent, no compression, one Apache Kafka node**, median [min–max] of {a.runs} runs\n")
    print("| N | client | records/s | CPU s per 1M records | transactions per run |")
    print("|---|---|---|---|---|")
    for per_txn, client, rps, rlo, rhi, cpu, clo, chi, txns in rows:
        print(f"| {per_txn:,} | {client} | {rps:,.0f} [{rlo:,.0f}–{rhi:,.0f}] | {cpu:.2f} [{clo:.2f}–{chi:.2f}] | {txns} |")


if __name__ == "__main__":
    main()
