"""The simulator's exceptions: one root, one class per way a run can go wrong."""

from __future__ import annotations

__all__ = [
    "DeadlockError",
    "EngineBug",
    "OutsideWorkError",
    "ScenarioError",
    "SimulatorError",
    "TraceImportError",
    "WatchdogTimeout",
]


class SimulatorError(Exception):
    """Root of every error the simulator raises on purpose."""


class DeadlockError(SimulatorError):
    """The run can never finish: no task is runnable, no timer is pending and no
    tracked outside work is in flight.

    Attributes:
        virtual_time: the virtual time, in seconds, at which the run stalled.
        blocked: one line per blocked task: its name and where it waits.
    """

    def __init__(self, virtual_time: float, blocked: list[str]) -> None:
        self.virtual_time = virtual_time
        self.blocked = blocked
        lines = "\n".join(f"  - {line}" for line in blocked) or "  (no tasks listed)"
        super().__init__(
            f"deadlock at virtual time {virtual_time:.9g} s: no task is runnable, "
            f"no timer is pending and no outside work is in flight, so the run "
            f"can never finish. Blocked tasks:\n{lines}\n"
            f"(If one of them waits for a thread the clock cannot see, one "
            f"started by hand or through a CapacityLimiter of your own, wrap "
            f"that wait in `with simulator.outside_work():`.)"
        )


class WatchdogTimeout(SimulatorError):
    """Harness code held the event loop for longer than the real-time limit.

    Attributes:
        virtual_time: the virtual time, in seconds, when the loop stopped yielding.
        task: the name of the task that held the loop, when it is known.
        limit: the real-time limit in seconds.
    """

    def __init__(
        self,
        virtual_time: float,
        task: str | None,
        limit: float,
        *,
        frozen: bool = False,
    ) -> None:
        self.virtual_time = virtual_time
        self.task = task
        self.limit = limit
        self.frozen = frozen
        holder = f"task {task!r}" if task else "an unknown task"
        if frozen:
            message = (
                f"watchdog: virtual time stood still at {virtual_time:.9g} s for "
                f"more than {limit:g} s of real time while the loop kept turning "
                f"({holder} was running): tasks keep waking without ever waiting "
                f"for time to pass, e.g. `while not done: await anyio.sleep(0)`, "
                f"or sleeps shorter than half a nanosecond (they take no virtual "
                f"time). Wait on an anyio.Event or a stream instead, or sleep for a "
                f"real duration; or raise the limit with `watchdog=`."
            )
        else:
            message = (
                f"watchdog: {holder} held the event loop for more than {limit:g} s "
                f"of real time without yielding, at virtual time "
                f"{virtual_time:.9g} s. A CPU-bound loop in harness code never lets "
                f"the clock move; add an `await anyio.lowlevel.checkpoint()` inside "
                f"it, or raise the limit with `watchdog=`."
            )
        super().__init__(message)


class OutsideWorkError(SimulatorError):
    """Work the virtual clock cannot see (a subprocess, a socket, uvloop) was
    refused."""


class ScenarioError(SimulatorError, ValueError):
    """A scenario is not valid. The message names the field path, the value, the
    rule and a fix, and for files the file (and line, where known)."""


class TraceImportError(SimulatorError):
    """A session log could not be read at all."""


class EngineBug(SimulatorError):
    """Something inside the simulator failed that should never fail: a bug in
    pytest-streampar, not in your code. Please report it with the traceback."""
