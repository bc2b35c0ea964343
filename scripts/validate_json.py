"""Validates JSON lines (a file, or standard input) against a JSON Schema with the jsonschema
package: `validate_json.py SCHEMA [FILE]`. Prints the number of documents; exit status 1 with
the first violation otherwise."""
import json
import sys

import jsonschema


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    with open(argv[1]) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    src = open(argv[2]) if len(argv) > 2 else sys.stdin
    n = 0
    for i, line in enumerate(src, 1):
        if not line.strip():
            continue
        doc = json.loads(line)
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        if errors:
            e = errors[0]
            raise SystemExit(f"document {i}: {'/'.join(map(str, e.path)) or '(root)'}: {e.message}")
        n += 1
    print(n)


if __name__ == "__main__":
    main(sys.argv)
