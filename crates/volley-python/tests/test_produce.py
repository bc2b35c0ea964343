"""The producer against Apache Kafka, read back by librdkafka (scripts/reader.py)."""
import json
import logging
import subprocess
import textwrap
import threading
import time
import uuid

import pytest

from volley import JsonSerializer, KafkaProducer, RecordMetadata, TopicPartition, errors


def test_callbacks_in_completion_order_over_10000_records(bootstrap, reader, topic):
    n = 10_000
    seen = []
    failed = []
    threads = set()

    def ok(i, meta):
        threads.add(threading.get_native_id())
        seen.append((i, meta.offset))

    p = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    futures = []
    for i in range(n):
        f = p.send(topic, value=b"%d" % i)
        f.add_callback(ok, i).add_errback(failed.append)
        futures.append(f)
    p.flush()
    # flush() returns once every callback has run; no poll() anywhere.
    assert failed == []
    assert [i for i, _ in seen] == list(range(n))
    assert [o for _, o in seen] == sorted(o for _, o in seen)
    # One callback thread; a callback added after the thread settled its record runs at once
    # on the caller's thread (kafka-python's rule), still after every earlier record's.
    others = threads - {threading.get_native_id()}
    assert len(others) == 1
    # ... and that thread is the extension's own, not one of Volley's I/O threads.
    (tid,) = others
    with open(f"/proc/self/task/{tid}/comm") as f:
        assert f.read().strip() == "volley-py-callb"  # "volley-py-callbacks", cut to 15 bytes
    assert all(f.is_done and f.succeeded() and not f.failed() for f in futures)
    meta = futures[-1].get()
    assert isinstance(meta, RecordMetadata) and meta.topic == topic and meta.partition == 0
    assert futures[-1].value is meta and futures[-1].exception is None
    back = reader.read(topic, n)
    assert [m["v"] for m in back] == [b"%d" % i for i in range(n)]
    assert [m["o"] for m in back] == [o for _, o in seen]
    p.close()


def test_callbacks_of_dropped_futures_get_full_metadata_before_flush_returns(bootstrap, topic):
    # The benchmark's pattern (send(...).add_both(f), the future not kept): the callback
    # thread then makes each outcome's objects for the callback alone; they must be the same
    # RecordMetadata a kept future gives, and flush() must still wait for every callback.
    n = 2_000
    got = []
    with KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5) as p:
        for i in range(n):
            p.send(topic, value=b"v%04d" % i, key=b"k", headers=[("h", b"x")]).add_both(got.append)
        p.flush()
        assert len(got) == n  # no sleep: flush() returned after the last callback
        kept = p.send(topic, value=b"v%04d" % n, key=b"k", headers=[("h", b"x")]).get(30)
    assert all(isinstance(m, RecordMetadata) for m in got)
    assert [m.offset for m in got] == list(range(n))
    assert {(m.topic, m.partition, m.topic_partition) for m in got} == {(topic, 0, TopicPartition(topic, 0))}
    assert {(m.serialized_key_size, m.serialized_value_size, m.serialized_header_size) for m in got} == {(1, 5, 2)}
    assert (kept.offset, kept.serialized_value_size, kept.serialized_header_size) == (n, 5, 2)
    assert type(got[0]) is type(kept) and got[0]._fields == kept._fields


def test_serializers_and_record_metadata(bootstrap, reader, topic):
    with KafkaProducer(bootstrap_servers=bootstrap, key_serializer=str.encode,
                       value_serializer=lambda v: json.dumps(v).encode()) as p:
        m = p.send(topic, {"user": "alice"}, key="alice", headers=[("h", b"vv")], timestamp_ms=1_700_000_000_000).get(30)
        assert m.topic_partition == TopicPartition(topic, 0)
        assert (m.serialized_key_size, m.serialized_value_size, m.serialized_header_size) == (5, 17, 3)
        assert m.checksum is None and m.timestamp == 1_700_000_000_000 and m.offset == 0
        # As kafka-python: the serializer gets None too (json.dumps: b"null"); a serializer
        # that returns None for it sends a tombstone.
        m2 = p.send(topic, value=None, key="not-a-tombstone").get(30)
        assert m2.serialized_value_size == 4
    with KafkaProducer(bootstrap_servers=bootstrap, value_serializer=lambda v: None if v is None else v) as p:
        assert p.send(topic, value=None, key=b"tombstone").get(30).serialized_value_size == -1
    with KafkaProducer(bootstrap_servers=bootstrap, value_serializer=JsonSerializer(sort_keys=True)) as p:
        p.send(topic, {"b": 1, "a": 2}).get(30)
    with KafkaProducer(bootstrap_servers=bootstrap) as p:
        # Without serializers bytearray and memoryview pass as bytes (as kafka-python).
        assert p.send(topic, bytearray(b"ba"), key=memoryview(b"mv")).get(30).serialized_value_size == 2
    back = reader.read(topic, 5)
    assert [(m["k"], m["v"]) for m in back] == [
        (b"alice", b'{"user": "alice"}'), (b"not-a-tombstone", b"null"), (b"tombstone", None), (None, b'{"a": 2, "b": 1}'),
        (b"mv", b"ba"),
    ]
    assert back[0]["h"] == [("h", b"vv")] and back[0]["ts"] == 1_700_000_000_000


def test_flush_close_and_context_manager(bootstrap, reader, topic):
    with KafkaProducer(bootstrap_servers=bootstrap, linger_ms=60_000) as p:
        futures = [p.send(topic, b"x%d" % i) for i in range(100)]
        assert not any(f.is_done for f in futures)  # held by linger_ms
        p.flush(timeout=30)  # sends now, without waiting for linger
        assert all(f.succeeded() for f in futures)
        late = p.send(topic, b"late")
    # Leaving the block closed the producer after delivering the pending record.
    assert late.succeeded()
    with pytest.raises(errors.IllegalStateError):
        p.send(topic, b"after close")
    p.close()  # twice is harmless
    assert len(reader.read(topic, 101)) == 101


def test_partitions_for_metrics_and_bootstrap_connected(bootstrap, reader):
    name = f"py-{uuid.uuid4().hex[:12]}"
    reader.create(name, 3)
    with KafkaProducer(bootstrap_servers=bootstrap) as p:
        assert p.partitions_for(name) == {0, 1, 2}
        assert p.bootstrap_connected()
        p.send(name, b"v", partition=2).get(30)
        m = p.metrics()
        assert m["producer-metrics"]["record-send-total"] >= 1
        assert f"producer-topic-metrics.{name}" in m
    # A partition the topic lacks is waited for (it may be being added) for max_block_ms,
    # then ValueError; a short bound keeps the test fast (the default is 60 s).
    with KafkaProducer(bootstrap_servers=bootstrap, max_block_ms=500) as p:
        with pytest.raises(ValueError):
            p.send(name, b"v", partition=7)


def test_exception_in_a_callback_is_logged_and_the_producer_goes_on(bootstrap, topic, caplog):
    ran = []

    def boom(meta):
        raise RuntimeError("callback failure")

    with caplog.at_level(logging.ERROR, logger="volley"):
        with KafkaProducer(bootstrap_servers=bootstrap) as p:
            p.send(topic, b"1").add_callback(boom)
            p.send(topic, b"2").add_callback(ran.append)
            p.flush(30)
            assert len(ran) == 1
            assert p.send(topic, b"3").get(30).offset == 2
    assert "callback failure" in caplog.text


def test_callback_added_after_completion_runs_at_once(bootstrap, topic):
    with KafkaProducer(bootstrap_servers=bootstrap) as p:
        f = p.send(topic, b"v")
        f.get(30)
        got = []
        f.add_callback(lambda prefix, m, suffix=None: got.append((prefix, m.offset, suffix)), "p", suffix="s")
        assert got == [("p", 0, "s")]


def test_a_callback_added_right_after_get_always_runs_at_once(bootstrap, topic):
    # The outcome and "settled" were stored a moment apart: a get() returning in between
    # left a callback added then to the callback thread (it ran later, not at once).
    with KafkaProducer(bootstrap_servers=bootstrap, linger_ms=0) as p:
        late = 0
        for _ in range(500):
            f = p.send(topic, b"v")
            f.get(30)
            got = []
            f.add_callback(got.append)
            late += not got
        assert late == 0


def test_failed_delivery_carries_persistence(bootstrap, reader):
    name = f"py-{uuid.uuid4().hex[:12]}"
    reader.create(name, 1, "max.message.bytes=1000")
    with KafkaProducer(bootstrap_servers=bootstrap) as p:
        errs = []
        f = p.send(name, b"x" * 5000).add_errback(errs.append).add_both(errs.append)
        with pytest.raises(errors.MessageSizeTooLargeError) as raised:
            f.get(30)
        p.flush(30)
        assert f.failed() and f.exception is raised.value
        assert raised.value.persistence == "not_persisted" and raised.value.errno == 10
        assert errs == [raised.value, raised.value]


class _Chained:
    """kafka-python's Future shape: chain() calls success or failure."""

    def __init__(self):
        self.outcomes = []

    def success(self, value):
        self.outcomes.append(("success", value))

    def failure(self, exc):
        self.outcomes.append(("failure", exc))


def test_chain_and_retriable_as_kafka_pythons_future(bootstrap, reader, topic):
    name = f"py-{uuid.uuid4().hex[:12]}"
    reader.create(name, 1, "max.message.bytes=1000")
    with KafkaProducer(bootstrap_servers=bootstrap) as p:
        ok, bad = _Chained(), _Chained()
        good = p.send(topic, b"v").chain(ok)
        too_large = p.send(name, b"x" * 5000).chain(bad)
        assert not good.retriable()  # pending or delivered: not a retriable failure
        p.flush(30)
        assert ok.outcomes == [("success", good.value)]
        assert bad.outcomes == [("failure", too_large.exception)]
        assert not too_large.retriable()  # MESSAGE_TOO_LARGE is not retriable
        assert not good.retriable()


def test_a_record_that_timed_out_is_retriable(bootstrap, stuck):
    with KafkaProducer(bootstrap_servers=bootstrap, allow_auto_create_topics=False, delivery_timeout_ms=1500,
                       request_timeout_ms=1000) as p:
        later = _Chained()
        f = p.send(stuck(p), b"cannot be delivered").chain(later)
        assert not f.retriable()  # pending
        with pytest.raises(errors.KafkaTimeoutError):
            f.get(30)
        p.flush(30)
        assert f.retriable()  # a timeout may pass if the record is sent again
        assert later.outcomes == [("failure", f.exception)]


def test_get_with_a_tiny_timeout_raises_kafka_timeout_error(bootstrap, topic):
    with KafkaProducer(bootstrap_servers=bootstrap, linger_ms=2000) as p:
        f = p.send(topic, b"v")
        with pytest.raises(errors.KafkaTimeoutError):
            f.get(timeout=0.001)
        assert f.get(timeout=30).offset == 0


def test_keyed_records_land_where_librdkafka_murmur2_puts_them(bootstrap, reader):
    name = f"py-{uuid.uuid4().hex[:12]}"
    reader.create(name, 12)
    # (The reader takes one base64 key a line, so it cannot probe the empty key.)
    keys = [f"user-{i}".encode() for i in range(300)] + [b"\x00\xff"]
    with KafkaProducer(bootstrap_servers=bootstrap) as p:
        futures = {k: p.send(name, b"v", key=k) for k in keys}
        placed = {k: f.get(30).partition for k, f in futures.items()}
    want = reader.placement(f"{name}-probe", 12, keys)
    assert placed == want
    assert len(set(placed.values())) == 12


def test_a_script_that_exits_without_flush_still_delivers(bootstrap, reader, topic, python):
    script = textwrap.dedent(f"""
        from volley import KafkaProducer
        producer = KafkaProducer(bootstrap_servers={bootstrap!r}, linger_ms=1000)
        for i in range(500):
            producer.send({topic!r}, b"exit-%d" % i)
    """)
    done = subprocess.run([python, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    back = reader.read(topic, 500)
    assert [m["v"] for m in back] == [b"exit-%d" % i for i in range(500)]


def test_the_exit_bound_is_shared_by_every_unclosed_producer(bootstrap, reader, topic, python):
    # Three producers hold records they cannot deliver (their topic was deleted); the exit
    # hook's bound (2 s here) is for all of them together, not 2 s each; and a fourth,
    # healthy one still delivers whatever order the hook takes them in.
    ok_topic = topic
    topic = f"py-gone-{uuid.uuid4().hex[:12]}"
    reader.create(topic, 1)
    script = textwrap.dedent(f"""
        import sys, time
        import volley.producer as vp
        from volley import KafkaProducer
        vp.ATEXIT_CLOSE_TIMEOUT = 2.0
        ps = [KafkaProducer(bootstrap_servers={bootstrap!r}, allow_auto_create_topics=False) for _ in range(3)]
        for p in ps:
            p.send({topic!r}, b"warm").get(30)
        print("warm", flush=True)
        sys.stdin.readline()  # the topic is gone
        for p in ps:
            p.send({topic!r}, b"stuck")
        healthy = KafkaProducer(bootstrap_servers={bootstrap!r}, linger_ms=1000)
        for i in range(10):
            healthy.send({ok_topic!r}, b"ok-%d" % i)
        print("exiting", flush=True)
    """)
    proc = subprocess.Popen([python, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline().strip() == "warm", proc.stderr.read() if proc.stderr else ""
        reader.delete(topic)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "exiting"
        start = time.monotonic()
        assert proc.wait(60) == 0
        took = time.monotonic() - start
        print(f"exit with three stuck producers: {took:.1f} s")
        assert took < 4.0  # one 2 s bound in all, and the interpreter's exit (3 x 2 s before)
    finally:
        proc.kill()
        proc.wait()
    assert [m["v"] for m in reader.read(ok_topic, 10)] == [b"ok-%d" % i for i in range(10)]


def test_a_producer_dropped_without_close_is_closed(bootstrap, reader, topic):
    # As kafka-python's __del__: a producer nobody holds is closed (its record delivered
    # within the bound) instead of living, with its threads, until the process exits.
    import gc
    import weakref

    from volley import producer as module

    def make_and_drop():
        p = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=50)
        p.send(topic, b"from a dropped producer")
        return weakref.ref(p)

    ref = make_and_drop()
    gc.collect()
    assert ref() is None
    assert all(p is not None for p in module._open)
    assert [m["v"] for m in reader.read(topic, 1)] == [b"from a dropped producer"]
