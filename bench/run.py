#!/usr/bin/env python3
"""The side-by-side comparison: the same workloads through Volley and its competitors,
interleaved run by run, against tansu (a fresh broker per measurement) and librdkafka's
mock cluster. Prints markdown tables of medians and ranges.

    bench/run [--runs N] [--brokers tansu,mock] [--records N] [--quick]

The client `volley-base` is another build of Volley, named by VOLLEY_BASE (a path to its
`volley` binary), measured in the same run to tell a regression from noise:

    VOLLEY_BASE=/path/to/old/volley bench/run --clients volley,volley-base,librdkafka
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = os.path.join(ROOT, ".volley/venv/bin/python")
TANSU = os.path.join(ROOT, ".volley/bin/tansu")
VOLLEY = os.path.join(ROOT, "target/release/volley")
COMPARE = os.path.join(ROOT, "bench/compare/target/release/volley-compare")
READER = os.path.join(ROOT, "scripts/reader.py")

COMMON = {"batch.size": "65536", "linger.ms": "5"}
WORKLOADS = [
    ("acks=all, idempotent, lz4", {"acks": "all", "enable.idempotence": "true", "compression.type": "lz4"}),
    ("acks=all, idempotent, none", {"acks": "all", "enable.idempotence": "true", "compression.type": "none"}),
    ("acks=1, not idempotent, none", {"acks": "1", "enable.idempotence": "false", "compression.type": "none"}),
    # Not one of the three: the only one rskafka (acks fixed at all, no idempotence) can run.
    ("acks=all, not idempotent, none", {"acks": "all", "enable.idempotence": "false", "compression.type": "none"}),
]
CLIENTS = "volley,librdkafka,confluent,krafka,rskafka,kafka-python"
SIZES = [100, 1024]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / 100.0


class Tansu:
    def __enter__(self):
        port = free_port()
        self.addr = f"127.0.0.1:{port}"
        self.p = subprocess.Popen([TANSU, "broker", "--listener-url", f"tcp://{self.addr}", "--advertised-listener-url", f"tcp://{self.addr}"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        return self

    def cpu(self):
        return proc_cpu(self.p.pid)

    def __exit__(self, *a):
        self.p.kill()
        self.p.wait()


class Mock:
    """librdkafka's mock cluster (3 brokers), hosted by volley-compare."""

    def __enter__(self):
        self.p = subprocess.Popen([COMPARE, "--client", "mock-cluster", "--bootstrap-servers", "-", "--topic", "-",
                                   "--num-records", "0", "--record-size", "0"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addr = self.p.stdout.readline().strip()
        return self

    def cpu(self):
        return proc_cpu(self.p.pid)

    def __exit__(self, *a):
        self.p.stdin.close()
        self.p.wait(timeout=10)


def props(workload):
    d = dict(COMMON)
    d.update(workload)
    return [f"{k}={v}" for k, v in d.items()]


def run_client(client, bootstrap, topic, n, size, workload, throughput=-1):
    args = ["--bootstrap-servers", bootstrap, "--topic", topic, "--num-records", str(n), "--record-size", str(size), "--keys", "1000",
            "--throughput", str(throughput)]
    xs = sum((["-X", p] for p in props(workload)), [])
    if client in ("volley", "volley-base"):
        binary = VOLLEY if client == "volley" else os.environ.get("VOLLEY_BASE")
        if not binary:
            raise SystemExit("the client volley-base needs VOLLEY_BASE=<path to a volley binary>")
        cmd = [binary, "perf", *args, *xs, "--json"]
    elif client in ("librdkafka", "confluent", "krafka", "rskafka"):
        cmd = [COMPARE, "--client", client, *args, *xs]
    elif client == "kafka-python":
        cmd = [PY, os.path.join(ROOT, "bench/kafka_python_perf.py"), *args, *xs]
    else:
        raise SystemExit(f"unknown client {client}")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["exit %d" % out.returncode])[-1]
        return {"cannot": last.removeprefix("cannot: ")[:160]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def create_topic(bootstrap, topic):
    subprocess.run([PY, READER, "create", bootstrap, topic, "6"], check=True, capture_output=True)


def check_placement(bootstrap, topic, n):
    """librdkafka reads the topic back: how many records arrived, and how many keys are not
    on Java's murmur2 partition."""
    out = subprocess.run([PY, READER, "check-placement", bootstrap, topic, str(n)], capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        return {"records": -1, "misplaced_keys": -1, "error": out.stderr.strip()[-160:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def fmt(vals, digits=0):
    if not vals:
        return "-"
    m = statistics.median(vals)
    f = f"{{:,.{digits}f}}"
    return f"{f.format(m)} [{f.format(min(vals))}–{f.format(max(vals))}]"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--brokers", default="tansu,mock")
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--python-records", type=int, default=100_000)
    ap.add_argument("--clients", default=CLIENTS)
    ap.add_argument("--workloads", default=",".join(str(i) for i in range(len(WORKLOADS))),
                    help="indexes into WORKLOADS, comma-separated")
    a = ap.parse_args()
    clients = a.clients.split(",")
    workloads = [WORKLOADS[int(i)] for i in a.workloads.split(",")]
    results = {}
    # A client that cannot talk to a broker at all is not run against it again.
    unreachable = {}
    for broker in a.brokers.split(","):
        for size in SIZES:
            for wname, w in workloads:
                for run in range(a.runs):
                    order = clients[run % len(clients):] + clients[:run % len(clients)]
                    for client in order:
                        n = a.python_records if client == "kafka-python" else a.records
                        key = (broker, size, wname, client)
                        if (broker, client) in unreachable:
                            results.setdefault(key, []).append(unreachable[(broker, client)])
                            continue
                        with (Tansu() if broker == "tansu" else Mock()) as b:
                            topic = f"bench-{client}-{size}-{run}"
                            if broker == "tansu":
                                create_topic(b.addr, topic)
                            else:
                                topic = "bench"
                            cpu0 = b.cpu()
                            r = run_client(client, b.addr, topic, n, size, w)
                            r["broker_cpu_per_million"] = (b.cpu() - cpu0) / max(r.get("records", 0), 1) * 1e6
                            if broker == "tansu" and run == 0 and "cannot" not in r:
                                r["read_back"] = check_placement(b.addr, topic, n)
                        if r.get("cannot", "").startswith(("connect:", "no delivery outcome")):
                            unreachable[(broker, client)] = r
                        results.setdefault(key, []).append(r)
                        status = r.get("cannot") or f"{r['records_per_sec']:,.0f} rec/s"
                        print(f"{broker} {size}B {wname} run {run + 1} {client}: {status}", file=sys.stderr, flush=True)
    # Latency at half of Volley's maximum throughput, on the mock cluster.
    latency = {}
    if "mock" in a.brokers.split(","):
        wname, w = WORKLOADS[1]
        vol = [r["records_per_sec"] for r in results.get(("mock", 100, wname, "volley"), []) if "cannot" not in r]
        if vol:
            half = int(statistics.median(vol) / 2)
            n = min(a.records, half * 10)
            for run in range(a.runs):
                for client in [c for c in clients if c not in ("kafka-python", "rskafka")]:
                    if ("mock", client) in unreachable:
                        latency.setdefault(client, []).append(unreachable[("mock", client)])
                        continue
                    with Mock() as b:
                        r = run_client(client, b.addr, "bench", n, 100, w, throughput=half)
                    latency.setdefault(client, []).append(r)
                    print(f"latency run {run + 1} {client} at {half} rec/s: {r.get('cannot') or r['latency_ms']['p99']} ms p99", file=sys.stderr, flush=True)
            latency["_rate"] = half
            latency["_n"] = n
    for broker in a.brokers.split(","):
        print(f"\n### Broker: {broker}\n")
        for size in SIZES:
            for wname, _ in workloads:
                print(f"\n**{size}-byte values, {wname}** ({a.records:,} records; kafka-python {a.python_records:,}), median [min–max] of {a.runs} runs\n")
                print("| client | records/s | MB/s | p99 latency ms | CPU s per 1M records | peak RSS MiB | broker CPU s per 1M | "
                      "Volley's records/s ratio | client's CPU ÷ Volley's | read back (run 1) |")
                print("|---|---|---|---|---|---|---|---|---|---|")
                vol_ok = [r for r in results.get((broker, size, wname, "volley"), []) if "cannot" not in r]
                vol = [r["records_per_sec"] for r in vol_ok]
                vol_cpu = [r["cpu_seconds_per_million"] for r in vol_ok]
                for client in clients:
                    rs = results.get((broker, size, wname, client), [])
                    bad = [r["cannot"] for r in rs if "cannot" in r]
                    ok = [r for r in rs if "cannot" not in r and r.get("failed", 0) == 0]
                    if bad and not ok:
                        print(f"| {client} | cannot: {bad[0]} | | | | | | | | |")
                        continue
                    rps = [r["records_per_sec"] for r in ok]
                    cpu = [r["cpu_seconds_per_million"] for r in ok]
                    ratio = f"{statistics.median(vol) / statistics.median(rps):.2f}×" if vol and rps and client != "volley" else ""
                    cpu_ratio = f"{statistics.median(cpu) / statistics.median(vol_cpu):.2f}×" if vol_cpu and cpu and client != "volley" else ""
                    rb = next((r["read_back"] for r in rs if "read_back" in r), None)
                    if rb is None:
                        back = "-"
                    elif rb.get("records", -1) < 0:
                        back = f"reader failed: {rb.get('error', '')}"
                    else:
                        back = f"{rb['records']:,} records, {rb['misplaced_keys']} keys misplaced"
                    print(f"| {client} | {fmt(rps)} | {fmt([r['mb_per_sec'] for r in ok], 1)} | {fmt([r['latency_ms']['p99'] for r in ok], 1)} | "
                          f"{fmt([r['cpu_seconds_per_million'] for r in ok], 2)} | {fmt([r['peak_rss_bytes'] / 1048576 for r in ok], 1)} | "
                          f"{fmt([r['broker_cpu_per_million'] for r in ok], 2)} | {ratio} | {cpu_ratio} | {back} |")
    if latency:
        print(f"\n### Latency at half of Volley's maximum throughput (mock cluster, 100-byte values, {WORKLOADS[1][0]}, "
              f"{latency['_rate']:,} records/s, {latency['_n']:,} records, linger.ms=5)\n")
        print("| client | p50 ms | p99 ms | p99.9 ms | max ms |")
        print("|---|---|---|---|---|")
        for client, rs in latency.items():
            if client.startswith("_"):
                continue
            ok = [r for r in rs if "cannot" not in r]
            if not ok:
                print(f"| {client} | cannot: {rs[0].get('cannot')} | | | |")
                continue
            print(f"| {client} | {fmt([r['latency_ms']['p50'] for r in ok], 2)} | {fmt([r['latency_ms']['p99'] for r in ok], 2)} | "
                  f"{fmt([r['latency_ms']['p999'] for r in ok], 2)} | {fmt([r['latency_ms']['max'] for r in ok], 2)} |")
    print()


if __name__ == "__main__":
    main()
