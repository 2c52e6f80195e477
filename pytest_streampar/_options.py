"""Command-line options, ini keys and environment variables of the plugin.

Every setting is read from, in this order: the command-line option, the
environment variable, the ini key, the default. An invalid value stops the
session with a :class:`pytest.UsageError` that says where the value came from.

==========================  ======================  ======================  =======
option                      environment             ini key                 default
==========================  ======================  ======================  =======
``--streampar-backend``     ``STREAMPAR_BACKEND``   ``streampar_backend``   ``all``
``--streampar-watchdog``    ``STREAMPAR_WATCHDOG``  ``streampar_watchdog``  ``10``
``--streampar-plots``       (none)                  (none)                  (none)
==========================  ======================  ======================  =======
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["BACKENDS", "Settings", "add_options", "resolve"]

BACKENDS: tuple[str, ...] = ("asyncio", "trio")
DEFAULT_WATCHDOG = 10.0


@dataclass(frozen=True)
class Settings:
    """The session's streampar settings and where each came from.

    Attributes:
        backends: the backends the session runs tests on.
        backends_from: where ``backends`` came from (for messages).
        watchdog: real seconds one loop iteration may take; None is off.
        watchdog_from: where ``watchdog`` came from.
        plots_dir: ``--streampar-plots``: write a plot for every streampar
            test there; None plots failed tests only, into the cache folder.
    """

    backends: tuple[str, ...]
    backends_from: str
    watchdog: float | None
    watchdog_from: str
    plots_dir: Path | None

    def flags(self) -> list[str]:
        """The command-line flags that reproduce these settings."""
        backend = "all" if self.backends == BACKENDS else self.backends[0]
        watchdog = "off" if self.watchdog is None else f"{self.watchdog:g}"
        return [f"--streampar-backend={backend}", f"--streampar-watchdog={watchdog}"]


def add_options(parser: pytest.Parser) -> None:
    """Register the options and ini keys."""
    group = parser.getgroup("streampar", "streampar: harness tests on virtual time")
    group.addoption(
        "--streampar-backend",
        dest="streampar_backend",
        metavar="asyncio|trio|all",
        help="backend(s) to run streampar tests on (default: all).",
    )
    group.addoption(
        "--streampar-watchdog",
        dest="streampar_watchdog",
        metavar="SECONDS",
        help="real seconds one event-loop iteration may take before the run "
        "is stopped with WatchdogTimeout; 'off' disables it (default: 10).",
    )
    group.addoption(
        "--streampar-plots",
        dest="streampar_plots",
        metavar="DIR",
        help="write a timeline plot (PNG) of every streampar test into DIR.",
    )
    parser.addini(
        "streampar_backend", "backend(s) for streampar tests: asyncio|trio|all"
    )
    parser.addini("streampar_watchdog", "streampar watchdog in real seconds, or off")


def _pick(config: pytest.Config, name: str, env: str) -> tuple[str | None, str]:
    """The raw value of a setting and a phrase saying where it came from."""
    value = config.getoption(name)
    if value is not None:
        return str(value), f"command-line option --{name.replace('_', '-')}"
    if os.environ.get(env):
        return os.environ[env], f"environment variable {env}"
    ini = config.getini(name)
    if ini:
        return str(ini).strip(), f"ini key {name}"
    return None, "default"


def _backends(raw: str | None, where: str) -> tuple[str, ...]:
    if raw is None or raw.strip().lower() == "all":
        return BACKENDS
    value = raw.strip().lower()
    if value in BACKENDS:
        return (value,)
    raise pytest.UsageError(
        f"streampar: backend {raw!r} from {where} is not a backend; use "
        f"'asyncio', 'trio' or 'all'"
    )


def _watchdog(raw: str | None, where: str) -> float | None:
    if raw is None:
        return DEFAULT_WATCHDOG
    if raw.strip().lower() in ("off", "none"):
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise pytest.UsageError(
            f"streampar: watchdog {raw!r} from {where} is not a number of seconds "
            f"> 0; give e.g. 10, or 'off' to disable the watchdog"
        )
    return value


def resolve(config: pytest.Config) -> Settings:
    """Read every setting once, at configure time.

    Raises:
        pytest.UsageError: a value is invalid; the message names its source.
    """
    raw_backend, backend_from = _pick(config, "streampar_backend", "STREAMPAR_BACKEND")
    raw_watchdog, watchdog_from = _pick(
        config, "streampar_watchdog", "STREAMPAR_WATCHDOG"
    )
    plots = config.getoption("streampar_plots")
    return Settings(
        backends=_backends(raw_backend, backend_from),
        backends_from=backend_from,
        watchdog=_watchdog(raw_watchdog, watchdog_from),
        watchdog_from=watchdog_from,
        plots_dir=Path(plots).resolve() if plots else None,
    )
