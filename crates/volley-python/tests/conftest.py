"""Fixtures: Apache Kafka (the project's launcher) and the independent reader (librdkafka).

The broker is VOLLEY_BOOTSTRAP if set, else one KRaft node started by ``volley-kafka``
(VOLLEY_KAFKA_BIN, else target/debug/volley-kafka; build it with
``cargo build -p volley-testkit --bin volley-kafka`` after ``scripts/install``). The reader
is scripts/reader.py run by VOLLEY_PYTHON, else .volley/venv/bin/python. Nothing is
skipped: a missing broker or reader fails the tests.
"""
import base64
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def bootstrap() -> Iterator[str]:
    if os.environ.get("VOLLEY_BOOTSTRAP"):
        yield os.environ["VOLLEY_BOOTSTRAP"]
        return
    launcher = Path(os.environ.get("VOLLEY_KAFKA_BIN") or ROOT / "target/debug/volley-kafka")
    if not launcher.exists():
        pytest.fail(f"no Kafka launcher at {launcher}: run scripts/install and cargo build -p volley-testkit --bin volley-kafka (or set VOLLEY_KAFKA_BIN or VOLLEY_BOOTSTRAP)")
    proc = subprocess.Popen([str(launcher)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip() if proc.stdout else ""
    if not line:
        proc.kill()
        pytest.fail("volley-kafka did not print a bootstrap address")
    try:
        yield line
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


class Reader:
    """scripts/reader.py: librdkafka creates topics and reads back."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.python = os.environ.get("VOLLEY_PYTHON") or str(ROOT / ".volley/venv/bin/python")
        if not Path(self.python).exists():
            pytest.fail(f"no reader Python at {self.python}: run scripts/install (or set VOLLEY_PYTHON)")

    def _run(self, *args: str, stdin: str = "") -> str:
        done = subprocess.run(
            [self.python, str(ROOT / "scripts/reader.py"), args[0], self.bootstrap, *args[1:]],
            input=stdin, capture_output=True, text=True, timeout=300,
        )
        if done.returncode != 0:
            raise AssertionError(f"reader {args[0]} failed: {done.stderr}")
        return done.stdout

    def create(self, topic: str, partitions: int = 1, *configs: str) -> None:
        self._run("create", topic, str(partitions), "1", *configs)

    def read(self, topic: str, count: int) -> List[Dict]:
        out = []
        for line in self._run("read", topic, str(count)).splitlines():
            m = json.loads(line)
            for f in ("k", "v"):
                m[f] = None if m[f] is None else base64.b64decode(m[f])
            m["h"] = [(k, None if v is None else base64.b64decode(v)) for k, v in m["h"]]
            out.append(m)
        return out

    def avro_dump(self, topic: str, count: int, registry: str) -> List[Dict]:
        """Each record's framed schema id and its value decoded by confluent-kafka's
        AvroDeserializer (scripts/avro_check.py; bytes as {"bytes_b64": ...})."""
        done = subprocess.run(
            [self.python, str(ROOT / "scripts/avro_check.py"), "dump", self.bootstrap, topic, str(count), "--registry", registry],
            capture_output=True, text=True, timeout=300,
        )
        if done.returncode != 0:
            raise AssertionError(f"avro_check dump failed: {done.stderr}")
        return [json.loads(line) for line in done.stdout.splitlines()]

    def delete(self, topic: str) -> None:
        self._run("delete", topic)

    def placement(self, topic: str, partitions: int, keys: List[bytes]) -> Dict[bytes, int]:
        stdin = "".join(base64.b64encode(k).decode() + "\n" for k in keys)
        out = {}
        for line in self._run("placement", topic, str(partitions), stdin=stdin).splitlines():
            m = json.loads(line)
            out[base64.b64decode(m["k"])] = m["p"]
        return out


@pytest.fixture(scope="session")
def registry() -> Iterator[str]:
    """The Schema Registry test double (volley-testkit's, as the volley-registry program:
    VOLLEY_REGISTRY_BIN, else target/debug/volley-registry); its URL."""
    program = Path(os.environ.get("VOLLEY_REGISTRY_BIN") or ROOT / "target/debug/volley-registry")
    if not program.exists():
        pytest.fail(f"no registry double at {program}: cargo build -p volley-testkit --bin volley-registry (or set VOLLEY_REGISTRY_BIN)")
    proc = subprocess.Popen([str(program)], stdout=subprocess.PIPE, text=True)
    url = proc.stdout.readline().strip() if proc.stdout else ""
    if not url:
        proc.kill()
        pytest.fail("volley-registry did not print its URL")
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def reader(bootstrap: str) -> Reader:
    return Reader(bootstrap)


@pytest.fixture
def topic(reader: Reader) -> str:
    """A new one-partition topic."""
    name = f"py-{uuid.uuid4().hex[:12]}"
    reader.create(name, 1)
    return name


@pytest.fixture
def python() -> str:
    """The interpreter running the tests (for scripts run as subprocesses)."""
    return sys.executable



@pytest.fixture
def stuck(reader: Reader) -> Callable[[Any], str]:
    """``stuck(producer)``: a topic whose records ``producer`` cannot deliver. The topic is
    created, ``producer`` learns its metadata (one record), then it is deleted; the producer
    (made with ``allow_auto_create_topics=False``) keeps retrying its records
    (UNKNOWN_TOPIC_OR_PARTITION is retriable) until ``delivery_timeout_ms``."""
    def make(producer: Any) -> str:
        name = f"py-gone-{uuid.uuid4().hex[:12]}"
        reader.create(name, 1)
        producer.send(name, b"warm").get(30)
        reader.delete(name)
        return name
    return make
