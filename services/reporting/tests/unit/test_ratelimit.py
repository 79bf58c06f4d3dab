"""The status page's token bucket per client address."""
from __future__ import annotations

from gm_reporting.ratelimit import RateLimiter


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_burst_then_one_request_per_refill_and_the_wait_said():
    clock = Clock()
    limiter = RateLimiter(10, 60.0, clock=clock)  # 10 at once, then one every 6 s
    assert [limiter.take("1.2.3.4") for _ in range(10)] == [0.0] * 10
    assert limiter.take("1.2.3.4") == 6.0
    assert limiter.take("5.6.7.8") == 0.0  # another address has its own bucket
    clock.now += 3
    assert limiter.take("1.2.3.4") == 3.0
    clock.now += 3
    assert limiter.take("1.2.3.4") == 0.0
    assert limiter.take("1.2.3.4") == 6.0
    clock.now += 3600
    assert [limiter.take("1.2.3.4") for _ in range(11)][-2:] == [0.0, 6.0]  # never above 10


def test_memory_is_bounded_and_the_oldest_address_forgotten_first():
    clock = Clock()
    limiter = RateLimiter(1, 60.0, max_clients=100, clock=clock)
    for i in range(1000):
        assert limiter.take(f"10.0.{i // 256}.{i % 256}") == 0.0
    assert len(limiter._buckets) == 100
    assert limiter.take("10.0.3.231") > 0  # among the latest: remembered
    assert limiter.take("10.0.0.0") == 0.0  # forgotten: a fresh bucket
