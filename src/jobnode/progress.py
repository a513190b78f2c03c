"""Showing a job's progress to a person: one readable line, the colour of each state, and a live bar for terminals.

`describe` and `Throttle` are what the Airflow and Prefect integrations log; `ProgressBar` is what the command line
and the demo draw (with rich, imported only when a bar is drawn, so that importing this module stays cheap).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, TextIO

from jobnode.core.models import Job, JobState

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

#: the colour a terminal shows each state in (rich style names), as Airflow's and Prefect's UIs colour them
STATE_STYLES: dict[JobState, str] = {
    JobState.CREATED: "bright_black",
    JobState.SCHEDULED: "cyan",
    JobState.QUEUED: "blue",
    JobState.RUNNING: "bright_blue",
    JobState.SUCCEEDED: "green",
    JobState.FAILED: "red",
    JobState.CANCELLED: "yellow",
    JobState.TIMED_OUT: "magenta",
}


def describe(job: Job) -> str:
    """One line: state, items done of total, failures, batches."""
    p = job.progress
    total = "?" if p.items_total is None else str(p.items_total)
    parts = [f"{job.state.value}", f"{p.items_done}/{total} items"]
    if p.fraction is not None:
        parts[1] += f" ({p.fraction:.0%})"
    if p.items_failed:
        parts.append(f"{p.items_failed} failed")
    if p.items_delivered or p.items_failed_delivery:
        parts.append(f"{p.items_delivered} delivered")
    if p.batches_total:
        parts.append(f"batches {p.batches_succeeded + p.batches_failed}/{p.batches_total}")
    if job.is_terminal and job.reason:
        parts.append(job.reason)
    return ", ".join(parts)


class Throttle:
    """Lets a progress line through when the state changes or `every` seconds have passed."""

    def __init__(self, every: float = 10.0) -> None:
        self.every = every
        self._last = float("-inf")
        self._state: object = None

    def ready(self, job: Job) -> bool:
        now = time.monotonic()
        if job.state != self._state or job.is_terminal or now - self._last >= self.every:
            self._last, self._state = now, job.state
            return True
        return False


class ProgressBar:
    """A live bar on a terminal (state, bar, items, failures, batches, elapsed time, time left); throttled lines
    when the output is not a terminal (a log file, CI).

    Example:
        ```python
        bar = ProgressBar(sys.stderr)
        job = client.jobs.wait(job.id, on_progress=bar.update)
        bar.close(job)
        ```
    """

    def __init__(self, out: TextIO, *, every: float = 5.0) -> None:
        self.out = out
        self.tty = out.isatty()
        self._throttle = Throttle(every=every)
        self._last: Job | None = None
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def update(self, job: Job) -> None:
        self._last = job
        if not self.tty:
            if self._throttle.ready(job):
                self.out.write(describe(job) + "\n")
                self.out.flush()
            return
        progress = self._progress or self._start()
        assert self._task is not None
        p = job.progress
        progress.update(
            self._task,
            total=p.items_total,
            completed=p.items_done,
            state=state_markup(job.state, width=9),
            details=_details(job),
        )

    def close(self, job: Job) -> None:
        """Stop the bar, leaving its last picture on the terminal; `job` is shown unless it was the last update."""
        if job is not self._last:
            self.update(job)
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def _start(self) -> Progress:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        console = Console(file=self.out, highlight=False)
        self._progress = Progress(
            TextColumn("{task.fields[state]}"),
            BarColumn(bar_width=None),
            TaskProgressColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[details]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(compact=True),
            console=console,
            expand=False,
            transient=False,
        )
        self._task = self._progress.add_task("job", total=None, state="", details="")
        self._progress.start()
        return self._progress


def _details(job: Job) -> str:
    p = job.progress
    parts = []
    if p.items_failed:
        parts.append(f"[red]{p.items_failed} failed[/]")
    if p.batches_total:
        parts.append(f"batches {p.batches_succeeded + p.batches_failed}/{p.batches_total}")
    return " ".join(parts)


def state_markup(state: JobState | str, *, width: int = 0) -> str:
    """A state as rich markup in its colour (padded to `width`)."""
    state = JobState(state)
    return f"[{STATE_STYLES[state]}]{state.value:<{width}}[/]"


__all__ = ["STATE_STYLES", "ProgressBar", "Throttle", "describe", "state_markup"]
