"""The chain's walk on links as an adapter reads them: the cases no adapter's tampering
hooks reach (overlapping commits, a link whose stream column was changed)."""
from __future__ import annotations

from gm_kernel.store import chain
from gm_kernel.store.chain import GENESIS, Link, link_hash


def event(position: int, stream: str = "s", **data) -> dict:
    return {"position": position, "id": f"e{position}", "stream_id": stream, "version": position,
            "type": "T", "schema_version": 1, "occurred_at": "2026-11-30T03:00:00.000000Z",
            "data": data, "actor": None, "agency": None, "correlation_id": None,
            "causation_id": None}


def links(*spans) -> list:
    out, prev = [], GENESIS
    for first, last in spans:
        events = [event(p) for p in range(first, last + 1)]
        digest = link_hash(prev, events)
        out.append(Link(first, last, "s", prev, digest, events))
        prev = digest
    return out


def test_an_intact_chain_and_an_empty_one():
    report = chain.walk(links((1, 2), (3, 3), (4, 6)))
    assert (report.ok, report.commits, report.events, report.head_position) == (True, 3, 6, 6)
    empty = chain.walk([])
    assert (empty.ok, empty.commits, empty.head_hash) == (True, 0, GENESIS)


def test_overlapping_commits_are_named():
    first, second = links((1, 2), (3, 4))
    overlapping = Link(2, 4, "s", second.prev_hash, second.hash, second.events)
    broken = chain.walk([first, overlapping]).broken
    assert (broken.position, broken.problem) == (2, chain.COMMITS_OVERLAP)


def test_a_commit_filed_under_another_stream_is_named():
    first, second = links((1, 1), (2, 2))
    moved = Link(2, 2, "other", second.prev_hash, second.hash, second.events)
    broken = chain.walk([first, moved]).broken
    assert (broken.position, broken.problem, broken.expected, broken.found) == (
        2, chain.STREAM_ALTERED, "other", "s")


def test_assembling_two_reads_names_events_no_link_covers():
    [only] = links((2, 3))
    rows = [(only.first_position, only.last_position, only.stream_id, only.prev_hash,
             only.hash)]
    assembled = list(chain.assemble(rows, [event(1), *only.events, event(4)]))
    assert [(l.first_position, l.hash is None) for l in assembled] == [
        (1, True), (2, False), (4, True)]
    broken = chain.walk(assembled).broken
    assert (broken.position, broken.problem, broken.found) == (
        1, chain.UNCHAINED, "events in no link")


def test_missing_positions_are_printed_as_spans():
    [link] = links((1, 5))
    holed = Link(1, 5, "s", link.prev_hash, link.hash,
                 [e for e in link.events if e["position"] != 3])
    broken = chain.walk([holed]).broken
    assert (broken.problem, broken.expected, broken.found) == (
        chain.EVENTS_MISSING, "positions 1..5", "positions 1..2, 4..5")


def test_a_link_hash_is_the_same_bytes_as_ever():
    """Chains already stored must keep verifying: the hash of a fixed link, computed by
    the code that wrote the first chains (canonical JSON through json.dumps)."""
    stored = {"position": 1, "id": "e-1", "stream_id": "case-1", "version": 1,
              "type": "CaseRegistered", "schema_version": 1,
              "occurred_at": "2026-11-30T03:48:17.123456Z",
              "data": {"summary": "邻里纠纷", "parties": [{"name": "张三", "role": "applicant"}],
                       "b": 1.5, "a": None},
              "actor": "clerk-7", "agency": None, "correlation_id": "c-1", "causation_id": None}
    assert link_hash(GENESIS, [stored]) == \
        "7672f51ee9655a42be4f197288cd7073ff8a51dec05062ddb8d28b3a5b4cfcf2"
