#!/usr/bin/env python3
"""Writes event.jsonl: 60 JSON documents for event.avsc, deterministic (seed 7), covering
every type and each input form the mapping accepts (defaults left out, unions plain and
tagged, dates as strings and day counts, timestamps as ISO strings and numbers, ...)."""
import json
import random

r = random.Random(7)
out = []
for i in range(60):
    d = {
        "id": r.randrange(-2**62, 2**62),
        "n_int": r.randrange(-2**31, 2**31),
        "flag": r.random() < 0.5,
        "ratio": r.choice([0.5, -1.25, 3.0, 1024.0]),
        "score": r.uniform(-1e6, 1e6),
        "name": r.choice(["alice", "bøb", "日本語", "", "quote\"and\\slash", "emoji 🎉"]),
        "raw": "".join(chr(r.randrange(0, 256)) for _ in range(r.randrange(0, 12))),
        "hash": "".join(chr(r.randrange(0, 256)) for _ in range(4)),
        "kind": r.choice(["CLICK", "VIEW", "BUY"]),
        "tags": [r.choice(["a", "b", "c"]) for _ in range(r.randrange(0, 4))],
        "attrs": {f"k{j}": r.randrange(-10**12, 10**12) for j in range(r.randrange(0, 3))},
        "address": {"street": f"{r.randrange(1, 999)} Main St"},
        "amount": r.choice([f"{r.randrange(-10**7, 10**7) / 100:.2f}", r.randrange(-1000, 1000), "0.10", "-0.01"]),
        "amount_fixed": f"{r.randrange(-10**11, 10**11) / 1000:.3f}",
        "day": r.choice(["2024-02-29", "1970-01-01", "1969-12-31", "2038-01-19", r.randrange(-20000, 30000)]),
        "at_ms": r.choice(["2024-05-01T12:00:00Z", "2024-05-01T14:00:00.123+02:00", "1999-12-31T23:59:59.999Z",
                           r.randrange(0, 2**41)]),
        "at_us": r.choice(["2024-05-01T12:00:00.123456Z", r.randrange(0, 2**50)]),
        "t_ms": r.choice(["00:00:00", "23:59:59.999", "12:30:00.5", r.randrange(0, 86_400_000)]),
        "t_us": r.choice(["01:02:03.000004", r.randrange(0, 86_400_000_000)]),
        "local_ms": r.choice(["2024-05-01T12:00:00", "2001-02-03T04:05:06.007", r.randrange(0, 2**41)]),
        "local_us": r.choice(["2024-05-01T12:00:00.000001", r.randrange(0, 2**50)]),
        "span": "".join(chr(r.randrange(0, 256)) for _ in range(12)),
        "uid": "%08x-%04x-%04x-%04x-%012x" % (r.getrandbits(32), r.getrandbits(16), r.getrandbits(16),
                                              r.getrandbits(16), r.getrandbits(48)),
        "nothing": None,
        "items": [{"sku": f"sku-{r.randrange(100)}", "qty": r.randrange(1, 9)} for _ in range(r.randrange(0, 3))],
    }
    if i % 2:
        d["address"]["zip"] = r.choice([None, "94107", {"string": "10001"}])
    if i % 3 == 0:
        d["note"] = r.choice([None, "hello", {"string": "tagged"}])
    d["choice"] = [None, 7, "seven", {"int": 8}, {"string": "eight"},
                   {"com.example.Address": {"street": "Elm", "zip": None}}, {"Address": {"street": "Oak"}}][i % 7]
    if i % 4 == 0:
        d["with_default"] = r.randrange(-5, 5)
    if i % 5 == 0:
        d["maybe_tags"] = r.choice([None, ["x"], {"array": ["y", "z"]}])
    if i % 6 == 0:
        d["big"] = r.randrange(-2**63, 2**63)
    out.append(d)
with open("event.jsonl", "w", encoding="utf-8") as f:
    for d in out:
        f.write(json.dumps(d, ensure_ascii=False) + "\n")
