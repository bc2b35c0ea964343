#!/usr/bin/env python3
"""The independent reader: librdkafka (confluent-kafka) reads back what Volley wrote.

Commands (BOOTSTRAP is host:port):
  create BOOTSTRAP TOPIC PARTITIONS [RF] [KEY=VALUE...]
                                        create a topic (AdminClient); RF 1 unless given,
                                        -1 for the broker's default.replication.factor;
                                        KEY=VALUE are topic configs
  add-partitions BOOTSTRAP TOPIC TOTAL  grow the topic to TOTAL partitions
  delete BOOTSTRAP TOPIC                delete the topic
  alter-config BOOTSTRAP TOPIC KEY=VALUE...
                                        set topic configs (incremental, SET)
  elect-preferred BOOTSTRAP TOPIC       move each partition's leadership back to its
                                        preferred replica (no error if it already leads)
  describe BOOTSTRAP TOPIC              print {"partition": {"leader", "replicas", "isr"}}
  read BOOTSTRAP TOPIC COUNT [ISOLATION]
                                        print every record as a JSON line (base64 bytes);
                                        ISOLATION is read_committed (librdkafka's default:
                                        records of aborted or open transactions are skipped)
                                        or read_uncommitted
  placement BOOTSTRAP TOPIC PARTITIONS  keys on stdin (one base64 key a line): print the
                                        partition librdkafka's murmur2_random gives each,
                                        found by producing probes to TOPIC
  watermarks BOOTSTRAP TOPIC             one JSON line per partition: {"p": N, "committed": the last
                                        stable offset (what read_committed sees), "high": the
                                        high watermark}; committed < high while a transaction
                                        with records in that partition is open
  check-placement BOOTSTRAP TOPIC COUNT read the topic back: record count, and the keys not
                                        on librdkafka's murmur2_random partition
  verify BOOTSTRAP TOPIC INPUT KEYFIELD check a `volley produce --key-field` run: every input
                                        line exactly once, byte-identical, per-key order,
                                        on librdkafka's murmur2_random partition
  add-scram BOOTSTRAP USER PASSWORD    add SCRAM-SHA-256 and SCRAM-SHA-512 credentials (4096
                                        iterations) for USER
  allow BOOTSTRAP PRINCIPAL TOPIC OP...  add ALLOW ACLs (e.g. WRITE, DESCRIBE) for PRINCIPAL
                                        (User:bob) on TOPIC, from any host
  allow-transactional-id BOOTSTRAP PRINCIPAL ID OP...
                                        the same on a transactional id
Batch CRCs are checked (check.crcs=true). Exit status 0 = success.
VOLLEY_READER_CONFIG (a JSON object) is added to every client's configuration: the
connection options of a secured listener (security.protocol, ssl.*, sasl.*).
"""
import base64
import json
import os
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, KafkaException, TopicPartition
from confluent_kafka import Consumer as _Consumer, Producer as _Producer
from confluent_kafka.admin import AdminClient as _AdminClient, NewTopic

_EXTRA = json.loads(os.environ.get("VOLLEY_READER_CONFIG") or "{}")


def Consumer(conf):
    return _Consumer({**conf, **_EXTRA})


def Producer(conf):
    return _Producer({**conf, **_EXTRA})


def AdminClient(conf):
    return _AdminClient({**conf, **_EXTRA})


def add_scram(bootstrap, user, password):
    from confluent_kafka.admin import ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion
    admin = AdminClient({"bootstrap.servers": bootstrap})
    # One request per mechanism: the broker refuses two alterations of a user in one.
    for m in (ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512):
        up = UserScramCredentialUpsertion(user, ScramCredentialInfo(m, 4096), password.encode())
        for f in admin.alter_user_scram_credentials([up]).values():
            f.result(timeout=30)


def allow(bootstrap, principal, topic, *ops, resource="TOPIC"):
    from confluent_kafka.admin import (AclBinding, AclOperation, AclPermissionType, ResourcePatternType,
                                       ResourceType)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    bindings = [AclBinding(ResourceType[resource], topic, ResourcePatternType.LITERAL, principal, "*",
                           AclOperation[op.upper()], AclPermissionType.ALLOW) for op in ops]
    for f in admin.create_acls(bindings).values():
        f.result(timeout=30)


IDLE_SECONDS = 10.0


def b64(b):
    return None if b is None else base64.b64encode(b).decode()


def create(bootstrap, topic, partitions, rf="1", *configs):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    config = dict(c.split("=", 1) for c in configs)
    fut = admin.create_topics([NewTopic(topic, num_partitions=int(partitions), replication_factor=int(rf), config=config)])
    for f in fut.values():
        f.result(timeout=30)
    wait_writable(bootstrap, topic, int(partitions))


def wait_writable(bootstrap, topic, partitions, timeout=30.0):
    """Returns once every partition's leader serves it (a ListOffsets answered). Apache
    Kafka names a new partition's leader in Metadata a moment before the leader serves it;
    an acks=0 batch sent in that moment is answered by closing the connection, which loses
    every acks=0 request behind it on that connection (they were already resolved)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "volley-reader-ready", "enable.auto.commit": False})
    try:
        deadline = time.time() + timeout
        for p in range(partitions):
            while True:
                try:
                    c.get_watermark_offsets(TopicPartition(topic, p), timeout=5, cached=False)
                    break
                except KafkaException:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.05)
    finally:
        c.close()


def admin_command(cmd, bootstrap, topic, *rest):
    """The admin operations of the Kafka test clusters (volley-testkit's kafka_admin)."""
    from confluent_kafka import ElectionType, TopicCollection
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, NewPartitions, ResourceType
    admin = AdminClient({"bootstrap.servers": bootstrap})
    if cmd == "add-partitions":
        for f in admin.create_partitions([NewPartitions(topic, int(rest[0]))]).values():
            f.result(timeout=30)
    elif cmd == "delete":
        for f in admin.delete_topics([topic], operation_timeout=30).values():
            f.result(timeout=30)
    elif cmd == "alter-config":
        entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
                   for k, v in (c.split("=", 1) for c in rest)]
        res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=entries)
        for f in admin.incremental_alter_configs([res]).values():
            f.result(timeout=30)
    elif cmd == "alter-cluster-config":
        # Dynamic broker configs on every broker of the cluster: KEY=VALUE sets, KEY= deletes
        # the override. (librdkafka's ConfigResource needs a broker id: no cluster default.)
        entries = [ConfigEntry(k, v or None, incremental_operation=AlterConfigOpType.SET if v
                               else AlterConfigOpType.DELETE)
                   for k, v in (c.split("=", 1) for c in rest)]
        brokers = admin.list_topics(timeout=30).brokers
        for b in brokers:  # one BROKER resource per call
            res = ConfigResource(ResourceType.BROKER, str(b), incremental_configs=entries)
            for f in admin.incremental_alter_configs([res]).values():
                f.result(timeout=30)
    elif cmd in ("describe", "elect-preferred"):
        desc = admin.describe_topics(TopicCollection([topic]))[topic].result(timeout=30)
        if cmd == "describe":
            print(json.dumps({str(p.id): {"leader": p.leader.id if p.leader else -1,
                                          "replicas": [r.id for r in p.replicas],
                                          "isr": [r.id for r in p.isr]} for p in desc.partitions}))
            return
        parts = [TopicPartition(topic, p.id) for p in desc.partitions]
        result = admin.elect_leaders(ElectionType.PREFERRED, parts).result(timeout=30)
        for tp, err in result.items():
            # ELECTION_NOT_NEEDED (84): the preferred replica already leads.
            if err is not None and err.code() != 84:
                raise SystemExit(f"reader: preferred election of {tp.topic}-{tp.partition}: {err}")


def partitions_of(consumer, topic):
    md = consumer.list_topics(topic, timeout=30)
    t = md.topics.get(topic)
    if t is None or t.error is not None:
        raise SystemExit(f"reader: topic {topic} not found: {t.error if t else 'missing'}")
    return sorted(t.partitions.keys())


def consume(bootstrap, topic, count, isolation="read_committed"):
    """Yields every message of the topic; stops after COUNT or when idle."""
    if isolation not in ("read_committed", "read_uncommitted"):
        raise SystemExit(f"reader: unknown isolation level {isolation}")
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "isolation.level": isolation,
        "group.id": "volley-reader",
        "enable.auto.commit": False,
        "check.crcs": True,
        "fetch.max.bytes": 52428800,
        "max.partition.fetch.bytes": 10485760,
        "receive.message.max.bytes": 104857600,
    })
    parts = partitions_of(c, topic)
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    n = 0
    last = time.monotonic()
    try:
        while n < count and time.monotonic() - last < IDLE_SECONDS:
            msgs = c.consume(num_messages=10000, timeout=0.5)
            for m in msgs:
                if m.error():
                    if m.error().code() == -191:  # partition EOF
                        continue
                    raise SystemExit(f"reader: error: {m.error()}")
                n += 1
                last = time.monotonic()
                yield m
    finally:
        c.close()


def read(bootstrap, topic, count, isolation="read_committed"):
    out = sys.stdout
    for m in consume(bootstrap, topic, int(count), isolation):
        ts_type, ts = m.timestamp()
        out.write(json.dumps({
            "p": m.partition(), "o": m.offset(), "k": b64(m.key()), "v": b64(m.value()),
            "h": [[k, b64(v)] for k, v in (m.headers() or [])], "ts": ts, "tst": ts_type,
        }) + "\n")


def watermarks(bootstrap, topic):
    """librdkafka's ListOffsets under each isolation level: the last stable offset and the
    high watermark of every partition."""
    ends = {}
    for isolation in ("read_committed", "read_uncommitted"):
        c = Consumer({"bootstrap.servers": bootstrap, "isolation.level": isolation,
                      "group.id": "volley-reader", "enable.auto.commit": False})
        try:
            for p in partitions_of(c, topic):
                _low, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=30, cached=False)
                ends.setdefault(p, {})[isolation] = high
        finally:
            c.close()
    for p in sorted(ends):
        print(json.dumps({"p": p, "committed": ends[p]["read_committed"], "high": ends[p]["read_uncommitted"]}))


def placement(bootstrap, topic, partitions, keys):
    """librdkafka's own murmur2_random placement, observed through delivery reports."""
    create(bootstrap, topic, partitions)
    p = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random", "linger.ms": 5})
    result = {}

    def report(err, msg, key):
        if err is not None:
            raise SystemExit(f"reader: probe failed: {err}")
        result[key] = msg.partition()

    for k in keys:
        p.produce(topic, key=k, value=b"probe", on_delivery=lambda e, m, k=k: report(e, m, k))
        p.poll(0)
    if p.flush(60) != 0:
        raise SystemExit("reader: probes not delivered")
    return result


def check_placement(bootstrap, topic, count):
    """Reads the topic back and checks that each key sits on librdkafka's murmur2_random
    partition (Java's placement); prints the record count and the keys placed elsewhere."""
    seen = {}
    n = 0
    for m in consume(bootstrap, topic, int(count)):
        n += 1
        if m.key() is not None:
            seen.setdefault(m.key(), set()).add(m.partition())
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "volley-reader"})
    parts = len(partitions_of(c, topic))
    c.close()
    want = placement(bootstrap, topic + "-probe", str(parts), list(seen))
    wrong = sorted(k.decode("utf-8", "replace") for k, ps in seen.items() if ps != {want[k]})
    print(json.dumps({"records": n, "keys": len(seen), "misplaced_keys": len(wrong), "examples": wrong[:5]}))


def verify(bootstrap, topic, input_path, key_field):
    lines = []
    with open(input_path, "rb") as f:
        for raw in f:
            if raw.endswith(b"\n"):
                raw = raw[:-1]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            lines.append(raw)
    def key_of(line):
        v = json.loads(line).get(key_field)
        if v is None:
            return None
        return v.encode() if isinstance(v, str) else json.dumps(v, separators=(",", ":")).encode()
    expected_keys = [key_of(line) for line in lines]
    want = {}
    for i, line in enumerate(lines):
        want.setdefault(line, []).append(i)
    seen_count = {}
    per_key_log = {}
    n = 0
    start = time.monotonic()
    part_count = None
    placements = {}
    for m in consume(bootstrap, topic, len(lines)):
        n += 1
        v = m.value()
        idxs = want.get(v)
        c = seen_count.get(v, 0)
        if idxs is None or c >= len(idxs):
            raise SystemExit(f"verify: unexpected or duplicated record at partition {m.partition()} offset {m.offset()}")
        idx = idxs[c]
        seen_count[v] = c + 1
        if m.key() != expected_keys[idx]:
            raise SystemExit(f"verify: key mismatch for input line {idx + 1}")
        per_key_log.setdefault(m.key(), []).append((m.partition(), m.offset(), idx))
        placements.setdefault(m.key(), set()).add(m.partition())
    if n != len(lines):
        raise SystemExit(f"verify: read {n} records, expected {len(lines)}")
    for k, recs in per_key_log.items():
        parts = {p for p, _, _ in recs}
        if len(parts) != 1 and k is not None:
            raise SystemExit(f"verify: key {k!r} is on several partitions {parts}")
        if k is not None:
            order = [idx for _, _, idx in sorted(recs)]
            if order != sorted(order):
                raise SystemExit(f"verify: per-key order broken for key {k!r}")
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "volley-reader"})
    part_count = len(partitions_of(c, topic))
    c.close()
    keys = [k for k in per_key_log if k is not None]
    probe = placement(bootstrap, f"{topic}-placement-probe", part_count, keys)
    wrong = [k for k in keys if placements[k] != {probe[k]}]
    if wrong:
        raise SystemExit(f"verify: {len(wrong)} keys not on librdkafka's murmur2_random partition, e.g. {wrong[0]!r}")
    print(json.dumps({
        "records": n, "distinct_keys": len(keys), "partitions": part_count,
        "exactly_once": True, "byte_identical": True, "per_key_order": True,
        "murmur2_random_placement": True, "seconds": round(time.monotonic() - start, 1),
    }))


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    cmd, args = argv[1], argv[2:]
    try:
        if cmd == "create":
            create(*args)
        elif cmd == "read":
            read(*args)
        elif cmd == "placement":
            bootstrap, topic, partitions = args
            keys = [base64.b64decode(line.strip()) for line in sys.stdin if line.strip()]
            res = placement(bootstrap, topic, partitions, keys)
            for k in keys:
                print(json.dumps({"k": b64(k), "p": res[k]}))
        elif cmd in ("add-partitions", "delete", "alter-config", "alter-cluster-config", "describe",
                     "elect-preferred"):
            admin_command(cmd, *args)
        elif cmd == "watermarks":
            watermarks(*args)
        elif cmd == "check-placement":
            check_placement(*args)
        elif cmd == "verify":
            verify(*args)
        elif cmd == "add-scram":
            add_scram(*args)
        elif cmd == "allow":
            allow(*args)
        elif cmd == "allow-transactional-id":
            allow(*args, resource="TRANSACTIONAL_ID")
        else:
            raise SystemExit(__doc__)
    except KafkaException as e:
        raise SystemExit(f"reader: {e}")


if __name__ == "__main__":
    main(sys.argv)
