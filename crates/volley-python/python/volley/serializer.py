"""Serializers for ``key_serializer`` / ``value_serializer``.

A serializer is either a plain callable, ``f(data) -> bytes``, or an object with
``serialize(topic, headers, data) -> bytes`` (a subclass of :class:`Serializer`).
"""
import json
from typing import Any, List, Optional, Tuple, cast

Headers = Optional[List[Tuple[str, bytes]]]


class Serializer:
    """Base class of serializers: override :meth:`serialize`."""

    def serialize(self, topic: str, headers: Headers, data: Any) -> Optional[bytes]:
        raise NotImplementedError

    def close(self) -> None:
        """Called when the producer closes."""


class DefaultSerializer(Serializer):
    """kafka-python 3.0's ``DefaultSerializer``: bytes, bytearray, memoryview and ``None``
    pass as they are (as bytes); anything else is ``data.encode(encoding)`` (a ``str``)."""

    def __init__(self, encoding: str = "utf-8") -> None:
        self.encoding = encoding

    def serialize(self, topic: str, headers: Headers, data: Any) -> Optional[bytes]:
        if data is None or type(data) is bytes:
            return data
        if type(data) in (bytearray, memoryview):
            return bytes(data)
        return cast(bytes, data.encode(self.encoding))


class JsonSerializer(DefaultSerializer):
    """``json.dumps(data, **dumps_kwargs)`` encoded with ``encoding`` (kafka-python 3.0's
    ``JsonSerializer``, which takes ``encoding``; the other keywords go to ``json.dumps``);
    ``None`` stays ``None`` (a tombstone)."""

    def __init__(self, encoding: str = "utf-8", **dumps_kwargs: Any) -> None:
        super().__init__(encoding)
        self._kwargs = dumps_kwargs

    def serialize(self, topic: str, headers: Headers, data: Any) -> Optional[bytes]:
        if data is None:
            return None
        return json.dumps(data, **self._kwargs).encode(self.encoding)
