"""The `jobnode` command.

    jobnode serve                         the local job service (or a platform's emulator)
    jobnode jobs submit|list|get|wait|logs|cancel|delete|result|errors|events|dead-letters|resubmit-failed|cleanup
    jobnode artifacts get|read|delete     what jobs produced
    jobnode steps list                    the processing steps a platform runs
    jobnode doctor                        what is installed, and whether a service answers
    jobnode completion bash|zsh|fish      shell completion

One module per command group; each has `register(subcommands)`, which adds its parsers and sets `run` on each
command. Exit codes: 0 done, 1 a job that did not succeed (or a refused deletion), 2 an error (one line on stderr,
naming the option or field at fault and what to do), 130 interrupted.

Example:
    ```python
    from jobnode.cli import main

    main(["jobs", "list", "--state", "running", "-o", "json"])
    ```
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

import argcomplete
from pydantic import ValidationError
from rich.text import Text

from jobnode.cli import _render as render
from jobnode.cli import artifacts, completion, doctor, jobs, serve, steps
from jobnode.cli._base import Parser, UsageError
from jobnode.cli._errors import explain
from jobnode.core.errors import JobnodeError

__all__ = ["build_parser", "main"]

LOG_LEVELS = ("debug", "info", "warning", "error")


def _version() -> str:
    try:
        return version("jobnode")
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


def build_parser() -> Parser:
    parser = Parser(
        prog="jobnode",
        description="Run long batch jobs on any platform as nodes of data pipelines, and a local job service.",
        epilog="Start with 'jobnode serve', then 'jobnode jobs submit --step sentiment --items \"[...]\" --wait' in "
        "another terminal; 'jobnode doctor' says what is set up.",
    )
    parser.add_argument("--version", action="version", version=f"jobnode {_version()}")
    parser.add_argument(
        "--log-level",
        default="warning",
        type=str.lower,
        choices=LOG_LEVELS,
        help="how much jobnode itself logs (default warning; debug also shows tracebacks)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (serve, jobs, artifacts, steps, doctor, completion):
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argcomplete.autocomplete(parser)
    debug = False
    try:
        args = parser.parse_args(argv)
        debug = args.log_level == "debug"
        logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        code: int = args.run(args)
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (`jobnode jobs logs ... | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (UsageError, JobnodeError, ValidationError, OSError, ValueError) as exc:
        if debug:
            traceback.print_exc()
        _error(f"jobnode: error: {explain(exc)}")
        return 2
    except Exception as exc:
        if debug:
            traceback.print_exc()
        _error(
            f"jobnode: internal error: {explain(exc)} ({type(exc).__name__}); run with --log-level debug for the "
            "traceback and report it"
        )
        return 2


def _error(line: str) -> None:
    """One line on stderr, red on a terminal."""
    render.err.print(Text(line, style="red"))
