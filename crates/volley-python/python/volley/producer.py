"""``KafkaProducer``: kafka-python's producer API on Volley."""
import atexit
import logging
import os
import threading
import time
import weakref
from typing import Any, Callable, Dict, Optional, Sequence, Set, Tuple, Union

from . import _config
from ._volley import FutureRecordMetadata, Producer as _Native, after_fork_in_child as _native_after_fork
from .errors import IllegalStateError

log = logging.getLogger("volley")

Serializer = Union[None, Callable[[Any], Optional[bytes]], Any]

#: Seconds the exit hook gives the producers that were never closed to deliver what they
#: hold, all of them together (one deadline: a dead broker cannot hold the exit for 30 s per
#: producer).
ATEXIT_CLOSE_TIMEOUT = 30.0

# Producers not closed yet: the exit hook closes them, so a script that sends and exits
# without flush() still delivers (as with kafka-python). Weak: a producer dropped without
# close() is closed by __del__ (bounded, as kafka-python's), not kept alive until exit.
_open: "weakref.WeakSet[KafkaProducer]" = weakref.WeakSet()
_open_lock = threading.Lock()


def _close_all() -> None:
    with _open_lock:
        producers = list(_open)
    deadline = time.monotonic() + ATEXIT_CLOSE_TIMEOUT
    # First an equal share each to deliver, so that one producer that cannot (a dead
    # broker) does not leave the others no time; then what is left, to close.
    share = ATEXIT_CLOSE_TIMEOUT / max(1, len(producers))
    for p in producers:
        try:
            p.flush(timeout=max(0.0, min(share, deadline - time.monotonic())))
        except Exception:  # noqa: BLE001 - a timeout here: close() below still gets the rest
            pass
    for p in producers:
        try:
            p.close(timeout=max(0.0, deadline - time.monotonic()))
        except Exception:  # noqa: BLE001 - the exit goes on, the failure is logged
            log.exception("closing a producer at exit failed")


atexit.register(_close_all)


def _after_fork_in_child() -> None:
    """The child of ``os.fork()`` has none of the parent's threads: Volley starts new ones
    for producers made in the child, and producers inherited from the parent refuse to work
    (their I/O thread is the parent's; using them would hang)."""
    global _open_lock
    _open_lock = threading.Lock()  # a parent's thread may have held it at the fork
    for p in list(_open):
        p._inherited = True
        p._closed = True
    _open.clear()
    _native_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

_INHERITED = (
    "this KafkaProducer was created in the parent process before os.fork(); "
    "it cannot be used in the child: create a new KafkaProducer in the child"
)


class KafkaProducer:
    """A Kafka producer with kafka-python's ``KafkaProducer`` API, backed by Volley.

    Takes kafka-python's keyword arguments (see ``KafkaProducer.DEFAULT_CONFIG``) with
    kafka-python's defaults; an unknown keyword raises ``KafkaConfigurationError``.
    Records go out from Volley's Rust threads; callbacks run on one thread of their own in
    completion order, with no ``poll()``.
    """

    DEFAULT_CONFIG: Dict[str, Any] = _config.DEFAULT_CONFIG

    def __init__(self, **configs: Any) -> None:
        self.config, properties = _config.resolve(configs)
        self._key_serializer: Serializer = self.config["key_serializer"]
        self._value_serializer: Serializer = self.config["value_serializer"]
        self._native = _Native(properties)
        self._send = self._native.send
        self._plain = self._key_serializer is None and self._value_serializer is None
        self._closed = False
        self._inherited = False
        if self.config["api_version"] is None:
            # kafka-python bootstraps here (unless api_version is given): no broker answering
            # raises KafkaTimeoutError now rather than at the first send.
            try:
                self._native.bootstrap(_config.bootstrap_timeout(self.config, configs) / 1000)
            except BaseException:
                self._native.close(0)
                raise
        with _open_lock:
            _open.add(self)

    def _check_process(self) -> None:
        if self._inherited:
            raise IllegalStateError(_INHERITED)

    def __del__(self) -> None:
        # kafka-python closes a producer that is garbage-collected, waiting at most 1 s.
        try:
            if not getattr(self, "_closed", True):
                self.close(timeout=1)
        except Exception:  # noqa: BLE001 - nothing can be raised from __del__
            pass

    def __enter__(self) -> "KafkaProducer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @staticmethod
    def _serialize(f: Any, topic: str, headers: Any, data: Any) -> Any:
        # As kafka-python: a serializer is called for None too (json.dumps gives b"null").
        # What it returns must be bytes (or None: a null); the native send checks.
        serialize = getattr(f, "serialize", None)
        if callable(serialize):
            return serialize(topic, headers, data)
        return f(data)

    def send(
        self,
        topic: str,
        value: Any = None,
        key: Any = None,
        headers: Optional[Sequence[Tuple[str, Optional[bytes]]]] = None,
        partition: Optional[int] = None,
        timestamp_ms: Optional[int] = None,
    ) -> FutureRecordMetadata:
        """Queues one record; returns a future of its ``RecordMetadata``.

        Waits at most ``max_block_ms`` for the topic's metadata and buffer room (then
        ``KafkaTimeoutError``). ``None`` is passed to a serializer as kafka-python does; without
        a serializer it is sent as null."""
        if self._closed:
            raise IllegalStateError(_INHERITED if self._inherited else "the producer is closed")
        if value is None and key is None:
            raise ValueError("need at least one of key and value")
        if self._plain and headers is None:
            # No serializers, no headers (the common case): the native method checks the
            # topic and that key and value are bytes (or None).
            return self._send(topic, value, key, None, partition, timestamp_ms)
        if not isinstance(topic, str):
            raise TypeError(f"topic must be a str, not {type(topic).__name__}")
        if headers is not None:
            headers = list(headers)
            for h in headers:
                if not (isinstance(h, tuple) and len(h) == 2 and isinstance(h[0], str) and (h[1] is None or isinstance(h[1], bytes))):
                    raise TypeError(f"headers must be a list of (str, bytes) tuples, not {h!r}")
        ks, vs = self._key_serializer, self._value_serializer
        key_bytes = key if ks is None else self._serialize(ks, topic, headers, key)
        value_bytes = value if vs is None else self._serialize(vs, topic, headers, value)
        return self._send(topic, value_bytes, key_bytes, headers, partition, timestamp_ms)

    def flush(self, timeout: Optional[float] = None) -> None:
        """Sends everything queued and waits (at most ``timeout`` seconds, ``None``: no
        limit) until every record has its outcome and its callbacks have run; raises
        ``KafkaTimeoutError`` if time runs out first."""
        self._check_process()
        self._native.flush(timeout)

    def close(self, timeout: Optional[float] = None) -> None:
        """Delivers what is queued (at most ``timeout`` seconds), then closes: records still
        pending fail. Called from a callback, it does not wait (timeout 0). Closing twice is
        harmless. In the child of ``os.fork()`` a producer inherited from the parent is left
        alone (the parent still owns it)."""
        if self._inherited:
            return
        was_open = not self._closed
        with _open_lock:
            _open.discard(self)
        self._closed = True
        try:
            self._native.close(timeout)
        except BaseException:
            # Interrupted (Ctrl-C) while it flushed, or a bad timeout: it stays open for
            # the exit hook, __del__ or another close() (a producer closed before stays
            # closed).
            if was_open:
                self._closed = False
                with _open_lock:
                    _open.add(self)
            raise
        for s in (self._key_serializer, self._value_serializer):
            close = getattr(s, "close", None)
            if callable(close) and callable(getattr(s, "serialize", None)):
                close()

    def partitions_for(self, topic: str) -> Set[int]:
        """The partition numbers of ``topic`` (waits at most ``max_block_ms`` for metadata)."""
        self._check_process()
        return self._native.partitions_for(topic)

    def bootstrap_connected(self) -> bool:
        """Whether a connection to a broker is open."""
        self._check_process()
        return self._native.bootstrap_connected()

    # ----- transactions (a transactional_id is needed) -----

    def _check_transactional(self) -> None:
        self._check_process()
        if self._closed:
            raise IllegalStateError("the producer is closed")
        if self.config["transactional_id"] is None:
            raise IllegalStateError("transactions need a transactional_id (KafkaProducer(transactional_id=...))")

    def init_transactions(self) -> None:
        """Fences earlier producers with the same ``transactional_id`` and readies this one
        (waits at most ``max_block_ms``; calling it again after a timeout resumes it)."""
        self._check_transactional()
        self._native.init_transactions()

    def begin_transaction(self) -> None:
        """Starts a transaction: records sent until the commit or abort belong to it."""
        self._check_transactional()
        self._native.begin_transaction()

    def send_offsets_to_transaction(self, offsets: Dict[Any, Any], consumer_group_id: Any) -> None:
        """Commits consumer offsets with the transaction (consume-transform-produce).

        ``offsets`` maps ``TopicPartition`` (or ``(topic, partition)``) to
        ``OffsetAndMetadata`` (or an int offset); ``consumer_group_id`` is the group id, or a
        consumer's group metadata (an object with ``group_id`` and, optionally,
        ``generation_id``, ``member_id``, ``group_instance_id``)."""
        self._check_transactional()
        entries = []
        for tp, om in offsets.items():
            topic, partition = (tp.topic, tp.partition) if hasattr(tp, "topic") else tp
            if isinstance(om, int) and not isinstance(om, bool):
                offset, metadata, epoch = om, None, None
            else:
                offset = om.offset
                metadata = getattr(om, "metadata", None)
                epoch = getattr(om, "leader_epoch", None)
                if epoch is not None and epoch < 0:
                    epoch = None
            if not isinstance(topic, str) or not isinstance(partition, int) or not isinstance(offset, int):
                raise TypeError(f"offsets must map (topic, partition) to an offset, not {tp!r}: {om!r}")
            entries.append((topic, partition, offset, metadata or None, epoch))
        if isinstance(consumer_group_id, str):
            self._native.send_offsets_to_transaction(entries, consumer_group_id)
            return
        group = getattr(consumer_group_id, "group_id", None)
        if not isinstance(group, str):
            raise TypeError(f"consumer_group_id must be a group id or a consumer's group metadata, not {consumer_group_id!r}")
        self._native.send_offsets_to_transaction(
            entries,
            group,
            getattr(consumer_group_id, "generation_id", -1),
            getattr(consumer_group_id, "member_id", "") or "",
            getattr(consumer_group_id, "group_instance_id", None),
        )

    def commit_transaction(self) -> None:
        """Sends what is queued and commits the transaction (waits at most ``max_block_ms``).
        A transaction that cannot commit raises; ``abort_transaction()`` then starts over."""
        self._check_transactional()
        self._native.commit_transaction()

    def abort_transaction(self) -> None:
        """Aborts the transaction: its records are never seen by read_committed consumers."""
        self._check_transactional()
        self._native.abort_transaction()

    def metrics(self, raw: bool = False) -> Dict[str, Dict[str, float]]:
        """Volley's metrics by the Java producer's names, as ``{group: {name: value}}``
        (``producer-metrics``, ``producer-topic-metrics.<topic>``,
        ``producer-node-metrics.node-<id>``). ``raw`` is accepted and changes nothing."""
        self._check_process()
        return self._native.metrics()
