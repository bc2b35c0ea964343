#!/usr/bin/env python3
"""One Python client through one workload; prints one JSON line (records/s, CPU seconds per
million records, failures). Driven by bench/python.py, one process per measurement.

    python_clients.py CLIENT BOOTSTRAP TOPIC PAYLOADS N KEYS [callbacks|futures]

CLIENT: volley (volley.KafkaProducer: send() per record with add_both(callback), or with
the futures kept in "futures" mode; then flush), kafka-python (the same calls),
confluent-kafka (produce() + poll(0) per record, a delivery callback counting failures,
flush). Every client: acks=all, idempotence on, no compression,
linger 5 ms, 64 KiB batches, key i mod KEYS, value line i mod len(PAYLOADS) (distinct
100-byte JSON values from bench/payloads.py). CPU is the process's user+system time (the
clients' own I/O threads included) from the first send to the end of flush.
"""
import json
import resource
import sys
import time


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    client, bootstrap, topic, payloads, n, nkeys = sys.argv[1:7]
    # "callbacks" (the default): a callback per record in every client; "futures": Volley
    # and kafka-python keep futures only and count failures from them after flush().
    mode = sys.argv[7] if len(sys.argv) > 7 else "callbacks"
    n, nkeys = int(n), int(nkeys)
    with open(payloads, "rb") as f:
        values = [line.rstrip(b"\n") for line in f]
    keys = [b"key-%d" % i for i in range(nkeys)]
    nv = len(values)
    failed = 0
    if client in ("volley", "kafka-python"):
        if client == "volley":
            from volley import KafkaProducer
        else:
            from kafka import KafkaProducer  # type: ignore[no-redef]
        p = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, compression_type=None,
                          linger_ms=5, batch_size=65536)
        send = p.send
        errors = [0]

        def on_done(outcome):
            if isinstance(outcome, Exception):
                errors[0] += 1

        # A delivery callback called for every record in every client, as confluent-kafka's
        # on_delivery below: the same Python work per outcome for each.
        t0, c0 = time.perf_counter(), cpu()
        if mode == "futures":
            futures = [send(topic, values[i % nv], key=keys[i % nkeys]) for i in range(n)]
        else:
            for i in range(n):
                send(topic, values[i % nv], key=keys[i % nkeys]).add_both(on_done)
        p.flush()
        t1, c1 = time.perf_counter(), cpu()
        failed = errors[0] if mode != "futures" else sum(1 for f in futures if f.failed())
        p.close()
    elif client == "confluent-kafka":
        from confluent_kafka import Producer
        p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                      "compression.type": "none", "linger.ms": 5, "batch.size": 65536})
        errors = [0]

        def on_delivery(err, _msg):
            if err is not None:
                errors[0] += 1

        produce, poll = p.produce, p.poll
        t0, c0 = time.perf_counter(), cpu()
        for i in range(n):
            while True:
                try:
                    produce(topic, values[i % nv], keys[i % nkeys], on_delivery=on_delivery)
                    break
                except BufferError:  # librdkafka's queue is full: serve callbacks, retry
                    poll(0.01)
            poll(0)
        p.flush()
        t1, c1 = time.perf_counter(), cpu()
        failed = errors[0]
    else:
        raise SystemExit(f"unknown client {client}")
    print(json.dumps({"client": client, "records": n, "seconds": t1 - t0, "records_per_s": n / (t1 - t0),
                      "cpu_s_per_million": (c1 - c0) / n * 1e6, "failed": failed}))


if __name__ == "__main__":
    main()
