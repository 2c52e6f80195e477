"""Wire fault knobs: what real providers send that a tidy stream does not.

A :class:`WireFaults` is handed to ``SimulatedModel(..., faults=...)``. Every
knob is off by default; with all of them off the model streams exactly what it
streams without faults, at the same nanoseconds.

Faults never move an event that remains in the stream: a ``ping`` shares the
timestamp of the delta it follows; a truncated or failed stream keeps every
event before the point where it ends and drops the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from ._errors import SimulatorError

__all__ = ["WireFaults", "cut_ns"]

# stop reasons the ``stop_reason`` knob takes, in canonical (Anthropic) words
STOP_REASONS: tuple[str, ...] = ("end_turn", "tool_use", "max_tokens")

# how each wire spells a canonical stop reason
_CHAT_FINISH = {"end_turn": "stop", "tool_use": "tool_calls", "max_tokens": "length"}

# which wires each knob applies to
_APPLIES: dict[str, tuple[str, ...]] = {
    "ping": ("anthropic",),
    "index_reuse": ("openai-chat",),
    "missing_ids": ("openai-chat",),
}


@dataclass(frozen=True, slots=True)
class WireFaults:
    """Fault knobs for the simulated model's stream (all off by default).

    Attributes:
        ping: Anthropic only: a ``ping`` event right after ``message_start``
            and after every ``ping``-th ``content_block_delta`` (same
            timestamp). None: no extra pings (the first-token ping stays).
        index_reuse: OpenAI Chat only: every call's ``tool_calls`` fragments
            use index 0, so a later call reuses the previous call's index; a
            decoder must tell calls apart by id. Without ``missing_ids`` every
            fragment then carries its call's id.
        missing_ids: OpenAI Chat only, together with ``index_reuse``: the id
            and name only on a call's first fragment. (Without faults the
            renderer already omits them on later fragments, as OpenAI does;
            the knob names that case when the index is reused too.)
        truncate: the turn's last tool call is cut after the first third of
            its arguments JSON and the stream ends with ``max_tokens``
            (Chat: ``finish_reason "length"``; Responses:
            ``response.incomplete``, reason ``max_output_tokens``). The cut
            call is never complete: the harness must not run it and
            ``hand_back`` refuses a result for it.
        error_after_calls: the stream fails right after the k-th tool call is
            complete (k = 0: at the first token) with an overloaded error
            (Anthropic ``error`` event, Chat ``{"error": ...}`` chunk,
            Responses ``response.failed``; canonical ``StreamError``). The
            hand-back wants one result for each of the k complete calls. Turns
            with fewer than k calls stream unchanged.
        stop_reason: the final stop reason, replaced by one inconsistent with
            the content (``"end_turn"``, ``"tool_use"`` or ``"max_tokens"``;
            Responses only knows ``"max_tokens"``, as ``response.incomplete``).
        turns: the turn indices the faults apply to; None means every turn.
    """

    ping: int | None = None
    index_reuse: bool = False
    missing_ids: bool = False
    truncate: bool = False
    error_after_calls: int | None = None
    stop_reason: str | None = None
    turns: tuple[int, ...] | None = None

    @property
    def active(self) -> bool:
        """Whether any knob is on."""
        return (
            self.ping is not None
            or self.index_reuse
            or self.missing_ids
            or self.truncate
            or self.error_after_calls is not None
            or self.stop_reason is not None
        )

    def applies_to(self, turn: int) -> bool:
        """Whether the faults act on turn ``turn``."""
        return self.active and (self.turns is None or turn in self.turns)

    def validate(self, wire: str, turns: int | None = None) -> None:
        """Check every knob's value and that it applies to ``wire``.

        Args:
            wire: the stream format the model renders.
            turns: how many turns the scenario has (checks ``turns``), or None.

        Raises:
            SimulatorError: naming the knob, its value, the rule and a fix.
        """
        self._check_values()
        self._check_combinations()
        self._check_wire(wire)
        if turns is None:
            return
        late = [t for t in self.turns or () if t >= turns]
        if late:
            _bad(
                "turns",
                self.turns,
                f"turn {late[0]} does not exist: the scenario has {turns} turns "
                f"(0 to {turns - 1})",
                "name existing turns",
            )

    def _check_values(self) -> None:
        if self.ping is not None and (type(self.ping) is not int or self.ping < 1):
            _bad(
                "ping",
                self.ping,
                "must be a whole number >= 1 (a ping every N deltas) or None",
                "use e.g. ping=2",
            )
        for name in ("index_reuse", "missing_ids", "truncate"):
            value = getattr(self, name)
            if type(value) is not bool:
                _bad(name, value, "must be True or False", f"use {name}=True")
        k = self.error_after_calls
        if k is not None and (type(k) is not int or k < 0):
            _bad(
                "error_after_calls",
                k,
                "must be a whole number >= 0 or None",
                "use e.g. error_after_calls=1",
            )
        if self.stop_reason is not None and self.stop_reason not in STOP_REASONS:
            _bad(
                "stop_reason",
                self.stop_reason,
                f"must be one of {', '.join(STOP_REASONS)}",
                "use e.g. stop_reason='end_turn'",
            )
        if self.turns is not None and (
            not isinstance(self.turns, tuple)
            or any(type(t) is not int or t < 0 for t in self.turns)
        ):
            _bad(
                "turns",
                self.turns,
                "must be a tuple of turn indices >= 0 or None",
                "use e.g. turns=(0,)",
            )

    def _check_combinations(self) -> None:
        if self.missing_ids and not self.index_reuse:
            _bad(
                "missing_ids",
                True,
                "changes nothing alone: the renderer already "
                "puts the id only on a call's first fragment",
                "add index_reuse=True or drop missing_ids",
            )
        if self.truncate and self.error_after_calls is not None:
            _bad(
                "error_after_calls",
                self.error_after_calls,
                "a stream ends one "
                "way: truncate and error_after_calls cannot both be set",
                "keep one of them",
            )
        ends = "truncate" if self.truncate else "error_after_calls"
        if self.stop_reason is not None and (
            self.truncate or self.error_after_calls is not None
        ):
            _bad(
                "stop_reason",
                self.stop_reason,
                f"{ends} already decides how the stream ends",
                f"drop stop_reason or {ends}",
            )

    def _check_wire(self, wire: str) -> None:
        for name, wires in _APPLIES.items():
            value = getattr(self, name)
            if value not in (None, False) and wire not in wires:
                _bad(
                    name,
                    value,
                    f"applies to wire {' or '.join(wires)} only, not wire={wire!r}",
                    f"drop {name} or use wire={wires[0]!r}",
                )
        if (
            wire == "openai-responses"
            and self.stop_reason is not None
            and self.stop_reason != "max_tokens"
        ):
            _bad(
                "stop_reason",
                self.stop_reason,
                "the Responses API states no stop "
                "reason besides response.incomplete (max_tokens)",
                "use stop_reason='max_tokens' or another wire",
            )


def _bad(name: str, value: object, rule: str, fix: str) -> NoReturn:
    raise SimulatorError(f"WireFaults.{name} = {value!r}: {rule}; {fix}")


def chat_finish(stop_reason: str) -> str:
    """The Chat Completions ``finish_reason`` for a canonical stop reason."""
    return _CHAT_FINISH.get(stop_reason, "stop")


def cut_ns(begin: int, done: int) -> int:
    """Where a truncated block ends: after the first third of it (ns).

    The wire renderers send a block's text in three pieces, the first at this
    moment, so the cut keeps exactly the first piece.
    """
    return begin + (done - begin) // 3
