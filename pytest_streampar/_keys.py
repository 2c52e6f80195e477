"""Stash keys: where the plugin keeps its state on the config and on items.

Only public pytest API is used: :class:`pytest.StashKey` on ``config.stash``
and ``item.stash``. This module imports nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    # Named only in the string subscripts below.
    from ._options import Settings  # noqa: F401
    from ._recorder import ItemState  # noqa: F401

__all__ = ["CURRENT_KEY", "ITEM_KEY", "PLOTS_KEY", "SETTINGS_KEY"]

SETTINGS_KEY = pytest.StashKey["Settings"]()
"""The session's resolved options (backends, watchdog, plots folder)."""

ITEM_KEY = pytest.StashKey["ItemState"]()
"""One test's runs, figures, timelines and real-time limit."""

CURRENT_KEY = pytest.StashKey["ItemState | None"]()
"""The state of the test running now (fixtures are not function-scoped, so
they find the test they serve through this key)."""

PLOTS_KEY = pytest.StashKey[list[tuple[str, str]]]()
"""(node id, PNG path) pairs collected from reports for the terminal summary."""
