"""How jobs end: stopped early (cancelled, timed out, unable to resume) or finished, with their results written to
their `results` artifact."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

from jobnode.core.models import JobState, LogLevel
from jobnode.service.engine.active import ActiveJob, ActiveJobs, new_id
from jobnode.service.runner import encode_json
from jobnode.service.store import Store, micros


class Ending:
    """Ends jobs inside the caller's transaction; each call adds the ids it changed to `changed`."""

    def __init__(self, store: Store, active: ActiveJobs, *, artifacts_dir: Path, cancel_dir: Path) -> None:
        self._store = store
        self._active = active
        self._artifacts_dir = artifacts_dir
        self._cancel_dir = cancel_dir

    def stop(self, conn: sqlite3.Connection, job_id: str, state: JobState, reason: str, changed: set[str]) -> bool:
        """Move a job that has not ended to a terminal state; a no-op (False) on a finished job."""
        now = time.time()
        if not self._store.jobs.end(conn, job_id, state, reason, now):
            return False
        self._store.events.add(conn, job_id, state.value, state.value, reason, at=now)
        self._store.logs.add(
            conn, [(job_id, micros(now), LogLevel.WARNING.rank, "JobStopped", None, state.value, None, reason)]
        )
        self._active.stop(job_id)
        (self._cancel_dir / job_id).touch()  # worker processes look for this file
        changed.add(job_id)
        return True

    def finish(self, conn: sqlite3.Connection, job: ActiveJob, changed: set[str]) -> None:
        """End a job that has nothing left to run: succeeded, or failed when too many items failed."""
        store = self._store
        row = store.jobs.totals(conn, job.id)
        if row is None or row["state"] != JobState.RUNNING:
            self._active.remove(job.id)
            return
        artifact = self._write_output(conn, job.id)
        failed, total = row["items_failed"], row["items_total"]
        undelivered = row["items_failed_delivery"]
        now = time.time()
        reason: str | None
        if failed + undelivered > job.max_item_failures:
            state = JobState.FAILED
            reason = "; ".join(
                part
                for part in (
                    f"{failed} of {total} items failed" if failed else "",
                    f"{undelivered} of {total} items could not be delivered to the webhook" if undelivered else "",
                )
                if part
            )
            if job.max_item_failures:
                reason += f" (at most {job.max_item_failures} allowed)"
        else:
            state = JobState.SUCCEEDED
            reason = None
        message = f"{row['items_processed']} of {total} items processed" + (f", {failed} failed" if failed else "")
        if job.webhook is not None:
            message += f", {row['items_delivered']} delivered" + (
                f", {undelivered} not delivered" if undelivered else ""
            )
        store.jobs.finish(conn, job.id, state, reason, message, now)
        store.events.add(conn, job.id, state.value, state.value, reason or message, {"artifact": artifact}, at=now)
        self._active.remove(job.id)
        changed.add(job.id)

    def _write_output(self, conn: sqlite3.Connection, job_id: str) -> str:
        """Write the job's results, in item order, to its `results` artifact (JSON lines)."""
        artifact_id = new_id("art")
        path = self._artifacts_dir / f"{artifact_id}.jsonl"
        tmp = path.with_suffix(".tmp")
        records = 0
        with tmp.open("w", encoding="utf-8") as out:
            for results_json in self._store.batches.results(conn, job_id):
                lines = [encode_json(result) for result in json.loads(results_json) if result is not None]
                if lines:
                    out.write("\n".join(lines))
                    out.write("\n")
                    records += len(lines)
        os.replace(tmp, path)
        self._store.artifacts.insert(
            conn,
            artifact_id=artifact_id,
            job_id=job_id,
            name="results",
            path=str(path),
            media_type="application/x-ndjson",
            records=records,
            size_bytes=path.stat().st_size,
            created_at=time.time(),
        )
        return artifact_id
