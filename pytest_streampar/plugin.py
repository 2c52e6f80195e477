"""The pytest plugin, registered through the ``pytest11`` entry point.

Loading it imports only pytest, the standard library and the plugin's own light
modules: the engine, anyio, trio, Hypothesis and matplotlib load when a test
uses them. State lives in ``config.stash`` and ``item.stash``.

What it adds:

- fixtures ``streampar_backend``, ``streampar_run``, ``streampar_model``,
  ``streampar_tools``, ``streampar_timeline``, ``streampar_scenario``
  (see :mod:`pytest_streampar._fixtures`);
- the ``streampar(...)`` marker (see :mod:`pytest_streampar._marker`);
- ``async def`` tests marked ``streampar`` (or asking for
  ``streampar_timeline``) run on virtual time without pytest-asyncio; other
  ``@pytest.mark.anyio`` tests are left to anyio's plugin;
- pytest-timeout's limit, kept by streampar for streampar tests
  (see :mod:`pytest_streampar._timeout`);
- one ``("streampar", payload)`` user property per streampar test
  (see :mod:`pytest_streampar._recorder`);
- a timeline plot (PNG) of each failed streampar test, written into
  ``.pytest_cache/d/streampar-plots/`` (or the system temp folder when the
  cache is disabled), or of every streampar test into ``--streampar-plots=DIR``;
  the paths are listed in the terminal summary.
"""

from __future__ import annotations

import inspect
import re
import tempfile
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from . import _fixtures, _gate, _marker, _options
from ._fixtures import (
    streampar_backend,
    streampar_model,
    streampar_run,
    streampar_scenario,
    streampar_timeline,
    streampar_tools,
)
from ._keys import CURRENT_KEY, ITEM_KEY, PLOTS_KEY, SETTINGS_KEY
from ._recorder import ItemState
from ._timeout import RealTimeLimit, describe_source

__all__ = [
    "streampar_backend",
    "streampar_model",
    "streampar_run",
    "streampar_scenario",
    "streampar_timeline",
    "streampar_tools",
]

_BACKEND_ARG = "streampar_backend"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register ``--streampar-*`` options and ``streampar_*`` ini keys."""
    _options.add_options(parser)
    _gate.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    """Resolve the settings once and register the marker."""
    config.addinivalue_line("markers", _marker.MARKER_LINE)
    config.stash[SETTINGS_KEY] = _options.resolve(config)
    config.stash[PLOTS_KEY] = []
    config.stash[CURRENT_KEY] = None
    config.pluginmanager.register(_Summary(config), "streampar-summary")
    _gate.register(config)
    if not hasattr(config, "workerinput"):
        _clear_old_plots(config)


def _clear_old_plots(config: pytest.Config) -> None:
    """Empty the cache's plot folder, so that it holds this session's plots
    only (a folder given with --streampar-plots is the user's: left alone)."""
    cache = getattr(config, "cache", None)
    if cache is None:
        return
    folder = Path(cache.mkdir("streampar-plots"))
    for old in folder.iterdir():
        if old.is_file() and old.suffix in (".png", ".svg"):
            old.unlink(missing_ok=True)
    if not any(folder.iterdir()):
        folder.rmdir()  # made again when a test fails


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Backends, watchdog, plots folder and the flags that reproduce the run."""
    s = config.stash[SETTINGS_KEY]
    watchdog = "off" if s.watchdog is None else f"{s.watchdog:g} s"
    plots = f"every test into {s.plots_dir}" if s.plots_dir else "failed tests"
    flags = s.flags()
    seed = config.getoption("hypothesis_seed", None)
    if seed is not None:
        flags.append(f"--hypothesis-seed={seed}")
    return [
        f"streampar: backends {', '.join(s.backends)} ({s.backends_from}); "
        f"watchdog {watchdog} ({s.watchdog_from}); plots: {plots}",
        f"streampar: reproduce with {' '.join(flags)}",
    ]


def is_streampar_item(item: pytest.Item) -> bool:
    """Whether the test uses a ``streampar_*`` fixture or the marker."""
    names = getattr(item, "fixturenames", ())
    if any(name.startswith("streampar_") for name in names):
        return True
    return item.get_closest_marker("streampar") is not None


# collection ----------------------------------------------------------------


def _directly_parametrized(metafunc: pytest.Metafunc) -> bool:
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", "")
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        if _BACKEND_ARG in names:
            return True
    return False


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize streampar tests over the selected backends."""
    if _BACKEND_ARG not in metafunc.fixturenames or _directly_parametrized(metafunc):
        return
    settings = metafunc.config.stash[SETTINGS_KEY]
    try:
        wanted = _marker.read_budget(metafunc.definition).backends
    except _marker.MarkerError:
        wanted = None  # reported at setup, where the test can fail
    if wanted is None:
        chosen: list[Any] = list(settings.backends)
    else:
        chosen = [b for b in wanted if b in settings.backends]
        if not chosen:
            reason = (
                f"streampar: the test runs on {', '.join(wanted)} only and the "
                f"session selects {', '.join(settings.backends)} "
                f"({settings.backends_from})"
            )
            chosen = [pytest.param(wanted[0], marks=pytest.mark.skip(reason=reason))]
    metafunc.parametrize(
        _BACKEND_ARG, chosen, indirect=True, scope="module", ids=lambda b: str(b)
    )


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(
    collector: pytest.Module | pytest.Class, name: str, obj: object
) -> None:
    """Give async streampar tests the runner (and so the backend parameter)."""
    if not collector.istestfunction(obj, name):
        return
    own = getattr(obj, "pytestmark", [])
    marked = collector.get_closest_marker("streampar") is not None or any(
        getattr(m, "name", None) == "streampar" for m in own
    )
    if _fixtures.wants_virtual_time(obj, marked):
        pytest.mark.usefixtures("streampar_run")(obj)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run async streampar tests on virtual time; leave the rest alone."""
    marked = pyfuncitem.get_closest_marker("streampar") is not None
    if "streampar_run" not in pyfuncitem.funcargs:
        return None
    if not _fixtures.wants_virtual_time(pyfuncitem.obj, marked):
        return None
    return True if _fixtures.run_async_test(pyfuncitem) else None


# the test protocol -----------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    """Make the test's state current while it runs."""
    if not is_streampar_item(item):
        return (yield)
    state = _state(item)
    item.config.stash[CURRENT_KEY] = state
    try:
        return (yield)
    finally:
        item.config.stash[CURRENT_KEY] = None
        if state.limit is not None:
            state.limit.cancel()


def _state(item: pytest.Item) -> ItemState:
    state = item.stash.get(ITEM_KEY, None)
    if state is None:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get(_BACKEND_ARG) if callspec else None
        state = ItemState(item.nodeid, backend=backend)
        item.stash[ITEM_KEY] = state
    return state


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Validate the marker before any fixture is set up."""
    if not is_streampar_item(item):
        return
    message = _claimed_elsewhere(item)
    if message is None:
        try:
            _state(item).budget = _marker.read_budget(item)
        except _marker.MarkerError as exc:
            message = str(exc)
        else:
            return
    # Outside the except block, so the failure is not shown chained to the
    # MarkerError with the same text.
    pytest.fail(message, pytrace=False)


_OTHER_RUNNERS = ("anyio", "asyncio", "trio")


def _claimed_elsewhere(item: pytest.Item) -> str | None:
    """Why an async test streampar must run is also claimed by another async
    plugin's marker (whose runner would not be on virtual time), or None."""
    if not isinstance(item, pytest.Function):
        return None
    marked = item.get_closest_marker("streampar") is not None
    if not _fixtures.wants_virtual_time(item.obj, marked):
        return None
    others = [m for m in _OTHER_RUNNERS if item.get_closest_marker(m) is not None]
    if not others:
        return None
    why = (
        "is marked streampar"
        if marked
        else "asks for the simulated model or tools (their sleeps need virtual time)"
    )
    return (
        f"{item.name} {why} but also carries @pytest.mark.{others[0]}, whose "
        "plugin would run it in real time. Drop that mark: streampar runs async "
        "tests on virtual time itself, on each backend."
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """After the test: check the budget, plot, record the payload."""
    state = item.stash.get(ITEM_KEY, None)
    if state is None:
        return (yield)
    view = getattr(item, "funcargs", {}).get("streampar_timeline")
    if view is not None:
        state.view = view
        state.point_view(type(view)())
    _fresh_timelines_per_example(item, state)
    try:
        result = yield
    except pytest.skip.Exception:
        _finish(item, state, failed=False)
        raise
    except BaseException as exc:
        _finish(item, state, failed=True, error=exc)
        raise
    fails = []
    if state.budget is not None:
        fails = _marker.check_budget(state.budget, state.worst(), state.runs)
    _finish(item, state, failed=bool(fails))
    if fails:
        pytest.fail("\n".join(fails), pytrace=False)
    return result


def _fresh_timelines_per_example(item: pytest.Item, state: ItemState) -> None:
    """Under Hypothesis, start every example with no timelines, so that the
    plot of a failure shows the failing example's runs only (not a reference
    run left by an earlier example)."""
    handle = getattr(getattr(item, "obj", None), "hypothesis", None)
    if handle is None or not hasattr(handle, "inner_test"):
        return
    original = getattr(handle, "streampar_original_inner", None)
    if original is None:
        original = handle.inner_test
        if inspect.iscoroutinefunction(original):
            return  # an async test: run_async_test clears per example itself
        handle.streampar_original_inner = original

    def each_example(*args: Any, **kwargs: Any) -> Any:
        state.timelines.clear()
        return original(*args, **kwargs)

    handle.inner_test = each_example


def _finish(
    item: pytest.Item,
    state: ItemState,
    *,
    failed: bool,
    error: BaseException | None = None,
) -> None:
    settings = item.config.stash[SETTINGS_KEY]
    plots: list[str] = []
    if state.timelines and (failed or settings.plots_dir is not None):
        plots = _plot(item, state, settings.plots_dir, error)
    item.user_properties.append(("streampar", state.payload(plots)))


def _plot_dir(config: pytest.Config) -> Path:
    cache = getattr(config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir("streampar-plots"))
    return Path(tempfile.gettempdir()) / "streampar-plots"


def _plot(
    item: pytest.Item,
    state: ItemState,
    folder: Path | None,
    error: BaseException | None = None,
) -> list[str]:
    from simulator._plot import plot_strategies

    stem = (folder or _plot_dir(item.config)) / re.sub(
        r"[^A-Za-z0-9_.-]+", "_", item.nodeid
    )[-150:]
    try:
        bounds = [f.bound_ns for f in state.figures if f.bound_ns is not None]
        paths = plot_strategies(
            dict(state.timelines),
            stem,
            title=item.nodeid,
            bound_ns=bounds[-1] if bounds else None,
            broken=_broken_rule(state, error),
        )
    except Exception as exc:
        item.add_report_section("call", "streampar", f"no plot: {exc}")
        return []
    return [str(p) for p in paths if p.suffix == ".png"]


def _broken_rule(state: ItemState, error: BaseException | None) -> Any:
    """What a failed streampar check blames, for the plot to mark, or None."""
    violations = getattr(error, "violations", None)
    if not violations:
        return None
    from simulator._plot import BrokenRule

    first = violations[0]
    checked = getattr(error, "timeline", None)
    panel = next((name for name, tl in state.timelines.items() if tl is checked), None)
    return BrokenRule(first.headline, dict(first.notes), panel)


# pytest-timeout --------------------------------------------------------------


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> bool | None:
    """Keep pytest-timeout's limit ourselves for streampar tests."""
    if not is_streampar_item(item):
        return None
    state = _state(item)
    if state.limit is not None:
        state.limit.cancel()
    state.limit = RealTimeLimit(
        float(settings.timeout), describe_source(item), item.nodeid
    )
    return True


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_timeout_cancel_timer(item: pytest.Item) -> bool | None:
    """Stop the limit streampar keeps for this test."""
    state = item.stash.get(ITEM_KEY, None)
    if state is None or state.limit is None:
        return None
    state.limit.cancel()
    state.limit = None
    return True


# reporting -------------------------------------------------------------------


class _Summary:
    """Collects plot paths from reports (also from xdist workers) and lists
    them in the terminal summary; registered per session at configure."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Note the plots a streampar test's call report carries."""
        if report.when != "call":
            return
        for name, value in report.user_properties:
            if name == "streampar" and isinstance(value, dict):
                for path in value.get("plots", []):
                    self._config.stash[PLOTS_KEY].append((report.nodeid, path))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """List the plots written in this session."""
        plots = self._config.stash[PLOTS_KEY]
        if not plots:
            return
        terminalreporter.write_sep("-", "streampar timeline plots")
        for nodeid, path in plots:
            terminalreporter.write_line(f"{nodeid}: {path}")
