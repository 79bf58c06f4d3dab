"""Mediation answers every hand-off reply and ruling it receives (CONTRACT.md §4)."""
import pytest

from gm_platform.store_provider import find_store
from gm_platform.testing.agency import Agency
from gm_platform.testing.services import services

pytestmark = [pytest.mark.broker, pytest.mark.timeout(60)]


def test_reply_to_unknown_handoff_is_rejected(tmp_path, amqp_uri):
    # Alone: intake and assignment do not answer the catch-up reads, so keep them short.
    with services(["mediation"], amqp_uri, tmp_path, rpc_timeout=1.0) as running:
        court = Agency(amqp_uri, "court")
        try:
            sent = court.send("handoff_reply", {"handoff_id": "H-404", "decision": "accepted"})
            court.send("confirmation_ruling", {"handoff_id": "H-405", "confirmed": "yes"})
            answers = sorted(court.receive(2), key=lambda a: a[1]["data"]["type"])
            assert [k for k, _ in answers] == ["court.rejected", "court.rejected"]
            ruling, reply = (a for _, a in answers)
            assert reply["data"]["message_id"] == sent["id"]
            assert "handoff_id" in reply["data"]["errors"]
            assert "confirmed" in ruling["data"]["errors"]
            store = find_store(running["mediation"].container)
            assert store.count_dead_letters() == 2  # every rejected message is kept
            assert store.read_log() == []
        finally:
            court.close()
