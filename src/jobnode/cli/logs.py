"""`jobnode jobs logs`: a job's log entries, streamed page by page (constant memory, whatever the size of the log),
the last few (`--tail`), or followed while the job runs (`--follow`).

Each line shows the entry's time, level, kind, item (the item's id as the platform names it), status, duration and
message. `--follow` reads what is new every second until the job has ended; it asks for the entries at or after
the last one it printed and leaves out those it printed already, so no entry is lost or repeated even when several
share a timestamp.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Generator, Iterable
from contextlib import ExitStack, closing
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rich.text import Text

from jobnode.cli import _render as render
from jobnode.cli._base import UsageError, add_command, option, parse_time, positive_int
from jobnode.cli._connect import connect
from jobnode.client import Client
from jobnode.core.models import LogEntry, LogLevel

if TYPE_CHECKING:
    from jobnode.cli._base import Commands

FOLLOW_INTERVAL = 1.0
ITEM_WIDTH = (4, 32)  # the item column's narrowest and widest

_LEVEL_STYLES = {LogLevel.DEBUG: "dim", LogLevel.INFO: "", LogLevel.WARNING: "yellow", LogLevel.ERROR: "bold red"}
_STATUS_STYLES = {"succeeded": "green", "failed": "red", "failedgather": "red", "faileddeliver": "red"}


def register(verbs: Commands) -> None:
    p = add_command(verbs, "logs", "a job's log entries: all of them, the last few, or followed as the job runs", logs)
    p.add_argument("job_id", metavar="JOB_ID")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new entries until the job has ended")
    p.add_argument("--tail", type=positive_int, metavar="N", help="only the last N entries (then --follow, if given)")
    p.add_argument("--max", type=positive_int, metavar="N", help="stop after N entries")
    p.add_argument(
        "--min-level", choices=[level.value for level in LogLevel], help="only entries at this level or above"
    )
    p.add_argument("--kind", help="only entries of this kind (e.g. ItemProcessed)")
    p.add_argument("--after", type=parse_time, metavar="TIME", help="only entries after (ISO 8601)")
    p.add_argument("--before", type=parse_time, metavar="TIME", help="only entries before (ISO 8601)")
    p.add_argument("--order", choices=["asc", "desc"], default="asc", help="oldest first (asc, the default) or newest")


def logs(args: argparse.Namespace) -> int:
    if args.follow and (args.order == "desc" or args.before is not None):
        raise UsageError("--follow prints new entries as they come: drop --order desc and --before")
    if args.tail is not None and args.order == "desc":
        raise UsageError("--tail prints the last entries oldest first: drop --order desc")
    filters: dict[str, Any] = {"min_level": args.min_level, "kind": args.kind, "before_time": args.before}
    printer = Printer(json_lines=option(args, "output") == "json")
    with connect(args) as client, ExitStack() as opened:
        if args.tail is not None:
            entries: Iterable[LogEntry] = _tail(client, args.job_id, args.tail, after=args.after, **filters)
        elif args.follow:
            entries = []
        else:
            # closed before the client is, also when --max stops early
            pages = opened.enter_context(
                closing(client.jobs.iter_log_pages(args.job_id, after_time=args.after, order=args.order, **filters))
            )
            entries = (entry for page in pages for entry in page)
        shown = printer.print(entries, limit=args.max)
        if args.follow and (args.max is None or shown < args.max):
            remaining = None if args.max is None else args.max - shown
            new = opened.enter_context(
                closing(_follow(client, args.job_id, printer.last or args.after, printer.at_last, filters))
            )
            printer.print(new, limit=remaining)
    if printer.count == 0 and not printer.json_lines:
        render.hint("no log entries" + (" match" if args.min_level or args.kind or args.after or args.before else ""))
    return 0


def _tail(client: Client, job_id: str, n: int, *, after: datetime | None, **filters: Any) -> list[LogEntry]:
    newest: list[LogEntry] = []
    with closing(
        client.jobs.iter_log_pages(job_id, after_time=after, order="desc", limit=min(n, 1000), **filters)
    ) as pages:
        for page in pages:
            newest.extend(page[: n - len(newest)])
            if len(newest) >= n:
                break
    return newest[::-1]


def _follow(
    client: Client, job_id: str, since: datetime | None, printed: set[str], filters: dict[str, Any]
) -> Generator[LogEntry, None, None]:
    """New entries until the job has ended: the job's state is read before each round, so the round after it has
    ended reads everything it wrote."""
    seen = set(printed)
    last = since
    while True:
        ended = client.jobs.get(job_id).is_terminal
        # at or after the last printed entry (a later entry may share its time); those already printed are skipped
        after = last - timedelta(microseconds=1) if last is not None else None
        for page in client.jobs.iter_log_pages(job_id, after_time=after, order="asc", **filters):  # read to its end
            for entry in page:
                if entry.id in seen:
                    continue
                if last is None or entry.time > last:
                    last, seen = entry.time, set()
                seen.add(entry.id)
                yield entry
        if ended:
            return
        time.sleep(FOLLOW_INTERVAL)


class Printer:
    """Prints entries as aligned lines (coloured on a terminal) or JSON lines, and remembers the last one."""

    def __init__(self, *, json_lines: bool) -> None:
        self.json_lines = json_lines
        self.count = 0
        self.last: datetime | None = None
        self.at_last: set[str] = set()
        self._item_width: int | None = None
        self._styled = render.out.is_terminal

    def print(self, entries: Iterable[LogEntry], *, limit: int | None) -> int:
        shown = 0
        for entry in entries:
            if limit is not None and shown >= limit:
                break
            if self.json_lines:
                sys.stdout.write(entry.model_dump_json() + "\n")
            else:
                self._line(entry)
            shown += 1
            self.count += 1
            if self.last is None or entry.time > self.last:
                self.last, self.at_last = entry.time, set()
            self.at_last.add(entry.id)
            if shown % 1000 == 0:
                sys.stdout.flush()
        sys.stdout.flush()
        return shown

    def _line(self, entry: LogEntry) -> None:
        if self._item_width is None:
            self._item_width = min(max(ITEM_WIDTH[0], len(entry.item or "")), ITEM_WIDTH[1])
            self._write(self._parts(None))
        self._write(self._parts(entry))

    def _parts(self, entry: LogEntry | None) -> list[tuple[str, str]]:
        width = self._item_width or ITEM_WIDTH[0]
        if entry is None:
            headers = ("TIME", "LEVEL", "KIND", "ITEM", "STATUS", "DURATION", "MESSAGE")
            widths = (18, 7, 14, width, 9, 9, 0)
            return [(_cell(h, w), "bold") for h, w in zip(headers, widths, strict=True)]
        duration = "" if entry.duration_ms is None else f"{entry.duration_ms:.{1 if entry.duration_ms >= 1 else 3}f}ms"
        status = entry.status or ""
        return [
            (_cell(entry.time.astimezone().strftime("%m-%d %H:%M:%S.%f")[:-3], 18), "dim"),
            (_cell(entry.level.value, 7), _LEVEL_STYLES[entry.level]),
            (_cell(entry.kind, 14), ""),
            (_cell(entry.item or "-", width), "cyan"),
            (_cell(status, 9), _STATUS_STYLES.get(status.lower(), "")),
            (_cell(duration, 9, right=True), ""),
            (entry.message or "", _LEVEL_STYLES[entry.level] if entry.level.rank >= LogLevel.WARNING.rank else ""),
        ]

    def _write(self, parts: list[tuple[str, str]]) -> None:
        if self._styled:
            line = Text()
            for number, (text, style) in enumerate(parts):
                line.append((" " if number else "") + text, style=style or None)
            render.out.print(line, soft_wrap=True)
        else:
            sys.stdout.write(" ".join(text for text, _ in parts).rstrip() + "\n")


def _cell(text: str, width: int, *, right: bool = False) -> str:
    if width == 0:
        return text
    if len(text) > width:
        return text[: width - 1] + "…"
    return text.rjust(width) if right else text.ljust(width)
