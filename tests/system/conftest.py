"""System tests: the suite as `make run` starts it, used only through the public contract
(gm_platform.testing.system). Each module starts its own suite on its own vhost and data directory."""
from __future__ import annotations

import pytest

from gm_platform.testing.broker import private_vhost
from gm_platform.testing.system import AGENCIES, AgencyClient, Suite


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/system/" in str(item.fspath):
            item.add_marker(pytest.mark.system)
            item.add_marker(pytest.mark.broker)
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """One suite for the module, and one client per agency; stopped cleanly afterwards."""
    with private_vhost("gm-system") as amqp_uri:
        suite = Suite(tmp_path_factory.mktemp("suite"), amqp_uri)
        agencies = {}
        try:
            suite.start()
            agencies = {name: AgencyClient(amqp_uri, name) for name in AGENCIES}
            yield suite, agencies
        finally:
            for client in agencies.values():
                client.close()
            try:
                unclean = suite.stop()
            finally:
                suite.kill()
            assert unclean == [], f"no graceful stop of {unclean}:\n{suite.tail()}"
