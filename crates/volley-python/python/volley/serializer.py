"""Serializers for ``key_serializer`` / ``value_serializer``.

A serializer is either a plain callable, ``f(data) -> bytes``, or an object with
``serialize(topic, headers, data) -> bytes`` (a subclass of :class:`Serializer`).
"""
import json
from typing import Any, List, Optional, Tuple

Headers = Optional[List[Tuple[str, bytes]]]


class Serializer:
    """Base class of serializers: override :meth:`serialize`."""

    def serialize(self, topic: str, headers: Headers, data: Any) -> Optional[bytes]:
        raise NotImplementedError

    def close(self) -> None:
        """Called when the producer closes."""


class JsonSerializer(Serializer):
    """``json.dumps(data, **kwargs)`` as UTF-8; ``None`` stays ``None`` (a tombstone)."""

    def __init__(self, **dumps_kwargs: Any) -> None:
        self._kwargs = dumps_kwargs

    def serialize(self, topic: str, headers: Headers, data: Any) -> Optional[bytes]:
        if data is None:
            return None
        return json.dumps(data, **self._kwargs).encode("utf-8")
