"""Parses a Prometheus text-format scrape (standard input) with prometheus_client's parser,
the way a Prometheus server would, and prints one JSON object:
{"types": {family: type}, "samples": [[name, {labels}, value], ...]}.
Exit status 1 (with the parser's message) if the text does not parse."""
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    text = sys.stdin.read()
    types, samples = {}, []
    try:
        for fam in text_string_to_metric_families(text):
            types[fam.name] = fam.type
            for s in fam.samples:
                v = None if math.isnan(s.value) else s.value
                samples.append([s.name, dict(s.labels), v])
    except Exception as e:  # the parser raises ValueError and friends
        raise SystemExit(f"prom_check: not valid Prometheus text: {e}")
    print(json.dumps({"types": types, "samples": samples}))


if __name__ == "__main__":
    main()
