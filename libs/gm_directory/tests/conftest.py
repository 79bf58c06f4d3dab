"""Fixtures: the shipped directory of deploy/."""
from pathlib import Path

import pytest

from gm_directory import load_directory

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def directory():
    return load_directory(REPO / "deploy" / "directory.yaml")
