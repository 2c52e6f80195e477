"""pytest-streampar: check that an agent harness streams and runs tools right
and fast, on virtual time.

Loading the plugin imports this package, so it stays light: the names below are
imported from their modules only when first used. Hypothesis strategies live in
:mod:`pytest_streampar.strategies` (import it yourself; it loads Hypothesis).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "StreamparCheckFailed",
    "assert_every_call_answered",
    "assert_near_bound",
    "assert_no_early_start",
    "assert_no_exclusive_overlap",
    "assert_results_in_call_order",
    "assert_same_results",
    "assert_speedup",
    "assert_streampar_rules",
]


def __getattr__(name: str) -> Any:
    """Import a public name from :mod:`pytest_streampar.assertions` on first use."""
    if name in __all__:
        module = importlib.import_module("pytest_streampar.assertions")
        return getattr(module, name)
    raise AttributeError(f"module 'pytest_streampar' has no attribute {name!r}")
