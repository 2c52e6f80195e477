"""Scenario files: load and save JSON or TOML, and validate with errors for people.

The format mirrors the classes of ``_scenario`` and leaves out defaults::

    {
      "name": "hand-worked",
      "max_concurrency": 4,
      "turns": [
        {"ttft": 0.5, "tokens_per_second": 50.0, "blocks": [
          {"text": 50},
          {"tool_call": {"id": "A", "name": "read", "arg_tokens": 20, "duration": 1.0}},
          {"thinking": 30, "complete_at": 2.5}
        ]}
      ]
    }

A block is written short (``{"text": 50}``, ``{"thinking": 30}``,
``{"tool_call": {...}}``) or long (``{"kind": "tool_call", "call": {...}}``).
A tool call without an ``id`` gets ``call_<turn>_<n>``: the turn's index and the
call's index within the turn, both from 0. Every problem raises
:class:`~simulator.ScenarioError` naming the file, the field path, the bad value,
the rule and a fix.
"""

from __future__ import annotations

import bisect
import difflib
import json
import math
import os
import re
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar, cast

from ._errors import EngineBug, ScenarioError
from ._scenario import Block, Fault, Safety, Scenario, ToolCall, Turn

_T = TypeVar("_T")

__all__ = [
    "bundled_scenarios",
    "load_scenario",
    "save_scenario",
    "scenario_from_dict",
    "scenario_to_dict",
]

_TOP_KEYS = ("name", "description", "max_concurrency", "turns")
_TURN_NUMBERS = (
    # key, may be None, strictly positive, fix
    ("ttft", False, False, "use the seconds from request sent to first token"),
    ("tokens_per_second", False, True, "use the stream's output rate, e.g. 50"),
    ("stream_end", True, False, "use seconds after the request was sent, or null"),
    ("request_overhead", False, False, "use seconds spent building the request"),
    ("result_overhead", False, False, "use seconds of processing per result"),
    (
        "prefill_tokens_per_second",
        True,
        True,
        "use the prefill rate in tokens/s, or null for no prefill time",
    ),
    ("think_time", False, False, "use seconds of human think time, or 0"),
)
_TURN_KEYS = tuple(k for k, *_ in _TURN_NUMBERS) + ("blocks",)
_CALL_KEYS = (
    "id",
    "name",
    "arg_tokens",
    "duration",
    "safety",
    "resource",
    "fault",
    "result_tokens",
)
_FAULT_KEYS = ("kind", "at", "message")
_SHORT_KINDS = ("text", "thinking", "tool_call")
_LONG_BLOCK_KEYS = ("kind", "tokens", "call", "complete_at")
_SAFETIES = ("shared", "exclusive")
_FAULT_KINDS = ("error", "hang")
_DEFAULT_TURN = Turn()
_DEFAULT_CALL = ToolCall(id="", name="")
_DEFAULT_FAULT = Fault(kind="error")


# --------------------------------------------------------------------------
# errors


@dataclass
class _Ctx:
    """Where values come from, so that every error can say so."""

    source: str
    ids: dict[str, str] = field(default_factory=dict)
    lines: Mapping[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def collect(self, build: Callable[..., _T], *args: Any) -> _T | None:
        """``build(*args)``, or None with its error noted, so that validation
        goes on and one run reports every problem of a file."""
        before = len(self.errors)
        try:
            return build(*args)
        except ScenarioError as exc:
            self.errors.append(str(exc))
        except _Skip:
            assert len(self.errors) > before
        return None

    def skip_if_failed(self, before: int) -> None:
        """Stop building the current part if an error was noted since ``before``."""
        if len(self.errors) > before:
            raise _Skip

    def raise_errors(self) -> None:
        """Raise one ScenarioError listing every problem noted, if any."""
        if len(self.errors) == 1:
            raise ScenarioError(self.errors[0])
        if self.errors:
            listed = "\n".join(f"  {message}" for message in self.errors)
            raise ScenarioError(
                f"{self.source}: {len(self.errors)} problems in the scenario "
                f"(fix them all, then load it again):\n{listed}"
            )

    def where(self, path: str) -> str:
        """``source``, plus ``:line`` of the field (or its nearest parent) when
        the line is known."""
        key = path.removeprefix("scenario.")
        while key and key not in self.lines:
            parent = _PARENT.sub("", key)
            key = parent if parent != key else ""
        line = self.lines.get(key)
        return f"{self.source}:{line}" if line else self.source

    def fail(self, path: str, value: Any, rule: str, fix: str) -> NoReturn:
        """Raise a ScenarioError naming source, path, value, rule and fix."""
        raise ScenarioError(
            f"{self.where(path)}: {path} = {_show(value)}: {rule}; {fix}"
        )


class _Skip(Exception):
    """A part of the scenario is left unbuilt: its errors are already noted."""


_PARENT = re.compile(r"(\.[^.\[]*|\[\d+\])$")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_keys(
    ctx: _Ctx, data: Mapping[str, Any], allowed: tuple[str, ...], path: str
) -> None:
    """Note every unknown key; raise _Skip if there was one."""
    before = len(ctx.errors)
    for key in data:
        if key in allowed:
            continue
        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f"did you mean {close[0]!r}?" if close else "remove it"
        ctx.errors.append(
            f"{ctx.where(f'{path}.{key}')}: {path}: unknown key {key!r}; {hint} "
            f"(allowed: {', '.join(allowed)})"
        )
    ctx.skip_if_failed(before)


def _mapping(ctx: _Ctx, value: Any, path: str, fix: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        ctx.fail(path, value, "must be an object (a table in TOML)", fix)
    for key in value:
        if not isinstance(key, str):
            ctx.fail(path, key, "keys must be strings", "quote the key")
    return cast(Mapping[str, Any], value)


# --------------------------------------------------------------------------
# typed field readers


def _number(
    ctx: _Ctx,
    data: Mapping[str, Any],
    key: str,
    path: str,
    default: float | None,
    *,
    positive: bool = False,
    nullable: bool = False,
    fix: str,
) -> float | None:
    """Read a finite number >= 0 (or > 0), or None where allowed."""
    if key not in data:
        return default
    value = data[key]
    where = f"{path}.{key}"
    if value is None and nullable:
        return None
    rule = "must be a number > 0" if positive else "must be a number >= 0"
    if nullable:
        rule += " or null"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        ctx.fail(where, value, rule, fix)
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        ctx.fail(where, value, rule, fix)
    return float(value)


def _required_number(
    ctx: _Ctx,
    data: Mapping[str, Any],
    key: str,
    path: str,
    default: float,
    *,
    positive: bool = False,
    fix: str,
) -> float:
    value = _number(ctx, data, key, path, default, positive=positive, fix=fix)
    assert value is not None  # not nullable, so never None
    return value


def _tokens(
    ctx: _Ctx, data: Mapping[str, Any], key: str, path: str, default: int, fix: str
) -> int:
    """Read an integer >= 0."""
    if key not in data:
        return default
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        ctx.fail(f"{path}.{key}", value, "must be an integer >= 0", fix)
    return value


def _text(
    ctx: _Ctx,
    data: Mapping[str, Any],
    key: str,
    path: str,
    default: str | None,
    *,
    fix: str,
    nullable: bool = False,
    non_empty: bool = False,
) -> str | None:
    if key not in data:
        if default is None and not nullable:
            ctx.fail(f"{path}.{key}", None, "is required", fix)
        return default
    value = data[key]
    if value is None and nullable:
        return None
    rule = "must be a non-empty string" if non_empty else "must be a string"
    if not isinstance(value, str) or (non_empty and not value):
        ctx.fail(f"{path}.{key}", value, rule, fix)
    return value


def _choice(
    ctx: _Ctx,
    data: Mapping[str, Any],
    key: str,
    path: str,
    default: str,
    choices: tuple[str, ...],
) -> str:
    value = data.get(key, default)
    if value in choices:
        return str(value)
    close = difflib.get_close_matches(str(value), choices, n=1)
    fix = f"did you mean {close[0]!r}?" if close else f"use one of {choices}"
    ctx.fail(f"{path}.{key}", value, f"must be one of {', '.join(choices)}", fix)


# --------------------------------------------------------------------------
# reading


def scenario_from_dict(data: Mapping[str, Any], *, source: str = "<dict>") -> Scenario:
    """Build and validate a Scenario from plain data (as parsed from JSON/TOML).

    Args:
        data: the scenario in the file format (see the module docstring).
        source: where the data came from, named in every error message.

    Returns:
        The validated scenario, with ``source`` recorded on it.

    Raises:
        ScenarioError: a field has a bad type or value, a key is unknown, a call
            id repeats, or explicit completion times go back in time.
    """
    return _from_dict(data, _Ctx(source))


def _from_dict(data: Mapping[str, Any], ctx: _Ctx) -> Scenario:
    """Validate everything, noting each problem; raise them all at the end."""
    top = _mapping(ctx, data, "scenario", "write the scenario as a JSON object")
    ctx.collect(_check_keys, ctx, top, _TOP_KEYS, "scenario")
    name = ctx.collect(
        lambda: _text(
            ctx, top, "name", "scenario", None, fix='add "name": "my-scenario"'
        )
    )
    description = ctx.collect(
        lambda: _text(
            ctx, top, "description", "scenario", "", fix="write free text or drop it"
        )
    )
    cap = ctx.collect(_max_concurrency, ctx, top)
    turns = top.get("turns")
    built = []
    if not isinstance(turns, list) or not turns:
        ctx.collect(
            ctx.fail,
            "turns",
            turns,
            "must be a non-empty list of turns",
            'add "turns": [{"blocks": [{"text": 20}]}]',
        )
    else:
        built = [ctx.collect(_turn, ctx, t, k) for k, t in enumerate(turns)]
    ctx.raise_errors()
    return Scenario(
        name=cast(str, name),
        turns=tuple(cast(Turn, t) for t in built),
        max_concurrency=cap,
        description=cast(str, description),
        source=ctx.source,
    )


def _max_concurrency(ctx: _Ctx, top: Mapping[str, Any]) -> int | None:
    cap = top.get("max_concurrency")
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int)):
        ctx.fail("max_concurrency", cap, "must be an integer >= 1 or null", "e.g. 4")
    if cap is not None and cap < 1:
        ctx.fail(
            "max_concurrency",
            cap,
            "must be an integer >= 1 or null",
            "use null (or leave it out) for no cap",
        )
    return cap


def _turn(ctx: _Ctx, raw: Any, k: int) -> Turn:
    path = f"turns[{k}]"
    data = _mapping(ctx, raw, path, 'write a turn as {"blocks": [...]}')
    before = len(ctx.errors)
    ctx.collect(_check_keys, ctx, data, _TURN_KEYS, path)
    values: dict[str, Any] = {}
    for key, nullable, positive, fix in _TURN_NUMBERS:
        values[key] = ctx.collect(
            lambda key=key, nullable=nullable, positive=positive, fix=fix: _number(
                ctx,
                data,
                key,
                path,
                getattr(_DEFAULT_TURN, key),
                positive=positive,
                nullable=nullable,
                fix=fix,
            )
        )
    raw_blocks = data.get("blocks", [])
    if not isinstance(raw_blocks, list):
        ctx.fail(f"{path}.blocks", raw_blocks, "must be a list", 'e.g. [{"text": 50}]')
    blocks = _blocks(ctx, raw_blocks, k)
    ctx.skip_if_failed(before)
    _check_monotone(ctx, blocks, values["stream_end"], path)
    return Turn(blocks=blocks, **values)


def _blocks(ctx: _Ctx, raw_blocks: list[Any], k: int) -> tuple[Block, ...]:
    blocks: list[Block] = []
    n_calls = 0
    for b, raw in enumerate(raw_blocks):
        block = ctx.collect(
            _block, ctx, raw, f"turns[{k}].blocks[{b}]", f"call_{k}_{n_calls}"
        )
        if block is None:
            # a failed block may have been a call: count it, so that default
            # ids of later calls stay what they will be once it is fixed
            if isinstance(raw, Mapping) and (
                "tool_call" in raw or raw.get("kind") == "tool_call"
            ):
                n_calls += 1
            continue
        if block.call is not None:
            n_calls += 1
        blocks.append(block)
    return tuple(blocks)


def _check_monotone(
    ctx: _Ctx, blocks: tuple[Block, ...], stream_end: float | None, path: str
) -> None:
    last: tuple[float, str] | None = None
    for b, block in enumerate(blocks):
        if block.complete_at is None:
            continue
        if last is not None and block.complete_at < last[0]:
            ctx.fail(
                f"{path}.blocks[{b}].complete_at",
                block.complete_at,
                f"must be >= {last[0]!r} ({last[1]}): blocks complete in order",
                "put the blocks in stream order or correct the time",
            )
        last = (block.complete_at, f"{path}.blocks[{b}].complete_at")
    if stream_end is not None and last is not None and stream_end < last[0]:
        ctx.fail(
            f"{path}.stream_end",
            stream_end,
            f"must be >= {last[0]!r} ({last[1]}): the stream ends after its blocks",
            "use the time of the last event of the stream",
        )


def _block(ctx: _Ctx, raw: Any, path: str, default_id: str) -> Block:
    data = _mapping(ctx, raw, path, 'write a block as {"text": 50}')
    short = [k for k in _SHORT_KINDS if k in data]
    if "kind" in data or not short:
        return _long_block(ctx, data, path, default_id)
    if len(short) > 1:
        ctx.fail(
            path, dict(data), "holds more than one block kind", "split it in two blocks"
        )
    kind = short[0]
    _check_keys(ctx, data, (kind, "complete_at"), path)
    complete_at = _number(
        ctx,
        data,
        "complete_at",
        path,
        None,
        nullable=True,
        fix="use seconds after the request was sent",
    )
    if kind == "tool_call":
        call = _call(ctx, data[kind], f"{path}.tool_call", default_id)
        return Block("tool_call", call.arg_tokens, call, complete_at)
    tokens = _tokens(ctx, data, kind, path, 0, fix="use the block's token count")
    return Block(kind, tokens, None, complete_at)  # type: ignore[arg-type]


def _long_block(
    ctx: _Ctx, data: Mapping[str, Any], path: str, default_id: str
) -> Block:
    if "kind" not in data:
        ctx.fail(
            path,
            dict(data),
            "a block needs one of the keys text, thinking, tool_call or kind",
            'write {"text": 50} or {"tool_call": {"name": "read"}}',
        )
    _check_keys(ctx, data, _LONG_BLOCK_KEYS, path)
    kind = _choice(ctx, data, "kind", path, "text", _SHORT_KINDS)
    complete_at = _number(
        ctx,
        data,
        "complete_at",
        path,
        None,
        nullable=True,
        fix="use seconds after the request was sent",
    )
    tokens = _tokens(ctx, data, "tokens", path, 0, fix="use the block's token count")
    if kind != "tool_call":
        if data.get("call") is not None:
            ctx.fail(
                f"{path}.call",
                data["call"],
                f"only tool_call blocks have a call, this one is {kind!r}",
                'drop "call" or set "kind": "tool_call"',
            )
        return Block(kind, tokens, None, complete_at)  # type: ignore[arg-type]
    if "call" not in data:
        ctx.fail(
            f"{path}.call", None, "a tool_call block needs a call", 'add "call": {...}'
        )
    call = _call(ctx, data["call"], f"{path}.call", default_id)
    if "tokens" in data and tokens != call.arg_tokens:
        ctx.fail(
            f"{path}.tokens",
            tokens,
            f"must equal the call's arg_tokens ({call.arg_tokens})",
            'drop "tokens": a tool_call block streams its arg_tokens',
        )
    return Block("tool_call", call.arg_tokens, call, complete_at)


def _call(ctx: _Ctx, raw: Any, path: str, default_id: str) -> ToolCall:
    data = _mapping(ctx, raw, path, 'write a call as {"name": "read", ...}')
    _check_keys(ctx, data, _CALL_KEYS, path)
    call_id = cast(
        str,
        _text(ctx, data, "id", path, default_id, fix="use a unique id", non_empty=True),
    )
    if call_id in ctx.ids:
        ctx.fail(
            f"{path}.id",
            call_id,
            f"call ids must be unique, {ctx.ids[call_id]} has it already",
            "rename one of them (or drop the id to get call_<turn>_<n>)",
        )
    ctx.ids[call_id] = f"{path}.id"
    call = _build_call(ctx, data, path, call_id)
    fault = call.fault
    if fault is not None and fault.kind == "error" and fault.at > call.duration:
        ctx.fail(
            f"{path}.fault.at",
            fault.at,
            f"must be <= the call's duration {call.duration!r}: an error fault "
            "fires while the tool runs",
            "move it inside the run, or lengthen the duration",
        )
    return call


def _build_call(
    ctx: _Ctx, data: Mapping[str, Any], path: str, call_id: str
) -> ToolCall:
    return ToolCall(
        id=call_id,
        name=cast(
            str,
            _text(
                ctx,
                data,
                "name",
                path,
                None,
                fix='add "name": "read_file"',
                non_empty=True,
            ),
        ),
        arg_tokens=_tokens(
            ctx, data, "arg_tokens", path, 20, fix="use the arguments' token count"
        ),
        duration=_required_number(
            ctx, data, "duration", path, 1.0, fix="use the tool's run time in seconds"
        ),
        safety=cast(Safety, _choice(ctx, data, "safety", path, "shared", _SAFETIES)),
        resource=_text(
            ctx,
            data,
            "resource",
            path,
            None,
            fix="use a key such as a file path, or null",
            nullable=True,
            non_empty=True,
        ),
        fault=_fault(ctx, data.get("fault"), f"{path}.fault"),
        result_tokens=_tokens(
            ctx, data, "result_tokens", path, 100, fix="use the result's token count"
        ),
    )


def _fault(ctx: _Ctx, raw: Any, path: str) -> Fault | None:
    if raw is None:
        return None
    data = _mapping(ctx, raw, path, 'write a fault as {"kind": "error", "at": 0.5}')
    _check_keys(ctx, data, _FAULT_KEYS, path)
    if "kind" not in data:
        ctx.fail(f"{path}.kind", None, "is required", 'add "kind": "error" or "hang"')
    kind = _choice(ctx, data, "kind", path, "error", _FAULT_KINDS)
    at = _required_number(
        ctx, data, "at", path, 0.0, fix="use seconds after the tool starts"
    )
    message = _text(
        ctx, data, "message", path, _DEFAULT_FAULT.message, fix="write the error text"
    )
    return Fault(kind, at, cast(str, message))  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# writing


def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    """The scenario as plain data in the file format, defaults left out.

    ``scenario_from_dict(scenario_to_dict(s)) == s`` for every valid scenario.
    """
    out: dict[str, Any] = {"name": scenario.name}
    if scenario.description:
        out["description"] = scenario.description
    if scenario.max_concurrency is not None:
        out["max_concurrency"] = scenario.max_concurrency
    out["turns"] = [_turn_to_dict(t) for t in scenario.turns]
    return out


def _turn_to_dict(turn: Turn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, *_ in _TURN_NUMBERS:
        value = getattr(turn, key)
        if value != getattr(_DEFAULT_TURN, key):
            out[key] = value
    out["blocks"] = [_block_to_dict(b) for b in turn.blocks]
    return out


def _block_to_dict(block: Block) -> dict[str, Any]:
    out: dict[str, Any]
    if block.call is not None:
        out = {"tool_call": _call_to_dict(block.call)}
    else:
        out = {block.kind: block.tokens}
    if block.complete_at is not None:
        out["complete_at"] = block.complete_at
    return out


def _call_to_dict(call: ToolCall) -> dict[str, Any]:
    out: dict[str, Any] = {"id": call.id, "name": call.name}
    for key in ("arg_tokens", "duration", "safety", "resource", "result_tokens"):
        value = getattr(call, key)
        if key == "duration" or value != getattr(_DEFAULT_CALL, key):
            out[key] = value
    if call.fault is not None:
        fault: dict[str, Any] = {"kind": call.fault.kind}
        if call.fault.at != 0.0:
            fault["at"] = call.fault.at
        if call.fault.message != _DEFAULT_FAULT.message:
            fault["message"] = call.fault.message
        out["fault"] = fault
    return out


# --------------------------------------------------------------------------
# files


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read and validate a scenario file (``.json`` or ``.toml``), or a
    bundled scenario by name (``"hand-worked"``, see :func:`bundled_scenarios`).

    Raises:
        ScenarioError: the file cannot be read, its syntax is broken (the message
            gives the line and column), or its content is not a valid scenario.
    """
    file = Path(path)
    suffix = file.suffix.lower()
    bundled = bundled_scenarios()
    if suffix not in (".json", ".toml") and str(path) in bundled and not file.exists():
        file = bundled[str(path)]
        suffix = file.suffix.lower()
    if suffix not in (".json", ".toml"):
        raise ScenarioError(
            f"{file}: unknown scenario file type {file.suffix!r}; name the file "
            f"*.json or *.toml, or give a bundled scenario: {', '.join(bundled)}"
        )
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(
            f"{file}: cannot read the scenario file ({exc}); check the path"
        ) from exc
    data = _parse(file, text, suffix)
    lines = _json_lines(text) if suffix == ".json" else {}
    return _from_dict(data, _Ctx(str(file), lines=lines))


def bundled_scenarios() -> dict[str, Path]:
    """The example scenarios shipped with the package, by name (the file stem).

    Returns:
        ``{"fan-out": Path(".../fan-out.json"), ...}``, sorted by name.
    """
    folder = Path(__file__).parent / "data" / "scenarios"
    files = sorted(folder.glob("*.*"))
    return {f.stem: f for f in files if f.suffix in (".json", ".toml")}


def _parse(file: Path, text: str, suffix: str) -> Any:
    if suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScenarioError(
                f"{file}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}; "
                f"fix the syntax at line {exc.lineno}, column {exc.colno}"
            ) from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        spot = f"{file}:{where[1]}:{where[2]}" if where else str(file)
        raise ScenarioError(
            f"{spot}: not valid TOML: {exc}; fix the syntax at that spot"
        ) from exc


def _json_lines(text: str) -> dict[str, int]:
    """Line of every value in valid JSON text, keyed by field path
    (``turns[0].blocks[1].tool_call``); best effort, empty when unsure."""
    lines: dict[str, int] = {}
    breaks = [i for i, c in enumerate(text) if c == "\n"]
    decoder = json.JSONDecoder()
    space = re.compile(r"[ \t\n\r]*")

    def skip(i: int) -> int:
        return space.match(text, i).end()  # type: ignore[union-attr]

    def value(i: int, path: str) -> int:
        i = skip(i)
        if path:
            lines[path] = bisect.bisect_left(breaks, i) + 1
        if text.startswith("{", i):
            return members(skip(i + 1), path, "}", True)
        if text.startswith("[", i):
            return members(skip(i + 1), path, "]", False)
        return int(decoder.raw_decode(text, i)[1])

    def members(i: int, path: str, close: str, keyed: bool) -> int:
        n = 0
        while not text.startswith(close, i):
            if keyed:
                key, i = json.decoder.scanstring(text, i + 1)  # type: ignore[attr-defined]
                i = skip(skip(i) + 1)  # past the colon
                name = f"{path}.{key}" if path else key
            else:
                name = f"{path}[{n}]"
            i = skip(value(i, name))
            n += 1
            if text.startswith(",", i):
                i = skip(i + 1)
        return i + 1

    try:
        value(0, "")
    except (ValueError, IndexError, AttributeError):
        return {}
    return lines


def save_scenario(scenario: Scenario, path: str | os.PathLike[str]) -> None:
    """Write a scenario as JSON or TOML (by suffix), atomically.

    The text goes to a temporary file beside ``path`` that then replaces it, so a
    reader never sees half a file.

    Raises:
        ScenarioError: the suffix is neither ``.json`` nor ``.toml``.
    """
    file = Path(path)
    data = scenario_to_dict(scenario)
    suffix = file.suffix.lower()
    if suffix == ".json":
        text = _json_text(data, 0) + "\n"
    elif suffix == ".toml":
        text = _toml_text(data)
    else:
        raise ScenarioError(
            f"{file}: unknown scenario file type {file.suffix!r}; name the file "
            f"*.json or *.toml"
        )
    fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, file)
    except BaseException:
        os.unlink(tmp)
        raise


def _json_text(value: Any, indent: int) -> str:
    """JSON that keeps small objects on one line and breaks large ones."""
    flat = json.dumps(value, ensure_ascii=False)
    if len(flat) + indent <= 88 or not isinstance(value, (dict, list)) or not value:
        return flat
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        items = [
            f"{pad}{json.dumps(k, ensure_ascii=False)}: {_json_text(v, indent + 2)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    items = [pad + _json_text(v, indent + 2) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"


def _toml_text(data: Mapping[str, Any]) -> str:
    """TOML for a scenario dict: top keys, then one ``[[turns]]`` table each."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if k != "turns"]
    for turn in data["turns"]:
        lines += ["", "[[turns]]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in turn.items() if k != "blocks"]
        blocks = [f"  {_toml_value(b)}," for b in turn["blocks"]]
        lines += ["blocks = [", *blocks, "]"] if blocks else ["blocks = []"]
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if value is None:
        # scenario_to_dict leaves None values out and _toml_text skips them
        raise EngineBug("a None value reached the TOML writer")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    pairs = [
        f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items() if v is not None
    ]
    return "{ " + ", ".join(pairs) + " }" if pairs else "{}"


def _toml_key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "-_") for c in key)
    return key if bare else _toml_string(key)


def _toml_string(text: str) -> str:
    escapes = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
    out = []
    for char in text:
        if char in escapes:
            out.append(escapes[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'
