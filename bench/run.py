#!/usr/bin/env python3
"""The side-by-side comparison: the same workloads through Volley and its competitors,
interleaved run by run, against tansu (a fresh broker per measurement), librdkafka's mock
cluster, and Apache Kafka (`kafka`: one KRaft node; `kafka3`: three brokers and a
controller, RF=3, acks=all and idempotent workloads; one cluster for the whole run, a new
topic per measurement, deleted after it). Prints markdown tables of medians and ranges.

    bench/run [--runs N] [--brokers tansu,mock,kafka,kafka3] [--records N] [--payloads distinct,repeated]

Values: `repeated` is one buffer of random letters for every record (what Kafka's perf tool
and most benchmarks send); `distinct` is 10,000 different click-event JSON lines of the
size (bench/payloads.py), record i taking line i mod 10,000, in every client alike.

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
KAFKA_CLIENTS = "volley,librdkafka,java,franz-go"
KAFKA_LIB = os.path.join(ROOT, ".volley/kafka/lib")
JAVA_BENCH = os.path.join(ROOT, ".volley/java-bench")
FRANZ = os.path.join(ROOT, ".volley/bin/volley-franz")
KAFKA_LAUNCHER = os.path.join(ROOT, "target/release/volley-kafka")
# The three-broker cluster runs the durable workloads only (acks=all, idempotent).
KAFKA3_WORKLOADS = {WORKLOADS[0][0], WORKLOADS[1][0]}


def build_peers():
    """Compiles the Java driver and builds the franz-go driver (Go's caches in .volley/go)."""
    os.makedirs(JAVA_BENCH, exist_ok=True)
    subprocess.run(["javac", "-cp", KAFKA_LIB + "/*", "-d", JAVA_BENCH,
                    os.path.join(ROOT, "bench/java/VolleyJavaPerf.java")], check=True)
    env = dict(os.environ, GOPATH=os.path.join(ROOT, ".volley/go"), GOMODCACHE=os.path.join(ROOT, ".volley/go/mod"),
               GOFLAGS="-modcacherw", GOTOOLCHAIN="local")
    subprocess.run(["go", "build", "-o", FRANZ, "."], cwd=os.path.join(ROOT, "bench/franz"), env=env, check=True)


def payload_file(size, kind):
    """The values file of `distinct` payloads of `size` bytes, made once."""
    if kind != "distinct":
        return None
    path = os.path.join(ROOT, f".volley/bench-payloads-{size}.txt")
    if not os.path.exists(path):
        sys.path.insert(0, os.path.join(ROOT, "bench"))
        import payloads
        payloads.write(size, 10_000, path)
    return path


def tree_cpu(pid):
    """CPU seconds of a process and every descendant still running (the broker JVMs under
    the launcher)."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            total += proc_cpu(p)
        except OSError:
            pass
        todo.extend(children.get(p, []))
    return total


class Kafka:
    """Apache Kafka 4.x from the project's launcher: one node (`brokers=0`) or three brokers
    and a controller. Started once per bench run and kept."""

    def __init__(self, brokers):
        self.p = subprocess.Popen([KAFKA_LAUNCHER, "--brokers", str(brokers)], stdout=subprocess.PIPE, text=True)
        self.addr = self.p.stdout.readline().strip()
        if not self.addr:
            raise SystemExit("bench: the Kafka launcher did not start")

    def __enter__(self):
        return self

    def cpu(self):
        return tree_cpu(self.p.pid)

    def __exit__(self, *a):
        pass

    def stop(self):
        self.p.send_signal(2)
        self.p.wait(timeout=60)


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


def run_client(client, bootstrap, topic, n, size, workload, throughput=-1, payloads=None, keys=1000):
    args = ["--bootstrap-servers", bootstrap, "--topic", topic, "--num-records", str(n), "--keys", str(keys),
            "--throughput", str(throughput)]
    args += ["--payload-file", payloads] if payloads else ["--record-size", str(size)]
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
    elif client == "java":
        cmd = ["java", "-Xmx1g", "-cp", f"{JAVA_BENCH}:{KAFKA_LIB}/*", "VolleyJavaPerf", *args, *xs]
    elif client == "franz-go":
        cmd = [FRANZ, *args, *xs]
    else:
        raise SystemExit(f"unknown client {client}")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["exit %d" % out.returncode])[-1]
        return {"cannot": last.removeprefix("cannot: ")[:160]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def create_topic(bootstrap, topic, rf="1"):
    subprocess.run([PY, READER, "create", bootstrap, topic, "6", rf], check=True, capture_output=True)


def delete_topic(bootstrap, topic):
    subprocess.run([PY, READER, "delete", bootstrap, topic], check=True, capture_output=True)


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
    ap.add_argument("--clients", default=None,
                    help=f"comma-separated; default {CLIENTS} (tansu, mock), {KAFKA_CLIENTS} (kafka, kafka3)")
    ap.add_argument("--workloads", default=",".join(str(i) for i in range(len(WORKLOADS))),
                    help="indexes into WORKLOADS, comma-separated")
    ap.add_argument("--payloads", default="repeated", help="repeated, distinct, or both (comma-separated)")
    ap.add_argument("--records-1k", type=int, default=None,
                    help="records of the 1024-byte workloads (default: --records)")
    ap.add_argument("--cli", action="store_true",
                    help="only the CLI rows: volley produce --key-field beside volley perf and librdkafka (issue 18)")
    a = ap.parse_args()
    if a.cli:
        import cli_rows
        cli_rows.cli_rows(a.runs)
        return
    brokers = a.brokers.split(",")
    all_clients = (a.clients or (KAFKA_CLIENTS if all(b.startswith("kafka") for b in brokers) else CLIENTS)).split(",")
    if any(c in all_clients for c in ("java", "franz-go")):
        build_peers()
    workloads = [WORKLOADS[int(i)] for i in a.workloads.split(",")]
    kinds = a.payloads.split(",")
    results = {}
    # A client that cannot talk to a broker at all is not run against it again.
    unreachable = {}
    for broker in brokers:
        kafka = Kafka(0 if broker == "kafka" else 3) if broker.startswith("kafka") else None
        print(f"{broker}: {kafka.addr if kafka else 'a fresh broker per measurement'}", file=sys.stderr, flush=True)
        if kafka:
            # One discarded run first: the broker's own JIT warms up before anything is measured.
            create_topic(kafka.addr, "bench-warm-up", "-1")
            run_client("volley", kafka.addr, "bench-warm-up", a.records, 100, workloads[0][1])
            delete_topic(kafka.addr, "bench-warm-up")
        clients = [c for c in all_clients if not (broker.startswith("kafka") and c == "kafka-python")]
        for kind in kinds:
            for size in SIZES:
                values = payload_file(size, kind)
                for wname, w in workloads:
                    if broker == "kafka3" and wname not in KAFKA3_WORKLOADS:
                        continue
                    for run in range(a.runs):
                        order = clients[run % len(clients):] + clients[:run % len(clients)]
                        for client in order:
                            n = a.python_records if client == "kafka-python" else a.records
                            if size > 100 and a.records_1k and client != "kafka-python":
                                n = a.records_1k
                            key = (broker, kind, size, wname, client)
                            if (broker, client) in unreachable:
                                results.setdefault(key, []).append(unreachable[(broker, client)])
                                continue
                            with (kafka or (Tansu() if broker == "tansu" else Mock())) as b:
                                topic = f"bench-{client}-{kind}-{size}-{run}-{len(results)}"
                                if broker == "tansu":
                                    create_topic(b.addr, topic)
                                elif kafka:
                                    create_topic(b.addr, topic, "-1")
                                else:
                                    topic = "bench"
                                cpu0 = b.cpu()
                                r = run_client(client, b.addr, topic, n, size, w, payloads=values)
                                r["broker_cpu_per_million"] = (b.cpu() - cpu0) / max(r.get("records", 0), 1) * 1e6
                                if broker != "mock" and run == 0 and "cannot" not in r:
                                    r["read_back"] = check_placement(b.addr, topic, n)
                                if kafka:
                                    delete_topic(b.addr, topic)
                            if r.get("cannot", "").startswith(("connect:", "no delivery outcome")):
                                unreachable[(broker, client)] = r
                            results.setdefault(key, []).append(r)
                            status = r.get("cannot") or f"{r['records_per_sec']:,.0f} rec/s, {r['cpu_seconds_per_million']:.2f} CPU s/M"
                            print(f"{broker} {kind} {size}B {wname} run {run + 1} {client}: {status}", file=sys.stderr, flush=True)
        if kafka:
            kafka.stop()
    clients = all_clients
    # Latency at half of Volley's maximum throughput, on the mock cluster.
    latency = {}
    if "mock" in a.brokers.split(","):
        wname, w = WORKLOADS[1]
        vol = [r["records_per_sec"] for r in results.get(("mock", kinds[0], 100, wname, "volley"), []) if "cannot" not in r]
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
    for broker in brokers:
        print(f"\n### Broker: {broker}\n")
        for kind, size in ((k, z) for k in kinds for z in SIZES):
            for wname, _ in workloads:
                if not any(k[:4] == (broker, kind, size, wname) for k in results):
                    continue
                n = a.records_1k if size > 100 and a.records_1k else a.records
                print(f"\n**{size}-byte {kind} values, {wname}** ({n:,} records; kafka-python {a.python_records:,}), median [min–max] of {a.runs} runs\n")
                print("| client | records/s | MB/s | p99 latency ms | CPU s per 1M records | peak RSS MiB | broker CPU s per 1M | "
                      "Volley's records/s ratio | client's CPU ÷ Volley's | read back (run 1) |")
                print("|---|---|---|---|---|---|---|---|---|---|")
                vol_ok = [r for r in results.get((broker, kind, size, wname, "volley"), []) if "cannot" not in r]
                vol = [r["records_per_sec"] for r in vol_ok]
                vol_cpu = [r["cpu_seconds_per_million"] for r in vol_ok]
                for client in clients:
                    rs = results.get((broker, kind, size, wname, client), [])
                    if not rs:
                        continue
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
