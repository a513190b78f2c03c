"""What every command shares: the parser (one-line errors), the options that work wherever a user puts them, and
the parsing of values (times, JSON, `FIELD=VALUE`).

Options that every command of a group takes (`--output`, `--url`, `--platform`, ...) are declared on the group and
on each of its commands with `default=SUPPRESS`, so `jobnode jobs list --json` and `jobnode jobs --json list` both
work; `option(args, name, default)` reads them.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias

from rich_argparse import RichHelpFormatter

from jobnode.platforms import platforms

SUPPRESS = argparse.SUPPRESS

#: a command's function: it returns the process's exit code
Command = Callable[[argparse.Namespace], int]

if TYPE_CHECKING:
    #: what `register(commands)` of each command group adds its parsers to
    Commands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


class UsageError(Exception):
    """A command was given something it cannot use; the message names the option and what to give instead."""


class Parser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are one line that says where to read more (exit code 2, from `main`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", RichHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}; see '{self.prog} --help'")


def option(args: argparse.Namespace, name: str, default: Any = None) -> Any:
    """An option that may have been given on the group, on the command, or not at all."""
    return getattr(args, name, default)


def add_output_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output")
    group.add_argument(
        "-o",
        "--output",
        choices=["table", "json"],
        default=SUPPRESS,
        help="table (the default) or json: one JSON object per line",
    )
    group.add_argument("--json", dest="output", action="store_const", const="json", default=SUPPRESS, help="-o json")


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    names = ", ".join(platforms())
    group = parser.add_argument_group("where the jobs are")
    group.add_argument(
        "--platform",
        choices=list(platforms()),
        default=SUPPRESS,
        help=f"the job platform: {names} (or JOBNODE_PLATFORM; default local)",
    )
    group.add_argument(
        "--url",
        default=SUPPRESS,
        help="the platform's URL (or JOBNODE_URL; the local service's default is http://127.0.0.1:8765)",
    )
    group.add_argument("--token", default=SUPPRESS, help="the platform's token or secret key (or JOBNODE_TOKEN)")
    group.add_argument(
        "--set",
        dest="settings",
        action="append",
        metavar="FIELD=VALUE",
        default=SUPPRESS,
        help="one of the platform's settings, e.g. --set project_id=proj_123 (or JOBNODE_PROJECT_ID); "
        "'jobnode doctor' lists each platform's settings",
    )


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """The options a command of a client group takes wherever they are put."""
    add_connection_options(parser)
    add_output_options(parser)


def add_command(commands: Commands, name: str, text: str, run: Command) -> argparse.ArgumentParser:
    """A command of a client group (`text` is its help, lower case, no full stop), with the common options."""
    parser = commands.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
    add_common_options(parser)
    parser.set_defaults(run=run)
    return parser


def parse_time(value: str) -> datetime:
    """An ISO 8601 time (UTC when it names no zone)."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an ISO 8601 time; give one like 2026-01-31T08:00:00Z"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_json(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc}); quote it for the shell, e.g. '[1, 2]'") from None


def parse_json_object(value: str) -> dict[str, Any]:
    parsed = parse_json(value)
    if not isinstance(parsed, dict):
        raise argparse.ArgumentTypeError(f"{value!r} is not a JSON object; give one like '{{\"threshold\": 0.2}}'")
    return parsed


def parse_json_array(value: str) -> list[Any]:
    parsed = parse_json(value)
    if not isinstance(parsed, list):
        raise argparse.ArgumentTypeError(f'{value!r} is not a JSON array; give one like \'["good", "bad"]\'')
    return parsed


def parse_assignment(value: str) -> tuple[str, str]:
    """`FIELD=VALUE` as a pair."""
    name, sep, raw = value.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"{value!r} is not FIELD=VALUE; give one like threshold=0.2")
    return name.strip(), raw


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return number


def seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"{value} is not more than 0 seconds")
    return number
