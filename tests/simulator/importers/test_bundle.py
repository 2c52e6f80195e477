"""The bundled default sessions: timing only, equal to a fresh import of the
real logs, and reproducing the recorded agent time."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from trace_helpers import CC_2114, CC_2138, CODEX, PI, TRACES, raw_lines

from simulator import TraceImportError
from simulator._bundle import (
    BUNDLE_FORMAT,
    build_bundle,
    load_bundled_sessions,
    session_from_dict,
    session_to_dict,
)
from simulator._importers import HOW, NOTES, import_path
from simulator._importers._fidelity import fidelity

_LOGS = (CC_2114, CC_2138, CODEX, PI)


def _bundle_files() -> list[Path]:
    folder = Path(str(resources.files("simulator").joinpath("data/sessions")))
    return sorted(folder.glob("*.json"))


def _strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def test_four_sessions_are_bundled() -> None:
    sessions = load_bundled_sessions()
    assert [s.name for s in sessions] == [
        "claude-code-2.1.14",
        "claude-code-2.1.38",
        "codex-0.104.0-alpha.1",
        "pi",
    ]
    assert [len(s.turns) for s in sessions] == [39, 18, 28, 431]
    assert [len(s.calls) for s in sessions] == [39, 48, 118, 373]
    assert [s.agent_strategy for s in sessions] == [
        "sequential",
        "overlapped",
        "overlapped",
        "sequential",
    ]


def test_no_string_in_the_bundle_is_long() -> None:
    for path in _bundle_files():
        long = [s for s in _strings(json.loads(path.read_text())) if len(s) > 40]
        assert long == [], path.name


_KEYS = set(
    "agent agent_strategy arg_tokens at blocks call complete_at description "
    "duration excluded_ns excluded_requests fault format id index kind line "
    "message name notes outcome output_tokens request_overhead resource "
    "result_tokens safety scenario source start_ns stream_end t_arg t_done t_end "
    "t_first t_req t_start text think_ns think_time thinking tokens "
    "tokens_per_second tool_call ttft ttft_ns turns version".split()
)


def _known_strings() -> set[str]:
    """Our own vocabulary, plus the tool names, versions and file names."""
    known = set(HOW) | set(NOTES) | _KEYS | {BUNDLE_FORMAT, "recorded tool error"}
    known |= {"text", "thinking", "tool_call", "shared", "exclusive"}
    known |= {"ok", "error", "cancelled", "sequential", "parallel", "overlapped"}
    for session in load_bundled_sessions():
        known |= {session.name, session.agent, session.version, session.source}
        known |= {f"imported from {session.agent} {session.version}"}
        known |= {c.name for c in session.calls}
    return known


def test_every_string_in_the_bundle_is_known() -> None:
    known = _known_strings()
    stand_in = re.compile(r"^(call_\d+_\d+|file#\d+)$")
    for path in _bundle_files():
        data = json.loads(path.read_text())
        unknown = {
            s for s in _strings(data) if s not in known and not stand_in.match(s)
        }
        assert unknown == set(), path.name


def _words(text: str) -> set[str]:
    """Words of 6+ characters holding a letter (bare numbers are timing)."""
    found = re.findall(r"[A-Za-z0-9_]{6,}", text)
    return {w for w in found if re.search("[A-Za-z]", w)}


def test_no_word_from_the_logs_leaks_into_the_bundle() -> None:
    text = "\n".join(p.read_text() for p in _bundle_files())
    ours = set().union(*(_words(s) for s in _known_strings()))
    for name in _LOGS:
        log_words = set().union(*(_words(json.dumps(e)) for e in raw_lines(name)))
        assert (_words(text) & log_words) - ours == set(), name


def test_log_ids_do_not_appear_in_the_bundle() -> None:
    text = "\n".join(p.read_text() for p in _bundle_files())
    ids = set()
    for entry in raw_lines(CC_2114) + raw_lines(CC_2138):
        ids |= {entry.get("uuid"), entry.get("requestId"), entry.get("sessionId")}
    for entry in raw_lines(CODEX):
        ids.add(entry.get("payload", {}).get("call_id"))
    ids.discard(None)
    assert len(ids) > 100
    assert [i for i in ids if i in text] == []


def test_bundle_equals_a_fresh_import_of_the_logs(tmp_path: Path) -> None:
    if not TRACES.is_dir():
        pytest.skip(f"the real session logs are not here ({TRACES} is missing)")
    fresh = {s.name: s for s in import_path(TRACES).sessions}
    assert {s.name: s for s in load_bundled_sessions()} == fresh
    written = build_bundle(TRACES, tmp_path)
    assert sorted(p.read_text() for p in written) == sorted(
        p.read_text() for p in _bundle_files()
    )


@pytest.mark.parametrize(
    ("name", "bound"),
    [
        ("claude-code-2.1.14", 0.02),
        ("pi", 0.02),
        ("claude-code-2.1.38", 0.05),
    ],
)
def test_bundled_sessions_reproduce_the_recorded_time(name: str, bound: float) -> None:
    (session,) = [s for s in load_bundled_sessions() if s.name == name]
    result = fidelity(session)
    assert result.recorded_ns == session.recorded_agent_ns
    assert abs(result.error_fraction) < bound


def test_damaged_bundle_entry_names_the_file() -> None:
    session = load_bundled_sessions()[0]
    data = session_to_dict(session)
    assert session_from_dict(data, source="x.json") == session
    data["turns"][0]["t_req"] = [0, "made-up"]
    with pytest.raises(TraceImportError, match=r"x\.json: not a valid bundled"):
        session_from_dict(data, source="x.json")
    data = session_to_dict(session)
    data["scenario"]["turns"][0]["stream_end"] = 999.0
    with pytest.raises(TraceImportError, match="disagrees"):
        session_from_dict(data, source="x.json")
    with pytest.raises(TraceImportError, match="format"):
        session_from_dict({"format": "other"}, source="x.json")
