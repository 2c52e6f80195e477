"""``anyio.sleep`` on a virtual clock, straight onto the clock's own queue.

On a real clock ``anyio.sleep(d)`` pays for machinery that exists to wait in
real time. On asyncio it becomes ``asyncio.sleep``: a future plus a timer handle
whose callback sets the future, and a cancel of that handle when the sleep
ends. On trio it becomes ``trio.sleep``: a cancel scope with a deadline, whose
expiry raises ``Cancelled`` into the task and catches it again, at every wake-up.
On the virtual clock that machinery is most of the cost of a simulated sleep.

So while a run is on a virtual clock, anyio's backends sleep through the clock:

- asyncio (:func:`simulator._asyncio_loop.anyio_sleep`): the task waits on a
  plain future kept in the loop's heap of sleeps, set from the same float
  ``call_later`` would use.
- trio: the task parks with ``wait_task_rescheduled`` in the clock's queue of
  sleepers, and the clock reschedules it when it reaches the sleep's
  nanosecond. Cancellation aborts the wait at once, and a sleep that ends at
  the very moment an enclosing scope expires raises ``Cancelled`` on waking,
  as ``trio.sleep`` does.

On both backends a sleep ends at its nanosecond after every deadline due at
that nanosecond has fired (whatever their floats), so the two backends agree,
and agree with the analytic schedule, on every tie. The stock paths give the
same outcomes (on trio a sleep is then a trio deadline, and every trio
deadline of a nanosecond expires in one pass):
``tests/simulator/test_fast_sleep.py`` checks random programs of sleeps,
scopes and timeouts on both paths and backends against a model worked out by
hand. Pass ``fast_sleep=False`` to :func:`simulator.run` to take the stock
path.

Off the virtual clock (a plain ``anyio.run``), the backends' own sleeps run
unchanged; the only cost left there is one type check per sleep.
"""

from __future__ import annotations

import math
from typing import Any

import trio
from anyio._backends import _asyncio as _anyio_asyncio
from anyio._backends import _trio as _anyio_trio

from ._asyncio_loop import STOCK_ASYNCIO_SLEEP, stock_sleep
from ._asyncio_loop import anyio_sleep as _asyncio_sleep
from ._trio_clock import VirtualTrioClock
from ._watchdog import raise_clock_frozen

__all__ = ["install"]


_current_clock = trio.lowlevel.current_clock
_current_task = trio.lowlevel.current_task
_wait_task_rescheduled = trio.lowlevel.wait_task_rescheduled
_checkpoint_if_cancelled = trio.lowlevel.checkpoint_if_cancelled
_INF = math.inf


# anyio's own sleeps; None if anyio's backends no longer have that shape
_STOCK_TRIO = stock_sleep(_anyio_trio.TrioBackend)


async def _trio_sleep(cls: Any, delay: float) -> None:
    """``TrioBackend.sleep``: on a virtual clock, parked in its queue of sleepers."""
    clock = _current_clock()
    if clock.__class__ is VirtualTrioClock and clock.virtual_core.frozen:
        raise_clock_frozen(clock.virtual_core)
    if (
        clock.__class__ is not VirtualTrioClock
        or not clock.fast_sleep
        or not 0 < delay < _INF
    ):
        assert _STOCK_TRIO is not None  # install() checked it
        await _STOCK_TRIO(cls, delay)
        return
    sleep = clock.sleep_entry(delay, _current_task())
    await _wait_task_rescheduled(sleep.abort)
    # Woken at the moment an enclosing scope expired too: trio.sleep would
    # raise Cancelled here, so do the same.
    await _checkpoint_if_cancelled()


def install() -> bool:
    """Route anyio's backend sleeps through the virtual clocks (idempotent).

    Returns False, leaving anyio as it is, when its backends no longer have
    the ``sleep`` class methods this relies on; runs are then slower, not wrong.
    """
    if STOCK_ASYNCIO_SLEEP is None or _STOCK_TRIO is None:
        return False
    for backend, fast in (
        (_anyio_asyncio.AsyncIOBackend, _asyncio_sleep),
        (_anyio_trio.TrioBackend, _trio_sleep),
    ):
        if backend.__dict__["sleep"].__func__ is not fast:
            backend.sleep = classmethod(fast)  # type: ignore[method-assign,assignment]
    return True
