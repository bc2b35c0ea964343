#!/usr/bin/env python3
"""Independent check of Volley's Avro output: librdkafka (confluent-kafka) reads the topic,
confluent-kafka's AvroDeserializer (pointed at the Schema Registry) or fastavro (plain Avro)
decodes each value, and every decoded value must equal the JSON input after the schema's
defaults and logical types are applied. The expected values are computed here, in Python,
from the schema and the input: not by Volley's code.

Commands:
  check BOOTSTRAP TOPIC SCHEMA CORPUS [--registry URL] [--skip N,...]
        every corpus line (but the skipped line numbers) decoded exactly once, equal to its
        expected value; records are matched by their "id" field. Prints a JSON summary.
  dump BOOTSTRAP TOPIC COUNT --registry URL
        one JSON line per record: the schema id in its framing and the decoded value.
Exit status 0 = success.
"""
import base64
import datetime
import decimal
import io
import json
import struct
import sys
import time
import uuid

import fastavro
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


def messages(bootstrap, topic, count):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "avro-check", "enable.auto.commit": False,
                  "check.crcs": True})
    md = c.list_topics(topic, timeout=10)
    parts = sorted(md.topics[topic].partitions)
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    out, last = [], time.monotonic()
    while len(out) < count and time.monotonic() - last < 10:
        for m in c.consume(num_messages=1000, timeout=0.5):
            if m.error():
                if m.error().code() == -191:
                    continue
                raise SystemExit(f"avro_check: {m.error()}")
            out.append(m)
            last = time.monotonic()
    c.close()
    return out


class Names:
    def __init__(self):
        self.named = {}

    def walk(self, s, ns=None):
        if isinstance(s, list):
            for b in s:
                self.walk(b, ns)
        elif isinstance(s, dict):
            t = s.get("type")
            if t in ("record", "enum", "fixed"):
                name = s["name"]
                space = s.get("namespace", ns)
                full = name if "." in name or not space else f"{space}.{name}"
                self.named[full] = s
                self.named.setdefault(name, s)
                for f in s.get("fields", []):
                    self.walk(f["type"], full.rsplit(".", 1)[0] if "." in full else None)
            elif t == "array":
                self.walk(s["items"], ns)
            elif t == "map":
                self.walk(s["values"], ns)
            elif isinstance(t, (dict, list)):
                self.walk(t, ns)

    def get(self, s):
        if isinstance(s, str) and s not in PRIMITIVES:
            return self.named[s] if s in self.named else self.named[s.rsplit(".", 1)[-1]]
        return s


def branch_name(s):
    if isinstance(s, str):
        return s
    t = s.get("type")
    if t in ("record", "enum", "fixed"):
        return s["name"]
    if isinstance(t, str) and t in PRIMITIVES:
        return t
    return t


def latin1(s):
    return s.encode("latin-1")


def parse_instant(s, local):
    if isinstance(s, (int, float)):
        return None
    d = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    return d if local else d.astimezone(datetime.timezone.utc)


def expected(s, v, names, default=False):
    """The value fastavro gives back for JSON input v under schema s."""
    s = names.get(s)
    if isinstance(s, list):
        if default:
            return expected(s[0], v, names, True)
        if isinstance(v, dict) and len(v) == 1:
            tag, inner = next(iter(v.items()))
            for b in s:
                n = branch_name(names.get(b))
                if n == tag or (isinstance(n, str) and n.rsplit(".", 1)[-1] == tag.rsplit(".", 1)[-1]):
                    return expected(b, inner, names)
        fits = []
        for b in s:
            try:
                fits.append(expected(b, v, names))
            except (ValueError, TypeError, KeyError, AttributeError):
                pass
        if len(fits) != 1:
            raise ValueError(f"{v!r} fits {len(fits)} branches")
        return fits[0]
    if isinstance(s, str):
        s = {"type": s}
    t, lt = s["type"], s.get("logicalType")
    if isinstance(t, (dict, list)) or (isinstance(t, str) and t not in PRIMITIVES and t not in ("record", "enum", "fixed", "array", "map")):
        return expected(t, v, names, default)
    if t == "null":
        if v is not None:
            raise TypeError("not null")
        return None
    if t == "boolean":
        if not isinstance(v, bool):
            raise TypeError("not bool")
        return v
    if t in ("int", "long"):
        if lt == "date":
            if isinstance(v, str):
                return datetime.date.fromisoformat(v)
            return datetime.date(1970, 1, 1) + datetime.timedelta(days=v)
        if lt in ("time-millis", "time-micros"):
            if isinstance(v, str):
                return datetime.time.fromisoformat(v)
            us = v * 1000 if lt == "time-millis" else v
            return (datetime.datetime.min + datetime.timedelta(microseconds=us)).time()
        if lt in ("timestamp-millis", "timestamp-micros"):
            d = parse_instant(v, False)
            if d is None:
                us = v * 1000 if lt == "timestamp-millis" else v
                d = EPOCH + datetime.timedelta(microseconds=us)
            return d
        if lt in ("local-timestamp-millis", "local-timestamp-micros"):
            d = parse_instant(v, True)
            if d is None:
                us = v * 1000 if lt == "local-timestamp-millis" else v
                d = datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=us)
            return d
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError("not an integer")
        return v
    if t == "float":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError("not a number")
        return struct.unpack("<f", struct.pack("<f", v))[0]
    if t == "double":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError("not a number")
        return float(v)
    if t == "string":
        if not isinstance(v, str):
            raise TypeError("not a string")
        return uuid.UUID(v) if lt == "uuid" else v
    if t in ("bytes", "fixed"):
        if lt == "decimal":
            if isinstance(v, bool) or not isinstance(v, (str, int, float)):
                raise TypeError("not a decimal")
            return decimal.Decimal(str(v)).quantize(decimal.Decimal(1).scaleb(-s.get("scale", 0)))
        if not isinstance(v, str):
            raise TypeError("not bytes")
        return latin1(v)
    if t == "enum":
        if v not in s["symbols"]:
            raise ValueError("not a symbol")
        return v
    if t == "array":
        if not isinstance(v, list):
            raise TypeError("not a list")
        return [expected(s["items"], x, names, default) for x in v]
    if t == "map":
        if not isinstance(v, dict):
            raise TypeError("not a map")
        return {k: expected(s["values"], x, names, default) for k, x in v.items()}
    if t == "record":
        if not isinstance(v, dict):
            raise TypeError("not a record")
        out = {}
        for f in s["fields"]:
            if f["name"] in v:
                out[f["name"]] = expected(f["type"], v[f["name"]], names, default)
            else:
                out[f["name"]] = expected(f["type"], f["default"], names, True)
        return out
    raise ValueError(f"unknown type {t}")


def jsonable(v):
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [jsonable(x) for x in v]
    if isinstance(v, bytes):
        return {"bytes_b64": base64.b64encode(v).decode()}
    if isinstance(v, (datetime.date, datetime.time, datetime.datetime)):
        return v.isoformat()
    if isinstance(v, (decimal.Decimal, uuid.UUID)):
        return str(v)
    return v


def decoder(registry, schema):
    if registry:
        deser = AvroDeserializer(SchemaRegistryClient({"url": registry}))

        def dec(m):
            return deser(m.value(), SerializationContext(m.topic(), MessageField.VALUE))
        return dec
    parsed = fastavro.parse_schema(schema)
    return lambda m: fastavro.schemaless_reader(io.BytesIO(m.value()), parsed)


def check(bootstrap, topic, schema_path, corpus_path, registry, skip):
    schema = json.load(open(schema_path))
    names = Names()
    names.walk(schema)
    lines = [json.loads(x) for x in open(corpus_path, encoding="utf-8") if x.strip()]
    want = {}
    for i, doc in enumerate(lines, 1):
        if i not in skip:
            want[doc["id"]] = expected(schema, doc, names)
    msgs = messages(bootstrap, topic, len(want))
    dec = decoder(registry, schema)
    bad, seen = [], set()
    for m in msgs:
        got = dec(m)
        if isinstance(got.get("uid"), str):
            got["uid"] = uuid.UUID(got["uid"])
        key = got.get("id")
        if key in seen:
            bad.append({"id": key, "problem": "duplicate"})
        seen.add(key)
        exp = want.get(key)
        if exp != got:
            diff = {k: [jsonable(exp.get(k) if exp else None), jsonable(got.get(k))] for k in got
                    if not exp or exp.get(k) != got.get(k)}
            bad.append({"id": key, "diff": diff})
    missing = [k for k in want if k not in seen]
    print(json.dumps({"records": len(msgs), "expected": len(want), "equal": len(msgs) - len(bad),
                      "missing": len(missing), "problems": bad[:3]}))
    if bad or missing or len(msgs) != len(want):
        sys.exit(1)


def dump(bootstrap, topic, count, registry):
    dec = decoder(registry, None)
    for m in messages(bootstrap, topic, int(count)):
        v = m.value()
        print(json.dumps({"schema_id": int.from_bytes(v[1:5], "big"), "value": jsonable(dec(m))}))


def main(argv):
    args = argv[1:]
    opts = {}
    for flag in ("--registry", "--skip"):
        if flag in args:
            i = args.index(flag)
            opts[flag] = args[i + 1]
            del args[i:i + 2]
    if not args:
        raise SystemExit(__doc__)
    cmd, rest = args[0], args[1:]
    if cmd == "check":
        skip = {int(x) for x in opts.get("--skip", "").split(",") if x}
        check(*rest, opts.get("--registry"), skip)
    elif cmd == "dump":
        dump(*rest, opts.get("--registry"))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
