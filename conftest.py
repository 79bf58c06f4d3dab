"""Fixtures shared by every test folder (libs/, services/, tests/)."""
import os

# Hypothesis loads every installed "hypothesis" entry point on import; trio (installed
# with selenium) registers one, and trio cannot be imported in a process eventlet has
# monkey-patched (GreenSocket has no sendmsg). We use no Hypothesis plugins.
os.environ.setdefault("HYPOTHESIS_NO_PLUGINS", "1")

import pytest  # noqa: E402

from gm_platform.testing.broker import private_vhost  # noqa: E402
from gm_platform.testing.services import free_port as pick_free_port  # noqa: E402


@pytest.fixture
def amqp_uri():
    """A fresh RabbitMQ vhost for this test only, removed afterwards."""
    with private_vhost() as uri:
        yield uri


@pytest.fixture
def free_port():
    """A function returning a port free right now (never assume 8001-8004 are)."""
    return pick_free_port
