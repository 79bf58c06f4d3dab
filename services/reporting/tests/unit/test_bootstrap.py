"""Reporting's application as its bootstrap builds it, without Nameko or a broker: the
projection store opened with a generation of every projection, the feeds per projection
and source, the queries, the check for projections built by another version, close."""
from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone

import pytest

from gm_kernel import RecordedEvent, StoreUnavailable
from gm_platform.auth import Principal
from gm_platform.feed import Feeds as PlatformFeeds
from gm_platform.testing.services import unit_platform
from gm_reporting.bootstrap import ReportingApp, bootstrap
from gm_reporting.store import open_projection_store
from gm_reporting.store.layout import CASES, PROJECTIONS

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=timezone.utc)
ADMIN = Principal("admin-1", ("admin",))


@pytest.fixture
def platform(tmp_path):
    return unit_platform("reporting", None, lambda: T0, tmp_path)


def registered(position: int, case_id: str) -> bytes:
    event = RecordedEvent(
        id=f"e{position}", stream_id=f"case-{case_id}", version=1, position=position,
        type="CaseRegistered", schema_version=1, occurred_at=T0, correlation_id=case_id,
        data={"case_id": case_id, "case_number": "410611-2026-000001", "channel": "visit",
              "category": "neighbour", "region": "410611100201", "summary": "邻里纠纷",
              "registered_at": "2026-03-02T02:00:00Z", "parties": []})
    return json.dumps(event.to_dict()).encode()


def test_the_app_holds_every_projection_its_feeds_and_the_queries(platform):
    app = bootstrap(platform)
    try:
        assert isinstance(app, ReportingApp) and app.bus is not None  # early warnings
        assert isinstance(app.feeds, PlatformFeeds)
        for spec in PROJECTIONS.values():
            assert app.store.active(spec.name).version == spec.version
        assert app.stale() == []
        assert app.feeds.positions() == {"cases:intake": 0, "cases:assignment": 0,
                                         "cases:mediation": 0, "screening:intake": 0,
                                         "warnings:intake": 0, "warnings:assignment": 0}
        # an intake event goes to both projections intake feeds, and the warnings' watch
        assert app.feeds.deliver("intake", registered(1, "c1")) == {
            "cases": "applied", "screening": "applied", "warnings": "applied"}
        assert app.feeds.positions()["screening:intake"] == 1
        assert app.queries.ledger(ADMIN, {})["total"] == 1
        # the relay's batch (a JSON array in log order): each event to each projection
        batch = b"[" + b",".join([registered(1, "c1"), registered(2, "c2"),
                                  registered(3, "c3")]) + b"]"
        assert app.feeds.deliver("intake", batch) == {
            p: "duplicate 1, applied 2" for p in ("cases", "screening", "warnings")}
        assert app.queries.ledger(ADMIN, {})["total"] == 3
    finally:
        app.close()
    with pytest.raises(StoreUnavailable):
        app.store.ping()  # closed with the app


def test_a_projection_built_by_another_version_is_stale(platform, tmp_path):
    store = open_projection_store(None, "reporting", str(tmp_path))
    store.ensure(dataclasses.replace(CASES, version=CASES.version - 1))
    store.close()
    app = bootstrap(platform)
    try:
        assert app.stale() == [f"cases (generation version {CASES.version - 1}, "
                               f"code {CASES.version})"]
    finally:
        app.close()
