"""Fixtures shared by every test folder (libs/, services/, tests/)."""
import pytest

from gm_platform.testing.broker import private_vhost
from gm_platform.testing.services import free_port as pick_free_port


@pytest.fixture
def amqp_uri():
    """A fresh RabbitMQ vhost for this test only, removed afterwards."""
    with private_vhost() as uri:
        yield uri


@pytest.fixture
def free_port():
    """A function returning a port free right now (never assume 8001-8004 are)."""
    return pick_free_port
