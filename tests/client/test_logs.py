"""One log line format and one log summary, for every place that shows a job's log."""

from __future__ import annotations

from datetime import UTC, datetime

import jobnode
from jobnode.client import LogSummary, format_entry
from jobnode.core.models import LogEntry, LogLevel


def test_an_entry_is_one_line_with_what_it_has() -> None:
    when = datetime(2026, 1, 31, 8, 0, 0, 123456, tzinfo=UTC)
    full = LogEntry(
        id="1",
        time=when,
        level=LogLevel.ERROR,
        kind="ItemFailed",
        item="42",
        status="failed",
        duration_ms=12.4,
        message="bad input",
    )
    assert format_entry(full) == "2026-01-31T08:00:00.123+00:00 ERROR ItemFailed item=42 status=failed 12ms bad input"
    bare = LogEntry(id="2", time=when, message="started")
    assert format_entry(bare) == "2026-01-31T08:00:00.123+00:00 INFO message started"


def test_counts_read_most_severe_first() -> None:
    assert LogSummary(job_id="j", entries=5, by_level={"info": 3, "error": 2}).counts() == "2 error, 3 info"
    assert LogSummary(job_id="j").counts() == "none"


async def test_a_summary_counts_every_entry_and_keeps_the_first_errors(aclient: jobnode.AsyncClient) -> None:
    job = await aclient.jobs.create(name="logs", step="fail", params={"fail_items": [1, 3, 5]}, items=list(range(6)))
    await aclient.jobs.wait(job.id, timeout=30)
    lines: list[str] = []
    summary = await aclient.jobs.summarize_logs(
        job.id, first_errors=2, on_entry=lambda entry: lines.append(format_entry(entry))
    )
    assert summary.entries == len(lines) == 6  # one per item
    assert summary.by_level["error"] == summary.errors == 3
    assert [e.item for e in summary.first_errors] == ["1", "3"]
    assert sum(1 for line in lines if " ERROR ItemFailed " in line) == 3


def test_the_sync_client_summarizes_with_the_same_filters(client: jobnode.Client) -> None:
    job = client.jobs.create(name="logs", step="fail", params={"fail_items": [0]}, items=[0, 1])
    client.jobs.wait(job.id, timeout=30)
    seen: list[LogEntry] = []
    summary = client.jobs.summarize_logs(job.id, min_level="error", on_entry=seen.append)
    assert (summary.entries, summary.by_level) == (1, {"error": 1})
    assert [e.item for e in seen] == ["0"]
