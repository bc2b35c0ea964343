"""``AIOKafkaProducer``: aiokafka's producer shape for asyncio, on Volley.

    async with AIOKafkaProducer(bootstrap_servers="localhost:9092") as producer:
        meta = await producer.send_and_wait("clicks", b"hello")

Records go out on Volley's Rust threads; each outcome is handed to the event loop with
``loop.call_soon_threadsafe`` from the extension's callback thread, so a send uses no
executor thread. What can block for long runs in the loop's default executor, once per
call: ``start`` (the bootstrap), ``stop``, ``flush``, ``partitions_for``, and the first
``send`` to a topic (its metadata); later sends to the topic return at once (unless
``buffer_memory`` is full, when they wait for room in the loop's thread, as kafka-python's
``send`` does).
"""
import asyncio
from typing import Any, Dict, Optional, Sequence, Set, Tuple, Type
from types import TracebackType

from .errors import IllegalStateError
from .producer import KafkaProducer
from .structs import RecordMetadata

__all__ = ["AIOKafkaProducer"]


def _settle(fut: "asyncio.Future[RecordMetadata]", outcome: Any, failed: bool) -> None:
    if fut.done():  # cancelled by its awaiter
        return
    if failed:
        fut.set_exception(outcome)
    else:
        fut.set_result(outcome)


class AIOKafkaProducer:
    """An asyncio Kafka producer with aiokafka's methods (``start``, ``stop``, ``send``,
    ``send_and_wait``, ``flush``, ``partitions_for``, ``async with``).

    Takes :class:`volley.KafkaProducer`'s keywords (kafka-python's, with its defaults),
    plus aiokafka's ``max_batch_size`` for ``batch_size`` and its ``api_version="auto"``
    (the default: bootstrap in ``start``). With a ``transactional_id``, ``start`` also
    initializes transactions, as aiokafka's does; ``begin_transaction``,
    ``commit_transaction``, ``abort_transaction``, ``send_offsets_to_transaction`` and the
    ``transaction()`` context manager follow aiokafka.
    """

    def __init__(self, *, loop: Optional[asyncio.AbstractEventLoop] = None, **configs: Any) -> None:
        if "max_batch_size" in configs:
            configs["batch_size"] = configs.pop("max_batch_size")
        if configs.get("api_version") == "auto":  # aiokafka's default: probe, i.e. bootstrap
            del configs["api_version"]
        self._configs = configs
        self._loop = loop
        self._producer: Optional[KafkaProducer] = None
        self._known: Set[str] = set()

    def _started(self) -> KafkaProducer:
        if self._producer is None:
            raise IllegalStateError("the producer is not started: await start() first")
        return self._producer

    async def start(self) -> None:
        """Bootstraps (as ``KafkaProducer()`` does) without blocking the event loop."""
        if self._producer is not None:
            return
        self._loop = self._loop or asyncio.get_running_loop()
        self._producer = await self._loop.run_in_executor(None, lambda: KafkaProducer(**self._configs))
        if self._producer.config["transactional_id"] is not None:
            await self._loop.run_in_executor(None, self._producer.init_transactions)

    async def stop(self, timeout: Optional[float] = None) -> None:
        """Delivers what is queued (at most ``timeout`` seconds), then closes."""
        if self._producer is None or self._loop is None:
            return
        producer = self._producer
        await self._loop.run_in_executor(None, producer.close, timeout)

    async def flush(self, timeout: Optional[float] = None) -> None:
        """Waits until every record sent so far has its outcome (``KafkaTimeoutError`` if
        ``timeout`` seconds pass first)."""
        producer = self._started()
        assert self._loop is not None
        await self._loop.run_in_executor(None, producer.flush, timeout)

    async def partitions_for(self, topic: str) -> Set[int]:
        """The partition numbers of ``topic``."""
        producer = self._started()
        assert self._loop is not None
        parts = await self._loop.run_in_executor(None, producer.partitions_for, topic)
        self._known.add(topic)
        return parts

    async def send(
        self,
        topic: str,
        value: Any = None,
        key: Any = None,
        partition: Optional[int] = None,
        timestamp_ms: Optional[int] = None,
        headers: Optional[Sequence[Tuple[str, Optional[bytes]]]] = None,
    ) -> "asyncio.Future[RecordMetadata]":
        """Queues one record; returns a future of its ``RecordMetadata`` (await it), as
        aiokafka does. Raises at once what ``KafkaProducer.send`` raises."""
        producer = self._started()
        loop = self._loop
        assert loop is not None
        if asyncio.get_running_loop() is not loop:
            # Checked before the record is queued: failing after it would make a retry send
            # it twice.
            raise IllegalStateError("this AIOKafkaProducer was started in another event loop; use it from that loop")
        if topic not in self._known:
            await self.partitions_for(topic)
        fut: "asyncio.Future[RecordMetadata]" = loop.create_future()

        def done(outcome: Any, failed: bool) -> None:
            # On the extension's callback thread (or this one, if already complete).
            try:
                loop.call_soon_threadsafe(_settle, fut, outcome, failed)
            except RuntimeError:  # the loop is closed: nobody awaits the future any more
                pass

        sent = producer.send(topic, value=value, key=key, headers=headers, partition=partition, timestamp_ms=timestamp_ms)
        sent.add_callback(done, failed=False)
        sent.add_errback(done, failed=True)
        return fut

    async def send_and_wait(
        self,
        topic: str,
        value: Any = None,
        key: Any = None,
        partition: Optional[int] = None,
        timestamp_ms: Optional[int] = None,
        headers: Optional[Sequence[Tuple[str, Optional[bytes]]]] = None,
    ) -> RecordMetadata:
        """Sends one record and waits for its ``RecordMetadata``."""
        fut = await self.send(topic, value, key, partition, timestamp_ms, headers)
        return await fut

    def begin_transaction(self) -> None:
        """Starts a transaction (as ``KafkaProducer.begin_transaction``)."""
        self._started().begin_transaction()

    async def commit_transaction(self) -> None:
        """Sends what is queued and commits, without blocking the event loop."""
        producer = self._started()
        await asyncio.get_running_loop().run_in_executor(None, producer.commit_transaction)

    async def abort_transaction(self) -> None:
        """Aborts the transaction, without blocking the event loop."""
        producer = self._started()
        await asyncio.get_running_loop().run_in_executor(None, producer.abort_transaction)

    async def send_offsets_to_transaction(self, offsets: Dict[Any, Any], group_id: Any) -> None:
        """As ``KafkaProducer.send_offsets_to_transaction``, without blocking the event loop."""
        producer = self._started()
        await asyncio.get_running_loop().run_in_executor(None, producer.send_offsets_to_transaction, offsets, group_id)

    def transaction(self) -> "_Transaction":
        """``async with producer.transaction():`` begins a transaction, commits it when the
        block ends, and aborts it (re-raising) when the block raises."""
        return _Transaction(self)

    def metrics(self) -> Dict[str, Dict[str, float]]:
        """As ``KafkaProducer.metrics``."""
        return self._started().metrics()

    async def __aenter__(self) -> "AIOKafkaProducer":
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.stop()


class _Transaction:
    """The context manager of ``AIOKafkaProducer.transaction()``."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer

    async def __aenter__(self) -> None:
        self._producer.begin_transaction()

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        if exc_type is None:
            await self._producer.commit_transaction()
        else:
            await self._producer.abort_transaction()
