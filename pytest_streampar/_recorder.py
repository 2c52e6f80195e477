"""What a streampar test measured, and the payload the gate reads.

After each test that used streampar, the plugin appends exactly one entry
``("streampar", payload)`` to ``item.user_properties``. pytest copies
user properties into every test report, and pytest-xdist sends reports to the
controller, so the entry reaches the gate with or without xdist. The payload
is JSON-ready::

    {
      "metrics": {
        "<name>": {"value": <float>, "better": "lower" | "higher",
                   "unit": "s" | "x" | "fraction"}
      },
      "timelines": {"<label>": Timeline.to_dict()},
      "backend": "asyncio" | "trio" | None,
      "scenario": "<scenario name>" | None,
      "plots": ["<png path>", ...]
    }

Metric names:

- ``session_time`` (s, lower is better): the longest session of the test's
  runs: last hand-back minus the first turn's start, or the run's virtual end
  time when the run recorded no turn;
- ``iteration_time[<k>]`` (s, lower): the longest iteration ``k`` (turn index
  from 0) over the test's runs;
- ``speedup`` (x, higher): the smallest ratio of the analytic sequential
  session time of the scenario to the measured session time;
- ``bound_gap`` (fraction, lower): the largest ``(session - bound) / bound``,
  with the critical-path lower bound of the scenario.

Where figures come from, per run: each model made by ``streampar_model`` that
streamed in the run gives one session (its ``turn_times``, exact to the
nanosecond); a run without such a model gives one session from the "turn"
spans of its timeline; ``streampar_run.strategy(...)`` gives the strategy run's
turns. ``speedup`` and ``bound_gap`` exist only for sessions that played every
turn of a known scenario (not aborted), and only when the scenario has a
finite sequential time and bound (a tool that hangs with nothing to stop it
has neither). ``timelines`` holds the last run under label ``"run"`` and the
last run of each strategy under the strategy's name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulator import RunResult, Scenario, Timeline
    from simulator._model import SimulatedModel, TurnTimes
    from simulator._strategies import StrategyRun

    from ._marker import Budget
    from ._timeout import RealTimeLimit

__all__ = ["Figures", "ItemState", "Worst"]


@dataclass(frozen=True)
class Figures:
    """One measured session.

    Attributes:
        label: which run it came from, e.g. ``"run 2"``.
        session_ns: the session's time.
        iteration_ns: iteration time by turn index.
        scenario: the scenario's name, when known.
        sequential_ns: the analytic sequential session time, when comparable.
        bound_ns: the critical-path lower bound, when comparable.
        reference: True for a ``streampar_run.strategy(...)`` run: it counts
            only when the test made no run of its own harness.
    """

    label: str
    session_ns: int
    iteration_ns: dict[int, int]
    scenario: str | None = None
    sequential_ns: int | None = None
    bound_ns: int | None = None
    reference: bool = False


@dataclass
class Worst:
    """The worst figures over a test's runs (None when nothing measured it).

    Attributes:
        iteration: (ns, turn, label) of the longest iteration.
        session: (ns, label) of the longest session.
        speedup: (factor, sequential ns, session ns, label), smallest factor.
        bound_gap: (fraction, bound ns, session ns, label), largest gap.
    """

    iteration: tuple[int, int, str] | None = None
    session: tuple[int, str] | None = None
    speedup: tuple[float, int, int, str] | None = None
    bound_gap: tuple[float, int, int, str] | None = None


def _reference(
    scenario: Scenario, feed_forward: bool, tool_timeout: float | None
) -> tuple[int | None, int | None]:
    """Analytic sequential session time and critical-path bound, if finite."""
    from simulator import SimulatorError
    from simulator._bound import schedule_session, session_bound_ns

    try:
        seq: int | None = schedule_session(
            scenario, "sequential", tool_timeout=tool_timeout
        ).session_ns
    except SimulatorError:
        seq = None
    try:
        bound: int | None = session_bound_ns(
            scenario, feed_forward=feed_forward, tool_timeout=tool_timeout
        )
    except SimulatorError:
        bound = None
    return seq, bound


def _from_turns(
    label: str,
    turns: list[TurnTimes],
    scenario: Scenario,
    complete: bool,
    feed_forward: bool,
    tool_timeout: float | None = None,
) -> Figures:
    seq, bound = (
        _reference(scenario, feed_forward, tool_timeout) if complete else (None, None)
    )
    return Figures(
        label=label,
        session_ns=turns[-1].hand_back_ns - turns[0].start_ns,
        iteration_ns={k: t.iteration_ns for k, t in enumerate(turns)},
        scenario=scenario.name,
        sequential_ns=seq,
        bound_ns=bound,
    )


def _from_timeline(label: str, result: RunResult[Any]) -> Figures:
    turns = [s for s in result.timeline.spans if s.name == "turn"]
    if not turns:
        return Figures(label, result.virtual_ns, {})
    iteration = {
        int(s.attrs.get("turn", k)): s.end_ns - s.start_ns for k, s in enumerate(turns)
    }
    start = min(s.start_ns for s in turns)
    return Figures(label, max(s.end_ns for s in turns) - start, iteration)


@dataclass
class ItemState:
    """Everything streampar keeps about one test while it runs.

    Attributes:
        nodeid: the test's node id.
        backend: the test's backend, when parametrized by streampar.
        budget: the test's merged ``streampar`` marker.
        figures: every session measured, in order.
        timelines: the last run, and the last run of each strategy, by label.
        models: models made by ``streampar_model`` not yet seen streaming.
        view: the ``streampar_timeline`` object, re-pointed at each run.
        limit: pytest-timeout's real-time limit, when streampar enforces it.
        runs: how many runs the test made.
        scenario: the name of the last scenario played.
    """

    nodeid: str
    backend: str | None = None
    budget: Budget | None = None
    figures: list[Figures] = field(default_factory=list)
    timelines: dict[str, Timeline] = field(default_factory=dict)
    models: list[SimulatedModel] = field(default_factory=list)
    view: Timeline | None = None
    limit: RealTimeLimit | None = None
    runs: int = 0
    scenario: str | None = None

    def point_view(self, timeline: Timeline) -> None:
        """Make the ``streampar_timeline`` object show ``timeline``'s records."""
        if self.view is None:
            return
        self.view.spans = timeline.spans
        self.view.instants = timeline.instants
        self.view.meta = timeline.meta
        self.view.purely_virtual = timeline.purely_virtual

    def add_run(self, result: RunResult[Any]) -> None:
        """Record one ``streampar_run`` (or async test) run."""
        self.runs += 1
        label = f"run {self.runs}"
        used = [m for m in self.models if m.turn_times]
        self.models = [m for m in self.models if not m.turn_times]
        cut_short = any(
            span.name == "tool" and span.attrs.get("outcome") == "cancelled"
            for span in result.timeline.spans
        )
        for model in used:
            complete = not cut_short and _played_fully(model)
            self.figures.append(
                _from_turns(
                    label,
                    list(model.turn_times),
                    model.scenario,
                    complete,
                    model.feed_forward,
                )
            )
            self.scenario = model.scenario.name
        if not used:
            self.figures.append(_from_timeline(label, result))
        self.timelines["run"] = result.timeline
        self.point_view(result.timeline)

    def add_strategy(self, run: StrategyRun, tool_timeout: float | None) -> None:
        """Record one ``streampar_run.strategy(...)`` run."""
        self.runs += 1
        label = f"{run.strategy} run {self.runs}"
        self.scenario = run.scenario.name
        if run.turns:
            complete = len(run.turns) == len(run.scenario.turns) and not run.aborted
            feed = bool(run.timeline.meta.get("feed_forward"))
            figures = _from_turns(
                label, run.turns, run.scenario, complete, feed, tool_timeout
            )
            self.figures.append(dataclasses.replace(figures, reference=True))
        self.timelines[run.strategy] = run.timeline
        self.point_view(run.timeline)

    def judged(self) -> list[Figures]:
        """The sessions the budget and the metrics judge: the test's own runs
        of its harness; reference strategy runs only when there is none."""
        own = [f for f in self.figures if not f.reference]
        return own or list(self.figures)

    def worst(self) -> Worst:
        """The worst figures over every judged session."""
        worst = Worst()
        for f in self.judged():
            _fold(worst, f)
        return worst

    def metrics(self) -> dict[str, dict[str, Any]]:
        """The payload's ``metrics``: worst value of each metric."""
        out: dict[str, dict[str, Any]] = {}
        worst = self.worst()
        if worst.session is not None:
            out["session_time"] = _metric(worst.session[0] / 1e9, "lower", "s")
        per_turn: dict[int, int] = {}
        for f in self.judged():
            for k, ns in f.iteration_ns.items():
                per_turn[k] = max(per_turn.get(k, ns), ns)
        for k in sorted(per_turn):
            out[f"iteration_time[{k}]"] = _metric(per_turn[k] / 1e9, "lower", "s")
        if worst.speedup is not None:
            out["speedup"] = _metric(worst.speedup[0], "higher", "x")
        if worst.bound_gap is not None:
            out["bound_gap"] = _metric(worst.bound_gap[0], "lower", "fraction")
        return out

    def payload(self, plots: list[str]) -> dict[str, Any]:
        """The JSON-ready ``("streampar", payload)`` value for user_properties."""
        return {
            "metrics": self.metrics(),
            "timelines": {k: t.to_dict() for k, t in self.timelines.items()},
            "backend": self.backend,
            "scenario": self.scenario,
            "plots": plots,
        }


def _metric(value: float, better: str, unit: str) -> dict[str, Any]:
    return {"value": float(value), "better": better, "unit": unit}


def _fold(worst: Worst, f: Figures) -> None:
    """Fold one session's figures into the running worst."""
    for k, ns in f.iteration_ns.items():
        if worst.iteration is None or ns > worst.iteration[0]:
            worst.iteration = (ns, k, f.label)
    if worst.session is None or f.session_ns > worst.session[0]:
        worst.session = (f.session_ns, f.label)
    if f.sequential_ns is not None and f.session_ns > 0:
        factor = f.sequential_ns / f.session_ns
        if worst.speedup is None or factor < worst.speedup[0]:
            worst.speedup = (factor, f.sequential_ns, f.session_ns, f.label)
    if f.bound_ns is not None and f.bound_ns > 0:
        gap = (f.session_ns - f.bound_ns) / f.bound_ns
        if worst.bound_gap is None or gap > worst.bound_gap[0]:
            worst.bound_gap = (gap, f.bound_ns, f.session_ns, f.label)


def _played_fully(model: Any) -> bool:
    """Whether a model run handed back every call of every turn of its
    scenario: an aborted session, or one whose stream was cut, has no speed-up
    or distance from the bound (its tools did not all run)."""
    scenario = model.scenario
    if len(model.turn_times) != len(scenario.turns):
        return False
    handed = [len(ids) for ids in model.handed_back]
    return handed == [len(turn.calls) for turn in scenario.turns]
