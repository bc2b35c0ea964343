"""Ctrl-C interrupts every wait; each kind of wait that runs out raises KafkaTimeoutError."""
import signal
import subprocess
import time
import uuid

import pytest

from volley import KafkaProducer, errors

# The bound: Ctrl-C interrupts a wait within half a second.
INTERRUPT_BOUND = 0.5

# Runs one wait that cannot end by itself, prints "waiting" just before it, and "interrupted"
# as soon as KeyboardInterrupt arrives. For flush and get, the topic is deleted (the test
# does it on "warm") after the producer learned its metadata: the record stays undelivered.
_SCRIPT = """
import sys
from volley import KafkaProducer
mode, bootstrap, topic = sys.argv[1:4]
p = KafkaProducer(bootstrap_servers=bootstrap, allow_auto_create_topics=False)
f = None
if mode not in ("send", "partitions_for"):
    p.send(topic, b"warm").get(30)
    print("warm", flush=True)
    sys.stdin.readline()  # the topic is gone
    f = p.send(topic, b"x")
print("waiting", flush=True)
try:
    if mode == "flush":
        p.flush(60)
    elif mode == "close":
        p.close(60)
    elif mode == "get":
        f.get()
    elif mode == "partitions_for":
        p.partitions_for(topic)  # no such topic: waits max_block_ms (60 s) for its metadata
    else:
        p.send(topic, b"x")  # no such topic: waits max_block_ms (60 s) for its metadata
    print("returned", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    if mode == "close":
        import volley.producer as vp
        print("still open" if not p._closed and p in vp._open else "left closed", flush=True)
p.close(0)
"""


def _interrupt_within_bound(proc: subprocess.Popen, what: str) -> None:
    """SIGINT half a second into the wait proc announced: it prints "interrupted" (it
    caught KeyboardInterrupt) within INTERRUPT_BOUND and exits 0."""
    assert proc.stdout is not None
    time.sleep(0.5)  # well into the wait
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    line = proc.stdout.readline().strip()
    took = time.monotonic() - sent
    assert line == "interrupted", proc.stderr.read() if proc.stderr else ""
    print(f"Ctrl-C in {what}: KeyboardInterrupt after {took * 1000:.0f} ms")
    assert took < INTERRUPT_BOUND
    assert proc.wait(30) == 0


@pytest.mark.parametrize("mode", ["flush", "close", "get", "send", "partitions_for"])
def test_ctrl_c_interrupts_a_wait_within_half_a_second(bootstrap, reader, python, mode):
    topic = f"py-gone-{uuid.uuid4().hex[:12]}"
    waits_for_metadata = mode in ("send", "partitions_for")
    if not waits_for_metadata:
        reader.create(topic, 1)
    proc = subprocess.Popen([python, "-c", _SCRIPT, mode, bootstrap, topic], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdin is not None
        if not waits_for_metadata:
            assert proc.stdout.readline().strip() == "warm", proc.stderr.read() if proc.stderr else ""
            reader.delete(topic)
            proc.stdin.write("go\n")
            proc.stdin.flush()
        assert proc.stdout.readline().strip() == "waiting"
        _interrupt_within_bound(proc, mode)
        if mode == "close":
            # An interrupted close() did not close: the exit hook and __del__ still will.
            assert proc.stdout.readline().strip() == "still open"
    finally:
        proc.kill()
        proc.wait()


_REGISTRY_SCRIPT = """
import json, socket
from volley.schema import AvroSerializer
silent = socket.socket()
silent.bind(("127.0.0.1", 0))
silent.listen(8)  # connections complete in the backlog and are never answered
url = "http://127.0.0.1:%d" % silent.getsockname()[1]
ser = AvroSerializer(url, json.dumps({"type": "record", "name": "R", "fields": [{"name": "a", "type": "long"}]}))
print("waiting", flush=True)
try:
    ser.serialize("py-silent-registry", None, {"a": 1})
    print("returned", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


def test_ctrl_c_interrupts_a_serializer_waiting_for_the_registry(python):
    proc = subprocess.Popen([python, "-c", _REGISTRY_SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "waiting", proc.stderr.read() if proc.stderr else ""
        _interrupt_within_bound(proc, "a registry request")
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("timeouts", [
    {"bootstrap_timeout_ms": 300},  # max_block_ms does not bound it (kafka-python 3.0)
    {"api_version_auto_timeout_ms": 300},  # kafka-python 2.x code
])
def test_no_broker_at_construction_raises_kafka_timeout_error(timeouts):
    # Nothing listens on port 1; the constructor bootstraps as kafka-python does.
    with pytest.raises(errors.KafkaTimeoutError, match="bootstrap"):
        KafkaProducer(bootstrap_servers="127.0.0.1:1", **timeouts)


def test_a_topic_that_never_appears_raises_kafka_timeout_error_from_send(bootstrap):
    with KafkaProducer(bootstrap_servers=bootstrap, allow_auto_create_topics=False, max_block_ms=300) as p:
        with pytest.raises(errors.KafkaTimeoutError):
            p.send(f"py-missing-{uuid.uuid4().hex[:12]}", b"v")
        with pytest.raises(errors.KafkaTimeoutError):
            p.partitions_for(f"py-missing-{uuid.uuid4().hex[:12]}")


def test_flush_that_runs_out_raises_kafka_timeout_error(bootstrap, stuck):
    p = KafkaProducer(bootstrap_servers=bootstrap, allow_auto_create_topics=False)
    f = p.send(stuck(p), b"cannot be delivered")
    with pytest.raises(errors.KafkaTimeoutError):
        p.flush(timeout=0.3)
    assert not f.is_done  # still being retried: flush gave up waiting, not the record
    p.close(0)
    assert f.failed()


def test_a_record_that_runs_out_of_delivery_time_fails_with_kafka_timeout_error(bootstrap, stuck):
    with KafkaProducer(bootstrap_servers=bootstrap, allow_auto_create_topics=False, delivery_timeout_ms=1500,
                       request_timeout_ms=1000) as p:
        topic = stuck(p)
        with pytest.raises(errors.KafkaTimeoutError) as raised:
            p.send(topic, b"cannot be delivered").get(30)
        assert raised.value.persistence in ("not_persisted", "possibly_persisted")
