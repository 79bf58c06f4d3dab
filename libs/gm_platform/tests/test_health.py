"""/health answers from the last readiness check, never from a broker connection opened per
request (a flood of probes must not become a flood of AMQP connections)."""
from __future__ import annotations

import pytest
import requests

import gm_platform.base as base
from gm_platform.testing.services import services, write_tokens
from gm_platform.testing.wait import wait_until


@pytest.fixture
def checked(monkeypatch):
    """Counts the broker checks and lets a test make the broker look down."""
    state = {"calls": 0, "reachable": True}
    real = base.broker_reachable

    def counting(uri, timeout=2.0):
        state["calls"] += 1
        return state["reachable"] and real(uri, timeout)

    monkeypatch.setattr(base, "broker_reachable", counting)
    return state


def test_probes_open_no_broker_connection_and_readiness_follows_the_checks(
        tmp_path, amqp_uri, checked):
    tokens = write_tokens(tmp_path / "tokens.json")
    with services(["intake"], amqp_uri, tmp_path / "data", tokens_file=tokens,
                  health_interval=60.0) as running:
        url = running["intake"].url + "/health"
        before = checked["calls"]
        answers = [requests.get(url, timeout=5) for _ in range(50)]
        assert {a.status_code for a in answers} == {200}
        assert answers[-1].json()["checks"] == {"store": "ok", "broker": "ok", "consumers": "ok"}
        assert checked["calls"] == before  # fifty probes, no check of the broker

    with services(["intake"], amqp_uri, tmp_path / "data2", tokens_file=tokens,
                  health_interval=0.2) as running:
        url = running["intake"].url + "/health"
        checked["reachable"] = False
        wait_until(lambda: requests.get(url, timeout=5).status_code == 503, timeout=10)
        down = requests.get(url, timeout=5).json()
        assert down["status"] == "unavailable" and down["checks"]["broker"] == "unreachable"
        checked["reachable"] = True
        wait_until(lambda: requests.get(url, timeout=5).status_code == 200, timeout=10)


def test_a_check_that_stopped_running_is_not_trusted():
    provider = base.ReadinessProvider()
    provider.container = type("C", (), {"config": {"GM_SETTINGS": type(
        "S", (), {"health_interval": 5.0})()}})()
    provider.setup()
    assert provider.last() == {"store": "not checked yet", "broker": "not checked yet"}
    provider.record({"store": "ok", "broker": "ok"})
    assert provider.last() == {"store": "ok", "broker": "ok"}
    later = provider.checked_at + provider.max_age + 1
    provider.now = lambda: later
    assert all(v.startswith("last checked") for v in provider.last().values())
