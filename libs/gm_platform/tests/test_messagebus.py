"""The unit of work and the message bus (gm_platform.messagebus) on a real SQLite store:
what every service's handlers rely on — one commit per unit, a conflict decided again,
an idempotency key answered once, a number taken once, a feed's position recorded with
the effects."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from gm_kernel import (
    Aggregate, ConcurrencyError, DuplicateMessage, NewEvent, OutboxMessage, Processed,
    RecordedEvent, Tracking, applies, new_id,
)
from gm_kernel.store.factory import open_store
from gm_platform.messagebus import Caller, IdempotencyKeyReused, MessageBus, UnitOfWork

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)


class Counter(Aggregate):
    stream_prefix = "counter-"

    def __init__(self, id: str):
        super().__init__(id)
        self.total = 0

    def add(self, amount: int) -> None:
        self._record("Added", {"amount": amount})

    @applies("Added")
    def _added(self, data) -> None:
        self.total += data["amount"]


@dataclass(frozen=True)
class Add:
    counter: str
    amount: int
    caller: Caller = Caller("tester")


@dataclass(frozen=True)
class Other:
    counter: str
    caller: Caller = Caller("tester")


@pytest.fixture
def store(tmp_path):
    store = open_store(f"sqlite:///{tmp_path}/bus.db", "test")
    yield store
    store.close()


def add(command: Add, uow: UnitOfWork, *, step: int = 1) -> int:
    counter = uow.load(Counter, command.counter)
    counter.add(command.amount * step)
    return counter.total


def bus_with(store, **kwargs) -> MessageBus:
    kwargs.setdefault("commands", {Add: add})
    return MessageBus(store, lambda: NOW, pause=0.0, **kwargs)


def total(store, counter: str) -> int:
    return Counter.load(counter, store.read_stream(Counter.stream_prefix + counter)).total


def append_behind(store, counter: str, amount: int) -> None:
    """Another writer moves the stream on."""
    version = len(store.read_stream(Counter.stream_prefix + counter))
    store.append(Counter.stream_prefix + counter, version, [NewEvent("Added", {"amount": amount})])


def test_a_command_is_one_commit_and_returns_what_its_handler_returns(store):
    bus = bus_with(store)
    assert bus.handle(Add("c", 2)) == 2
    assert bus.handle(Add("c", 3)) == 5
    assert [e.version for e in store.read_stream("counter-c")] == [1, 2]


def test_a_concurrent_change_is_decided_again_on_the_fresh_state(store):
    attempts = []

    def racing(command: Add, uow: UnitOfWork) -> int:
        counter = uow.load(Counter, command.counter)
        attempts.append(counter.total)
        if len(attempts) == 1:
            append_behind(store, command.counter, 10)  # lands between our read and commit
        counter.add(command.amount)
        return counter.total

    bus = bus_with(store, commands={Add: racing})
    assert bus.handle(Add("c", 1)) == 11
    assert attempts == [0, 10] and total(store, "c") == 11


def test_a_conflict_on_every_attempt_reaches_the_caller(store):
    calls = []

    def always_behind(command: Add, uow: UnitOfWork) -> None:
        calls.append(1)
        uow.load(Counter, command.counter).add(1)
        append_behind(store, command.counter, 1)

    with pytest.raises(ConcurrencyError):
        bus_with(store, commands={Add: always_behind}, retries=3).handle(Add("c", 1))
    assert len(calls) == 3


def test_an_idempotency_key_gives_the_first_answer_and_refuses_another_command(store):
    bus = bus_with(store, commands={Add: add, Other: lambda command, uow: "other"})
    keyed = Caller("clerk-1", "key-1")
    assert bus.handle(Add("c", 2, keyed)) == 2
    assert bus.handle(Add("c", 2, keyed)) == 2  # the retry: the same answer, no effect
    assert total(store, "c") == 2
    with pytest.raises(IdempotencyKeyReused):
        bus.handle(Add("c", 3, keyed))
    with pytest.raises(IdempotencyKeyReused):
        bus.handle(Other("c", keyed))
    # keys are per actor: another clerk's "key-1" is another request
    assert bus.handle(Add("c", 2, Caller("clerk-2", "key-1"))) == 4


def test_a_twin_request_committing_first_is_answered_with_its_answer(store):
    keyed = Caller("clerk-1", "key-1")

    def twin_first(command: Add, uow: UnitOfWork) -> int:
        # the twin (another replica) records the same key with its answer meanwhile
        from gm_platform.messagebus import fingerprint
        store.append(None, None, processed=[Processed(keyed.key, {
            "fingerprint": fingerprint(command), "response": 42})])
        return add(command, uow)

    assert bus_with(store, commands={Add: twin_first}).handle(Add("c", 1, keyed)) == 42
    assert total(store, "c") == 0


def test_a_messages_keys_are_recorded_with_its_answer_and_found_again(store):
    def answer(command: Add, uow: UnitOfWork) -> str:
        add(command, uow)
        uow.answer = {"total": 7}
        return "done"

    bus = bus_with(store, commands={Add: answer})
    assert bus.handle(Add("c", 7), keys=["message:1", "referral:9"]) == "done"
    for key in ("message:1", "referral:9"):
        assert store.processed_result(key).result == {"total": 7}
        with pytest.raises(DuplicateMessage) as dup:
            bus.handle(Add("c", 7), keys=[key])
        assert dup.value.key == key and dup.value.result == {"total": 7}
    assert total(store, "c") == 7


def test_a_number_taken_first_by_another_writer_is_taken_again_next(store):
    taken = []

    def number(command: Add, uow: UnitOfWork) -> int:
        n = uow.take_number("case-number:410611:2026")
        taken.append(n)
        if len(taken) == 1:  # another instance takes the same number first
            store.append(None, None, tracking=Tracking("case-number:410611:2026", n))
        uow.load(Counter, command.counter).add(n)
        return n

    assert bus_with(store, commands={Add: number}).handle(Add("c", 0)) == 2
    assert taken == [1, 2] and store.tracked_position("case-number:410611:2026") == 2


def event(type_: str, position: int, data: dict) -> RecordedEvent:
    return RecordedEvent(id=new_id(), stream_id="source-1", version=position,
                         position=position, type=type_, schema_version=1, occurred_at=NOW,
                         data=data)


def test_a_feeds_event_commits_its_effects_with_the_position_or_nothing(store):
    def on_counted(event: RecordedEvent, uow: UnitOfWork) -> None:
        if event.data["amount"]:
            uow.load(Counter, "c").add(event.data["amount"])

    bus = bus_with(store, events={"Counted": on_counted})
    assert bus.handle_event(event("Other", 1, {}), Tracking("feed:x", 1)) is False
    assert bus.handle_event(event("Counted", 2, {"amount": 0}), Tracking("feed:x", 2)) is False
    assert store.tracked_position("feed:x") == 0  # the feed records those positions itself
    assert bus.handle_event(event("Counted", 3, {"amount": 5}), Tracking("feed:x", 3)) is True
    assert store.tracked_position("feed:x") == 3 and total(store, "c") == 5
    with pytest.raises(DuplicateMessage):  # another replica applied it first
        bus.handle_event(event("Counted", 3, {"amount": 5}), Tracking("feed:x", 3))
    assert total(store, "c") == 5


def test_outbox_rules_send_a_message_for_an_event_in_the_same_commit(store):
    def announce(new: NewEvent) -> OutboxMessage:
        return OutboxMessage(exchange="gm.outbound", routing_key="court.case_outcome",
                             body={"amount": new.data["amount"]}, message_id=new.id)

    bus_with(store, outbox_rules={"Added": announce}).handle(Add("c", 4))
    sent = [m for m in store.pending_outbox(10) if m.routing_key == "court.case_outcome"]
    assert [m.body for m in sent] == [{"amount": 4}]


def test_dependencies_are_injected_by_name_and_a_missing_one_fails_at_start(store):
    assert bus_with(store, dependencies={"step": 10}).handle(Add("c", 2)) == 20

    def needs_rules(command: Add, uow: UnitOfWork, *, rules) -> None: ...

    with pytest.raises(TypeError, match="rules"):
        bus_with(store, commands={Add: needs_rules})


def test_a_unit_of_work_changes_one_stream(store):
    def two(command: Add, uow: UnitOfWork) -> None:
        uow.load(Counter, "a").add(1)
        uow.load(Counter, "b").add(1)

    with pytest.raises(RuntimeError, match="one stream"):
        bus_with(store, commands={Add: two}).handle(Add("a", 1))
    assert total(store, "a") == total(store, "b") == 0


def test_a_query_reads_on_a_fresh_unit_and_records_nothing(store):
    bus = bus_with(store, dependencies={"step": 3})
    bus.handle(Add("c", 1))

    def view(counter: str, uow: UnitOfWork, *, step) -> int:
        return uow.get(Counter, counter).total * step

    assert bus.query(view, "c") == 9
    with pytest.raises(LookupError, match="no Counter missing"):
        bus.query(view, "missing")
    assert store.last_position() == 1
