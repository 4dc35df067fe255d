#!/usr/bin/env python3
"""Writes the seed corpora of the text targets from the conformance vectors (tests/vectors):
fuzz/corpus/retry_after (Retry-After values), fuzz/corpus/status_body (Status bodies, plus a few
shapes the vectors lack), fuzz/corpus/policy_json (policy JSON texts). Each file is named by the
SHA-1 of its content, as libFuzzer names corpus files; at most MAX files per target.

The structured targets (decisions, abi_fuzz) take binary inputs; their seeds are a distilled
corpus of an earlier run (see fuzz/README.md), not written here.

    python3 fuzz/gen_corpus.py          # rewrite the three directories
    python3 fuzz/gen_corpus.py --check  # exit 1 if they differ from what this script writes
"""

import hashlib
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors"
CORPUS = ROOT / "fuzz" / "corpus"
MAX = 48

# Shapes the vectors do not have: numbers out of range, repeated and escaped keys, nesting, bytes
# that are not UTF-8, and (first byte 0) a repeated body, nested 2 deep: see status_body.rs.
EXTRA_BODIES = [
    b'{"kind":"Status","code":503,"reason":"ServiceUnavailable","details":{"retryAfterSeconds":1e400}}',
    b'{"reason":"A","reason":"B","code":429,"code":"x","details":{"retryAfterSeconds":2},"details":[]}',
    b'{"re\\u0061son":"TooManyRequests","code":429.0,"details":{"retryAfterSeconds":-3}}',
    b'{"message":"bad \xff byte","reason":"TooManyRequests","details":{"retryAfterSeconds":7}}',
    b'{"details":{"details":{"retryAfterSeconds":1},"retryAfterSeconds":2}}',
    b'  {"code": 18446744073709551616, "reason": " ServerTimeout "}  ',
    b"\x00\x00\x02\x0b\x01" + b'{"details":1}',
]

EXTRA_POLICIES = [
    '{"jitter": {"proportional": 0.3, "x": 1}}',
    '{"deadline": 1e-300}',
    '{"not_sent_codes": ["ECONNRESET"], "ambiguous_codes": ["econnreset"]}',
    '{"budget": {"ratio": 0.5, "burst": 0.1}}',
    '{"breaker": {"failure_threshold": 1, "open_for": 1e308}}',
    '{"max_retries": 10000, "exponential_base": 1000, "max_delay": 31536000, "retry_after_cap": 31536000}',
    '{"preset": "reconcile", "seed": 18446744073709551615, "retry_statuses": [100, 599]}',
    # Retry-After spread and cap (a 120 s hint past a 60 s cap gives up) and a budget that defers
    # every retry past the episode's first (Wait, then resume).
    '{"retry_after_cap": 60, "retry_after_spread": 1, "budget": {"ratio": 0, "burst": 0, "min_per_second": 0, '
    '"min_per_episode": 1, "ttl": 10}, "deadline": 600}',
]


def strings(node, key):
    """Every value of `key` anywhere in a JSON tree."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key and isinstance(v, str):
                yield v
            else:
                yield from strings(v, key)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v, key)


def load(name):
    return json.loads((VECTORS / f"{name}.json").read_text())


def seeds():
    retry_after = [v.encode() for v in strings(load("retry_after"), "value")]
    for name in ("decisions", "classification"):
        retry_after += [v.encode() for v in strings(load(name), "retry_after")]
    bodies = [v.encode() for name in ("classification", "decisions") for v in strings(load(name), "body")]
    bodies += EXTRA_BODIES
    policies = []
    for name in ("decisions", "delays", "classification"):
        policies += [v.encode() for v in strings(load(name), "policy_json")]
    policies += [p.encode() for p in EXTRA_POLICIES]
    return {"retry_after": retry_after, "status_body": bodies, "policy_json": policies}


def unique(items):
    seen = {}
    for item in items:
        seen.setdefault(hashlib.sha1(item).hexdigest(), item)
    # Keep the extras (at the end) and an even spread of the rest when there are too many.
    names = list(seen)
    if len(names) > MAX:
        step = len(names) / MAX
        names = [names[int(i * step)] for i in range(MAX - 8)] + names[-8:]
    return {n: seen[n] for n in names}


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for target, items in seeds().items():
        directory = CORPUS / target
        wanted = unique(items)
        present = {p.name: p.read_bytes() for p in directory.glob("*")} if directory.exists() else {}
        if check:
            if present != wanted:
                stale.append(target)
            continue
        directory.mkdir(parents=True, exist_ok=True)
        for name in set(present) - set(wanted):
            (directory / name).unlink()
        for name, content in wanted.items():
            (directory / name).write_bytes(content)
        print(f"{directory.relative_to(ROOT)}: {len(wanted)} files")
    if stale:
        print(f"stale seed corpora (run python3 fuzz/gen_corpus.py): {', '.join(stale)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
