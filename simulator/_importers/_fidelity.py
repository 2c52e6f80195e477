"""How well the simulator reproduces a recorded session.

The session's scenario is replayed on the engine under the strategy the agent
really used; the simulated session time (sum of iteration times, think time
kept out, as in the recording) is compared with the recorded agent time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._recorded import RecordedSession

if TYPE_CHECKING:
    from .._run import Backend

__all__ = ["Fidelity", "fidelity"]


@dataclass(frozen=True)
class Fidelity:
    """Recorded against simulated agent time for one session.

    Attributes:
        strategy: the strategy replayed (the agent's own, unless overridden).
        recorded_ns: the recorded agent time (sum of iteration times).
        simulated_ns: the replayed session time.
        simulated_turn_ns: each replayed iteration time, in order.
    """

    strategy: str
    recorded_ns: int
    simulated_ns: int
    simulated_turn_ns: tuple[int, ...] = ()

    @property
    def error_fraction(self) -> float:
        """``(simulated - recorded) / recorded``; 0.0 for an empty recording."""
        if self.recorded_ns == 0:
            return 0.0
        return (self.simulated_ns - self.recorded_ns) / self.recorded_ns


def fidelity(
    session: RecordedSession,
    *,
    strategy: str | None = None,
    backend: Backend = "asyncio",
) -> Fidelity:
    """Replay ``session`` under its agent's strategy and compare the times.

    Args:
        session: the recorded session.
        strategy: replay under this strategy instead of the agent's own.
        backend: ``"asyncio"`` or ``"trio"``.

    Returns:
        The recorded and simulated times. The virtual clock advances only by the
        recorded stream times and tool durations, so the replay takes
        milliseconds of real time whatever the session's length.
    """
    from .._strategies import run_strategy

    chosen = strategy or session.agent_strategy
    run = run_strategy(session.to_scenario(), chosen, backend=backend)
    return Fidelity(
        strategy=chosen,
        recorded_ns=session.recorded_agent_ns,
        simulated_ns=run.session_ns,
        simulated_turn_ns=tuple(run.iteration_ns),
    )
