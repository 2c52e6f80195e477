"""The pi and Codex importers against the real logs, figures counted from the
raw files here or worked out by hand from the lines."""

from __future__ import annotations

from collections import Counter

from trace_helpers import CODEX, PI, iso_s, ns, raw_lines, trace

from simulator._importers import RecordedSession, import_path
from simulator._importers._fidelity import fidelity
from simulator._importers._pi import fit_first_token


def _session(name: str) -> RecordedSession:
    result = import_path(trace(name))
    assert result.problems == []
    (session,) = result.sessions
    return session


def _pi_assistants() -> list[dict[str, object]]:
    return [
        e["message"]
        for e in raw_lines(PI)
        if e.get("type") == "message" and e["message"]["role"] == "assistant"
    ]


def test_pi_counts_match_the_raw_file() -> None:
    assistants = _pi_assistants()
    left_out = [m for m in assistants if m["stopReason"] in ("aborted", "error")]
    kept = [m for m in assistants if m["stopReason"] not in ("aborted", "error")]
    calls = [
        sum(1 for b in m["content"] if b["type"] == "toolCall")  # type: ignore[attr-defined]
        for m in kept
    ]
    assert (len(assistants), len(left_out), len(kept)) == (453, 22, 431)
    assert sum(calls) == 373
    session = _session(PI)
    assert len(session.turns) == 431
    assert session.excluded_requests == 22
    assert len(session.calls) == 373
    assert [len(t.calls) for t in session.turns] == calls
    assert max(calls) == 4
    assert session.agent_strategy == "sequential"


def test_pi_first_turn_by_hand() -> None:
    # line 2 prompt at 1763681581544 ms (origin); line 3 aborted request
    # 1763681581545 -> 23:33:02.351 (excluded 0.807 s from the prompt); line 5
    # prompt 1763681630791 = 23:33:50.791 (think 50.791 - 2.351 = 48.440 s);
    # line 6 request
    # sent 1763681630793, stream end 23:33:54.572; results at ...634574,
    # ...634577, ...634589: tools one after another from the stream end.
    session = _session(PI)
    turn = session.turns[0]
    assert turn.line == 6
    assert turn.start_ns == ns(49.247)
    assert turn.t_req.ns == ns(49.249)
    assert turn.think_ns == ns(48.440)
    assert turn.t_end.ns == ns(53.028)
    starts = [c.t_start.ns for c in turn.calls]
    ends = [c.t_done.ns for c in turn.calls]
    assert starts == [ns(53.028), ns(53.030), ns(53.033)]
    assert ends == [ns(53.030), ns(53.033), ns(53.045)]
    assert turn.iteration_ns == ns(53.045 - 49.247)
    assert session.excluded_ns >= ns(0.807)


def test_pi_time_is_conserved() -> None:
    # agent time + think time + excluded time = last hand-back - first prompt
    entries = [e for e in raw_lines(PI) if e.get("type") == "message"]
    origin = entries[0]["message"]["timestamp"] / 1000
    last = 0.0
    for entry in entries:
        message = entry["message"]
        if message["role"] == "assistant" and message["stopReason"] not in (
            "aborted",
            "error",
        ):
            last = max(last, iso_s(entry["timestamp"]))
        if message["role"] == "toolResult":
            last = max(last, message["timestamp"] / 1000)
    session = _session(PI)
    total = session.recorded_agent_ns + session.think_ns + session.excluded_ns
    assert total == ns(last - origin)


def test_pi_fidelity_within_2_percent() -> None:
    result = fidelity(_session(PI))
    assert result.strategy == "sequential"
    assert abs(result.error_fraction) < 0.02


def test_first_token_fit_recovers_a_known_line() -> None:
    # durations 2 + tokens/100 exactly: intercept 2 s
    samples = [(ns(2 + t / 100), t) for t in (10, 50, 200, 400)]
    assert fit_first_token(samples) == ns(2.0)
    assert fit_first_token(samples[:2]) == 0
    assert fit_first_token([(5, 1), (9, 1), (7, 1)]) == 0


def test_codex_counts_match_the_raw_file() -> None:
    entries = raw_lines(CODEX)
    per_request: list[int] = []
    for entry in entries:
        kind = entry["type"]
        if kind == "turn_context":
            per_request.append(0)
        elif kind == "response_item" and entry["payload"]["type"] == "function_call":
            per_request[-1] += 1
    assert len(per_request) == 28
    assert sum(per_request) == 118
    assert sum(1 for n in per_request if n >= 2) == 26
    assert max(per_request) == 7
    session = _session(CODEX)
    assert [len(t.calls) for t in session.turns] == per_request
    assert session.agent_strategy == "overlapped"
    assert session.version == "0.104.0-alpha.1"


def test_codex_first_turn_by_hand() -> None:
    # user_message 11:41:32.241 (origin); turn_context .247; calls done 38.901
    # and 38.907; token_count (new usage, 281 output tokens) 38.914; both
    # outputs written at 39.032; next turn_context 39.037.
    session = _session(CODEX)
    first, second = session.turns[0], session.turns[1]
    a, b = first.calls
    assert first.t_req.ns == ns(0.006)
    assert first.t_end.ns == ns(6.673)
    assert first.output_tokens == 281
    assert (a.t_arg.ns, a.t_start.ns, a.t_done.ns) == (ns(6.660), ns(6.660), ns(6.791))
    assert a.t_done.recorded
    # written together with the first: only an upper bound
    assert b.t_done.ns == ns(6.791) and not b.t_done.recorded
    assert second.request_overhead_ns == ns(0.005)
    assert {c.safety for c in session.calls if c.name == "exec_command"} == {"shared"}


def test_codex_fidelity_overlapped() -> None:
    result = fidelity(_session(CODEX))
    assert result.strategy == "overlapped"
    assert abs(result.error_fraction) < 0.02
    per_name = Counter(c.name for c in _session(CODEX).calls)
    assert sum(per_name.values()) == 118


def test_pi_queued_message_does_not_overlap_the_previous_request() -> None:
    # line 462: a prompt typed at 00:56:34.254 while the agent was busy; line
    # 466: its request carries 1763686594256 (00:56:34.256) but ends at
    # 00:56:43.890, after the request of line 465 ended (00:56:43.874). It is
    # sent at that hand-back, and the prompt adds no think time.
    session = _session(PI)
    (queued,) = [t for t in session.turns if t.line == 466]
    before = session.turns[queued.index - 1]
    assert before.line == 465
    assert queued.t_req.how == "queued"
    assert queued.t_req.ns == before.hand_back_ns == queued.start_ns
    assert queued.think_ns == 0
    assert queued.iteration_ns == ns(43.890 - 43.874)
