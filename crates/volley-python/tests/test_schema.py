"""volley.schema: Confluent-framed Avro read back by confluent-kafka's AvroDeserializer
(against the Schema Registry test double), JSON Schema framing, errors."""
import base64
import decimal
import json
import math
import struct
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


def test_avro_doubles_that_are_not_finite_are_written(bootstrap, reader, registry, topic):
    # Avro doubles and floats hold NaN and the infinities (confluent-kafka's serializer
    # writes them); JSON has no number for them, so they must not be refused.
    schema = {"type": "record", "name": "Reading", "fields": [
        {"name": "d", "type": "double"}, {"name": "f", "type": "float"},
        {"name": "maybe", "type": ["null", "double"]}]}
    ser = AvroSerializer(registry, json.dumps(schema))
    values = [{"d": float("nan"), "f": float("inf"), "maybe": float("-inf")}, {"d": 1.5, "f": -2.0, "maybe": None}]
    with KafkaProducer(bootstrap_servers=bootstrap, value_serializer=ser) as p:
        for v in values:
            p.send(topic, v)
        p.flush(30)
    back = [b["value"] for b in reader.avro_dump(topic, 2, registry)]
    assert math.isnan(back[0]["d"]) and back[0]["f"] == float("inf") and back[0]["maybe"] == float("-inf")
    assert back[1] == values[1]
    # Only a float or double takes them: a string field still refuses a float, and a union
    # with a string takes the double branch.
    strings = AvroSerializer(registry, json.dumps({"type": "record", "name": "S", "fields": [
        {"name": "s", "type": "string"}, {"name": "u", "type": ["null", "string", "double"]}]}))
    with pytest.raises(errors.SerializationError):
        strings.serialize("py-nonfinite-strings", None, {"s": float("nan"), "u": None})
    framed = strings.serialize("py-nonfinite-strings", None, {"s": "x", "u": float("nan")})
    assert framed is not None and framed[5:8] == bytes([2, ord("x"), 4])  # "x", then branch 2
    assert math.isnan(struct.unpack("<d", framed[8:16])[0])
    # JSON has no spelling for them: the JSON Schema serializer refuses them.
    js = JsonSchemaSerializer(registry, json.dumps({"type": "object"}))
    with pytest.raises(errors.SerializationError, match="NaN"):
        js.serialize("py-nonfinite-json", None, {"x": float("inf")})


def test_json_schema_serializer_frames_the_registered_id(bootstrap, registry, topic):
    schema = json.dumps({"title": "Click", "type": "object", "properties": {"user": {"type": "string"}}})
    ser = JsonSchemaSerializer(registry, schema, conf={"subject.name.strategy": "TopicNameStrategy"})
    out = ser.serialize(topic, None, {"user": "alice"})
    assert out is not None and out[0] == 0
    schema_id = int.from_bytes(out[1:5], "big")
    assert json.loads(out[5:]) == {"user": "alice"}
    with urllib.request.urlopen(f"{registry}/subjects/{topic}-value/versions/latest") as r:
        assert json.load(r)["id"] == schema_id


def test_serializers_after_fork(registry, python):
    # A serializer made in the child works (its registry requests, name lookups included,
    # run on a runtime of the child's); one inherited from the parent raises instead of
    # hanging on the parent's connections.
    import subprocess
    import textwrap

    url = registry.replace("127.0.0.1", "localhost")
    script = textwrap.dedent("""
        import json, os, sys
        from volley import errors
        from volley.schema import AvroSerializer
        url, schema = sys.argv[1:3]
        parent = AvroSerializer(url, schema)
        parent.serialize("fork-parent", None, {"id": 1, "item": "a", "blob": b"", "price": "1.00", "tags": []})
        pid = os.fork()
        if pid == 0:
            try:
                child = AvroSerializer(url, schema)
                out = child.serialize("fork-child", None, {"id": 2, "item": "b", "blob": b"", "price": "2.00", "tags": []})
                assert out[:1] == b"\\x00", out
                try:
                    parent.serialize("fork-parent-2", None, {"id": 3, "item": "c", "blob": b"", "price": "3.00", "tags": []})
                except errors.IllegalStateError:
                    os._exit(0)
                os._exit(2)
            except BaseException as e:
                print("child failed:", repr(e), file=sys.stderr, flush=True)
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        sys.exit(os.waitstatus_to_exitcode(status))
    """)
    done = subprocess.run([python, "-c", script, url, json.dumps(ORDER)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_a_serializer_gets_none_as_kafka_python_passes_it(bootstrap, reader, topic):
    # kafka-python calls the value serializer for None too: json.dumps gives b"null", not a
    # tombstone.
    with KafkaProducer(bootstrap_servers=bootstrap, value_serializer=lambda v: json.dumps(v).encode()) as p:
        meta = p.send(topic, key=b"k").get(30)
        assert meta.serialized_value_size == 4
    assert reader.read(topic, 1)[0]["v"] == b"null"
