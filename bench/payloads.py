#!/usr/bin/env python3
"""Distinct, realistic values for the benchmarks: N lines of click-event JSON, each exactly
SIZE bytes (a random `pad` field fills the rest), from a fixed seed. One repeated buffer
makes compression look cheaper than it is for every client; these compress about as real
events do.

    bench/payloads.py SIZE N OUT
"""
import json
import random
import string
import sys

PAGES = ["/", "/search", "/cart", "/checkout", "/product", "/account", "/help", "/deals"]
EVENTS = ["view", "click", "add_to_cart", "purchase", "scroll", "search"]


def line(rng, size, users=10**7):
    e = {
        "user_id": f"u{rng.randrange(users):07d}",
        "event": rng.choice(EVENTS),
        "ts": 1764900000000 + rng.randrange(10**9),
        "page": rng.choice(PAGES) + "/" + "".join(rng.choices(string.ascii_lowercase, k=rng.randrange(3, 9))),
        "session": "%016x" % rng.getrandbits(64),
        "price": round(rng.random() * 500, 2),
        "pad": "",
    }
    base = json.dumps(e, separators=(",", ":"))
    for drop in ("session", "price", "page"):  # small sizes: fewer fields, still JSON
        if len(base) <= size:
            break
        del e[drop]
        base = json.dumps(e, separators=(",", ":"))
    room = size - len(base)
    if room < 0:
        return base[:size]
    e["pad"] = "".join(rng.choices(string.ascii_letters + string.digits + " ", k=room))
    return json.dumps(e, separators=(",", ":"))


def write(size, n, out):
    rng = random.Random(f"{size}-{n}")
    with open(out, "w") as f:
        for _ in range(n):
            f.write(line(rng, size) + "\n")


def write_events(size, n, users, out):
    """`n` distinct event lines of `size` bytes whose `user_id` takes `users` values (the
    CLI benchmark's input: `volley produce --key-field user_id`)."""
    rng = random.Random(f"events-{size}-{n}-{users}")
    with open(out, "w") as f:
        for _ in range(n):
            f.write(line(rng, size, users) + "\n")


if __name__ == "__main__":
    write(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
