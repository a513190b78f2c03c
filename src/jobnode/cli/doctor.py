"""`jobnode doctor`: what is installed, which platforms are known, and whether a service answers (with its steps).

It exits with 0 when the platform answers and 1 when it does not, so that a script can ask it too.
"""

from __future__ import annotations

import argparse
import platform as python_platform
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from rich.text import Text

from jobnode.cli import _render as render
from jobnode.cli._base import add_common_options, option
from jobnode.cli._connect import chosen_platform, connect, env_name
from jobnode.cli._errors import explain
from jobnode.platforms import Platform, platforms

if TYPE_CHECKING:
    from jobnode.cli._base import Commands

#: the extras of jobnode, with the package each one brings
EXTRAS = {"airflow": "apache-airflow", "prefect": "prefect"}


def register(commands: Commands) -> None:
    doctor = commands.add_parser(
        "doctor",
        help="what is installed, which platforms jobnode knows, and whether a service answers",
        description="Say what is installed (jobnode's extras), which platforms jobnode knows and their settings, "
        "and whether the platform the options name answers, with the steps it runs.",
    )
    add_common_options(doctor)
    doctor.set_defaults(run=doctor_command)


def installed(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def check_service(args: argparse.Namespace) -> dict[str, Any]:
    """Ask the platform the options name for its steps (or, without a steps API, one job): does it answer?"""
    chosen = chosen_platform(args)
    report: dict[str, Any] = {"platform": chosen.name, "url": None, "answers": False, "steps": [], "error": None}
    try:
        with connect(args) as client:
            report["url"] = getattr(client.backend, "url", None)
            if client.backend.capabilities.steps:
                report["steps"] = [f"{s.name}@{s.version}" for s in client.steps.list()]
            else:
                client.jobs.list(limit=1)
            report["answers"] = True
    except Exception as exc:
        report["error"] = explain(exc)
    return report


def _settings(descriptor: Platform) -> str:
    """The platform's own settings (`*` marks a required one); every platform also has url, token and timeout."""
    fields = descriptor.settings.own_fields()
    return ", ".join(f"{name}{'*' if info.is_required() else ''}" for name, info in fields.items()) or "-"


def doctor_command(args: argparse.Namespace) -> int:
    extras = {extra: installed(package) for extra, package in EXTRAS.items()}
    service = check_service(args)
    known = platforms()
    if option(args, "output") == "json":
        render.emit_json(
            {
                "jobnode": installed("jobnode"),
                "python": python_platform.python_version(),
                "extras": extras,
                "platforms": {
                    name: {
                        "title": p.title,
                        "emulator": p.emulator is not None,
                        "settings": list(p.settings.model_fields),
                    }
                    for name, p in known.items()
                },
                "service": service,
            }
        )
        return 0 if service["answers"] else 1
    out = render.out
    out.print(f"jobnode {installed('jobnode')} on Python {python_platform.python_version()}")
    for extra, package in EXTRAS.items():
        found = extras[extra]
        line = (
            f"[green]✓[/] {extra}: {package} {found}"
            if found
            else f"[yellow]-[/] {extra}: not installed (pip install 'jobnode[{extra}]')"
        )
        out.print(Text.from_markup(line))
    grid = render.table("PLATFORM", "NAME", "EMULATED", "ITS OWN SETTINGS (* required)")
    for name, p in known.items():
        grid.add_row(name, p.title, "yes" if p.emulator or name == "local" else "", _settings(p))
    grid.columns[-1].no_wrap, grid.columns[-1].overflow = False, "fold"
    out.print()
    render.show(grid)
    render.hint(
        "every platform also has url, token, timeout, requests_per_second and max_concurrency; a setting comes from "
        f"--url, --token, --set FIELD=VALUE or the {env_name('field')} variables"
    )
    out.print()
    where = f"{service['platform']} at {service['url']}" if service["url"] else service["platform"]
    if service["answers"]:
        out.print(Text.from_markup(f"[green]✓[/] {where} answers"))
        if service["steps"]:
            out.print(f"  steps: {', '.join(service['steps'])}")
        return 0
    out.print(Text.from_markup(f"[red]✗[/] {where} does not answer"))
    out.print(Text(f"  {service['error']}"))
    if service["platform"] == "local":
        out.print("  start one with: jobnode serve (then JOBNODE_URL=http://127.0.0.1:8765)")
    return 1
