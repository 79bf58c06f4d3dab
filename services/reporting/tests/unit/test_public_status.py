"""The petitioner's view (CONTRACT.md §8) on a real projection store: it shows nothing
personal whatever event reached the case — checked field by field for every event type
intake, assignment and mediation publish — it is found only by the right code, and a
case rated by its petitioner counts once in 满意率 and 参评率.
"""
from __future__ import annotations

import itertools
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from marshmallow import fields, validate

from gm_contracts import registry
from gm_contracts.fields import DateTimeString
from gm_directory import load_directory
from gm_kernel import RecordedEvent, format_time
from gm_platform import topology
from gm_platform.auth import Principal
from gm_platform.query_codes import ALPHABET, QueryCodes, new_code, normalise
from gm_reporting.domain.public import PUBLIC_FIELDS, PUBLIC_STAGES
from gm_reporting.handlers import Reporting
from gm_reporting.store.layout import CASES, PROJECTIONS
from gm_reporting.store.sqlite import SQLiteProjectionStore

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parents[4]
T = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)
CODES = QueryCodes("unit-test-key")
ADMIN = Principal("admin-1", ("admin",))
SOURCES = topology.SUBSCRIPTIONS["reporting"]  # every service whose events reach reporting
CASE_NUMBER = "410611-2026-000042"


# -- an example of every event type, every free-text value a marker of its own ---------------
class Example:
    """Values for a schema's fields: vocabulary values as the contract allows them, dates
    and numbers that parse, and every other string a unique marker (`markers`), which
    must never show in the public view."""

    def __init__(self, case_id: str):
        self.case_id = case_id
        self.markers: set = set()
        self._n = itertools.count(1)

    def marker(self, name: str, size: int = 0) -> str:
        value = f"PII{next(self._n):04d}{name.upper()[:20]}"
        value = value.ljust(size, "X")
        self.markers.add(value)
        return value

    def of(self, schema_cls) -> dict:
        schema = schema_cls() if isinstance(schema_cls, type) else schema_cls
        return {name: self.value(name, field) for name, field in schema.fields.items()}

    def value(self, name: str, field):
        choices = [v.choices for v in field.validators if isinstance(v, validate.OneOf)]
        if name == "case_id":
            return self.case_id
        if name == "case_number":
            return CASE_NUMBER
        if name == "query_code_digest":
            return None
        if choices:
            return list(choices[0])[0]
        if isinstance(field, fields.Nested):
            one = self.of(field.schema)
            return [one] if field.many else one
        if isinstance(field, fields.List):
            return [self.value(name, field.inner)]
        if isinstance(field, fields.Dict):
            return {"note": self.marker(name)}
        if isinstance(field, fields.Boolean):
            return True
        if isinstance(field, (fields.Integer, fields.Float)):
            return 3
        if isinstance(field, fields.Date) or name.endswith("_on"):
            return (T.date() + timedelta(days=3)).isoformat()
        if isinstance(field, (DateTimeString, fields.DateTime)) or name.endswith("_at"):
            return format_time(T + timedelta(days=5))
        if name == "region" or "Region" in type(field).__name__:
            value = "410611100201"
            self.markers.add(value)
            return value
        lengths = [v for v in field.validators if isinstance(v, validate.Length)]
        return self.marker(name, lengths[0].min or 0 if lengths else 0)


def event_types():
    return sorted((service, type_, schema) for (service, type_, _), schema
                  in registry.all_events().items() if service in SOURCES)


STREAM = {"intake": "case-", "assignment": "assignment-", "mediation": "mediation-"}


def recorded(source, position, type_, data, case_id, actor, at):
    return RecordedEvent(id=f"{source}-{case_id}-{position}", stream_id=STREAM[source] + case_id,
                         version=position, position=position, type=type_, schema_version=1,
                         occurred_at=at, data=data, actor=actor, correlation_id=case_id)


@pytest.fixture
def store(tmp_path):
    store = SQLiteProjectionStore(tmp_path / "p.db")
    for spec in PROJECTIONS.values():
        store.ensure(spec)
    yield store
    store.close()


@pytest.fixture
def reporting(store):
    return Reporting(store, load_directory(REPO / "deploy/directory.yaml"), "Asia/Shanghai",
                     lambda: T + timedelta(days=30))


class Positions:
    def __init__(self):
        self.at = {s: 0 for s in SOURCES}

    def next(self, source):
        self.at[source] += 1
        return self.at[source]


def register(store, positions, example, case_id, code):
    from gm_contracts.intake_events import CaseRegistered

    data = example.of(CaseRegistered)
    data.update(query_code_digest=CODES.digest(code), registered_at=format_time(T))
    store.apply(CASES, "intake", [recorded("intake", positions.next("intake"), "CaseRegistered",
                                           data, case_id, example.marker("actor"), T)])


def assert_nothing_personal(view, markers, where):
    assert view is not None, where
    assert set(view) == set(PUBLIC_FIELDS), where
    assert view["case_number"] == CASE_NUMBER
    for entry in view["timeline"]:
        assert set(entry) == {"stage", "on"}, where
        assert entry["stage"] in PUBLIC_STAGES.values(), where
        assert entry["on"] is None or date.fromisoformat(entry["on"]), where
    for key in ("registered_on", "due_on"):
        assert view[key] is None or date.fromisoformat(view[key]), where
    text = json.dumps(view, ensure_ascii=False)
    leaked = sorted(m for m in markers if m in text)
    assert not leaked, f"{where}: {leaked} in {text}"


def test_the_public_view_shows_nothing_personal_after_any_event_type(store, reporting):
    """One case per event type (registration, then that event), and one case with every
    event type in turn: after each event the view holds only its five fields, stages from
    the list and dates — none of the names, ids, notes, terms, actors, comments, regions
    or other values the events carried."""
    positions = Positions()
    all_types = event_types()
    assert {s for s, _, _ in all_types} == set(SOURCES)
    assert len(all_types) >= 30  # every type the three services publish
    cases = [(f"case-{type_}", [(s, type_, schema)]) for s, type_, schema in all_types]
    cases.append(("case-every-type", all_types))
    for case_id, history in cases:
        example = Example(case_id)
        code = new_code()
        register(store, positions, example, case_id, code)
        assert_nothing_personal(reporting.public_status(CODES.digest(code)), example.markers,
                                f"{case_id} registered")
        for i, (source, type_, schema) in enumerate(history):
            if type_ == "CaseRegistered":
                continue
            data = example.of(schema)
            event = recorded(source, positions.next(source), type_, data, case_id,
                             example.marker("actor"), T + timedelta(hours=i + 1))
            store.apply(CASES, source, [event])
            assert_nothing_personal(reporting.public_status(CODES.digest(code)),
                                    example.markers, f"{case_id} after {source} {type_}")
        # the analyst's view of the same case does show them: the markers are real values
        view = json.dumps(reporting.case(case_id, ADMIN), ensure_ascii=False)
        assert any(m in view for m in example.markers), case_id
    every = reporting.public_status(CODES.digest(code))
    assert {e["stage"] for e in every["timeline"]} >= {"registered", "assigned", "closed",
                                                       "rated", "agreement", "handed_over"}


# -- codes ------------------------------------------------------------------------------------
def test_codes_are_random_readable_and_unambiguous():
    codes = {new_code() for _ in range(20000)}
    assert len(codes) == 20000
    for code in itertools.islice(codes, 500):
        groups = code.split("-")
        assert [len(g) for g in groups] == [4, 4, 4, 4]
        assert set("".join(groups)) <= set(ALPHABET)
    assert not set("01ILOUV") & set(ALPHABET) and len(ALPHABET) == 29
    # every character is used about equally often (no bias a guesser could use)
    counts = {c: 0 for c in ALPHABET}
    for code in codes:
        for c in code.replace("-", ""):
            counts[c] += 1
    expected = 20000 * 16 / len(ALPHABET)
    assert all(abs(n - expected) < 0.1 * expected for n in counts.values())


def test_a_code_is_recognised_however_it_is_typed_and_nothing_else_is():
    code = "7KQM-4XRP-HT2C-9WNA"
    for typed in ("7KQM-4XRP-HT2C-9WNA", "7kqm4xrpht2c9wna", " 7KQM 4XRP HT2C 9WNA ",
                  "７ＫＱＭ－４ＸＲＰ－ＨＴ２Ｃ－９ＷＮＡ", "7KQM.4XRP.HT2C.9WNA"):
        assert normalise(typed) == "7KQM4XRPHT2C9WNA"
        assert CODES.digest(typed) == CODES.digest(code)
    for wrong in ("", "7KQM-4XRP-HT2C-9WN", "7KQM-4XRP-HT2C-9WNAA", "7KQM-4XRP-HT2C-9WN0",
                  "7KQM-4XRP-HT2C-9WNI", "' OR 1=1 --", "x" * 5000, "../../etc/passwd"):
        assert normalise(wrong) == ""
        assert CODES.digest(wrong) != CODES.digest(code)
    assert QueryCodes("another-key").digest(code) != CODES.digest(code)
    assert len(CODES.digest("x" * 5000)) == 64  # malformed input costs the same digest


def test_only_the_right_code_finds_the_case(store, reporting):
    """Wrong codes, near misses (every single character changed, two swapped), the codes
    of other cases with a character changed, malformed text: none finds a case."""
    positions = Positions()
    codes = {}
    for i in range(3):
        case_id = f"case-{i}"
        codes[case_id] = new_code()
        register(store, positions, Example(case_id), case_id, codes[case_id])
    for case_id, code in codes.items():
        assert reporting.public_status(CODES.digest(code))["case_number"] == CASE_NUMBER
        assert reporting.case_id_for_code(CODES.digest(code)) == case_id
        raw = code.replace("-", "")
        near = {raw[:i] + c + raw[i + 1:] for i in range(len(raw)) for c in ALPHABET
                if c != raw[i]}
        near |= {raw[:i] + raw[i + 1] + raw[i] + raw[i + 2:] for i in range(len(raw) - 1)
                 if raw[i] != raw[i + 1]}
        near |= {raw[:-1], raw + "A", raw.lower()[:-1] + "?", ""}
        for wrong in near:
            assert reporting.public_status(CODES.digest(wrong)) is None, wrong
            assert reporting.case_id_for_code(CODES.digest(wrong)) is None
    for _ in range(2000):
        assert reporting.public_status(CODES.digest(new_code())) is None
    # a digest made under another key is no code either
    code = codes["case-0"]
    assert reporting.public_status(QueryCodes("other").digest(code)) is None


def test_a_case_not_yet_registered_in_reporting_is_not_found(store, reporting):
    """Mediation's events may arrive before intake's registration: no code, no view."""
    example = Example("early")
    from gm_contracts.mediation_events import MediationOpened

    store.apply(CASES, "mediation", [recorded("mediation", 1, "MediationOpened",
                                              example.of(MediationOpened), "early", "m", T)])
    assert reporting.public_status(CODES.digest(new_code())) is None


# -- the petitioner's rating in the figures: once per case -----------------------------------
def test_a_rating_counts_once_per_case_and_per_unit(store, reporting):
    """Three cases closed in March by two units: one rated by its petitioner and followed
    up too (counted once, by the petitioner's rating), one only followed up, one neither."""
    positions = Positions()
    ratings = {"a": ("satisfied", "dissatisfied"), "b": (None, "basically_satisfied"),
               "c": (None, None)}
    units = {"a": "410611", "b": "410611", "c": "410602"}
    for case_id, (rating, follow_up) in ratings.items():
        register(store, positions, Example(case_id), case_id, new_code())
        events = [("assignment", "AssignmentMade", {
            "track": "people", "level": "county", "unit": units[case_id], "lead": "L",
            "handler": "H", "due_at": format_time(T + timedelta(days=30)), "days": 30,
            "key_case": False, "region": units[case_id]}),
            ("mediation", "CaseClosed", {"case_id": case_id, "outcome": "agreement",
                                         "resolved": True,
                                         "closed_at": format_time(T + timedelta(days=2))})]
        if follow_up:
            events.append(("mediation", "FollowUpRecorded", {
                "satisfaction": None, "satisfaction_level": follow_up,
                "petition_ceased": True, "visited_at": format_time(T + timedelta(days=3))}))
        if rating:
            events.append(("mediation", "PetitionerRated", {
                "rating": rating, "comment": "很好", "rated_at": format_time(T + timedelta(days=4))}))
        for i, (source, type_, data) in enumerate(events):
            store.apply(CASES, source, [recorded(source, positions.next(source), type_, data,
                                                 case_id, "x", T + timedelta(days=i + 1))])
    month = reporting.monthly(ADMIN, "2026-03", None)
    assert month["closed"] == 3
    assert month["satisfaction"]["rated"] == 2  # a: once, by its petitioner; b: follow-up
    assert month["satisfaction"]["satisfied"] == 1 and month["satisfaction"]["dissatisfied"] == 0
    assert month["satisfaction_rate"] == 1.0 and month["rating_rate"] == round(2 / 3, 4)
    by_unit = {row["unit"]: row for row in month["satisfaction_by_unit"]}
    assert by_unit["410611"]["closed"] == 2 and by_unit["410611"]["rated"] == 2
    assert by_unit["410611"]["satisfaction_rate"] == 1.0
    assert by_unit["410611"]["rating_rate"] == 1.0
    assert by_unit["410602"]["rated"] == 0 and by_unit["410602"]["rating_rate"] == 0.0
    assert by_unit["410602"]["satisfaction_rate"] is None
    assert reporting.case("a", ADMIN)["petitioner_rating"]["rating"] == "satisfied"
