"""Schema Registry serializers for ``key_serializer`` / ``value_serializer``.

    from volley import KafkaProducer
    from volley.schema import AvroSerializer

    producer = KafkaProducer(value_serializer=AvroSerializer("http://registry:8081", schema_str))
    producer.send("orders", {"id": 1, "total": 9.5})

They write Confluent's framing (magic byte 0, the schema id, then the Avro or JSON bytes),
so Confluent's deserializers read the records. The schema is registered (or looked up,
or taken from the registry, per ``conf``) on the first record of each topic and cached;
the work is Volley's Rust serializers and registry client (``volley produce``'s), and
``conf`` takes the same settings as ``volley produce -S`` (Confluent's names:
``auto.register.schemas``, ``use.latest.version``, ``subject.name.strategy``,
``basic.auth.user.info``, ``schema.registry.ssl.*``, ...).

Values are dicts (or anything ``to_dict`` turns into one) mapped onto the schema as JSON:
``bytes`` become Avro ``bytes``/``fixed``; ``Decimal``, ``UUID`` and ``datetime``,
``date`` and ``time`` values are passed as their text form, which the logical types read;
keys a record schema does not know are skipped (as confluent-kafka's writer skips them).
"""
import datetime
import decimal
import json
import math
import uuid
from typing import Any, Callable, Dict, Optional

from ._volley import SchemaEncoder
from .errors import SerializationError
from .serializer import Headers, Serializer

__all__ = ["AvroSerializer", "JsonSchemaSerializer"]

ToDict = Callable[[Any], Any]


def _json_default(o: Any) -> Any:
    if isinstance(o, (bytes, bytearray, memoryview)):
        # Avro's JSON mapping: one code point per byte.
        return bytes(o).decode("latin-1")
    if isinstance(o, (decimal.Decimal, uuid.UUID)):
        return str(o)
    if isinstance(o, (datetime.datetime, datetime.date, datetime.time)):
        return o.isoformat()
    raise TypeError(f"{type(o).__name__} cannot be serialized with a schema")


class _RegistrySerializer(Serializer):
    _format = ""

    def __init__(
        self,
        schema_registry_url: str,
        schema_str: Optional[str] = None,
        to_dict: Optional[ToDict] = None,
        conf: Optional[Dict[str, Any]] = None,
        *,
        is_key: bool = False,
    ) -> None:
        settings = [(str(k), _setting(v)) for k, v in (conf or {}).items()]
        self._encoder = SchemaEncoder(self._format, is_key, schema_str, schema_registry_url, settings)
        self._to_dict = to_dict

    def serialize(self, topic: str, headers: Headers, data: Any) -> Optional[bytes]:
        """The record bytes of ``data`` for ``topic``; ``None`` stays ``None`` (a tombstone).
        Raises ``SerializationError`` naming the field that does not fit the schema."""
        if data is None:
            return None
        if self._to_dict is not None:
            data = self._to_dict(data)
        try:
            text = json.dumps(data, default=_json_default, ensure_ascii=False, allow_nan=False)
        except ValueError:
            # NaN or an infinity: JSON has no number for them.
            if not self._nonfinite:
                raise SerializationError("NaN and infinite floats have no JSON representation") from None
            text = json.dumps(_finite(data), default=_json_default, ensure_ascii=False, allow_nan=False)
        return self._encoder.encode(topic, text.encode("utf-8"))

    # Whether the format has floats JSON cannot spell (Avro's float and double do).
    _nonfinite = False


def _finite(o: Any) -> Any:
    """``o`` with each float that is not finite replaced by ``{"$volley_nonfinite": "NaN"}``
    (or ``"Infinity"``, ``"-Infinity"``): the encoder takes that object for a float or
    double field only (``$`` is not allowed in an Avro name), so a string field still
    refuses a float."""
    if isinstance(o, float) and not math.isfinite(o):
        return {"$volley_nonfinite": "NaN" if math.isnan(o) else ("Infinity" if o > 0 else "-Infinity")}
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_finite(v) for v in o]
    return o


def _setting(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


class AvroSerializer(_RegistrySerializer):
    """Avro in Confluent's framing, as confluent-kafka's ``AvroSerializer`` writes it.

    ``schema_str`` is the Avro schema (JSON text); it may be left out when ``conf`` takes the
    schema from the registry (``use.latest.version``, ``use.schema.id``,
    ``use.schema.version``, with ``auto.register.schemas`` false). ``is_key=True`` for a
    ``key_serializer`` (subjects end in ``-key``).
    """

    _format = "avro-confluent"
    _nonfinite = True


class JsonSchemaSerializer(_RegistrySerializer):
    """JSON in Confluent's JSON Schema framing, as confluent-kafka's ``JSONSerializer``
    writes it; ``schema_str`` is the JSON Schema. The schema is registered (or looked up)
    and its id framed; values are written as JSON text and, unlike confluent-kafka's, not
    validated against the schema (as ``volley produce --value-format json-confluent``)."""

    _format = "json-confluent"
