"""Hypothesis strategies for scenarios: sessions, turns, streams, calls, faults.

Every strategy draws plain frozen data from :mod:`simulator` (``Scenario``,
``Turn``, ``Block``, ``ToolCall``, ``Fault``) that a simulated model and
simulated tools then play on virtual time. Bounds are keyword-only
``min_*``/``max_*`` arguments. Times sit on a millisecond grid and token rates
are 20, 50 or 100 tokens/s, so every time in a run is a whole number of
milliseconds and timelines compare exactly.

How examples shrink: toward fewer turns, fewer calls, shorter durations, fewer
text blocks, no faults, no exclusive calls, no concurrency cap and no
overheads. Each drawing puts the simplest alternative first, which is what
Hypothesis shrinks toward.

Tool names follow the safety class (shared calls are ``read``, ``grep`` or
``glob``; exclusive calls are ``write`` or ``edit``), and a call's resource is
in its streamed arguments (``{"call": id, "resource": key}``), so a harness
that classes tools by name and locks by argument sees the scenario's classes.

A failing example prints a drawn :class:`~simulator.Scenario` as
``scenario_from_dict({...})``, which can be pasted into a test as it is
(``from pytest_streampar.strategies import scenario_from_dict``).

No Hypothesis deadline for engine tests: a virtual-time run's real duration
says nothing about the code under test, and the first run of a test pays for
imports. Decorate with :func:`engine_settings` (``deadline=None``), or load the
``"streampar"`` profile this module registers::

    from hypothesis import given
    from pytest_streampar.strategies import engine_settings, scenarios

    @engine_settings(max_examples=50)
    @given(scenario=scenarios(max_turns=2))
    def test_my_harness(scenario): ...

This module is the only part of the plugin that imports Hypothesis; the plugin
never imports it at load.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.vendor.pretty import RepresentationPrinter, for_type_by_name

from simulator._bound import schedule_session
from simulator._errors import SimulatorError
from simulator._scenario import Block, Fault, Scenario, ToolCall, Turn
from simulator._scenario_io import scenario_from_dict, scenario_to_dict

__all__ = [
    "abort_times",
    "engine_settings",
    "faults",
    "scenario_from_dict",
    "scenarios",
    "streams",
    "tool_calls",
    "turns",
]

T = TypeVar("T")
MS = 1000
SHARED_NAMES = ("read", "grep", "glob")
EXCLUSIVE_NAMES = ("write", "edit")
RESOURCES = ("a.txt", "b.txt")
RATES = (50.0, 100.0, 20.0)
DEFAULT_CAPS: tuple[int | None, ...] = (None, 1, 2, 3)

# The explain phase traces every line of each shrunk example's run, event loop
# included: seconds per failure for a note that the timeline already gives.
ENGINE_PHASES = tuple(p for p in Phase if p is not Phase.explain)

settings.register_profile(
    "streampar",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=ENGINE_PHASES,
)


def engine_settings(**overrides: Any) -> settings:
    """Hypothesis settings for tests that run on virtual time.

    ``deadline=None`` (real time means nothing for a virtual-time run), the
    ``too_slow`` health check off and no ``explain`` phase (it traces every
    line the event loop runs, which makes each failure take seconds); every
    other setting comes from the active profile unless given here.

    Args:
        **overrides: any :class:`hypothesis.settings` field, e.g.
            ``max_examples=50``.

    Returns:
        A settings object, usable as a decorator.
    """
    base: dict[str, Any] = {
        "deadline": None,
        "suppress_health_check": [HealthCheck.too_slow],
        "phases": ENGINE_PHASES,
    }
    return settings(**{**base, **overrides})


def _check_range(low_name: str, low: float, high_name: str, high: float) -> None:
    if low < 0 or high < low:
        raise SimulatorError(
            f"{low_name} = {low!r}, {high_name} = {high!r}: need "
            f"0 <= {low_name} <= {high_name}; raise {high_name} or lower {low_name}"
        )


def _ms_grid(low: float, high: float) -> st.SearchStrategy[float]:
    """Seconds between ``low`` and ``high`` on the millisecond grid; shrinks
    toward ``low``."""
    first, last = round(low * MS), round(high * MS)
    return st.integers(first, last).map(lambda n: n / MS)


def _simplest_first(values: Sequence[T]) -> st.SearchStrategy[T]:
    return st.sampled_from(tuple(values))


def faults(
    *, hang: bool = True, min_at: float = 0.0, max_at: float = 3.0
) -> st.SearchStrategy[Fault]:
    """Tool faults: an error after ``at`` seconds, or (with ``hang``) a hang.

    Shrinks toward an error fault (before a hang) at ``min_at``.

    Args:
        hang: also draw ``"hang"`` faults (a hang ends only by a timeout or a
            cancel, so the harness under test needs a per-tool timeout).
        min_at: earliest error time in seconds after the tool starts.
        max_at: latest error time.
    """
    _check_range("min_at", min_at, "max_at", max_at)
    return _fault(("error", "hang") if hang else ("error",), _ms_grid(min_at, max_at))


@st.composite
def _fault(
    draw: Callable[[st.SearchStrategy[Any]], Any],
    kinds: tuple[str, ...],
    at: st.SearchStrategy[float],
) -> Fault:
    # the time is drawn for both kinds, so a hang shrinks to an error in place
    kind = draw(_simplest_first(kinds))
    when = draw(at)
    return Fault("error", when) if kind == "error" else Fault("hang")


@st.composite
def _tool_call(
    draw: Callable[[st.SearchStrategy[Any]], Any],
    call_id: str,
    durations: st.SearchStrategy[float],
    exclusive: bool,
    fault: st.SearchStrategy[Fault] | None,
) -> ToolCall:
    is_exclusive = exclusive and draw(st.booleans())
    names = EXCLUSIVE_NAMES if is_exclusive else SHARED_NAMES
    drawn_fault = draw(st.one_of(st.none(), fault)) if fault is not None else None
    duration = draw(durations)
    if drawn_fault is not None and drawn_fault.at > duration:
        # an error fires while the tool runs (scenario files refuse later)
        drawn_fault = dataclasses.replace(drawn_fault, at=duration)
    return ToolCall(
        id=call_id,
        name=draw(_simplest_first(names)),
        arg_tokens=draw(st.integers(1, 60)),
        duration=duration,
        safety="exclusive" if is_exclusive else "shared",
        resource=draw(_simplest_first((None, *RESOURCES))),
        fault=drawn_fault,
        result_tokens=draw(st.integers(0, 500)),
    )


def tool_calls(
    *,
    call_id: str = "call_0",
    min_duration: float = 0.0,
    max_duration: float = 3.0,
    exclusive: bool = True,
    faults: bool = False,
    hang: bool = False,
) -> st.SearchStrategy[ToolCall]:
    """One tool call with id ``call_id``.

    Shrinks toward a shared ``read`` call with no resource, ``min_duration``,
    1 argument token, no result tokens and no fault.

    Args:
        call_id: the call's id.
        min_duration: shortest run time in seconds (millisecond grid).
        max_duration: longest run time.
        exclusive: also draw exclusive calls (``write``/``edit``).
        faults: also draw error faults (and hangs, with ``hang``).
        hang: allow hang faults when ``faults`` is on.
    """
    _check_range("min_duration", min_duration, "max_duration", max_duration)
    fault = _fault_strategy(faults, hang, max_duration)
    return _tool_call(call_id, _ms_grid(min_duration, max_duration), exclusive, fault)


def _fault_strategy(
    enabled: bool, hang: bool, max_duration: float
) -> st.SearchStrategy[Fault] | None:
    return faults(hang=hang, max_at=max(max_duration, 0.0)) if enabled else None


@st.composite
def _stream(
    draw: Callable[[st.SearchStrategy[Any]], Any],
    prefix: str,
    min_calls: int,
    max_calls: int,
    calls: Callable[[str], st.SearchStrategy[ToolCall]],
) -> tuple[Block, ...]:
    blocks: list[Block] = []
    if draw(st.booleans()):
        kind = draw(_simplest_first(("text", "thinking")))
        blocks.append(Block(kind, draw(st.integers(0, 80))))
    for n in range(draw(st.integers(min_calls, max_calls))):
        call = draw(calls(f"{prefix}{n}"))
        blocks.append(Block("tool_call", call.arg_tokens, call))
        if draw(st.booleans()):
            blocks.append(Block("text", draw(st.integers(0, 40))))
    return tuple(blocks)


def _check_calls(min_calls: int, max_calls: int) -> None:
    if isinstance(min_calls, bool) or isinstance(max_calls, bool):
        raise SimulatorError("min_calls and max_calls must be integers, not bools")
    _check_range("min_calls", min_calls, "max_calls", max_calls)


def streams(
    *,
    min_calls: int = 0,
    max_calls: int = 4,
    id_prefix: str = "c",
    min_duration: float = 0.0,
    max_duration: float = 3.0,
    exclusive: bool = True,
    faults: bool = False,
    hang: bool = False,
) -> st.SearchStrategy[tuple[Block, ...]]:
    """A turn's streamed blocks: an optional opening text or thinking block,
    then calls, each optionally followed by text.

    Call ids are ``f"{id_prefix}{n}"`` for n = 0, 1, ... Shrinks toward fewer
    calls, no text blocks and simpler calls (see :func:`tool_calls`).

    Args:
        min_calls: fewest tool calls.
        max_calls: most tool calls.
        id_prefix: prefix of the call ids.
        min_duration: shortest tool run time in seconds.
        max_duration: longest tool run time.
        exclusive: also draw exclusive calls.
        faults: also draw error faults.
        hang: allow hang faults when ``faults`` is on.
    """
    _check_calls(min_calls, max_calls)
    _check_range("min_duration", min_duration, "max_duration", max_duration)
    durations = _ms_grid(min_duration, max_duration)
    fault = _fault_strategy(faults, hang, max_duration)

    def calls(call_id: str) -> st.SearchStrategy[ToolCall]:
        return _tool_call(call_id, durations, exclusive, fault)

    return _stream(id_prefix, min_calls, max_calls, calls)


@st.composite
def _turn(
    draw: Callable[[st.SearchStrategy[Any]], Any],
    blocks: st.SearchStrategy[tuple[Block, ...]],
    max_ttft: float,
    overheads: bool,
    prefill: bool,
) -> Turn:
    return Turn(
        blocks=draw(blocks),
        ttft=draw(_ms_grid(0.0, max_ttft)),
        tokens_per_second=draw(_simplest_first(RATES)),
        request_overhead=draw(_simplest_first((0.0, 0.05))) if overheads else 0.0,
        result_overhead=draw(_simplest_first((0.0, 0.01))) if overheads else 0.0,
        prefill_tokens_per_second=(
            draw(_simplest_first((None, 1000.0))) if prefill else None
        ),
    )


def turns(
    *,
    min_calls: int = 0,
    max_calls: int = 4,
    id_prefix: str = "c",
    min_duration: float = 0.0,
    max_duration: float = 3.0,
    max_ttft: float = 1.5,
    exclusive: bool = True,
    faults: bool = False,
    hang: bool = False,
    overheads: bool = True,
    prefill: bool = True,
) -> st.SearchStrategy[Turn]:
    """One turn: time to first token, token rate, overheads and a stream.

    Shrinks toward TTFT 0, 50 tokens/s, no overheads, no prefill time and a
    simpler stream (see :func:`streams`).

    Args:
        min_calls: fewest tool calls.
        max_calls: most tool calls.
        id_prefix: prefix of the call ids.
        min_duration: shortest tool run time in seconds.
        max_duration: longest tool run time.
        max_ttft: longest time to first token in seconds.
        exclusive: also draw exclusive calls.
        faults: also draw error faults.
        hang: allow hang faults when ``faults`` is on.
        overheads: draw request overhead (0 or 50 ms) and result overhead
            (0 or 10 ms); off keeps both 0.
        prefill: draw a prefill rate (none or 1000 tokens/s); off keeps none.
    """
    blocks = streams(
        min_calls=min_calls,
        max_calls=max_calls,
        id_prefix=id_prefix,
        min_duration=min_duration,
        max_duration=max_duration,
        exclusive=exclusive,
        faults=faults,
        hang=hang,
    )
    _check_range("0", 0.0, "max_ttft", max_ttft)
    return _turn(blocks, max_ttft, overheads, prefill)


@st.composite
def _scenario(
    draw: Callable[[st.SearchStrategy[Any]], Any],
    min_turns: int,
    max_turns: int,
    caps: st.SearchStrategy[int | None],
    turn_for: Callable[[int], st.SearchStrategy[Turn]],
    name: str,
) -> Scenario:
    n = draw(st.integers(min_turns, max_turns))
    cap = draw(caps)
    return Scenario(name, tuple(draw(turn_for(k)) for k in range(n)), cap)


def _caps(
    max_concurrency: int | None | Sequence[int | None],
) -> st.SearchStrategy[int | None]:
    values = (
        tuple(max_concurrency)
        if isinstance(max_concurrency, Sequence)
        else (max_concurrency,)
    )
    for cap in values:
        if cap is not None and (
            isinstance(cap, bool) or not isinstance(cap, int) or cap < 1
        ):
            raise SimulatorError(
                f"max_concurrency = {max_concurrency!r}: each cap must be an "
                f"integer >= 1 or None; e.g. max_concurrency=(None, 2)"
            )
    if not values:
        raise SimulatorError(
            "max_concurrency = (): give at least one cap, or None for no cap"
        )
    return _simplest_first(values)


def scenarios(
    *,
    min_turns: int = 1,
    max_turns: int = 3,
    min_calls: int = 0,
    max_calls: int = 4,
    max_concurrency: int | None | Sequence[int | None] = DEFAULT_CAPS,
    min_duration: float = 0.0,
    max_duration: float = 3.0,
    max_ttft: float = 1.5,
    exclusive: bool = True,
    faults: bool = False,
    hang: bool = False,
    overheads: bool = True,
    prefill: bool = True,
    name: str = "generated",
) -> st.SearchStrategy[Scenario]:
    """Sessions of turns, ready for ``SimulatedModel`` and ``SimulatedTools``.

    Call ids are ``c<turn>_<n>``, unique in the session. Shrinks toward fewer
    turns, then fewer and simpler calls (shorter, shared, no fault), no text
    blocks, no cap, no overheads and no prefill time.

    Args:
        min_turns: fewest turns (at least 1).
        max_turns: most turns.
        min_calls: fewest tool calls per turn.
        max_calls: most tool calls per turn.
        max_concurrency: the cap, or caps to draw from in order of
            simplicity (the first is what examples shrink to); the default
            draws no cap, 1, 2 or 3.
        min_duration: shortest tool run time in seconds (millisecond grid).
        max_duration: longest tool run time.
        max_ttft: longest time to first token.
        exclusive: also draw exclusive calls (names ``write``/``edit``).
        faults: also draw error faults.
        hang: allow hang faults when ``faults`` is on (the harness then
            needs a per-tool timeout to finish).
        overheads: draw request and result overheads.
        prefill: draw a prefill rate for the next request.
        name: the scenarios' name.
    """
    if min_turns < 1:
        raise SimulatorError(
            f"min_turns = {min_turns!r}: a scenario needs at least one turn; "
            f"use min_turns=1"
        )
    _check_range("min_turns", min_turns, "max_turns", max_turns)
    caps = _caps(max_concurrency)
    options: dict[str, Any] = {
        "min_calls": min_calls,
        "max_calls": max_calls,
        "min_duration": min_duration,
        "max_duration": max_duration,
        "max_ttft": max_ttft,
        "exclusive": exclusive,
        "faults": faults,
        "hang": hang,
        "overheads": overheads,
        "prefill": prefill,
    }
    turns(**options)  # validate the bounds now, not at the first draw

    def turn_for(k: int) -> st.SearchStrategy[Turn]:
        return turns(id_prefix=f"c{k}_", **options)

    return _scenario(min_turns, max_turns, caps, turn_for, name)


def abort_times(
    scenario: Scenario, *, tool_timeout: float | None = None
) -> st.SearchStrategy[float]:
    """Moments for a user abort, in seconds after the session starts.

    Drawn on the millisecond grid from 0 to the end of the session under the
    sequential strategy (the slowest schedule), so every phase of every turn
    can be hit. Shrinks toward 0 (an abort before the first request is sent).

    Args:
        scenario: the session to abort.
        tool_timeout: the harness's per-tool timeout; needed when a call hangs.

    Raises:
        ScenarioError: a call hangs and ``tool_timeout`` is None, so the
            session has no end to draw up to.
    """
    end_ns = schedule_session(scenario, "sequential", tool_timeout=tool_timeout)
    last_ms = end_ns.session_ns // 1_000_000
    return st.integers(0, last_ms).map(lambda n: n / MS)


def _print_scenario(obj: Scenario, p: RepresentationPrinter, cycle: bool) -> None:
    """Show a scenario as a ``scenario_from_dict`` call that rebuilds it."""
    if cycle:  # pragma: no cover - scenarios hold no cycles
        p.text("Scenario(...)")
        return
    p.text("scenario_from_dict(")
    p.pretty(scenario_to_dict(obj))
    p.text(")")


for_type_by_name("simulator._scenario", "Scenario", _print_scenario)
