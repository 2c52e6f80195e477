"""Replay recorded sessions under the three strategies and collect the figures.

For each recorded session the scenario built from its log is played on the
engine (virtual time) under ``sequential``, ``parallel`` and ``overlapped``.
The run under the strategy the agent really used is the reproduction, compared
with the recorded agent time; the other runs say what each strategy would have
cost; the critical-path bound says what no schedule can beat.

All times are integer nanoseconds of virtual time; iteration times exclude human
think time, as the recording does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ._bound import STRATEGIES, critical_path_ns, session_bound_ns
from ._importers import Fidelity, RecordedSession
from ._scenario import Scenario, to_ns

if TYPE_CHECKING:
    from ._run import Backend
    from ._strategies import StrategyRun

__all__ = ["SessionReplay", "TurnReplay", "replay_session", "replay_sessions"]


@dataclass(frozen=True)
class TurnReplay:
    """One iteration: recorded and simulated times.

    Attributes:
        turn: index from 0 (the scenario's turn index).
        calls: number of tool calls.
        recorded_ns: recorded iteration time.
        simulated_ns: strategy name to simulated iteration time.
        bound_ns: lower bound on the iteration (request overhead plus the
            critical path).
    """

    turn: int
    calls: int
    recorded_ns: int
    simulated_ns: dict[str, int]
    bound_ns: int

    @property
    def overlap_saving_ns(self) -> int:
        """Sequential minus overlapped iteration time."""
        return self.simulated_ns["sequential"] - self.simulated_ns["overlapped"]


@dataclass(frozen=True)
class SessionReplay:
    """A recorded session replayed under every strategy.

    Attributes:
        session: the recorded session.
        scenario: the scenario built from it.
        runs: strategy name to its engine run (timelines for plots and traces).
        turns: per-iteration figures.
        bound_ns: critical-path lower bound of the whole session.
        backend: the engine's backend.
    """

    session: RecordedSession
    scenario: Scenario
    runs: dict[str, StrategyRun]
    turns: tuple[TurnReplay, ...]
    bound_ns: int
    backend: str = "asyncio"
    simulated_ns: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        totals = {name: run.session_ns for name, run in self.runs.items()}
        object.__setattr__(self, "simulated_ns", totals)

    @property
    def fidelity(self) -> Fidelity:
        """The agent's own strategy replayed against the recording."""
        strategy = self.session.agent_strategy
        run = self.runs[strategy]
        return Fidelity(
            strategy=strategy,
            recorded_ns=self.session.recorded_agent_ns,
            simulated_ns=run.session_ns,
            simulated_turn_ns=tuple(run.iteration_ns),
        )

    def saving_ns(self, strategy: str, *, against: str = "sequential") -> int:
        """Simulated session time saved by ``strategy`` against ``against``."""
        return self.simulated_ns[against] - self.simulated_ns[strategy]

    def top_turns(self, count: int = 5) -> list[TurnReplay]:
        """The iterations where overlapping saves most against sequential."""
        ranked = sorted(self.turns, key=lambda t: (-t.overlap_saving_ns, t.turn))
        return [t for t in ranked[:count] if t.overlap_saving_ns > 0]


def replay_session(
    session: RecordedSession, *, backend: Backend = "asyncio"
) -> SessionReplay:
    """Play a recorded session under the three strategies.

    The virtual clock advances only by the recorded stream times and tool
    durations, so a session of an hour replays in a fraction of a second.
    """
    from ._strategies import run_strategy

    scenario = session.to_scenario()
    runs: dict[str, StrategyRun] = {
        name: run_strategy(scenario, name, backend=backend) for name in STRATEGIES
    }
    # each run's per-turn times, built once (not once per turn)
    iterations = {name: run.iteration_ns for name, run in runs.items()}
    turns = tuple(
        TurnReplay(
            turn=k,
            calls=len(turn.calls),
            recorded_ns=recorded.iteration_ns,
            simulated_ns={name: times[k] for name, times in iterations.items()},
            bound_ns=to_ns(turn.request_overhead) + critical_path_ns(turn),
        )
        for k, (turn, recorded) in enumerate(
            zip(scenario.turns, session.turns, strict=True)
        )
    )
    return SessionReplay(
        session=session,
        scenario=scenario,
        runs=runs,
        turns=turns,
        bound_ns=session_bound_ns(scenario),
        backend=backend,
    )


def replay_sessions(
    sessions: Sequence[RecordedSession],
    *,
    backend: Backend = "asyncio",
    progress: Callable[[int, int, str], None] | None = None,
) -> list[SessionReplay]:
    """Replay each session in turn; ``progress(done, total, name)`` after each."""
    replays = []
    for done, session in enumerate(sessions, start=1):
        replays.append(replay_session(session, backend=backend))
        if progress is not None:
            progress(done, len(sessions), session.name)
    return replays
