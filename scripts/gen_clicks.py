#!/usr/bin/env python3
"""Prints N click events as JSON lines (seeded): gen_clicks.py N [USERS] > clicks.jsonl

Used for the 1,000,000-record check of the producer core:
    scripts/gen_clicks.py 1000000 > 1m.jsonl
    target/release/volley produce --bootstrap-servers B --topic clicks1m --key-field user_id --acks all 1m.jsonl
    .volley/venv/bin/python scripts/reader.py verify B clicks1m 1m.jsonl user_id
"""
import json
import random
import sys

n = int(sys.argv[1])
users = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
r = random.Random(7)
actions = ["click", "view", "purchase", "scroll", "share"]
out = sys.stdout
for i in range(n):
    out.write(json.dumps({"user_id": "user-%d" % r.randrange(users), "action": r.choice(actions), "seq": i,
                          "features": [round(r.random(), 4) for _ in range(3)]}) + "\n")
