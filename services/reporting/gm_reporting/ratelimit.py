"""A token bucket per client address, for the public status page (CONTRACT.md §8).

Written here rather than taken from a library: it is a dozen lines, needs no storage
backend, and must never yield to another green thread between reading and taking a
token (nothing here does I/O). Each process keeps its own buckets: with N replicas
behind a balancer a client gets up to N times the rate, still far too few guesses to
matter against 2^77 codes. Addresses are forgotten least recently seen first, so a flood
of addresses costs bounded memory.
"""
from __future__ import annotations

import math
import time
from collections import OrderedDict
from typing import Callable, Optional


class RateLimiter:
    def __init__(self, burst: int, per_seconds: float = 60.0, max_clients: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        self.capacity = max(1, int(burst))
        self.rate = self.capacity / per_seconds  # tokens regained per second
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: "OrderedDict[str, tuple]" = OrderedDict()  # client -> (tokens, at)

    def take(self, client: Optional[str]) -> float:
        """Take a token for `client`: 0.0 if it may go ahead, else the seconds until it
        may (a whole number, at least 1: the Retry-After it is told)."""
        key = client or "-"
        now = self.clock()
        tokens, at = self._buckets.pop(key, (float(self.capacity), now))
        tokens = min(float(self.capacity), tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            self._remember(key, (tokens - 1.0, now))
            return 0.0
        self._remember(key, (tokens, now))
        return float(max(1, math.ceil((1.0 - tokens) / self.rate)))

    def _remember(self, key: str, bucket: tuple) -> None:
        self._buckets[key] = bucket
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
