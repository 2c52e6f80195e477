"""Loading the plugin imports neither the engine nor its heavy dependencies."""

from __future__ import annotations

import re
import subprocess
import sys

HEAVY = ("matplotlib", "hypothesis", "anyio", "trio", "simulator", "sniffio")


def import_times(code: str) -> dict[str, tuple[int, int]]:
    """``python -X importtime`` of ``code``: module -> (self us, cumulative us)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        check=True,
    )
    out: dict[str, tuple[int, int]] = {}
    for line in done.stderr.splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if found:
            out[found[4]] = (int(found[1]), int(found[2]))
    return out


def test_plugin_import_is_light() -> None:
    times = import_times("import pytest; import pytest_streampar.plugin")
    assert "pytest_streampar.plugin" in times
    heavy = sorted(m for m in times if m.split(".")[0] in HEAVY)
    assert heavy == []


def test_plugin_import_cost_after_pytest() -> None:
    times = import_times("import pytest; import pytest_streampar.plugin")
    own = [cum for name, (_, cum) in times.items() if name == "pytest_streampar.plugin"]
    # Measured at about 20 ms (cumulative, pytest already loaded); the bound
    # leaves room for slow machines while catching an engine import (~400 ms).
    assert own[0] < 250_000, f"plugin import took {own[0] / 1000:.1f} ms"


def test_engine_loads_when_a_fixture_is_used() -> None:
    code = (
        "import pytest_streampar.plugin, sys\n"
        "from pytest_streampar._fixtures import load_scenario_ref\n"
        "assert 'simulator' not in sys.modules\n"
        "load_scenario_ref('two-call')\n"
        "assert 'simulator' in sys.modules\n"
        "assert 'matplotlib' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
