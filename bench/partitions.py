#!/usr/bin/env python3
"""Many partitions, side by side (issue 18): the same workload on topics of 6, 1,000 and
10,000 partitions and on 10 topics of 100, against one Apache Kafka node started here.

Every client runs the same records (distinct 100-byte values from bench/payloads.py, 10,000
keys, acks=all, idempotent, lz4, linger 5 ms, 64 KiB batches), interleaved run by run (the
order rotates), on a fresh topic each time; the table gives medians [min-max]. A last part
paces every client at half of Volley's median 1,000-partition rate and compares p99 latency.

    bench/partitions --runs 5 [--clients volley,librdkafka,java,franz-go] [--layouts 6x1,1000x1,100x10]
"""

import argparse
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402  (bench/run.py: drivers, broker, payloads)

WORKLOAD = {"acks": "all", "enable.idempotence": "true", "compression.type": "lz4"}
LAYOUTS = "6x1,1000x1,100x10,10000x1"


def create_topics(bootstrap, base, partitions, count):
    """KRaft refuses a topic of more than about 10,000 records in one creation: larger
    topics are created at 5,000 partitions and grown."""
    names = [base if count == 1 else f"{base}-{k}" for k in range(count)]
    for t in names:
        subprocess.run([bench.PY, bench.READER, "create", bootstrap, t, str(min(partitions, 5000)), "1"],
                       check=True, capture_output=True)
        if partitions > 5000:
            subprocess.run([bench.PY, bench.READER, "add-partitions", bootstrap, t, str(partitions)],
                           check=True, capture_output=True)
    return names


def delete_topics(bootstrap, names):
    for t in names:
        bench.delete_topic(bootstrap, t)


def cell(vals, digits=0):
    return bench.fmt(vals, digits)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--clients", default="volley,librdkafka")
    ap.add_argument("--layouts", default=LAYOUTS, help="PARTITIONSxTOPICS, comma-separated")
    ap.add_argument("--latency-records", type=int, default=500_000)
    ap.add_argument("--latency-rate", type=int, default=0,
                    help="records/s of the latency part (default: half of Volley's 1,000-partition median here)")
    ap.add_argument("--records-10k", type=int, default=200_000,
                    help="records of the layouts with 10,000 partitions or more (Kafka takes ~0.2 ms per batch)")
    a = ap.parse_args()
    clients = a.clients.split(",")
    if any(c in clients for c in ("java", "franz-go")):
        bench.build_peers()
    values = bench.payload_file(100, "distinct")
    layouts = [tuple(int(x) for x in l.split("x")) for l in a.layouts.split(",") if l]
    results = {}
    kafka = bench.Kafka(0)
    print(f"kafka: {kafka.addr}", file=sys.stderr, flush=True)
    warm = create_topics(kafka.addr, "parts-warm-up", 6, 1)
    bench.run_client("volley", kafka.addr, warm[0], a.records, 100, WORKLOAD, payloads=values)
    delete_topics(kafka.addr, warm)
    serial = 0
    for parts, count in layouts:
        for run in range(a.runs):
            order = clients[run % len(clients):] + clients[:run % len(clients)]
            for client in order:
                serial += 1
                names = create_topics(kafka.addr, f"parts-{parts}x{count}-{serial}", parts, count)
                cpu0 = kafka.cpu()
                n = a.records_10k if parts * count >= 10_000 else a.records
                r = bench.run_client(client, kafka.addr, ",".join(names), n, 100, WORKLOAD, payloads=values,
                                     keys=10_000)
                r["broker_cpu_per_million"] = (kafka.cpu() - cpu0) / max(r.get("records", 0), 1) * 1e6
                delete_topics(kafka.addr, names)
                results.setdefault((parts, count, client), []).append(r)
                status = r.get("cannot") or (f"{r['records_per_sec']:,.0f} rec/s, {r['cpu_seconds_per_million']:.2f} "
                                             f"CPU s/M, p99 {r['latency_ms']['p99']:.0f} ms, failed {r.get('failed', 0)}")
                print(f"{parts}x{count} run {run + 1} {client}: {status}", file=sys.stderr, flush=True)
    # Latency at half of Volley's median rate on the 1,000-partition topic.
    latency = {}
    vol = [r["records_per_sec"] for r in results.get((1000, 1, "volley"), []) if "cannot" not in r]
    half = a.latency_rate or (int(statistics.median(vol) / 2) if vol else 0)
    if half:
        for run in range(a.runs):
            for client in clients[run % len(clients):] + clients[:run % len(clients)]:
                serial += 1
                names = create_topics(kafka.addr, f"parts-latency-{serial}", 1000, 1)
                r = bench.run_client(client, kafka.addr, names[0], a.latency_records, 100, WORKLOAD,
                                     throughput=half, payloads=values, keys=10_000)
                delete_topics(kafka.addr, names)
                latency.setdefault(client, []).append(r)
                print(f"latency run {run + 1} {client} at {half} rec/s: "
                      f"{r.get('cannot') or r['latency_ms']['p99']} ms p99", file=sys.stderr, flush=True)
    kafka.stop()
    print(f"\n**Many partitions, Apache Kafka 4.4.0 (one node)**: {a.records:,} distinct 100-byte values, "
          f"10,000 keys, acks=all, idempotent, lz4, linger 5 ms, 64 KiB batches; median [min–max] of {a.runs} "
          "interleaved runs\n")
    print("| partitions × topics | client | records/s | CPU s per 1M records | p99 latency ms | peak RSS MiB | "
          "broker CPU s per 1M | failed |")
    print("|---|---|---|---|---|---|---|---|")
    for parts, count in layouts:
        for client in clients:
            rs = results.get((parts, count, client), [])
            ok = [r for r in rs if "cannot" not in r]
            if not ok:
                why = rs[0].get("cannot", "not run") if rs else "not run"
                print(f"| {parts:,} × {count} | {client} | {why} | | | | | |")
                continue
            print(f"| {parts:,} × {count} | {client} | {cell([r['records_per_sec'] for r in ok])} | "
                  f"{cell([r['cpu_seconds_per_million'] for r in ok], 2)} | "
                  f"{cell([r['latency_ms']['p99'] for r in ok])} | "
                  f"{cell([r['peak_rss_bytes'] / 2**20 for r in ok])} | "
                  f"{cell([r['broker_cpu_per_million'] for r in ok], 2)} | {sum(r.get('failed', 0) for r in ok)} |")
    if latency:
        print(f"\n**Latency at half of Volley's median 1,000-partition rate** ({half:,} records/s, "
              f"{a.latency_records:,} records, same settings)\n")
        print("| client | p50 ms | p99 ms | p99.9 ms | CPU s per 1M records |")
        print("|---|---|---|---|---|")
        for client in clients:
            ok = [r for r in latency.get(client, []) if "cannot" not in r]
            if not ok:
                continue
            print(f"| {client} | {cell([r['latency_ms']['p50'] for r in ok])} | "
                  f"{cell([r['latency_ms']['p99'] for r in ok])} | {cell([r['latency_ms']['p999'] for r in ok])} | "
                  f"{cell([r['cpu_seconds_per_million'] for r in ok], 2)} |")


if __name__ == "__main__":
    main()
