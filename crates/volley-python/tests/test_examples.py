"""The examples (kafka-python's tutorial code on Volley) run against the test broker."""
import os
import subprocess

import pytest

from conftest import ROOT

EXAMPLES = ROOT / "crates/volley-python/examples"
TOPICS = ["foobar", "fizzbuzz", "flipflap", "txn_topic", "my-topic", "json-topic", "my_topic"]


@pytest.fixture(scope="module")
def tutorial_topics(reader):
    for t in TOPICS:
        try:
            reader.create(t, 1)
        except AssertionError as e:  # a broker given by VOLLEY_BOOTSTRAP may have them
            if "already exists" not in str(e).lower():
                raise


@pytest.mark.parametrize("example,topic,count", [
    ("tutorial.py", "foobar", 1103),
    ("usage.py", "my-topic", 103),
    ("asyncio_producer.py", "my_topic", 101),
])
def test_example_runs_and_delivers(bootstrap, reader, tutorial_topics, python, example, topic, count):
    env = dict(os.environ, KAFKA_BOOTSTRAP_SERVERS=bootstrap)
    done = subprocess.run([python, str(EXAMPLES / example)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    if not os.environ.get("VOLLEY_BOOTSTRAP"):  # a fresh broker: the counts are the example's alone
        assert len(reader.read(topic, count)) == count
