"""Checked by test_typing.py with `mypy --strict`: the official retry utilities' API from
k8sretry.client_go, a Policy read back, and wrap_client over lightkube typed as the client."""

from __future__ import annotations

import random
from typing import reveal_type

from k8sretry import Policy, wrap_client
from k8sretry.client_go import DEFAULT_RETRY, Backoff, on_error, retry_on_conflict
from lightkube import Client


def read() -> int:
    return 1


value = on_error(Backoff(steps=3, duration=0.1, factor=2.0), lambda e: True, read)
reveal_type(value)
reveal_type(retry_on_conflict(lambda: "x", DEFAULT_RETRY, random_func=random.Random(1).random))
policy = Policy(max_retries=2, random=random.Random(1).random)
reveal_type(policy.initial_delay)
reveal_type(policy == Policy())


def wrapped(client: Client) -> None:
    reveal_type(wrap_client(client))
