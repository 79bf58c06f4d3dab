"""One unit of work and one message bus for every service: load → decide → commit, written
once (after cosmicpython's `unit_of_work` and `messagebus`, on an event store).

A service's use cases are plain functions registered in tables against what they handle:

    COMMANDS = {ExtendDeadline: extend_deadline}    # a leader's, a mediator's, an agency's
    EVENTS = {CaseRegistered: place_case}          # another service's events (its feeds)

A handler takes the message, the `UnitOfWork` and, by parameter name, what the service's
bootstrap wires (`directory`, `rules`, `calendar`, ...). It loads aggregates through the
unit of work, calls their commands, may send outbox messages or answer an agency, and
returns what the caller is told. The bus then commits in one store append:

- the new events of the one stream the handler changed, at the version it read;
- the outbox messages: those the handler sent and those the service's outbox rules make
  of the new events (e.g. a closed referred case → `<agency>.case_outcome`);
- the idempotency keys, with the first answer;
- the tracking record (a feed's position, a claimed number).

What may happen, and what the bus does about it, in one place:
- another writer moved the stream on (ConcurrencyError), or took the number the handler
  claimed: the handler decides again on the fresh state, after a short jittered pause,
  up to `retries` times;
- the same command under the same idempotency key: its first answer again, without a
  second effect; another command under that key: IdempotencyKeyReused;
- a message whose keys are recorded (an agency's message handled before), or a tracking
  position applied before: DuplicateMessage, for the caller to answer as its contract
  says (gm_platform.answers, gm_platform.feed).
"""
from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import (
    Any, Callable, Dict, List, Mapping, Optional, Sequence, Type, TypeVar,
)

from gm_kernel import (
    Aggregate,
    ConcurrencyError,
    DomainError,
    DuplicateMessage,
    EventStore,
    NewEvent,
    OutboxMessage,
    Processed,
    RecordedEvent,
    Tracking,
    type_name,
)

A = TypeVar("A", bound=Aggregate)

#: Attempts at a unit of work before a ConcurrencyError reaches the caller.
RETRIES = 8
#: The pause before attempt n+1 is uniform in [0, PAUSE * n] seconds.
PAUSE = 0.01
#: The part of an idempotency key a client chooses is cut to this length.
MAX_KEY = 200


def no_region_check(region: Optional[str], what: str = "") -> None:
    """Callers without a region scope (tools over RPC, the service itself)."""


@dataclass(frozen=True)
class Caller:
    """Who gives a command: the token's subject (HTTP) or the named actor (RPC); the
    client's idempotency key, if any; and the region check of its token."""

    actor: str
    idempotency_key: Optional[str] = None
    # may_see(region_or_unit_code, what="the case's region") raises Forbidden outside scope
    may_see: Callable[..., None] = field(default=no_region_check, compare=False)

    @property
    def key(self) -> Optional[str]:
        """The idempotency key as recorded: per actor, as a client's keys are its own."""
        if not self.idempotency_key:
            return None
        return f"command:{self.actor}:{self.idempotency_key[:MAX_KEY]}"


class IdempotencyKeyReused(DomainError):
    """The same idempotency key came with a different command."""


class UnitOfWork:
    """What one attempt at a handler read and decided, committed at once by the bus."""

    def __init__(self, store: EventStore, now: datetime):
        self.store = store
        self.now = now
        self.outbox: List[OutboxMessage] = []
        self.answer: Optional[Mapping[str, Any]] = None
        self.tracking: Optional[Tracking] = None
        self.claimed = False
        self.keys: List[str] = []
        self._aggregates: Dict[str, Aggregate] = {}

    # -- reading ---------------------------------------------------------------------------
    def load(self, cls: Type[A], id: str) -> A:
        """The aggregate as recorded (a new, empty one when nothing is); once per unit."""
        stream_id = cls.stream_prefix + id
        agg = self._aggregates.get(stream_id)
        if agg is None:
            agg = cls.load(id, self.store.read_stream(stream_id))
            self._aggregates[stream_id] = agg
        return agg  # type: ignore[return-value]

    def get(self, cls: Type[A], id: str) -> A:
        """The aggregate, which must exist (else the class's `not_recorded` error)."""
        agg = self.load(cls, id)
        if not agg.exists:
            raise cls.not_recorded(id)
        return agg

    def new(self, agg: A) -> A:
        """An aggregate the handler creates; its stream must not exist yet."""
        self._aggregates[agg.stream_id] = agg
        return agg

    # -- what the commit carries besides events --------------------------------------------
    def send(self, message: OutboxMessage) -> None:
        self.outbox.append(message)

    def reply(self, answer: Mapping[str, Any], message: OutboxMessage) -> None:
        """Answer the message being handled: `answer` is recorded with its keys (a copy of
        it is sent again to a re-sent message), `message` goes out now."""
        self.answer = answer
        self.send(message)

    def record_under(self, key: str) -> None:
        """Record this unit's effects, with its answer, under an idempotency key: a second
        unit recording under it fails with DuplicateMessage (e.g. a process manager's
        step that another path may have taken first)."""
        self.keys.append(key)

    def track(self, tracking: Tracking) -> None:
        """A position this commit records; recorded before → DuplicateMessage for the
        caller (a feed's event applied by another replica, a claimed watch run)."""
        self._set_tracking(tracking, claimed=False)

    def take_number(self, sequence: str) -> int:
        """The next number of a sequence (case numbers of a county and year), taken by
        this commit; taken first by another writer → the handler decides again, and
        gets the next one."""
        number = self.store.tracked_position(sequence) + 1
        self._set_tracking(Tracking(sequence, number), claimed=True)
        return number

    def _set_tracking(self, tracking: Tracking, claimed: bool) -> None:
        if self.tracking is not None and self.tracking != tracking:
            raise RuntimeError(f"a commit records one position: {self.tracking} and {tracking}")
        self.tracking, self.claimed = tracking, claimed

    # -- the commit --------------------------------------------------------------------------
    def has_effects(self) -> bool:
        """Whether the handler decided anything: new events, messages or an answer."""
        return bool(self.outbox or self.answer is not None
                    or any(agg.pending for agg in self._aggregates.values()))

    def changed(self) -> Optional[Aggregate]:
        changed = [agg for agg in self._aggregates.values() if agg.pending]
        if len(changed) > 1:
            raise RuntimeError("a unit of work changes one stream; changed: "
                               + ", ".join(agg.stream_id for agg in changed))
        return changed[0] if changed else None

    def commit(self, processed: Sequence[Processed] = (),
               outbox_rules: Mapping[str, Callable[[NewEvent], Optional[OutboxMessage]]]
               = {}) -> List[RecordedEvent]:
        processed = [*processed, *(Processed(key, self.answer) for key in self.keys)]
        agg = self.changed()
        events = list(agg.pending) if agg else []
        outbox = list(self.outbox)
        for event in events:
            rule = outbox_rules.get(event.type)
            message = rule(event) if rule else None
            if message is not None:
                outbox.append(message)
        if not (events or outbox or processed or self.tracking):
            return []  # nothing decided, nothing to record
        return self.store.append(agg.stream_id if agg else None,
                                 agg.version_before if agg else None, events,
                                 outbox=outbox, processed=processed, tracking=self.tracking)


Handler = Callable[..., Any]


class MessageBus:
    """Runs a service's handlers, each in a unit of work, and commits what they decide."""

    def __init__(self, store: EventStore, clock: Callable[[], datetime], *,
                 commands: Mapping[type, Handler] = {},
                 events: Mapping[Any, Handler] = {},
                 outbox_rules: Mapping[Any, Callable[[NewEvent], Optional[OutboxMessage]]] = {},
                 dependencies: Mapping[str, Any] = {},
                 retries: int = RETRIES, pause: float = PAUSE):
        self.store = store
        self.clock = clock
        self.dependencies = dict(dependencies)
        self.commands = {cls: self.inject(h) for cls, h in commands.items()}
        self.events = {type_name(t): self.inject(h) for t, h in events.items()}
        self.outbox_rules = {type_name(t): rule for t, rule in outbox_rules.items()}
        self.retries, self.pause = retries, pause

    def inject(self, function: Handler) -> Handler:
        """`function` with the dependencies its parameters name (message and unit of work
        stay free); a name the bootstrap did not wire fails here, at start-up."""
        wanted = [p for p in inspect.signature(function).parameters.values()
                  if p.kind is p.KEYWORD_ONLY]
        missing = [p.name for p in wanted
                   if p.name not in self.dependencies and p.default is p.empty]
        if missing:
            raise TypeError(f"{function.__qualname__} needs {', '.join(missing)}, "
                            "which the bootstrap does not provide")
        return partial(function, **{p.name: self.dependencies[p.name] for p in wanted
                                    if p.name in self.dependencies})

    # -- commands ----------------------------------------------------------------------------
    def handle(self, command: Any, *, keys: Sequence[str] = ()) -> Any:
        """Run the command's handler and commit; return what the handler returned.

        `keys`: the idempotency keys of an agency's message; recorded with the answer
        (`uow.reply`), and found recorded → DuplicateMessage. Without them, a command
        whose `caller` has an idempotency key is answered once and its answer given back
        to the same command again (IdempotencyKeyReused for another command)."""
        handler = self.commands.get(type(command))
        if handler is None:
            raise TypeError(f"no handler for {type(command).__name__}")
        caller = getattr(command, "caller", None)
        key = caller.key if caller is not None and not keys else None
        if key is None:
            return self._run_message(lambda uow: handler(command, uow), keys)
        return self._run_idempotent(lambda uow: handler(command, uow), key,
                                    fingerprint(command))

    def _run_message(self, work: Callable[[UnitOfWork], Any], keys: Sequence[str]) -> Any:
        for key in keys:
            earlier = self.store.processed_result(key)
            if earlier is not None:
                raise DuplicateMessage(key, earlier.result)
        return self.run(work, lambda uow: [Processed(k, uow.answer) for k in keys])

    def _run_idempotent(self, work: Callable[[UnitOfWork], Any], key: str, print_: str) -> Any:
        earlier = self.store.processed_result(key)
        if earlier is not None:
            return _recorded_response(earlier.result, print_)
        outcome: Dict[str, Any] = {}

        def record(uow: UnitOfWork) -> List[Processed]:
            return [Processed(key, {"fingerprint": print_, "response": outcome["response"]})]

        def work_and_keep(uow: UnitOfWork) -> Any:
            outcome["response"] = work(uow)
            return outcome["response"]

        try:
            return self.run(work_and_keep, record)
        except DuplicateMessage as dup:
            if dup.key != key:
                raise
            return _recorded_response(dup.result, print_)  # a twin request committed first

    # -- events of other services (their feeds) ------------------------------------------------
    def handles_event(self, event_type: str) -> bool:
        return event_type in self.events

    def handle_event(self, event: RecordedEvent, tracking: Tracking) -> bool:
        """Apply a feed's event with its tracking record; False when nothing here handles
        its type (the feed records the position alone)."""
        handler = self.events.get(event.type)
        if handler is None:
            return False

        def work(uow: UnitOfWork) -> bool:
            handler(event, uow)
            if not uow.has_effects():
                return False  # nothing to do here: the feed records the position alone
            if uow.tracking is not None:
                # The handler took a number (one position per commit): its effects are
                # made once by their key, and the feed records its position after them.
                if not uow.keys:
                    raise RuntimeError(f"{event.type}: a handler that takes a number must "
                                       "record its effects under a key (uow.record_under)")
                return False
            uow.track(tracking)
            return True

        return self.run(work)

    # -- the loop --------------------------------------------------------------------------------
    def run(self, work: Callable[[UnitOfWork], Any],
            processed: Callable[[UnitOfWork], Sequence[Processed]] = lambda uow: ()) -> Any:
        """Attempt `work` in a fresh unit of work and commit it; on a conflict, again."""
        for attempt in range(1, self.retries + 1):
            uow = UnitOfWork(self.store, self.clock())
            result = work(uow)
            try:
                uow.commit(processed(uow), self.outbox_rules)
                return result
            except ConcurrencyError:
                pass  # another writer moved the stream on: decide again on its state
            except DuplicateMessage as dup:
                if not (uow.claimed and uow.tracking and dup.key == uow.tracking.key):
                    raise
                # another writer took the number first: decide again, with the next one
            if attempt < self.retries:
                time.sleep(random.uniform(0, self.pause * attempt))  # green under eventlet
        raise ConcurrencyError("(unit of work)", -1, -1)

    def query(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A read: `function(*args, uow, **kwargs)` on a fresh unit of work (never
        committed), with the dependencies its keyword-only parameters name."""
        return self.inject(function)(*args, UnitOfWork(self.store, self.clock()), **kwargs)


def fingerprint(command: Any) -> str:
    """What makes two commands the same: their type and fields, the caller aside."""
    values = {f.name: getattr(command, f.name) for f in dataclasses.fields(command)
              if f.name != "caller"}
    text = json.dumps([type(command).__name__, values], sort_keys=True, ensure_ascii=False,
                      default=_plain)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)  # dates, times


def _recorded_response(result: Optional[Mapping[str, Any]], print_: str) -> Any:
    if not result or result.get("fingerprint") != print_:
        raise IdempotencyKeyReused("this Idempotency-Key was used for another command")
    return result["response"]
