"""Fixtures: one tollgated + fake-provider per test module (see daemon.py)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The helpers beside this file, and the package from the source tree (so
# the tests need no PYTHONPATH).
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import daemon  # noqa: E402


@pytest.fixture(scope="module")
def tollgated(tmp_path_factory):
    """A daemon with ample limits, shared by the tests of one module."""
    d = daemon.start(tmp_path_factory.mktemp("tollgated"),
                     env={"ANTHROPIC_RPM": "0", "ANTHROPIC_RPD": "0",
                          "OPENAI_RPM": "0", "OPENAI_RPD": "0",
                          "ANTHROPIC_MONTHLY_LIMIT": "100000000",
                          "OPENAI_MONTHLY_LIMIT": "100000000"})
    yield d
    daemon.stop(d)
