"""Early warnings in reporting's application, without a broker: intake's real handlers
write the log (with its repeat index flagging 越级访), reporting's watch reads it and
raises through its message bus on a real store; a second watch on the same store (a
restart, a replica) raises nothing again, a watch on a fresh store raises the same
warnings, and leaders' acknowledgements and closures are commands on the bus."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gm_contracts.testing import VALID_RESIDENT_ID
from gm_directory import load_directory
from gm_kernel import DomainError
from gm_kernel.store.factory import open_store
from gm_intake.bootstrap import bootstrap as intake_bootstrap
from gm_intake.commands import RegisterCase
from gm_intake.domain.case import Party, Registration
from gm_platform.auth import Forbidden, Principal
from gm_platform.clock import FakeClock
from gm_platform.feed import LocalSourceLog
from gm_platform.messagebus import Caller, MessageBus
from gm_platform.testing.services import unit_platform
from gm_reporting.early_warning import (
    COMMANDS, AcknowledgeWarning, CloseWarning, WarningBoard, watch_feeds,
)
from gm_reporting.warnings_file import load_warning_rules

REPO = Path(__file__).resolve().parents[4]
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 12, 7, 2, 0, tzinfo=timezone.utc)
ADMIN = Principal("admin-1", ("admin",))
QIBIN_LEADER = Principal("leader-qb", ("leader",), ("410611",))


@pytest.fixture
def intake_log(tmp_path):
    """Intake's log: a petition at a village, the same applicant and matter at the county
    two days later with eight people (repeat, collective, level-skipping), and ordinary
    cases."""
    clock = FakeClock(T0)
    store = open_store(f"sqlite:///{tmp_path}/intake.db", "intake")
    intake = intake_bootstrap(unit_platform("intake", store, clock.now, tmp_path))
    clerk = Caller("clerk-1")

    def register(region, category="land_acquisition", headcount=1, id_number=None):
        party = Party("applicant", "张三", id_number)
        return intake.bus.handle(RegisterCase(Registration(
            channel="visit", category=category, summary="征地补偿", region=region,
            parties=[party], headcount=headcount), clerk))["case_id"]

    cases = {"low": register("410611100201", id_number=VALID_RESIDENT_ID)}
    clock.advance(days=2)
    cases["high"] = register("410611", headcount=8, id_number=VALID_RESIDENT_ID)
    for i in range(3):
        clock.advance(hours=1)
        register("410611100", category="neighbour")
    yield store, cases, clock
    store.close()


def start(reporting_store, intake_store, clock):
    bus = MessageBus(reporting_store, clock.now, commands=COMMANDS, dependencies=dict(
        directory=load_directory(REPO / "deploy/directory.yaml")))
    [feed] = watch_feeds(load_warning_rules(REPO / "deploy/rules.yaml"), TZ, bus,
                         {"intake": LocalSourceLog(intake_store)}).values()
    feed.catch_up()
    return bus


def test_one_warning_raised_once_the_same_after_a_restart_and_on_a_fresh_store(
        intake_log, tmp_path):
    intake_store, cases, clock = intake_log
    store = open_store(f"sqlite:///{tmp_path}/reporting.db", "reporting")
    try:
        start(store, intake_store, clock)
        [warning] = WarningBoard(store).list(ADMIN)["items"]
        assert (warning["rule"], warning["region"], warning["level"]) == (
            "escalation_risk", "410611", "orange")
        assert warning["evidence"]["case_ids"] == [cases["high"], cases["low"]]
        assert warning["raised_at"].startswith("2026-12-09T02:00:00")  # the county case's time
        qibin = load_directory(REPO / "deploy/directory.yaml").unit("410611")
        assert warning["addressed_to"] == [leader.id for leader in qibin.leaders]
        events = len(store.read_log(0, 1000))

        start(store, intake_store, clock)  # a restart, or another replica: nothing new
        assert len(store.read_log(0, 1000)) == events
        assert WarningBoard(store).list(ADMIN)["items"] == [warning]

        fresh = open_store(f"sqlite:///{tmp_path}/fresh.db", "reporting")
        try:
            start(fresh, intake_store, clock)
            assert WarningBoard(fresh).list(ADMIN)["items"] == [warning]
        finally:
            fresh.close()
    finally:
        store.close()


def test_leaders_acknowledge_then_close_within_their_regions(intake_log, tmp_path):
    intake_store, cases, clock = intake_log
    store = open_store(f"sqlite:///{tmp_path}/reporting.db", "reporting")
    try:
        bus = start(store, intake_store, clock)
        board = WarningBoard(store)
        [warning] = board.list(QIBIN_LEADER)["items"]
        wid = warning["warning_id"]
        elsewhere = Caller("leader-hs", may_see=Principal(
            "leader-hs", ("leader",), ("410602",)).require_region)
        with pytest.raises(Forbidden):
            bus.handle(AcknowledgeWarning(wid, "看到了", elsewhere))
        assert board.list(Principal("leader-hs", ("leader",), ("410602",)))["total"] == 0
        qibin = Caller("leader-qb", "key-1", QIBIN_LEADER.require_region)
        clock.advance(days=1)
        assert bus.handle(AcknowledgeWarning(wid, "已约谈", qibin)) == {
            "warning_id": wid, "status": "acknowledged"}
        # the same request again (same Idempotency-Key): its first answer, no second event
        assert bus.handle(AcknowledgeWarning(wid, "已约谈", qibin))["status"] == "acknowledged"
        with pytest.raises(DomainError):
            bus.handle(AcknowledgeWarning(wid, "again", Caller("leader-qb")))
        bus.handle(CloseWarning(wid, "已联合接访化解", Caller("leader-qb")))
        [closed] = board.list(ADMIN, status="closed")["items"]
        assert closed["acknowledgement"]["by"] == "leader-qb"
        assert closed["closure"]["note"] == "已联合接访化解"
        assert board.list(ADMIN, status="open")["total"] == 0
        assert board.monthly(ADMIN, "2026-12", None, TZ)["by_rule"] == {"escalation_risk": 1}
        assert board.monthly(ADMIN, "2026-11", None, TZ)["raised"] == 0
    finally:
        store.close()
