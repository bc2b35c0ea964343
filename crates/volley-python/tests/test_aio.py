"""volley.aio.AIOKafkaProducer under asyncio, read back by librdkafka."""
import asyncio
import concurrent.futures
import uuid

import pytest

from volley import RecordMetadata, errors
from volley.aio import AIOKafkaProducer


class CountingExecutor(concurrent.futures.ThreadPoolExecutor):
    """The loop's default executor, counting what is handed to it."""

    submitted = 0

    def submit(self, *args, **kwargs):  # type: ignore[override]
        CountingExecutor.submitted += 1
        return super().submit(*args, **kwargs)


def test_send_send_and_wait_flush_and_async_with(bootstrap, reader, topic):
    async def main():
        asyncio.get_running_loop().set_default_executor(CountingExecutor(max_workers=2))
        async with AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=32768) as p:
            meta = await p.send_and_wait(topic, b"first", key=b"k", headers=[("h", b"v")])
            assert isinstance(meta, RecordMetadata) and meta.offset == 0
            before = CountingExecutor.submitted
            futures = [await p.send(topic, b"v%d" % i) for i in range(1000)]
            # Sends to a known topic use no executor thread: outcomes come back through
            # call_soon_threadsafe from the extension's callback thread.
            assert CountingExecutor.submitted == before
            metas = await asyncio.gather(*futures)
            assert [m.offset for m in metas] == list(range(1, 1001))
            late = await p.send(topic, b"last")
            await p.flush()
            assert late.done() and late.result().offset == 1001
            assert await p.partitions_for(topic) == {0}
        return p

    p = asyncio.run(main())
    back = reader.read(topic, 1002)
    assert back[0]["k"] == b"k" and back[0]["h"] == [("h", b"v")]
    assert [m["v"] for m in back[1:]] == [b"v%d" % i for i in range(1000)] + [b"last"]
    with pytest.raises(errors.IllegalStateError):
        asyncio.run(p.send(topic, b"after stop"))


def test_failures_arrive_as_exceptions_of_the_future(bootstrap, reader):
    name = f"py-{uuid.uuid4().hex[:12]}"
    reader.create(name, 1, "max.message.bytes=1000")

    async def main():
        async with AIOKafkaProducer(bootstrap_servers=bootstrap) as p:
            with pytest.raises(errors.MessageSizeTooLargeError):
                await p.send_and_wait(name, b"x" * 5000)
            fut = await p.send(name, b"x" * 5000)
            with pytest.raises(errors.MessageSizeTooLargeError):
                await fut

    asyncio.run(main())


def test_start_without_a_broker_raises_kafka_timeout_error_and_send_before_start_refuses():
    async def main():
        p = AIOKafkaProducer(bootstrap_servers="127.0.0.1:1", bootstrap_timeout_ms=300, api_version="auto")
        with pytest.raises(errors.IllegalStateError):
            await p.send("t", b"v")
        with pytest.raises(errors.KafkaTimeoutError):
            await p.start()

    asyncio.run(main())


def test_a_second_event_loop_is_refused_before_the_record_is_queued(bootstrap, reader, topic):
    p = AIOKafkaProducer(bootstrap_servers=bootstrap)

    async def start():
        await p.start()
        await p.send_and_wait(topic, b"first loop")

    async def other():
        with pytest.raises(errors.IllegalStateError, match="another event loop"):
            await p.send(topic, b"second loop")

    asyncio.run(start())
    asyncio.run(other())
    p._started().close()
    # Only the first loop's record is in the log: the refused one was never queued.
    assert [m["v"] for m in reader.read(topic, 2)] == [b"first loop"]
