"""The ``streampar`` command line: one sub-command per job, each in its own module."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["main"]

# sub-command -> module defining ``add_arguments(parser)`` and ``run(args) -> int``
_COMMANDS = {
    "replay": ("simulator._cmd_replay", "replay real agent session logs and report"),
    "simulate": ("simulator._cmd_simulate", "run a scenario under each strategy"),
    "compare": ("simulator._cmd_compare", "compare a metrics file with a baseline"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``streampar`` console script; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="streampar",
        description="Prove an agent harness's streaming parallelism right and fast.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = {}
    for name, (module_name, help_text) in _COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.add_arguments(sub)
        modules[name] = module
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.command not in modules:
        print(f"streampar: '{args.command}' is not available yet", file=sys.stderr)
        return 2
    return int(modules[args.command].run(args))


if __name__ == "__main__":  # pragma: no cover - exercised through the console script
    sys.exit(main())
