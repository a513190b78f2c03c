"""`jobnode steps list`: the processing steps a platform runs, each with its parameters."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from jobnode.cli import _render as render
from jobnode.cli._base import add_command, add_common_options, option
from jobnode.cli._connect import connect
from jobnode.core.models import StepInfo

if TYPE_CHECKING:
    from jobnode.cli._base import Commands


def register(commands: Commands) -> None:
    steps = commands.add_parser(
        "steps",
        help="the processing steps a platform runs",
        description="The processing steps a platform runs, with their parameters.",
    )
    add_common_options(steps)
    verbs = steps.add_subparsers(dest="verb", required=True, metavar="COMMAND")
    add_command(verbs, "list", "every step, each version, with its parameters", list_steps)


def list_steps(args: argparse.Namespace) -> int:
    with connect(args) as client:
        found = client.steps.list()
    if option(args, "output") == "json":
        render.emit_json_lines(found)
        return 0
    grid = render.table("STEP", "VERSION", "RUNS IN", "PARAMETERS", "WHAT IT DOES")
    for step in found:
        grid.add_row(step.name, step.version, step.executor or "", parameters(step) or "-", step.description or "")
    render.fixed(grid, 0, 1)
    for column in grid.columns[3:]:
        column.no_wrap, column.overflow = False, "fold"
    render.show(grid)
    render.hint("give parameters with --params '{...}' or --param NAME=VALUE on 'jobnode jobs submit'")
    return 0


def parameters(step: StepInfo) -> str:
    """The step's parameters, one per line: `name: type = default` (`*` marks a required one)."""
    schema = step.params_schema
    required = set(schema.get("required", []))
    lines = []
    for name, prop in schema.get("properties", {}).items():
        line = f"{name}{'*' if name in required else ''}: {_type(prop)}"
        if "default" in prop and prop["default"] is not None:
            line += f" = {prop['default']!r}"
        lines.append(line)
    return "\n".join(lines)


def _type(prop: dict[str, Any]) -> str:
    if "anyOf" in prop:
        kinds = [_type(p) for p in prop["anyOf"] if p.get("type") != "null"]
        return " | ".join(kinds) + (" | null" if len(kinds) < len(prop["anyOf"]) else "")
    if "enum" in prop:
        return " | ".join(repr(v) for v in prop["enum"])
    kind = prop.get("type", "any")
    if kind == "array" and prop.get("items", {}).get("type"):
        return f"array of {prop['items']['type']}"
    return str(kind)
