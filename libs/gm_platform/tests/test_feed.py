"""EventFeed: another service's events applied exactly once, in its log order, whatever
the broker does (duplicates, losses, reordering) and however many replicas apply them."""
from __future__ import annotations

import json
from typing import List

import pytest

from gm_kernel import NewEvent, RecordedEvent, Tracking
from gm_kernel.store.factory import open_store
from gm_kernel.testing.store_contract import run_in_threads
from gm_platform.feed import EventFeed, LocalSourceLog


class ListLog:
    """A source log held in memory; `down` makes reads fail like an unreachable service."""

    def __init__(self, events: List[RecordedEvent]):
        self.events = events
        self.down = False
        self.reads = 0

    def read(self, after_position: int, limit: int) -> List[RecordedEvent]:
        self.reads += 1
        if self.down:
            raise TimeoutError("source unreachable")
        return [e for e in self.events if e.position > after_position][:limit]


@pytest.fixture
def source(tmp_path):
    """A real source store with 6 events over two streams (positions 1..6)."""
    store = open_store(f"sqlite:///{tmp_path}/source.db", "intake")
    for n in range(3):
        for stream in ("case-a", "case-b"):
            kind = "Noted" if n % 2 else "Counted"
            store.append(stream, n, [NewEvent(kind, {"n": n, "stream": stream})])
    yield store
    store.close()


@pytest.fixture
def target(tmp_path):
    store = open_store(f"sqlite:///{tmp_path}/target.db", "assignment")
    yield store
    store.close()


def counter(target):
    """An applier that records one 'Seen' event per 'Counted' event (and nothing else)."""

    def apply(event: RecordedEvent, tracking: Tracking) -> bool:
        if event.type != "Counted":
            return False
        version = target.stream_version("seen")
        target.append("seen", version, [NewEvent("Seen", {"source_position": event.position})],
                      tracking=tracking)
        return True
    return apply


def seen(target) -> List[int]:
    return [e.data["source_position"] for e in target.read_stream("seen")]


def body(event: RecordedEvent) -> bytes:
    return json.dumps(event.to_dict()).encode()


def test_in_order_delivery_applies_each_event_once(source, target):
    events = source.read_log()
    feed = EventFeed(target, "intake", counter(target), ListLog(events))
    outcomes = [feed.deliver(body(e)) for e in events]
    assert outcomes == ["applied"] * 6
    assert seen(target) == [1, 2, 5, 6]  # the Counted ones, in log order
    assert feed.position() == 6
    # every event again, e.g. redelivered after a consumer crash: nothing changes
    assert [feed.deliver(body(e)) for e in events] == ["duplicate"] * 6
    assert seen(target) == [1, 2, 5, 6]


def test_the_relays_batch_applies_each_event_in_order_and_again_is_all_duplicates(
        source, target):
    """The relay sends what it finds pending as one message (a JSON array in log order)."""
    events = source.read_log()
    feed = EventFeed(target, "intake", counter(target), ListLog(events))
    batch = json.dumps([e.to_dict() for e in events[:4]]).encode()
    assert feed.deliver(batch) == "applied 4"
    assert feed.deliver(body(events[4])) == "applied"  # a lone event: as itself
    overlapping = json.dumps([e.to_dict() for e in events[3:]]).encode()
    assert feed.deliver(overlapping) == "duplicate 2, applied 1"
    assert seen(target) == [1, 2, 5, 6] and feed.position() == 6


def test_a_gap_is_filled_from_the_source_log(source, target):
    events = source.read_log()
    log = ListLog(events)
    feed = EventFeed(target, "intake", counter(target), log)
    assert feed.deliver(body(events[0])) == "applied"
    # positions 2..4 were lost by the broker; 5 arrives: acknowledged at once, and the
    # log read in the background, outside the delivery
    assert feed.deliver(body(events[4])) == "deferred"
    assert feed.wait_caught_up()
    assert seen(target) == [1, 2, 5, 6] and feed.position() == 6
    assert feed.deliver(body(events[2])) == "duplicate"  # a late copy of a lost one


def test_an_unreadable_gap_changes_nothing_until_the_log_can_be_read(source, target):
    events = source.read_log()
    log = ListLog(events)
    feed = EventFeed(target, "intake", counter(target), log)
    log.down = True
    assert feed.deliver(body(events[3])) == "deferred"
    assert feed.wait_caught_up()  # it tried, failed and left it to the periodic catch-up
    assert feed.position() == 0 and seen(target) == []
    log.down = False
    assert feed.catch_up() == 6 and seen(target) == [1, 2, 5, 6]


def test_a_failing_event_holds_the_feed_at_its_position_until_it_succeeds(source, target):
    events = source.read_log()
    inner = counter(target)
    broken = {"on": True}

    def apply(event, tracking):
        if event.position == 3 and broken["on"]:
            raise RuntimeError("bug")
        return inner(event, tracking)

    feed = EventFeed(target, "intake", apply, ListLog(events))
    with pytest.raises(RuntimeError):
        feed.catch_up()
    assert feed.position() == 2 and seen(target) == [1, 2]
    # nothing after it is applied out of order
    assert feed.deliver(body(events[4])) == "deferred"
    assert feed.wait_caught_up() and feed.position() == 2
    broken["on"] = False
    assert feed.catch_up() == 4 and seen(target) == [1, 2, 5, 6]


def test_replicas_racing_over_one_store_apply_each_event_once(source, target, tmp_path):
    events = source.read_log()
    stores = [open_store(f"sqlite:///{tmp_path}/target.db", "assignment") for _ in range(4)]
    feeds = [EventFeed(s, "intake", counter(s), ListLog(events)) for s in stores]
    try:
        def race(w: int) -> None:
            for e in (events if w % 2 else reversed(events)):
                feeds[w].deliver(body(e))
            feeds[w].catch_up()
        assert run_in_threads(race, 4, timeout=60) == []
        assert seen(target) == [1, 2, 5, 6] and feeds[0].position() == 6
    finally:
        for s in stores:
            s.close()


def test_a_local_feed_follows_the_services_own_log(source):
    reactions = []

    def react(event, tracking):
        reactions.append(event.position)
        return False

    feed = EventFeed(source, "intake", react, LocalSourceLog(source))
    assert feed.catch_up() == 6
    assert feed.catch_up() == 0  # tracking-only commits add no events to react to
    assert reactions == [1, 2, 3, 4, 5, 6]


def test_effects_recorded_earlier_under_a_message_key_still_move_the_feed(source, target):
    """An applier whose commit carries a Processed key that already exists (the same
    message handled before by another path) is a duplicate: the feed records the
    position alone and goes on."""
    from gm_kernel import Processed

    events = source.read_log()
    target.append(None, None, processed=[Processed("msg:1", {})])

    def apply(event, tracking):
        target.append(None, None, processed=[Processed(f"msg:{event.position}", {})],
                      tracking=tracking)
        return True

    feed = EventFeed(target, "intake", apply, ListLog(events[:1]))
    assert feed.catch_up() == 1
    assert feed.position() == 1  # else the same event would be offered for ever


def test_a_delivery_never_waits_for_a_catch_up_in_progress(source, target):
    """The consumer's delivery callback must not block while the log is being read (its
    connection has heartbeats to answer): during a slow catch-up, deliveries return at
    once, and the catch-up applies what they carried."""
    import threading
    import time

    events = source.read_log()
    release = threading.Event()

    class SlowLog(ListLog):
        def read(self, after_position, limit):
            release.wait(10)  # a source answering slowly
            return super().read(after_position, limit)

    feed = EventFeed(target, "intake", counter(target), SlowLog(events))
    catching_up = threading.Thread(target=feed.catch_up)
    catching_up.start()
    time.sleep(0.1)
    started = time.monotonic()
    assert [feed.deliver(body(e)) for e in events] == ["deferred"] * 6
    assert time.monotonic() - started < 1.0
    release.set()
    catching_up.join(10)
    assert feed.wait_caught_up()
    assert seen(target) == [1, 2, 5, 6] and feed.position() == 6


class ShortPages(ListLog):
    """A source whose pages stop short of `limit`, as read_log's byte budget makes them."""

    def read(self, after_position: int, limit: int) -> List[RecordedEvent]:
        return super().read(after_position, min(limit, 2))


def test_a_page_short_of_the_limit_is_not_taken_for_the_end_of_the_log(source, target):
    log = ShortPages(source.read_log())
    feed = EventFeed(target, "intake", counter(target), log, page_size=500)
    assert feed.catch_up() == 6 and seen(target) == [1, 2, 5, 6]
    assert log.reads == 4  # three pages of two, then the empty page that ends it


def test_an_rpc_page_stops_at_its_byte_budget_and_holds_at_least_one_item():
    from gm_platform.base import fill_page

    items = [{"n": n, "text": "长" * 100} for n in range(10)]  # 6 bytes a character, escaped
    one = len(json.dumps(items[0]))
    assert fill_page(items, budget=3 * one) == items[:3]
    assert fill_page(items, budget=3 * one - 1) == items[:2]
    assert fill_page(items, budget=1) == items[:1]  # one larger than the budget still goes
    assert fill_page(iter([]), budget=1) == []
    assert fill_page(items) == items  # the default budget (512 KiB) takes these all


def test_a_page_of_events_that_need_nothing_is_recorded_once_by_its_last_position(
        source, target):
    """A queue bound to a few types (topology.BROKER_INTERESTS) leaves the rest to pages of
    the log: one tracking record per run of passed-over events, not one per event."""
    source.append("case-c", 0, [NewEvent("Noted", {"n": 7}), NewEvent("Noted", {"n": 8})])
    feed = EventFeed(target, "intake", counter(target), ListLog(source.read_log()))
    assert feed.catch_up() == 8
    assert seen(target) == [1, 2, 5, 6] and feed.position() == 8
    rows = [p for (p,) in target._db.execute(
        "SELECT position FROM tracking WHERE name = 'feed:intake' ORDER BY position")]
    assert rows == [1, 2, 5, 6, 8]  # 3, 4 passed over before 5; 7 before 8
    assert feed.catch_up() == 0
