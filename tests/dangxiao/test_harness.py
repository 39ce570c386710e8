"""The harness itself: a missing binary skips locally and fails under CI=true."""

from __future__ import annotations

import pytest
from _pytest.outcomes import Failed, Skipped

from tests.support.binaries import require


def test_missing_binary_skips_locally(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(Skipped, match="no-such-binary-xyz"):
        require("no-such-binary-xyz")


def test_missing_binary_fails_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(Failed, match="CI=true"):
        require("no-such-binary-xyz")


def test_present_binary_is_found():
    assert require("sh").endswith("/sh")
