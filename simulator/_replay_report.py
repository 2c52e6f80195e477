"""The replay report: ``summary.json`` (machine-readable) and ``report.md``.

``summary.json`` schema (``"schema": "streampar-replay-summary/1"``); every
time is integer nanoseconds of virtual time, iteration times exclude human
think time:

- ``schema``, ``backend``: format tag and the engine backend used.
- ``skipped_input`` (bool) and ``problems`` (list of ``{file, line, message}``):
  input that was skipped or repaired while importing.
- ``sessions``: one object per session, in input order:

  - ``name``, ``agent``, ``version``, ``source``, ``agent_strategy``;
  - ``requests``, ``tool_calls``, ``requests_with_parallel_calls`` (2+ calls),
    ``max_calls_per_request``;
  - ``recorded_agent_ns``, ``think_ns`` (reported apart), ``excluded_requests``
    and ``excluded_ns`` (aborted or failed requests, kept out);
  - ``reproduced``: ``{strategy, simulated_ns, error_fraction}``: the agent's
    own strategy replayed, against the recording;
  - ``simulated_ns``: ``{sequential, parallel, overlapped}`` session times;
  - ``bound_ns``: critical-path lower bound of the session;
  - ``savings_ns``: ``parallel_vs_sequential``, ``overlapped_vs_sequential``,
    ``overlapped_vs_recorded`` (positive = faster);
  - ``top_iterations``: up to 5 ``{turn, calls, sequential_ns, overlapped_ns,
    saving_ns}``, largest overlap saving first (``turn`` counts from 0);
  - ``iterations``: per turn ``{turn, calls, recorded_ns, sequential_ns,
    parallel_ns, overlapped_ns, bound_ns}``;
  - ``inferred``: sentences saying what was inferred rather than recorded;
  - ``plots``: plot kind to file path relative to the report folder.

- ``plots``: ``{"savings_distribution": path}`` for the cross-session plot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._importers import Problem, RecordedSession
from ._replay import SessionReplay

__all__ = ["SUMMARY_SCHEMA", "render_markdown", "summary_dict"]

SUMMARY_SCHEMA = "streampar-replay-summary/1"
_STRATEGIES = ("sequential", "parallel", "overlapped")


def summary_dict(
    replays: Sequence[SessionReplay],
    problems: Sequence[Problem],
    plots: Mapping[str, Mapping[str, str]],
    *,
    backend: str,
) -> dict[str, Any]:
    """The figures of every session as JSON-ready data (see the module doc).

    Args:
        replays: the replayed sessions.
        problems: skipped input.
        plots: per session name, plot kind to relative path; the key ``""``
            holds the cross-session plots.
        backend: the engine backend used.
    """
    return {
        "schema": SUMMARY_SCHEMA,
        "backend": backend,
        "skipped_input": bool(problems),
        "problems": [
            {"file": p.file, "line": p.line, "message": p.message} for p in problems
        ],
        "sessions": [_session_dict(r, plots.get(r.session.name, {})) for r in replays],
        "plots": dict(plots.get("", {})),
    }


def _session_dict(replay: SessionReplay, plots: Mapping[str, str]) -> dict[str, Any]:
    session = replay.session
    fidelity = replay.fidelity
    calls = [len(t.calls) for t in session.turns]
    return {
        "name": session.name,
        "agent": session.agent,
        "version": session.version,
        "source": session.source,
        "agent_strategy": session.agent_strategy,
        "requests": len(session.turns),
        "tool_calls": sum(calls),
        "requests_with_parallel_calls": sum(1 for n in calls if n >= 2),
        "max_calls_per_request": max(calls, default=0),
        "recorded_agent_ns": session.recorded_agent_ns,
        "think_ns": session.think_ns,
        "excluded_requests": session.excluded_requests,
        "excluded_ns": session.excluded_ns,
        "reproduced": {
            "strategy": fidelity.strategy,
            "simulated_ns": fidelity.simulated_ns,
            "error_fraction": fidelity.error_fraction,
        },
        "simulated_ns": dict(replay.simulated_ns),
        "bound_ns": replay.bound_ns,
        "savings_ns": {
            "parallel_vs_sequential": replay.saving_ns("parallel"),
            "overlapped_vs_sequential": replay.saving_ns("overlapped"),
            "overlapped_vs_recorded": session.recorded_agent_ns
            - replay.simulated_ns["overlapped"],
        },
        "top_iterations": [
            {
                "turn": t.turn,
                "calls": t.calls,
                "sequential_ns": t.simulated_ns["sequential"],
                "overlapped_ns": t.simulated_ns["overlapped"],
                "saving_ns": t.overlap_saving_ns,
            }
            for t in replay.top_turns()
        ],
        "iterations": [
            {
                "turn": t.turn,
                "calls": t.calls,
                "recorded_ns": t.recorded_ns,
                **{f"{s}_ns": t.simulated_ns[s] for s in _STRATEGIES},
                "bound_ns": t.bound_ns,
            }
            for t in replay.turns
        ],
        "inferred": session.inferred,
        "plots": dict(plots),
    }


# Markdown -------------------------------------------------------------------


def _s(ns: int) -> str:
    """Nanoseconds as seconds with millisecond precision."""
    return f"{ns / 1e9:,.3f} s"


def _pct(part: int, whole: int) -> str:
    """``part`` as a signed percentage of ``whole``."""
    return "n/a" if whole == 0 else f"{100 * part / whole:+.1f} %"


def _share(part: int, whole: int) -> str:
    """``part`` as a percentage of ``whole`` (a saving: no sign)."""
    return "n/a" if whole == 0 else f"{100 * part / whole:.1f} %"


def render_markdown(
    replays: Sequence[SessionReplay],
    problems: Sequence[Problem],
    plots: Mapping[str, Mapping[str, str]],
    *,
    source: str,
    backend: str,
) -> str:
    """The report as Markdown.

    Args:
        replays: the replayed sessions.
        problems: skipped input.
        plots: as in :func:`summary_dict`.
        source: where the sessions came from, for the heading.
        backend: the engine backend used.
    """
    parts = [
        "# Replay report",
        "",
        f"Sessions from {source}, replayed on the simulator's virtual clock "
        f"({backend} backend). Times are agent time: human think time and "
        f"aborted or failed requests are kept out and reported apart.",
        "",
        *_problems_section(problems),
        *_overview(replays),
    ]
    for replay in replays:
        parts += _session_section(replay, plots.get(replay.session.name, {}))
    parts += _closing(plots.get("", {}))
    return "\n".join(parts).rstrip() + "\n"


def _problems_section(problems: Sequence[Problem]) -> list[str]:
    if not problems:
        return []
    lines = ["## Skipped input", ""]
    lines += [
        f"- `{p.file}`{f' line {p.line}' if p.line else ''}: {p.message}"
        for p in problems
    ]
    return [*lines, ""]


def _overview(replays: Sequence[SessionReplay]) -> list[str]:
    lines = [
        "## Overview",
        "",
        "| session | agent ran | requests | calls | recorded | reproduced (error) "
        "| sequential | parallel | overlapped | bound | overlap saves |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in replays:
        f = r.fidelity
        seq = r.simulated_ns["sequential"]
        lines.append(
            f"| {r.session.name} | {r.session.agent_strategy} | "
            f"{len(r.session.turns)} | {len(r.session.calls)} | "
            f"{_s(f.recorded_ns)} | {_s(f.simulated_ns)} "
            f"({100 * f.error_fraction:+.2f} %) | "
            + " | ".join(_s(r.simulated_ns[s]) for s in _STRATEGIES)
            + f" | {_s(r.bound_ns)} | {_s(r.saving_ns('overlapped'))} "
            f"({_share(r.saving_ns('overlapped'), seq)}) |"
        )
    return [*lines, ""]


def _session_section(replay: SessionReplay, plots: Mapping[str, str]) -> list[str]:
    session = replay.session
    f = replay.fidelity
    calls = [len(t.calls) for t in session.turns]
    lines = [
        f"## {session.name}",
        "",
        f"{session.agent} {session.version}, from `{session.source}`: "
        f"{len(session.turns)} requests, {sum(calls)} tool calls, "
        f"{sum(1 for n in calls if n >= 2)} requests with two or more calls "
        f"(at most {max(calls, default=0)}). Human think time "
        f"{_s(session.think_ns)} (kept out); {session.excluded_requests} aborted "
        f"or failed requests ({_s(session.excluded_ns)}, kept out).",
        "",
        f"**Fidelity.** The agent ran tools `{session.agent_strategy}`. Replayed "
        f"that way, the simulator gives {_s(f.simulated_ns)} against the recorded "
        f"{_s(f.recorded_ns)}: error {100 * f.error_fraction:+.3f} %.",
        "",
        "| strategy | session time | against sequential | against recorded |",
        "|---|--:|--:|--:|",
    ]
    seq = replay.simulated_ns["sequential"]
    for name in _STRATEGIES:
        total = replay.simulated_ns[name]
        lines.append(
            f"| {name} | {_s(total)} | {_pct(total - seq, seq)} | "
            f"{_pct(total - f.recorded_ns, f.recorded_ns)} |"
        )
    lines.append(
        f"| critical-path bound | {_s(replay.bound_ns)} | "
        f"{_pct(replay.bound_ns - seq, seq)} | "
        f"{_pct(replay.bound_ns - f.recorded_ns, f.recorded_ns)} |"
    )
    lines += ["", *_top_table(replay), *_plot_lines(plots), *_inferred(session)]
    return lines


def _top_table(replay: SessionReplay) -> list[str]:
    top = replay.top_turns()
    if not top:
        return ["No iteration gets faster by overlapping tools with the stream.", ""]
    lines = [
        "Iterations where overlap saves most (turns count from 0):",
        "",
        "| turn | calls | sequential | overlapped | saving |",
        "|--:|--:|--:|--:|--:|",
    ]
    for t in top:
        seq = t.simulated_ns["sequential"]
        lines.append(
            f"| {t.turn} | {t.calls} | {_s(seq)} | {_s(t.simulated_ns['overlapped'])} "
            f"| {_s(t.overlap_saving_ns)} ({_share(t.overlap_saving_ns, seq)}) |"
        )
    return [*lines, ""]


_PLOT_TITLES = {
    "largest_saving": "Iteration with the largest saving",
    "busy_window": "Busiest window",
}


def _plot_lines(plots: Mapping[str, str]) -> list[str]:
    lines = []
    for kind, path in plots.items():
        title = _PLOT_TITLES.get(kind, kind)
        lines += [f"{title}:", "", f"![{title}]({path})", ""]
    return lines


def _inferred(session: RecordedSession) -> list[str]:
    lines = ["Inferred rather than recorded:", ""]
    lines += [f"- {sentence}" for sentence in session.inferred]
    return [*lines, ""]


def _closing(plots: Mapping[str, str]) -> list[str]:
    lines = ["## Savings across sessions", ""]
    path = plots.get("savings_distribution")
    if path:
        lines += [
            "Per-iteration saving of overlapped against sequential:",
            "",
            f"![Per-iteration savings]({path})",
            "",
        ]
    lines += [
        "## How to read this",
        "",
        "- *recorded*: the agent's own time in the log, the sum of its iteration "
        "times (request sent, stream, tools, hand-back of results).",
        "- *reproduced*: the session rebuilt from the log and replayed under the "
        "strategy the agent used; its error against *recorded* says how far the "
        "other figures can be trusted.",
        "- *sequential*: tools one after another after the stream; *parallel*: "
        "tools together after the stream, within their safety classes; "
        "*overlapped*: each tool starts when its call is complete in the stream.",
        "- *bound*: no schedule of these streams and tools can be faster.",
        "",
    ]
    return lines
