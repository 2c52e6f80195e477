"""The package's public surface is what ``__all__`` says, and nothing is missing."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("package", ["simulator", "pytest_streampar"])
def test_all_names_exist_and_are_sorted(package: str) -> None:
    module = importlib.import_module(package)
    names = list(getattr(module, "__all__", []))

    assert names == sorted(names, key=lambda n: (not n.isupper(), n[0].islower(), n))
    missing = [name for name in names if not hasattr(module, name)]
    assert missing == []


def test_every_public_simulator_name_has_a_docstring() -> None:
    import simulator

    undocumented = [
        name
        for name in simulator.__all__
        if callable(getattr(simulator, name))
        and not (getattr(simulator, name).__doc__ or "").strip()
    ]
    assert undocumented == []
