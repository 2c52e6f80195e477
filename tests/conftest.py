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


def _hypothesis_profile() -> None:
    """No explain phase for the suite: it traces every line of each shrink
    step, which grows slow late in a long run; real time means nothing on the
    virtual clock, so no deadline either."""
    from hypothesis import Phase, settings

    settings.register_profile(
        "streampar-suite",
        deadline=None,
        phases=[
            Phase.explicit,
            Phase.reuse,
            Phase.generate,
            Phase.target,
            Phase.shrink,
        ],
    )
    settings.load_profile("streampar-suite")


_hypothesis_profile()
