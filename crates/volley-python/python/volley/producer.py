"""``KafkaProducer``: kafka-python's producer API on Volley."""
import atexit
import logging
import threading
from typing import Any, Callable, Dict, List, Optional, Set, Tuple, Union

from . import _config
from ._volley import FutureRecordMetadata, Producer as _Native
from .errors import IllegalStateError

log = logging.getLogger("volley")

Serializer = Union[None, Callable[[Any], Optional[bytes]], Any]

#: Seconds the exit hook gives each producer that was never closed to deliver what it holds.
ATEXIT_CLOSE_TIMEOUT = 30.0

# Producers not closed yet: the exit hook closes them, so a script that sends and exits
# without flush() still delivers (as with kafka-python).
_open: Set["KafkaProducer"] = set()
_open_lock = threading.Lock()


def _close_all() -> None:
    with _open_lock:
        producers = list(_open)
    for p in producers:
        try:
            p.close(timeout=ATEXIT_CLOSE_TIMEOUT)
        except Exception:  # noqa: BLE001 - the exit goes on, the failure is logged
            log.exception("closing a producer at exit failed")


atexit.register(_close_all)


def _to_bytes(what: str, data: Any) -> Optional[bytes]:
    if data is None or isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"{what} must be bytes (or set a {what}_serializer), not {type(data).__name__}")


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
        self._closed = False
        with _open_lock:
            _open.add(self)

    def __enter__(self) -> "KafkaProducer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @staticmethod
    def _serialize(f: Serializer, what: str, topic: str, headers: Any, data: Any) -> Optional[bytes]:
        if f is None or data is None:
            return _to_bytes(what, data)
        serialize = getattr(f, "serialize", None)
        if callable(serialize):
            return _to_bytes(what, serialize(topic, headers, data))
        return _to_bytes(what, f(data))

    def send(
        self,
        topic: str,
        value: Any = None,
        key: Any = None,
        headers: Optional[List[Tuple[str, bytes]]] = None,
        partition: Optional[int] = None,
        timestamp_ms: Optional[int] = None,
    ) -> FutureRecordMetadata:
        """Queues one record; returns a future of its ``RecordMetadata``.

        Waits at most ``max_block_ms`` for the topic's metadata and buffer room (then
        ``KafkaTimeoutError``). ``None`` keys and values are sent as null, without calling
        the serializer."""
        if self._closed:
            raise IllegalStateError("the producer is closed")
        if not isinstance(topic, str):
            raise TypeError(f"topic must be a str, not {type(topic).__name__}")
        if value is None and key is None:
            raise ValueError("need at least one of key and value")
        if headers is not None:
            headers = list(headers)
            for h in headers:
                if not (isinstance(h, tuple) and len(h) == 2 and isinstance(h[0], str) and (h[1] is None or isinstance(h[1], bytes))):
                    raise TypeError(f"headers must be a list of (str, bytes) tuples, not {h!r}")
        key_bytes = self._serialize(self._key_serializer, "key", topic, headers, key)
        value_bytes = self._serialize(self._value_serializer, "value", topic, headers, value)
        return self._native.send(topic, value_bytes, key_bytes, headers, partition, timestamp_ms)

    def flush(self, timeout: Optional[float] = None) -> None:
        """Sends everything queued and waits (at most ``timeout`` seconds, ``None``: no
        limit) until every record has its outcome and its callbacks have run; raises
        ``KafkaTimeoutError`` if time runs out first."""
        self._native.flush(timeout)

    def close(self, timeout: Optional[float] = None) -> None:
        """Delivers what is queued (at most ``timeout`` seconds), then closes: records still
        pending fail. Called from a callback, it does not wait (timeout 0). Closing twice is
        harmless."""
        with _open_lock:
            _open.discard(self)
        self._closed = True
        self._native.close(timeout)
        for s in (self._key_serializer, self._value_serializer):
            close = getattr(s, "close", None)
            if callable(close) and callable(getattr(s, "serialize", None)):
                close()

    def partitions_for(self, topic: str) -> Set[int]:
        """The partition numbers of ``topic`` (waits at most ``max_block_ms`` for metadata)."""
        return self._native.partitions_for(topic)

    def bootstrap_connected(self) -> bool:
        """Whether a connection to a broker is open (Volley connects at the first send)."""
        return self._native.bootstrap_connected()

    def metrics(self, raw: bool = False) -> Dict[str, Dict[str, float]]:
        """Volley's metrics by the Java producer's names, as ``{group: {name: value}}``
        (``producer-metrics``, ``producer-topic-metrics.<topic>``,
        ``producer-node-metrics.node-<id>``). ``raw`` is accepted and changes nothing."""
        return self._native.metrics()
