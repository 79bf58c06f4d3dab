"""Fixtures for the assignment domain: the shipped directory and rules."""
from __future__ import annotations

from pathlib import Path

import pytest

from gm_assignment.adapters.rules_file import load_rules
from gm_directory import load_directory
from gm_directory.calendar_file import load_calendar

REPO = Path(__file__).resolve().parents[4]


@pytest.fixture(scope="session")
def directory():
    return load_directory(REPO / "deploy" / "directory.yaml")


@pytest.fixture(scope="session")
def rules():
    return load_rules(REPO / "deploy" / "rules.yaml")


@pytest.fixture(scope="session")
def calendar():
    return load_calendar(REPO / "deploy" / "calendar.yaml")
