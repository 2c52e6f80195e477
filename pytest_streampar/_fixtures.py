"""The ``streampar_*`` fixtures and the runner behind ``streampar_run``.

No fixture is function-scoped, so Hypothesis tests may use them without a
health-check error: ``streampar_run`` and ``streampar_backend`` are
module-scoped (the backend parameter groups a module's tests per backend, as
anyio's plugin does), the factories are session-scoped, and each finds the test
it serves through the plugin's per-test state. A fresh virtual clock starts at
every ``streampar_run(...)`` call, so every Hypothesis example gets its own.

Virtual time: nothing advances the clock but sleeps and timers inside a run;
the clock jumps straight to the next timer when every task waits. Code that
holds the loop without awaiting takes no virtual time and is stopped by the
watchdog after ``--streampar-watchdog`` real seconds.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from ._keys import CURRENT_KEY, SETTINGS_KEY

if TYPE_CHECKING:
    from simulator import RunResult, Scenario, Timeline
    from simulator._faults import WireFaults
    from simulator._model import SimulatedModel
    from simulator._strategies import StrategyRun
    from simulator._tools import SimulatedTools

    from ._recorder import ItemState

__all__ = [
    "StreamparRunner",
    "load_scenario_ref",
    "run_async_test",
    "streampar_backend",
    "streampar_model",
    "streampar_run",
    "streampar_scenario",
    "streampar_timeline",
    "streampar_tools",
    "wants_virtual_time",
]

T = TypeVar("T")


def _current(config: pytest.Config, what: str) -> ItemState:
    state = config.stash.get(CURRENT_KEY, None)
    if state is None:
        from simulator import SimulatorError

        raise SimulatorError(
            f"{what} was used outside a running test (in a session fixture or at "
            f"import?); call it from inside the test function"
        )
    return state


class StreamparRunner:
    """What the ``streampar_run`` fixture gives: runs async code on virtual time.

    Each call starts a fresh virtual clock at 0 on the test's backend, with the
    watchdog on; the run's timeline becomes ``streampar_timeline`` and its
    figures count toward the test's budget and recorded metrics.

    Attributes:
        backend: ``"asyncio"`` or ``"trio"``.
    """

    def __init__(self, config: pytest.Config, backend: str) -> None:
        self._config = config
        self.backend = backend

    @property
    def watchdog(self) -> float | None:
        """Real seconds one loop iteration may take (marker, else session)."""
        state = self._config.stash.get(CURRENT_KEY, None)
        if state is not None and state.budget is not None:
            if state.budget.watchdog is not None:
                return state.budget.watchdog
        return self._config.stash[SETTINGS_KEY].watchdog

    def _execute(self, state: ItemState, func: Callable[[], T]) -> T:
        if state.limit is not None:
            return state.limit.call(func)
        return func()

    def __call__(self, fn: Callable[..., Awaitable[T]], *args: Any) -> RunResult[T]:
        """Run ``await fn(*args)`` on a fresh virtual clock.

        Returns:
            The :class:`simulator.RunResult` (value, timeline, virtual time).

        Raises:
            simulator.DeadlockError: the run could never finish.
            simulator.WatchdogTimeout: the code stopped yielding.
        """
        from simulator import run

        state = _current(self._config, "streampar_run")
        limit = state.limit
        if limit is None:
            result = run(fn, *args, backend=self.backend, watchdog=self.watchdog)
        else:
            guarded = limit.guard(fn, *args)
            result = limit.call(
                lambda: run(guarded, backend=self.backend, watchdog=self.watchdog)
            )
        state.add_run(result)
        return result

    def strategy(
        self,
        scenario: Scenario | str | os.PathLike[str],
        strategy: str = "overlapped",
        **options: Any,
    ) -> StrategyRun:
        """Play a scenario under a reference strategy on the test's backend.

        Args:
            scenario: a Scenario, a scenario file or a bundled scenario name.
            strategy: ``"sequential"``, ``"parallel"`` or ``"overlapped"``.
            **options: passed to :func:`simulator._strategies.run_strategy`
                (``feed_forward``, ``tool_timeout``, ``abort_at``, ``wire``...).

        Returns:
            The strategy run; its figures count toward the budget.
        """
        from simulator._strategies import run_strategy

        state = _current(self._config, "streampar_run.strategy")
        played = load_scenario_ref(scenario)
        run = self._execute(
            state,
            lambda: run_strategy(played, strategy, backend=self.backend, **options),  # type: ignore[arg-type]
        )
        state.add_strategy(run, options.get("tool_timeout"))
        return run

    def run_test(
        self, fn: Callable[..., Awaitable[Any]], kwargs: dict[str, Any]
    ) -> None:
        """Run an async test function on virtual time (the plugin calls this)."""
        from simulator import current_timeline

        state = _current(self._config, "an async streampar test")
        live: list[Timeline] = []

        async def main() -> None:
            timeline = current_timeline()
            live.append(timeline)
            state.point_view(timeline)
            await fn(**kwargs)

        try:
            self(main)
        except BaseException:
            # The run never returned, so it was not recorded: keep what it
            # drew up to the failure, for the failed test's plot.
            if live and "run" not in state.timelines:
                state.timelines["run"] = live[0]
            raise


def load_scenario_ref(ref: Scenario | str | os.PathLike[str]) -> Scenario:
    """A Scenario as is, a scenario file, or a bundled scenario by name.

    Raises:
        simulator.ScenarioError: no such file or bundled name, or invalid.
    """
    from simulator import Scenario, ScenarioError
    from simulator._scenario_io import bundled_scenarios, load_scenario

    if isinstance(ref, Scenario):
        return ref
    path = Path(ref)
    if path.suffix.lower() in (".json", ".toml") or path.exists():
        return load_scenario(path)
    bundled = bundled_scenarios()
    if str(ref) in bundled:
        return load_scenario(bundled[str(ref)])
    raise ScenarioError(
        f"scenario {str(ref)!r} is neither a scenario file (*.json, *.toml) nor a "
        f"bundled scenario; bundled: {', '.join(bundled)}"
    )


@pytest.fixture(scope="module")
def streampar_backend(request: pytest.FixtureRequest) -> str:
    """The backend of this test: ``"asyncio"`` or ``"trio"``.

    Tests using it (directly or through ``streampar_run``) are parametrized over
    the session's backends (``--streampar-backend``), narrowed by the
    ``streampar(backends=[...])`` marker.
    """
    param = getattr(request, "param", None)
    if param is None:
        return request.config.stash[SETTINGS_KEY].backends[0]
    return str(param)


@pytest.fixture(scope="module")
def streampar_run(
    request: pytest.FixtureRequest, streampar_backend: str
) -> StreamparRunner:
    """Run async harness code on virtual time: ``streampar_run(fn, *args)``.

    Returns a :class:`StreamparRunner`; each call starts a fresh clock.
    """
    return StreamparRunner(request.config, streampar_backend)


@pytest.fixture(scope="session")
def streampar_scenario() -> Callable[[Scenario | str | os.PathLike[str]], Scenario]:
    """Load a scenario: ``streampar_scenario("two-call")`` or a file path."""
    return load_scenario_ref


@pytest.fixture(scope="session")
def streampar_model(request: pytest.FixtureRequest) -> Callable[..., SimulatedModel]:
    """Make a simulated model: ``streampar_model(scenario, wire=..., ...)``.

    ``scenario`` is a Scenario, a file or a bundled name; ``wire`` is
    ``"canonical"`` (default), ``"anthropic"``, ``"openai-chat"`` or
    ``"openai-responses"``; ``faults`` takes a ``simulator._faults.WireFaults``
    (off by default). The model records into the run it streams in, and its
    turn times give the test's speed-up and bound figures.
    """
    config = request.config

    def make(
        scenario: Scenario | str | os.PathLike[str],
        *,
        wire: str = "canonical",
        feed_forward: bool = False,
        faults: WireFaults | None = None,
    ) -> SimulatedModel:
        from simulator._model import SimulatedModel

        model = SimulatedModel(
            load_scenario_ref(scenario),
            wire=wire,  # type: ignore[arg-type]
            feed_forward=feed_forward,
            faults=faults,
        )
        state = config.stash.get(CURRENT_KEY, None)
        if state is not None:
            state.models.append(model)
        return model

    return make


@pytest.fixture(scope="session")
def streampar_tools() -> Callable[[Scenario | str | os.PathLike[str]], SimulatedTools]:
    """Make simulated tools: ``streampar_tools(scenario)``; ``.records`` lists
    every tool run (start, end, outcome) and ``.running`` the ones in flight."""

    def make(scenario: Scenario | str | os.PathLike[str]) -> SimulatedTools:
        from simulator._tools import SimulatedTools

        return SimulatedTools(load_scenario_ref(scenario))

    return make


@pytest.fixture(scope="module")
def streampar_timeline() -> Iterator[Timeline]:
    """The timeline of this test's current run.

    In a sync test it shows the last ``streampar_run`` (empty before the first);
    in an async test run by streampar, the test's own run, live.
    """
    from simulator import Timeline

    yield Timeline()


def _signature(fn: Callable[..., Any]) -> set[str]:
    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return set()


def _inner(obj: Any) -> Any:
    handle = getattr(obj, "hypothesis", None)
    if handle is None:
        return obj
    return getattr(handle, "streampar_inner", handle.inner_test)


def wants_virtual_time(obj: Any, marked: bool) -> bool:
    """Whether streampar runs this test function itself: it is ``async def``
    (possibly under Hypothesis) and marked ``streampar`` or asks for a fixture
    that only makes sense on virtual time (the timeline, or the simulated model
    or tools, whose sleeps would otherwise take real time)."""
    fn = _inner(obj)
    if not inspect.iscoroutinefunction(fn):
        return False
    return marked or not _VIRTUAL_ONLY.isdisjoint(_signature(fn))


_VIRTUAL_ONLY = frozenset({"streampar_timeline", "streampar_model", "streampar_tools"})


def run_async_test(item: pytest.Function) -> bool:
    """Run an async streampar test; return False to let pytest call a
    Hypothesis wrapper (whose inner async test then runs per example)."""
    runner: StreamparRunner = item.funcargs["streampar_run"]  # type: ignore[assignment]
    handle = getattr(item.obj, "hypothesis", None)
    if handle is not None:
        inner = _inner(item.obj)
        handle.streampar_inner = inner

        def each_example(**kwargs: Any) -> None:
            # a fresh example: only its own runs belong in a failure's plot
            _current(runner._config, "an async streampar test").timelines.clear()
            runner.run_test(inner, kwargs)

        handle.inner_test = each_example
        return False
    names = _signature(item.obj)
    kwargs = {k: v for k, v in item.funcargs.items() if k in names}
    runner.run_test(item.obj, kwargs)
    return True
