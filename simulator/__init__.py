"""pytest-streampar's simulator: real anyio code on a virtual clock.

The parts: the engine (:func:`run`, :func:`recording`, :func:`now_ns`), the
scenario model and its files, the simulated model and tools, the three
reference harness strategies, the analytic schedule and bound, metrics, trace
importers for real session logs, and plots and reports.
"""

from __future__ import annotations

from ._bound import critical_path_ns, schedule_session, schedule_turn, session_bound_ns
from ._errors import (
    DeadlockError,
    EngineBug,
    OutsideWorkError,
    ScenarioError,
    SimulatorError,
    TraceImportError,
    WatchdogTimeout,
)
from ._faults import WireFaults
from ._importers import (
    Fidelity,
    ImportResult,
    Problem,
    RecordedSession,
    fidelity,
    import_path,
    import_paths,
)
from ._metrics import (
    SessionMetrics,
    TurnMetrics,
    session_metrics,
    speedup,
    turn_metrics,
)
from ._model import SimulatedModel, StreamError
from ._perfetto import perfetto_trace, write_trace
from ._plot import plot_savings_distribution, plot_strategies
from ._run import RunResult, current_timeline, now_ns, outside_work, recording, run
from ._scenario import Block, Fault, Scenario, ToolCall, Turn, conflicts
from ._scenario_io import (
    load_scenario,
    save_scenario,
    scenario_from_dict,
    scenario_to_dict,
)
from ._strategies import STRATEGIES, StrategyRun, run_strategy
from ._textline import render_text_timeline
from ._timeline import Instant, Span, Timeline
from ._tools import SimulatedTools, ToolResult
from ._wire import StreamDecoder, decoder_for

__all__ = [
    "STRATEGIES",
    "Block",
    "DeadlockError",
    "EngineBug",
    "Fault",
    "Fidelity",
    "ImportResult",
    "Instant",
    "OutsideWorkError",
    "Problem",
    "RecordedSession",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "SessionMetrics",
    "SimulatedModel",
    "SimulatedTools",
    "SimulatorError",
    "Span",
    "StrategyRun",
    "StreamDecoder",
    "StreamError",
    "Timeline",
    "ToolCall",
    "ToolResult",
    "TraceImportError",
    "Turn",
    "TurnMetrics",
    "WatchdogTimeout",
    "WireFaults",
    "conflicts",
    "critical_path_ns",
    "current_timeline",
    "decoder_for",
    "fidelity",
    "import_path",
    "import_paths",
    "load_scenario",
    "now_ns",
    "outside_work",
    "perfetto_trace",
    "plot_savings_distribution",
    "plot_strategies",
    "recording",
    "render_text_timeline",
    "run",
    "run_strategy",
    "save_scenario",
    "scenario_from_dict",
    "scenario_to_dict",
    "schedule_session",
    "schedule_turn",
    "session_bound_ns",
    "session_metrics",
    "speedup",
    "turn_metrics",
    "write_trace",
]
