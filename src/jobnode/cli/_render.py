"""How the command line shows things: tables and key/value panels for people (rich, coloured states, never wider
than the terminal), one JSON object per line for programs (`--output json`).

Tables go to stdout; progress, hints and errors to stderr, so that `jobnode ... -o json | jq` sees only JSON.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from jobnode.core.models import DeletePlan, Job
from jobnode.progress import state_markup

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def emit_json(value: BaseModel | Any) -> None:
    """One JSON value on one line of stdout."""
    if isinstance(value, BaseModel):
        text = value.model_dump_json()
    else:
        text = json.dumps(value, default=str, ensure_ascii=False)
    sys.stdout.write(text + "\n")


def emit_json_lines(values: Iterable[BaseModel | Any]) -> None:
    for value in values:
        emit_json(value)
    sys.stdout.flush()


def hint(text: str) -> None:
    """A note for the person at the terminal (stderr, dim), such as how to get the next page."""
    err.print(Text(text, style="dim"))


def when(value: datetime | None, *, seconds: bool = False, short: bool = False) -> str:
    """A time in the terminal's local zone: `2026-11-30 14:48`, with `seconds`, or `11-30 14:48` when `short`."""
    if value is None:
        return ""
    if short:
        return value.astimezone().strftime("%m-%d %H:%M")
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def took(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return ""
    total = int((end - start).total_seconds())
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def table(*headers: str) -> Table:
    """A table in the house style: a bold header over a rule, no borders, cells cut with … rather than wrapped."""
    grid = Table(
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,  # two spaces between columns
        header_style="bold",
        expand=False,
    )
    for header in headers:
        grid.add_column(header, no_wrap=True, overflow="ellipsis")
    return grid


def fixed(grid: Table, *columns: int) -> None:
    """Never shorten these columns (ids a user copies)."""
    for index in columns:
        grid.columns[index].min_width = _widest(grid, index)


def squeeze(grid: Table, column: int) -> None:
    """Give `column` what the other columns leave of the terminal's width, cutting its cells with … (rich alone may
    shorten every column instead)."""
    gaps = 2 * (len(grid.columns) - 1)  # `table` puts two spaces between columns
    others = sum(_widest(grid, i) for i in range(len(grid.columns)) if i != column)
    grid.columns[column].max_width = max(4, out.width - others - gaps)


def _widest(grid: Table, column: int) -> int:
    header = len(str(grid.columns[column].header))
    return max([header, *(len(str(cell)) for cell in grid.columns[column].cells)])


def show(grid: Table) -> None:
    out.print(grid)


def items_done(job: Job) -> str:
    p = job.progress
    return f"{p.items_done}/{p.items_total if p.items_total is not None else '?'}"


def job_table(jobs: Sequence[Job]) -> Table:
    """Jobs as rows: id, name, state, items (and failures, when a job has some), created (when there is room) and
    the reason (on a wide terminal). Ids, states and counts are never cut; the name takes what is left."""
    wide = out.width >= 120
    failures = any(j.progress.items_failed for j in jobs)
    rows: list[dict[str, str | Text]] = [
        {
            "ID": job.id,
            "NAME": job.name or "",
            "STATE": Text.from_markup(state_markup(job.state)),
            "ITEMS": items_done(job),
            "FAILED": str(job.progress.items_failed or ""),
            "CREATED": when(job.created_at, short=not wide),
            "REASON": job.reason or "",
        }
        for job in jobs
    ]
    headers = ["ID", "NAME", "STATE", "ITEMS"] + (["FAILED"] if failures else []) + ["CREATED"]
    headers += ["REASON"] if wide else []
    if not wide and _width(rows, headers) + len("NAME") > out.width:
        headers.remove("CREATED")  # a platform's long ids leave no room for it
    grid = table(*headers)
    for row in rows:
        grid.add_row(*(row[h] for h in headers))
    fixed(grid, *(i for i, h in enumerate(headers) if h in ("ID", "STATE", "ITEMS", "FAILED")))
    squeeze(grid, 1)
    return grid


def _width(rows: Sequence[dict[str, str | Text]], headers: Sequence[str]) -> int:
    """How wide the columns but NAME are, with the spaces between all of them."""
    widths = [max([len(h), *(len(str(r[h])) for r in rows)]) for h in headers if h != "NAME"]
    return sum(widths) + 2 * (len(headers) - 1)


def deletion(plan: DeletePlan, *, as_json: bool) -> None:
    """What a deletion did, or would do (a dry run), and what refused it."""
    if as_json:
        emit_json(plan)
        return
    verb = "would delete" if plan.dry_run else "deleted"
    for step in plan.steps:
        out.print(f"{verb} {step.action.removeprefix('delete_')} {step.id}")
    for blocker in plan.blockers:
        out.print(Text(f"would not delete {blocker.id}: {blocker.reason}", style="yellow"))


def job_panel(job: Job) -> Text:
    """One job as labelled lines."""
    p = job.progress
    state = state_markup(job.state)
    if job.raw_state and job.raw_state != job.state.value:
        state += f" [dim]({job.platform}: {job.raw_state})[/]"
    batches = (
        f"{p.batches_succeeded} succeeded, {p.batches_failed} failed, {p.batches_running} running of {p.batches_total}"
        if p.batches_total
        else None
    )
    rows: list[tuple[str, str | None]] = [
        ("id", job.id),
        ("name", job.name),
        ("platform", job.platform),
        ("state", state),
        ("message", job.message),
        ("reason", job.reason),
        ("step", f"{job.step}@{job.step_version}" if job.step and job.step_version else job.step),
        (
            "items",
            f"{p.items_processed} processed, {p.items_failed} failed of {p.items_total if p.items_total else '?'}",
        ),
        ("batches", batches),
        ("created", when(job.created_at, seconds=True)),
        ("started", when(job.started_at, seconds=True)),
        (
            "ended",
            when(job.ended_at, seconds=True)
            + (f" (took {ran})" if (ran := took(job.started_at, job.ended_at)) else ""),
        ),
        ("url", job.url),
        ("inputs", ", ".join(a.id for a in job.inputs)),
        ("outputs", ", ".join(a.id for a in job.outputs)),
        ("tags", ", ".join(job.tags)),
        ("parent", job.parent_id),
    ]
    return fields(rows, markup=("state",))


def fields(rows: Sequence[tuple[str, str | None]], *, markup: Sequence[str] = ()) -> Text:
    """One object as `key  value` lines, keys right-aligned; empty values are left out."""
    shown = [(key, value) for key, value in rows if value]
    width = max((len(key) for key, _ in shown), default=0)
    lines = Text()
    for number, (key, value) in enumerate(shown):
        lines.append(("\n" if number else "") + key.rjust(width) + "  ", style="bold")
        lines.append_text(Text.from_markup(value) if key in markup else Text(value))
    return lines
