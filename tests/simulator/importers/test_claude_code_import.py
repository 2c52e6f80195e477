"""The Claude Code importer against the two real logs, figures counted from the
raw files in the tests themselves or worked out by hand from the lines."""

from __future__ import annotations

from collections import Counter

import pytest
from trace_helpers import CC_2114, CC_2138, iso_s, ns, raw_lines, trace

from simulator._importers import RecordedSession, import_path
from simulator._importers._fidelity import fidelity


def _session(name: str) -> RecordedSession:
    result = import_path(trace(name))
    assert result.problems == []
    (session,) = result.sessions
    return session


def _raw_requests(name: str) -> Counter[str]:
    """Tool calls per requestId, counted straight from the file."""
    per_request: Counter[str] = Counter()
    for entry in raw_lines(name):
        if entry.get("type") != "assistant":
            continue
        per_request[entry["requestId"]] += sum(
            1 for b in entry["message"]["content"] if b.get("type") == "tool_use"
        )
    return per_request


@pytest.mark.parametrize(
    ("name", "requests", "calls", "multi", "max_calls"),
    [(CC_2114, 39, 39, 2, 2), (CC_2138, 18, 48, 16, 3)],
)
def test_counts_match_the_raw_file(
    name: str, requests: int, calls: int, multi: int, max_calls: int
) -> None:
    per_request = _raw_requests(name)
    # the README's figures, recounted from the raw lines
    assert len(per_request) == requests
    assert sum(per_request.values()) == calls
    assert sum(1 for n in per_request.values() if n >= 2) == multi
    session = _session(name)
    assert len(session.turns) == requests
    assert len(session.calls) == calls
    assert sum(1 for t in session.turns if len(t.calls) >= 2) == multi
    assert max(len(t.calls) for t in session.turns) == max_calls


def test_2114_glob_call_times_by_hand() -> None:
    # lines 63-64: Glob block done 06:23:37.115, result 06:23:37.438 with
    # durationMs 265; the session starts at the prompt, 06:20:46.065.
    session = _session(CC_2114)
    (glob,) = [c for c in session.calls if c.name == "Glob"]
    assert glob.t_arg.ns == ns(171.050) and glob.t_arg.recorded
    assert glob.t_done.ns == ns(171.373) and glob.t_done.recorded
    assert glob.t_start.ns == ns(171.373 - 0.265)
    assert glob.safety == "shared"


def test_2114_sequential_pair_of_bash_calls() -> None:
    # lines 76-80: request QGAcgK, Bash blocks done 53.630 and 53.980, results
    # 55.196 and 56.719: the second starts when the first returns.
    session = _session(CC_2114)
    (turn,) = [t for t in session.turns if len(t.calls) == 2 and t.line == 76]
    first, second = turn.calls
    start = iso_s("2026-01-21T06:20:46.065Z")
    end = iso_s("2026-01-21T06:23:53.980Z")
    assert first.t_start.ns == turn.t_end.ns == ns(end - start)
    assert second.t_start.ns == first.t_done.ns
    assert second.duration_ns == ns(56.719 - 55.196)
    assert not second.t_start.recorded
    assert (first.id, second.id) == (f"call_{turn.index}_1", f"call_{turn.index}_2")


def test_2114_agent_time_and_strategy() -> None:
    session = _session(CC_2114)
    entries = raw_lines(CC_2114)
    # first prompt to the last block: no human prompt in between (the one
    # user text line is hook feedback, counted as harness time)
    first = iso_s(entries[1]["timestamp"])
    last = iso_s(entries[-1]["timestamp"])
    assert session.recorded_agent_ns == ns(last - first) == ns(225.778)
    assert session.think_ns == 0
    assert session.agent_strategy == "sequential"
    assert session.version == "2.1.14"


def test_2138_overlapped_times_by_hand() -> None:
    # request XC3nCh: Bash sja74j block 22:16:22.660, PreToolUse hook .663,
    # result 23.362; Bash 3kphBL block 23.004, hook 23.366, result 23.449.
    # Session start: the prompt at 22:15:36.407.
    session = _session(CC_2138)
    turn = session.turns[-2]
    first, second, _ = turn.calls
    assert (first.t_arg.ns, first.t_start.ns, first.t_done.ns) == (
        ns(46.253),
        ns(46.256),
        ns(46.955),
    )
    assert first.t_start.how == "cc.hook"
    assert (second.t_arg.ns, second.t_start.ns, second.t_done.ns) == (
        ns(46.597),
        ns(46.959),
        ns(47.042),
    )
    assert session.agent_strategy == "overlapped"
    assert session.recorded_agent_ns == ns(80.414)


def test_2138_reads_start_at_their_block() -> None:
    session = _session(CC_2138)
    reads = [c for c in session.calls if c.name == "Read"]
    assert len(reads) == 30
    assert all(c.t_start.ns == c.t_arg.ns for c in reads)
    assert all(c.t_start.how == "cc.at_block" for c in reads)


def test_fidelity_2114_sequential_within_2_percent() -> None:
    result = fidelity(_session(CC_2114))
    assert result.strategy == "sequential"
    assert abs(result.error_fraction) < 0.02
    # the only drift: Task and Glob start where durationMs puts them (25 + 58 ms)
    assert result.recorded_ns - result.simulated_ns == ns(0.083)


def test_fidelity_2138_overlapped_within_5_percent() -> None:
    result = fidelity(_session(CC_2138))
    assert result.strategy == "overlapped"
    assert abs(result.error_fraction) < 0.05
    assert len(result.simulated_turn_ns) == 18


def test_scenario_stream_times_are_the_recorded_ones() -> None:
    session = _session(CC_2138)
    scenario = session.to_scenario()
    for recorded, turn in zip(session.turns, scenario.turns, strict=True):
        base = recorded.t_req.ns
        assert turn.call_complete_ns() == tuple(
            c.t_arg.ns - base for c in recorded.calls
        )
        assert turn.stream_end_ns() == recorded.t_end.ns - base
