"""The short chaos run (`make chaos` runs the full one, three times): two replicas of
every service, a replica of each SIGKILLed in turn, every connection closed, intake's
write lock held by another process, duplicates and poison messages — and then every
referral has one case, every worked case its outcome (in reporting and as the agencies
were told), the month's figures add up and every poison message is parked."""
from __future__ import annotations

import pytest

from gm_platform.testing.chaos import Plan, run
from gm_platform.testing.system import report

pytestmark = pytest.mark.timeout(900)


def test_two_of_everything_through_faults_lose_and_double_nothing(tmp_path):
    figures = run(tmp_path, Plan(total=160, rate=5.0, lock_seconds=5.0))
    report("chaos (short)", **figures)
    assert figures["cases"] == figures["referrals"] == 160
