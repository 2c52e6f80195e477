"""State shared by both virtual clocks: integer time, outside work, heartbeat.

Virtual time is kept as integer nanoseconds. Each backend's clock jumps it
straight to the earliest pending timer when nothing is runnable and no outside
work is in flight. While outside work (a thread, a socket, a subprocess) is in
flight, the clock cannot know when it will end, so it waits in real time and
advances virtual time by the real time that passed; the run is then marked as
not purely virtual.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["SENTINEL_NS", "ClockCore"]

# The deadlock guard sleeps until this moment (about 146 years). When it is the
# only timer left and nothing else can happen, the run can never finish. Timers
# set this far out are treated as never firing.
SENTINEL_NS = 2**62
SENTINEL_S = SENTINEL_NS / 1e9

# How long one real-time wait for outside work lasts before the clock looks again.
REAL_SLICE_S = 0.01


class _Limiter(Protocol):
    @property
    def borrowed_tokens(self) -> int: ...


class ClockCore:
    """Integer virtual time plus what the clock needs to decide whether to jump.

    Attributes:
        ns: the current virtual time in nanoseconds.
        explicit: outside work in flight that was declared by hand or by the
            loop's own hooks (executor jobs, subprocesses).
        purely_virtual: False once the clock has had to wait in real time.
        heartbeat: ``time.monotonic()`` of the last loop iteration, read by the
            watchdog.
        deadlock_ns: the virtual time at which a deadlock was found, or None.
        active: True while the run's main body is running (the guard exists).
    """

    def __init__(self) -> None:
        self.ns = 0
        self.explicit = 0
        self.purely_virtual = True
        self.heartbeat = time.monotonic()
        self.deadlock_ns: int | None = None
        # the error the deadlock guard raised, once it has
        self.deadlock_error: BaseException | None = None
        # virtual time when the run's body ended
        self.end_ns: int | None = None
        # set by the watchdog when virtual time stood still too long while
        # the loop kept turning; the next anyio.sleep then raises ClockFrozen
        self.frozen = 0
        self.active = False
        self.thread_limiter: _Limiter | None = None
        self.real_io: Callable[[], bool] = lambda: False

    def outside_in_flight(self) -> bool:
        """Whether any outside work may still wake the loop."""
        if self.explicit > 0:
            return True
        limiter = self.thread_limiter
        if limiter is not None and limiter.borrowed_tokens > 0:
            return True
        return self.real_io()

    def advance_real(self, elapsed_ns: int, cap_ns: int | None) -> None:
        """Advance by real time spent waiting on outside work, up to ``cap_ns``."""
        target = self.ns + max(0, elapsed_ns)
        if cap_ns is not None:
            target = min(target, max(self.ns, cap_ns))
        self.ns = target
        self.purely_virtual = False
