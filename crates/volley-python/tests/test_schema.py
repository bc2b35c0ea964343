"""volley.schema: Confluent-framed Avro read back by confluent-kafka's AvroDeserializer
(against the Schema Registry test double), JSON Schema framing, errors."""
import base64
import decimal
import json
import urllib.request

import pytest

from volley import KafkaProducer, errors
from volley.schema import AvroSerializer, JsonSchemaSerializer

ORDER = {
    "type": "record", "name": "Order", "namespace": "shop",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "item", "type": "string"},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "blob", "type": "bytes"},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
    ],
}


def test_avro_serializer_is_read_by_confluent_kafkas_avro_deserializer(bootstrap, reader, registry, topic):
    values = [
        {"id": i, "item": f"item-{i}", "extra": "skipped", "note": None if i % 2 else "n\u00e9", "blob": bytes([0, 255, i]),
         "price": decimal.Decimal(f"{i}.25"), "tags": ["a", "b"][: i % 3]}
        for i in range(20)
    ]
    ser = AvroSerializer(registry, json.dumps(ORDER))
    with KafkaProducer(bootstrap_servers=bootstrap, value_serializer=ser, key_serializer=str.encode) as p:
        for v in values:
            p.send(topic, v, key=str(v["id"]))
        p.flush(30)
    assert ser.serialize(topic, None, None) is None  # a tombstone stays null
    back = reader.avro_dump(topic, 20, registry)
    assert len({b["schema_id"] for b in back}) == 1  # registered once, cached
    want = [dict({k: x for k, x in v.items() if k != "extra"}, blob={"bytes_b64": base64.b64encode(v["blob"]).decode()}, price=str(v["price"])) for v in values]
    assert [b["value"] for b in back] == want
    # The subject is TopicNameStrategy's, as confluent-kafka's serializer names it.
    with urllib.request.urlopen(f"{registry}/subjects") as r:
        assert f"{topic}-value" in json.load(r)


def test_a_value_that_does_not_fit_the_schema_names_the_field(registry):
    ser = AvroSerializer(registry, json.dumps(ORDER))
    bad = {"id": 1, "item": "x", "note": None, "blob": b"", "price": "1.00", "tags": ["ok", 7]}
    with pytest.raises(errors.SerializationError, match=r"tags\[1\]"):
        ser.serialize("py-schema-errors", None, bad)
    with pytest.raises(errors.KafkaConfigurationError):
        AvroSerializer(registry, json.dumps(ORDER), conf={"no.such.setting": "1"})
    with pytest.raises(errors.SerializationError):
        AvroSerializer(registry, "{not a schema")


def test_json_schema_serializer_frames_the_registered_id(bootstrap, registry, topic):
    schema = json.dumps({"title": "Click", "type": "object", "properties": {"user": {"type": "string"}}})
    ser = JsonSchemaSerializer(registry, schema, conf={"subject.name.strategy": "TopicNameStrategy"})
    out = ser.serialize(topic, None, {"user": "alice"})
    assert out is not None and out[0] == 0
    schema_id = int.from_bytes(out[1:5], "big")
    assert json.loads(out[5:]) == {"user": "alice"}
    with urllib.request.urlopen(f"{registry}/subjects/{topic}-value/versions/latest") as r:
        assert json.load(r)["id"] == schema_id
