"""Transactions through kafka-python's API (and aiokafka's in volley.aio), against Apache
Kafka, read back by librdkafka with isolation.level=read_committed (scripts/reader.py)."""
import asyncio
import json
import subprocess
import textwrap
import uuid

import pytest

from volley import KafkaProducer, OffsetAndMetadata, TopicPartition, errors
from volley.aio import AIOKafkaProducer


def _txn_id() -> str:
    return f"py-txn-{uuid.uuid4()}"


def test_aborted_records_are_invisible_and_committed_ones_visible(bootstrap, reader, topic):
    p = KafkaProducer(bootstrap_servers=bootstrap, transactional_id=_txn_id())
    p.init_transactions()
    p.begin_transaction()
    for i in range(2):
        # Acknowledged by the broker before the abort, as in Java: the abort hides them.
        p.send(topic, value=b"aborted-%d" % i).get(timeout=30)
    p.abort_transaction()
    p.begin_transaction()
    p.send(topic, value=b"committed")
    p.commit_transaction()
    p.close()
    # The aborted records come first in the log: a read_committed reader's first record is
    # the committed one only if they are hidden.
    got = reader.read(topic, 1)
    assert [m["v"] for m in got] == [b"committed"]


def test_records_still_queued_at_abort_fail_with_transaction_aborted_error(bootstrap, reader, topic):
    # kafka-python 3.0 (and Java) fail a record the abort caught before it was sent with
    # TransactionAbortedError, a KafkaError that is not retriable; the producer goes on.
    p = KafkaProducer(bootstrap_servers=bootstrap, transactional_id=_txn_id(), linger_ms=60_000)
    p.init_transactions()
    p.begin_transaction()
    queued = p.send(topic, value=b"queued")  # lingers: not sent before the abort
    p.abort_transaction()
    with pytest.raises(errors.TransactionAbortedError) as caught:
        queued.get(timeout=30)
    assert isinstance(caught.value, errors.KafkaError) and not caught.value.retriable
    assert caught.value.persistence == "not_persisted"
    p.begin_transaction()
    p.send(topic, value=b"next")
    p.commit_transaction()
    p.close()
    assert [m["v"] for m in reader.read(topic, 1)] == [b"next"]


def test_a_second_producer_with_the_same_id_fences_the_first(bootstrap, reader, topic):
    tid = _txn_id()
    first = KafkaProducer(bootstrap_servers=bootstrap, transactional_id=tid)
    first.init_transactions()
    first.begin_transaction()
    first.send(topic, value=b"from the fenced producer").get(timeout=30)
    second = KafkaProducer(bootstrap_servers=bootstrap, transactional_id=tid)
    second.init_transactions()
    with pytest.raises((errors.ProducerFencedError, errors.InvalidProducerEpochError)):
        first.commit_transaction()
    first.close(timeout=0)
    second.begin_transaction()
    second.send(topic, value=b"from the new producer")
    second.commit_transaction()
    second.close()
    assert [m["v"] for m in reader.read(topic, 1)] == [b"from the new producer"]


def test_offsets_are_committed_with_the_transaction(bootstrap, reader):
    topic = f"py-txn-offsets-{uuid.uuid4()}"
    reader.create(topic, 2)
    group = f"py-txn-group-{uuid.uuid4()}"
    p = KafkaProducer(bootstrap_servers=bootstrap, transactional_id=_txn_id())
    p.init_transactions()
    p.begin_transaction()
    p.send(topic, value=b"processed")
    p.send_offsets_to_transaction(
        {TopicPartition(topic, 0): OffsetAndMetadata(42, "progress"), (topic, 1): 7}, group
    )
    p.commit_transaction()
    p.close()
    # The group's committed offsets, as librdkafka reads them.
    script = textwrap.dedent(
        f"""
        import json
        from confluent_kafka import Consumer, TopicPartition
        c = Consumer({{"bootstrap.servers": {bootstrap!r}, "group.id": {group!r}}})
        tps = c.committed([TopicPartition({topic!r}, 0), TopicPartition({topic!r}, 1)], timeout=30)
        print(json.dumps([[tp.partition, tp.offset, tp.metadata] for tp in tps]))
        c.close()
        """
    )
    out = subprocess.run([reader.python, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(out.stdout) == [[0, 42, "progress"], [1, 7, None]]


def test_transactional_calls_need_a_transactional_id_and_idempotence(bootstrap):
    p = KafkaProducer(bootstrap_servers=bootstrap)
    with pytest.raises(errors.IllegalStateError, match="transactional_id"):
        p.begin_transaction()
    p.close()
    with pytest.raises(errors.KafkaConfigurationError, match="idempotence"):
        KafkaProducer(bootstrap_servers=bootstrap, transactional_id="x", enable_idempotence=False)
    with pytest.raises(errors.KafkaConfigurationError, match="transactional_id needs acks='all'"):
        KafkaProducer(bootstrap_servers=bootstrap, transactional_id="x", acks=1)
    # A call out of order is an IllegalStateError, and the producer goes on.
    t = KafkaProducer(bootstrap_servers=bootstrap, transactional_id=_txn_id())
    t.init_transactions()
    with pytest.raises(errors.IllegalStateError):
        t.commit_transaction()
    t.begin_transaction()
    t.abort_transaction()
    t.close()


def test_aio_transaction_context_manager(bootstrap, reader, topic):
    async def main() -> None:
        async with AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=_txn_id()) as p:
            with pytest.raises(RuntimeError):
                async with p.transaction():
                    await p.send(topic, b"rolled back")
                    raise RuntimeError("the block failed")
            async with p.transaction():
                await p.send(topic, b"kept")

    asyncio.run(main())
    assert [m["v"] for m in reader.read(topic, 1)] == [b"kept"]
