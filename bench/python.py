#!/usr/bin/env python3
"""The Python clients compared (issue 16): Volley's KafkaProducer, kafka-python and
confluent-kafka against one Apache Kafka node started here, runs interleaved, a fresh
topic (--partitions) per measurement; prints one line per run and a Markdown
table of medians [min-max]. Run by bench/python (which builds the release wheel).

    bench/python.py --python VENV_PYTHON --reader READER_PYTHON --kafka VOLLEY_KAFKA
                    [--runs 3] [--records 300000] [--partitions 6] [--clients volley,kafka-python,confluent-kafka]
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", required=True)
    ap.add_argument("--reader", required=True)
    ap.add_argument("--kafka", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--records", type=int, default=300_000)
    ap.add_argument("--partitions", type=int, default=6)
    ap.add_argument("--keys", type=int, default=1000)
    ap.add_argument("--clients", default="volley,kafka-python,confluent-kafka")
    ap.add_argument("--futures-only", action="store_true",
                    help="Volley and kafka-python keep each record's future and register no callback "
                         "(confluent-kafka keeps its on_delivery: it has no futures)")
    a = ap.parse_args()
    clients = a.clients.split(",")
    payloads = Path(tempfile.mkdtemp()) / "payloads-100.txt"
    subprocess.run([sys.executable, str(ROOT / "bench/payloads.py"), "100", "10000", str(payloads)], check=True)
    kafka = subprocess.Popen([a.kafka], stdout=subprocess.PIPE, text=True)
    bootstrap = kafka.stdout.readline().strip() if kafka.stdout else ""
    results = {c: [] for c in clients}
    try:
        for run in range(a.runs):
            for c in clients:
                topic = f"bench-py-{uuid.uuid4().hex[:10]}"
                subprocess.run([a.reader, str(ROOT / "scripts/reader.py"), "create", bootstrap, topic,
                                str(a.partitions), "1"], check=True)
                out = subprocess.run([a.python, str(ROOT / "bench/python_clients.py"), c, bootstrap, topic,
                                      str(payloads), str(a.records), str(a.keys),
                                      "futures" if a.futures_only else "callbacks"],
                                     check=True, capture_output=True, text=True, timeout=1200)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"run {run + 1} {c}: {r['records_per_s']:,.0f} records/s, "
                      f"{r['cpu_s_per_million']:.2f} CPU s per 1M records, {r['failed']} failed", flush=True)
                results[c].append(r)
    finally:
        kafka.send_signal(signal.SIGINT)
        kafka.wait(60)

    def fmt(xs, f):
        return f"{f(statistics.median(xs))} [{f(min(xs))}–{f(max(xs))}]"

    print()
    print("| client | records/s | CPU s per 1M records | failed |")
    print("|---|---|---|---|")
    for c in clients:
        rs = results[c]
        print(f"| {c} | {fmt([r['records_per_s'] for r in rs], lambda x: f'{x:,.0f}')} | "
              f"{fmt([r['cpu_s_per_million'] for r in rs], lambda x: f'{x:.2f}')} | {sum(r['failed'] for r in rs)} |")


if __name__ == "__main__":
    main()
