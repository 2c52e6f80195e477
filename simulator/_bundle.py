"""The bundled default sessions: timing-only data derived from real logs.

Each file in ``simulator/data/sessions/`` holds one recorded session as plain
JSON: the recorded and inferred times (integer nanoseconds after the session's
first event, each with the code of where it came from), token counts, tool
names, call order, guessed safety classes and file stand-ins, plus the
session's scenario in the scenario file format. No text, arguments, paths or
ids from the logs are kept; call ids are ``call_<turn>_<n>``.

Rebuild the bundle from the logs with::

    python -m simulator._bundle [TRACES_DIR]

(``TRACES_DIR`` defaults to ``../shared/traces``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, cast

from ._errors import TraceImportError
from ._importers import (
    HOW,
    NOTES,
    RecordedBlock,
    RecordedCall,
    RecordedSession,
    RecordedTurn,
    Stamp,
    import_path,
)
from ._scenario_io import scenario_from_dict, scenario_to_dict

__all__ = [
    "BUNDLE_FORMAT",
    "build_bundle",
    "bundled_session_files",
    "load_bundled_sessions",
    "session_from_dict",
    "session_to_dict",
]

BUNDLE_FORMAT = "streampar-recorded-session/1"
_DATA = "data/sessions"
_DEFAULT_TRACES = Path("../shared/traces")


def session_to_dict(session: RecordedSession) -> dict[str, Any]:
    """The session as plain JSON-ready data (timing only) with its scenario."""
    return {
        "format": BUNDLE_FORMAT,
        "name": session.name,
        "agent": session.agent,
        "version": session.version,
        "source": session.source,
        "agent_strategy": session.agent_strategy,
        "notes": list(session.notes),
        "excluded_requests": session.excluded_requests,
        "excluded_ns": session.excluded_ns,
        "turns": [_turn_to_dict(t) for t in session.turns],
        "scenario": scenario_to_dict(session.to_scenario()),
    }


def _stamp(stamp: Stamp) -> list[Any]:
    return [stamp.ns, stamp.how]


def _turn_to_dict(turn: RecordedTurn) -> dict[str, Any]:
    return {
        "index": turn.index,
        "line": turn.line,
        "start_ns": turn.start_ns,
        "t_req": _stamp(turn.t_req),
        "t_first": None if turn.t_first is None else _stamp(turn.t_first),
        "ttft_ns": turn.ttft_ns,
        "t_end": _stamp(turn.t_end),
        "think_ns": turn.think_ns,
        "output_tokens": turn.output_tokens,
        "blocks": [_block_to_dict(b) for b in turn.blocks],
    }


def _block_to_dict(block: RecordedBlock) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": block.kind,
        "t_done": _stamp(block.t_done),
        "tokens": block.tokens,
    }
    if block.call is not None:
        out["call"] = _call_to_dict(block.call)
    return out


def _call_to_dict(call: RecordedCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "name": call.name,
        "t_arg": _stamp(call.t_arg),
        "t_start": _stamp(call.t_start),
        "t_done": _stamp(call.t_done),
        "arg_tokens": call.arg_tokens,
        "result_tokens": call.result_tokens,
        "safety": call.safety,
        "resource": call.resource,
        "outcome": call.outcome,
    }


def session_from_dict(data: Mapping[str, Any], *, source: str) -> RecordedSession:
    """Rebuild a session written by :func:`session_to_dict`.

    The stored scenario must equal the one rebuilt from the recorded times.

    Raises:
        TraceImportError: the data is not a bundled session; the message names
            ``source`` and what is wrong.
    """
    if data.get("format") != BUNDLE_FORMAT:
        raise TraceImportError(
            f"{source}: format = {data.get('format')!r}, expected {BUNDLE_FORMAT!r}; "
            f"rebuild the bundle with `python -m simulator._bundle`"
        )
    try:
        session = _session(data)
        stored = scenario_from_dict(data["scenario"], source=source)
    except (KeyError, TypeError, ValueError) as exc:
        raise TraceImportError(
            f"{source}: not a valid bundled session ({type(exc).__name__}: {exc}); "
            f"rebuild the bundle with `python -m simulator._bundle`"
        ) from None
    if stored != session.to_scenario():
        raise TraceImportError(
            f"{source}: the stored 'scenario' disagrees with the recorded times; "
            f"rebuild the bundle with `python -m simulator._bundle`"
        )
    return session


def _session(data: Mapping[str, Any]) -> RecordedSession:
    notes = tuple(str(n) for n in data["notes"])
    for code in notes:
        if code not in NOTES:
            raise ValueError(f"unknown note code {code!r}")
    return RecordedSession(
        name=str(data["name"]),
        agent=str(data["agent"]),
        version=str(data["version"]),
        source=str(data["source"]),
        turns=tuple(_turn(t) for t in data["turns"]),
        agent_strategy=data["agent_strategy"],
        notes=notes,
        excluded_requests=int(data["excluded_requests"]),
        excluded_ns=int(data["excluded_ns"]),
    )


def _read_stamp(raw: Any) -> Stamp:
    ns, how = raw
    if how not in HOW:
        raise ValueError(f"unknown time source {how!r}")
    return Stamp(int(ns), str(how))


def _turn(raw: Mapping[str, Any]) -> RecordedTurn:
    first = raw["t_first"]
    return RecordedTurn(
        index=int(raw["index"]),
        start_ns=int(raw["start_ns"]),
        t_req=_read_stamp(raw["t_req"]),
        t_first=None if first is None else _read_stamp(first),
        ttft_ns=int(raw["ttft_ns"]),
        blocks=tuple(_block(b) for b in raw["blocks"]),
        t_end=_read_stamp(raw["t_end"]),
        think_ns=int(raw["think_ns"]),
        output_tokens=int(raw["output_tokens"]),
        line=int(raw["line"]),
    )


def _block(raw: Mapping[str, Any]) -> RecordedBlock:
    call = raw.get("call")
    return RecordedBlock(
        kind=raw["kind"],
        t_done=_read_stamp(raw["t_done"]),
        tokens=int(raw["tokens"]),
        call=None if call is None else _call(call),
    )


def _call(raw: Mapping[str, Any]) -> RecordedCall:
    resource = raw["resource"]
    return RecordedCall(
        id=str(raw["id"]),
        name=str(raw["name"]),
        t_arg=_read_stamp(raw["t_arg"]),
        t_start=_read_stamp(raw["t_start"]),
        t_done=_read_stamp(raw["t_done"]),
        arg_tokens=int(raw["arg_tokens"]),
        result_tokens=int(raw["result_tokens"]),
        safety=raw["safety"],
        resource=None if resource is None else str(resource),
        outcome=raw["outcome"],
    )


def bundled_session_files() -> list[str]:
    """Names of the bundled session files, sorted."""
    folder = resources.files("simulator").joinpath(_DATA)
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".json"))


def load_bundled_sessions() -> list[RecordedSession]:
    """The bundled default sessions, sorted by file name.

    Raises:
        TraceImportError: a bundled file is damaged (names the file).
    """
    folder = resources.files("simulator").joinpath(_DATA)
    sessions = []
    for name in bundled_session_files():
        text = folder.joinpath(name).read_text(encoding="utf-8")
        source = f"simulator/{_DATA}/{name}"
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TraceImportError(
                f"{source}:{exc.lineno}: not JSON ({exc.msg}); rebuild the bundle "
                f"with `python -m simulator._bundle`"
            ) from None
        sessions.append(session_from_dict(cast(Mapping[str, Any], data), source=source))
    return sessions


def build_bundle(traces: Path, out: Path) -> list[Path]:
    """Import every log in ``traces`` and write one JSON file per session.

    Returns:
        The files written. Files of sessions no longer present are removed.

    Raises:
        TraceImportError: the logs could not be imported cleanly (the bundle
            must come from clean input).
    """
    result = import_path(traces)
    if result.skipped:
        lines = "\n".join(f"  - {p}" for p in result.problems)
        raise TraceImportError(f"the logs in {traces} have problems:\n{lines}")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for session in result.sessions:
        path = out / f"{session.name}.json"
        text = json.dumps(session_to_dict(session), separators=(",", ":"))
        path.write_text(text + "\n", encoding="utf-8")
        written.append(path)
    for stale in set(out.glob("*.json")) - set(written):
        stale.unlink()
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m simulator._bundle [TRACES_DIR]``: rebuild the bundle."""
    args = list(sys.argv[1:] if argv is None else argv)
    traces = Path(args[0]) if args else _DEFAULT_TRACES
    out = Path(__file__).parent / _DATA
    try:
        written = build_bundle(traces, out)
    except TraceImportError as exc:
        print(f"streampar bundle: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover - a maintainer's command
    sys.exit(main())
