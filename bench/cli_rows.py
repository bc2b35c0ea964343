"""The CLI rows (issue 18): `volley produce --key-field user_id` on 1,000,000 JSON lines of
about 100 bytes (10,000 users), against `volley perf --payload-file` and librdkafka sending
the same lines as values with 10,000 keys, on one Apache Kafka node; interleaved, medians.

Called by bench/run.py with `--cli`. CPU of `volley produce` is the child's user+system time
(os.wait4), as the perf tools report their own.
"""

import os
import statistics
import subprocess
import sys
import time

import run as bench

WORKLOAD = {"acks": "all", "enable.idempotence": "true", "compression.type": "lz4"}


def events_file(n):
    path = os.path.join(bench.ROOT, f".volley/bench-events-100-{n}.txt")
    if not os.path.exists(path):
        sys.path.insert(0, os.path.join(bench.ROOT, "bench"))
        import payloads
        payloads.write_events(100, n, 10_000, path)
    return path


def run_produce(bootstrap, topic, path):
    """`volley produce`, reaped with os.wait4 for its own rusage."""
    xs = sum((["-X", p] for p in bench.props(WORKLOAD)), [])
    start = time.monotonic()
    p = subprocess.Popen([bench.VOLLEY, "produce", "--bootstrap-servers", bootstrap, "--topic", topic,
                          "--key-field", "user_id", *xs, path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    text = p.stdout.read().decode()
    _, status, ru = os.wait4(p.pid, 0)
    elapsed = time.monotonic() - start
    delivered = int(text.split("records: ")[1].split(" delivered")[0]) if "records: " in text else 0
    if os.waitstatus_to_exitcode(status) != 0 or delivered == 0:
        return {"cannot": f"exit {os.waitstatus_to_exitcode(status)}: {text.strip()[-160:]}"}
    return {"records": delivered, "records_per_sec": delivered / elapsed,
            "cpu_seconds_per_million": (ru.ru_utime + ru.ru_stime) / delivered * 1e6}


def cli_rows(runs, n=1_000_000):
    path = events_file(n)
    kafka = bench.Kafka(0)
    results = {}
    names = ["volley produce --key-field", "volley perf --payload-file", "librdkafka"]
    serial = 0
    for run in range(runs):
        for name in names[run % 3:] + names[:run % 3]:
            serial += 1
            topic = f"cli-{serial}"
            bench.create_topic(kafka.addr, topic, "-1")
            if name.startswith("volley produce"):
                r = run_produce(kafka.addr, topic, path)
            else:
                client = "volley" if name.startswith("volley perf") else "librdkafka"
                r = bench.run_client(client, kafka.addr, topic, n, 100, WORKLOAD, payloads=path, keys=10_000)
            bench.delete_topic(kafka.addr, topic)
            results.setdefault(name, []).append(r)
            print(f"cli run {run + 1} {name}: {r.get('cannot') or '%.2f CPU s/M' % r['cpu_seconds_per_million']}",
                  file=sys.stderr, flush=True)
    kafka.stop()
    print(f"\n**The CLI beside the library** ({n:,} JSON lines of about 100 bytes, 10,000 users; acks=all, "
          f"idempotent, lz4, linger 5 ms, 64 KiB batches; one Apache Kafka node; median [min–max] of {runs} runs)\n")
    print("| sender | records/s | CPU s per 1M records | CPU ÷ `volley perf`'s | CPU ÷ librdkafka's |")
    print("|---|---|---|---|---|")
    med = {k: statistics.median([r["cpu_seconds_per_million"] for r in v if "cannot" not in r] or [float("nan")])
           for k, v in results.items()}
    for name in names:
        ok = [r for r in results.get(name, []) if "cannot" not in r]
        if not ok:
            print(f"| {name} | {results[name][0].get('cannot')} | | | |")
            continue
        print(f"| {name} | {bench.fmt([r['records_per_sec'] for r in ok])} | "
              f"{bench.fmt([r['cpu_seconds_per_million'] for r in ok], 2)} | "
              f"{med[name] / med['volley perf --payload-file']:.2f} | {med[name] / med['librdkafka']:.2f} |")
