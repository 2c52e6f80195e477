"""``streampar compare BASELINE CURRENT``: the latency gate outside pytest.

Both files are baselines as written by ``pytest --streampar-baseline=FILE
--streampar-save-baseline``; CURRENT may also be the ``summary.json`` of a
``--streampar-report`` folder (or the folder itself). The comparison, its
lines and its verdict are those of the pytest gate
(:mod:`pytest_streampar._compare`).

Exit codes:

- 0: no metric is worse than its baseline beyond the tolerance (new and
  missing tests are reported; they fail only with ``--fail-on-new`` /
  ``--fail-on-missing``);
- 1: at least one regression (or a failing new / missing entry);
- 2: a file cannot be read (missing, not JSON, truncated) or the arguments are
  wrong (e.g. a tolerance that cannot be read);
- 3: a file is JSON but not of a schema this version reads (another format,
  another version, wrongly shaped fields).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_streampar._baseline import TestEntry

__all__ = [
    "EXIT_PASS",
    "EXIT_REGRESSION",
    "EXIT_SCHEMA",
    "EXIT_UNREADABLE",
    "add_arguments",
    "load_metrics",
    "run",
]

EXIT_PASS = 0
EXIT_REGRESSION = 1
EXIT_UNREADABLE = 2
EXIT_SCHEMA = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the compare command's arguments."""
    parser.add_argument("baseline", metavar="BASELINE", help="the baseline JSON file")
    parser.add_argument(
        "current",
        metavar="CURRENT",
        help="the metrics to judge: a baseline file saved from this run, or a "
        "--streampar-report folder or its summary.json",
    )
    parser.add_argument(
        "--tolerance",
        default="0",
        metavar="TOL",
        help="how much worse a metric may get: 5%%, 2.5%%, 0.05, or per metric "
        "speedup=1%%,session_time=3%% (default: %(default)s)",
    )
    parser.add_argument(
        "--fail-on-new",
        action="store_true",
        help="tests or metrics not in the baseline fail the comparison",
    )
    parser.add_argument(
        "--fail-on-missing",
        action="store_true",
        help="baseline entries missing from CURRENT fail the comparison",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="print only regressions and the verdict"
    )
    parser.epilog = (
        "exit codes: 0 pass; 1 regression; 2 unreadable input or bad arguments; "
        "3 schema mismatch"
    )


def run(args: argparse.Namespace) -> int:
    """Compare the two files, print the lines, and return the exit code."""
    from pytest_streampar._baseline import BaselineError, BaselineSchemaError
    from pytest_streampar._compare import (
        ToleranceError,
        compare_tests,
        parse_tolerances,
        render_comparison,
    )

    try:
        tolerances = parse_tolerances(args.tolerance, source="--tolerance")
    except ToleranceError as exc:
        print(f"streampar compare: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    role = "BASELINE"
    try:
        baseline = load_metrics(args.baseline)
        role = "CURRENT"
        current = load_metrics(args.current)
    except BaselineSchemaError as exc:
        print(f"streampar compare: schema mismatch: {exc}", file=sys.stderr)
        return EXIT_SCHEMA
    except BaselineError as exc:
        message = str(exc)
        if role == "CURRENT":
            # The loader speaks of a baseline; this file is the run to judge.
            message = message.replace("baseline file", "CURRENT file", 1)
            message = message.split("; create it with")[0] + (
                "; give a run report's summary.json (pytest --streampar-report=DIR)"
                " or a saved baseline"
                if "; create it with" in message
                else ""
            )
        print(f"streampar compare: {message}", file=sys.stderr)
        return EXIT_UNREADABLE
    comparison = compare_tests(baseline, current, tolerances)
    lines = render_comparison(
        comparison,
        fail_on_new=args.fail_on_new,
        fail_on_missing=args.fail_on_missing,
        show_improved=not args.quiet,
    )
    if args.quiet:
        lines = [line for line in lines if not _allowed_entry(line)]
    print("\n".join(lines))
    failed = comparison.failed(
        fail_on_new=args.fail_on_new, fail_on_missing=args.fail_on_missing
    )
    return EXIT_REGRESSION if failed else EXIT_PASS


def _allowed_entry(line: str) -> bool:
    """A NEW or MISSING line that does not fail the comparison."""
    return line.startswith(("NEW ", "MISSING ")) and "(fails)" not in line


def load_metrics(path: str | Path) -> dict[str, TestEntry]:
    """Node id to metrics, from a baseline file or a run report's summary.

    Raises:
        BaselineError: the file cannot be read or is not JSON.
        BaselineSchemaError: it is neither a baseline nor a run-report summary
            of a version this package reads.
    """
    from pytest_streampar._baseline import (
        BASELINE_SCHEMA,
        BASELINE_VERSION,
        baseline_from_dict,
        load_baseline,
    )
    from pytest_streampar._run_report import RUN_REPORT_SCHEMA

    target = Path(path)
    if target.is_dir():
        target = target / "summary.json"
    if target.suffix == ".json" and _schema_of(target) == RUN_REPORT_SCHEMA:
        data = json.loads(target.read_text(encoding="utf-8"))
        shaped = {
            "schema": BASELINE_SCHEMA,
            "version": BASELINE_VERSION,
            "tests": data.get("tests"),
        }
        return baseline_from_dict(shaped, source=str(target)).tests
    return load_baseline(target).tests


def _schema_of(target: Path) -> object:
    """The ``schema`` field of a JSON file, or None when it cannot be read
    (the baseline loader then says what is wrong)."""
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data.get("schema") if isinstance(data, dict) else None
