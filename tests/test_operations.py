"""Operators' tools against the real broker: the dead-letter store and agency users."""
from __future__ import annotations

import functools
import json
import uuid
from urllib.parse import unquote, urlsplit, urlunsplit

import amqp
import pytest
from click.testing import CliRunner
from kombu import Connection, Exchange

from gm_platform.cli import main as gm
from gm_platform.store_provider import find_store
from gm_platform.testing.agency import Agency
from gm_platform.testing.broker import MANAGEMENT_URI, _api
from gm_platform.testing.services import services
from gm_platform.testing.wait import wait_until

pytestmark = [pytest.mark.broker, pytest.mark.timeout(90)]


wait_for = functools.partial(wait_until, timeout=15.0)


def test_gm_dlq_lists_and_replays_parked_messages(tmp_path, amqp_uri, monkeypatch):
    monkeypatch.setenv("AMQP_URI", amqp_uri)
    with services(["intake"], amqp_uri, tmp_path) as running:
        store = find_store(running["intake"].container)
        agency = Agency(amqp_uri, "court")
        try:
            agency.publish_raw("nobody.referral", b'{"id": 1}', message_id="lost-1")
            assert wait_for(lambda: store.count_dead_letters() == 1)
            listed = CliRunner().invoke(gm, ["dlq", "list", "--service", "intake", "--json"])
            assert listed.exit_code == 0, listed.output
            page = json.loads(listed.output)
            assert page["total"] == 1 and page["items"][0]["routing_key"] == "nobody.referral"
            letter_id = page["items"][0]["id"]
            replayed = CliRunner().invoke(gm, ["dlq", "replay", "--service", "intake",
                                               letter_id])
            assert replayed.exit_code == 0, replayed.output
            # Still unanswerable, so intake parks it again: replay lost nothing.
            assert wait_for(lambda: [d.body for d in store.dead_letters()] == [b'{"id": 1}'])
            unknown = CliRunner().invoke(gm, ["dlq", "replay", "--service", "intake", "nope"])
            assert unknown.exit_code == 1
        finally:
            agency.close()


def _management_api_up() -> bool:
    try:
        return _api("GET", "/overview").ok
    except Exception:
        return False


@pytest.mark.skipif(not _management_api_up(),
                    reason="RabbitMQ management API not reachable (.ci/run enables it)")
def test_provisioned_agency_user_reaches_only_its_own_routes(amqp_uri):
    vhost = unquote(urlsplit(amqp_uri).path[1:])
    user, password = f"court-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    with Connection(amqp_uri) as admin:  # the suite declares the topology
        from gm_platform import topology

        topology.declare_public(admin.channel())
    result = CliRunner().invoke(gm, ["broker", "provision", "--agency", "court", "--password",
                                     password, "--vhost", vhost, "--user", user],
                                env={"GM_RABBIT_API": MANAGEMENT_URI})
    assert result.exit_code == 0, result.output
    try:
        parts = urlsplit(amqp_uri)
        as_agency = urlunsplit((parts.scheme, f"{user}:{password}@{parts.hostname}:{parts.port}",
                                parts.path, "", ""))
        inbound = Exchange("gm.inbound", type="topic", durable=True)

        def publish(routing_key):
            with Connection(as_agency, transport_options={"confirm_publish": True}) as conn:
                conn.Producer().publish(b"{}", exchange=inbound, routing_key=routing_key,
                                        declare=[], retry=False)

        def consume(queue):
            with Connection(as_agency) as conn:
                conn.channel().basic_get(queue)

        publish("court.referral")  # allowed
        consume("gm.outbound.court")  # allowed
        for forbidden in (lambda: publish("police.referral"),
                          lambda: consume("gm.outbound.police"),
                          lambda: publish_to_outbound(as_agency)):
            with pytest.raises(amqp.exceptions.AccessRefused):
                forbidden()
        # Idempotent: provisioning again changes nothing and succeeds.
        again = CliRunner().invoke(gm, ["broker", "provision", "--agency", "court",
                                        "--password", password, "--vhost", vhost,
                                        "--user", user], env={"GM_RABBIT_API": MANAGEMENT_URI})
        assert again.exit_code == 0
    finally:
        _api("DELETE", f"/users/{user}")


def publish_to_outbound(uri):
    with Connection(uri, transport_options={"confirm_publish": True}) as conn:
        conn.Producer().publish(b"{}", exchange=Exchange("gm.outbound", type="topic",
                                                         durable=True),
                                routing_key="court.case_outcome", declare=[], retry=False)
