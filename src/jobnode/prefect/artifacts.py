"""Showing jobs in the Prefect UI: a live progress artifact with throttled log lines, and the markdown and table
artifacts that summarise a finished job's logs and item counts.

Artifacts belong to a run, so they are published only inside a Prefect flow or task run; outside one (a task's
`.fn` called directly) the log lines still go to the `jobnode.prefect` logger.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from types import TracebackType
from uuid import UUID

from prefect.artifacts import (
    acreate_markdown_artifact,
    acreate_progress_artifact,
    acreate_table_artifact,
    aupdate_progress_artifact,
)

from jobnode.client import LogSummary, format_entry
from jobnode.core.models import Job, LogLevel
from jobnode.prefect.context import Logger, artifact_key, in_run
from jobnode.progress import Throttle, describe

#: how often the progress artifact may be rewritten (state changes always are)
ARTIFACT_EVERY = 1.0


def percent(job: Job) -> float:
    """Percent done for a progress artifact: 100 once the job has ended, 0 while the total is unknown."""
    if job.is_terminal:
        return 100.0
    return round(100.0 * (job.progress.fraction or 0.0), 2)


class ProgressReport:
    """Keeps a job's progress artifact current and writes a throttled progress line to the run log.

    `update` is the `on_progress` callback of `client.jobs.wait` (a plain function: it never waits on the Prefect
    API); a background task publishes the newest state, so a slow API never holds up the watch and an older state
    never overwrites a newer one.

    Example:
        ```python
        async with ProgressReport(job.id, run_logger(), every=10) as report:
            job = await client.jobs.wait(job.id, on_progress=report.update)
        ```
    """

    def __init__(self, job_id: str, logger: Logger, *, every: float = 10.0) -> None:
        self.job_id = job_id
        self.logger = logger
        self._lines = Throttle(every=every)
        self._artifact_throttle = Throttle(every=ARTIFACT_EVERY)
        self._latest: Job | None = None
        self._published: Job | None = None
        self._changed = asyncio.Event()
        self._artifact_id: UUID | None = None
        self._publisher: asyncio.Task[None] | None = None

    def update(self, job: Job) -> None:
        if self._lines.ready(job):
            self.logger.info("%s: %s", job.id, describe(job))
        self._latest = job
        self._changed.set()

    async def __aenter__(self) -> ProgressReport:
        if in_run():
            self._publisher = asyncio.create_task(self._publish_changes())
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._publisher is None:
            return
        self._publisher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._publisher
        # The final state is worth showing after success, failure or timeout alike, but not while being cancelled.
        if exc is None or isinstance(exc, Exception):
            await self._publish(final=True)

    async def _publish_changes(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            await self._publish(final=False)

    async def _publish(self, *, final: bool) -> None:
        job = self._latest
        if job is None or job is self._published or not (final or self._artifact_throttle.ready(job)):
            return
        try:
            if self._artifact_id is None:
                self._artifact_id = await acreate_progress_artifact(
                    percent(job), key=artifact_key("progress", job.id), description=describe(job)
                )
            else:
                await aupdate_progress_artifact(self._artifact_id, percent(job), description=describe(job))
            self._published = job
        except Exception as exc:
            # The UI is a courtesy: a Prefect API hiccup must not fail the wait of a job that is fine.
            self.logger.warning("could not update the progress artifact of job %s: %s", job.id, exc)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def logs_markdown(summary: LogSummary, job: Job) -> str:
    """Counts by level and the first errors of a job's logs, as markdown."""
    lines = [
        f"### Logs of job `{job.id}` ({job.state.value})",
        "",
        describe(job),
        "",
        *([f"[Open the job]({job.url})", ""] if job.url else []),
        "| level | entries |",
        "|---|---:|",
    ]
    for level in LogLevel:
        if summary.by_level.get(level.value):
            lines.append(f"| {level.value} | {summary.by_level[level.value]} |")
    lines.append(f"| **all** | **{summary.entries}** |")
    if summary.first_errors:
        lines += ["", f"**First {len(summary.first_errors)} errors**", ""]
        lines += [f"- {_cell(format_entry(e))}" for e in summary.first_errors]
    return "\n".join(lines)


def item_counts(jobs: Sequence[Job]) -> list[dict[str, object]]:
    """The final item and batch counts of jobs, one table row per job."""
    return [
        {
            "job": job.id,
            "name": job.name,
            "state": job.state.value,
            "items total": job.progress.items_total,
            "items processed": job.progress.items_processed,
            "items failed": job.progress.items_failed,
            "items delivered": job.progress.items_delivered,
            "batches total": job.progress.batches_total,
            "batches succeeded": job.progress.batches_succeeded,
            "batches failed": job.progress.batches_failed,
        }
        for job in jobs
    ]


async def publish_summary(summary: LogSummary, job: Job) -> None:
    """The markdown (log counts, first errors) and table (item counts) artifacts of a job, inside a run."""
    if not in_run():
        return
    await acreate_markdown_artifact(
        logs_markdown(summary, job), key=artifact_key("logs", job.id), description=f"Logs of jobnode job {job.id}"
    )
    await acreate_table_artifact(
        item_counts([job]), key=artifact_key("items", job.id), description=f"Item counts of jobnode job {job.id}"
    )
