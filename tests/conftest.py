"""Shared test set-up."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _inner_runs_are_not_xdist_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest runs started by a test (pytester) are plain runs, even when this
    suite itself runs under xdist: without this, plugins that read
    ``PYTEST_XDIST_WORKER`` (pytest-benchmark) warn in the inner run, and the
    inner run's warnings-as-errors turns that into an internal error."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
