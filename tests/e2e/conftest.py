"""Fixtures for end-to-end tests."""

import pytest

from tests.e2e.helpers import Daemon


@pytest.fixture
def daemons():
    """Daemons started by a test; killed at the end if still running."""
    started: list[Daemon] = []
    yield started
    for d in started:
        d.kill()
