"""`JobService`: the one door into the local job service.

The native `/v1` routes, every platform emulator and the console call this and nothing below it: submitting
(validated against the step, resolved, idempotent), planning, resubmitting failures, cancelling, deleting under the
lineage rules, reading jobs, logs, errors, events, dead letters, results and artifacts, and subscribing to changes.
Refusals are `jobnode.service.errors` exceptions that name the field at fault.

Methods that touch the database are synchronous (the routes run them in worker threads); `subscribe` is used from
the event loop.

Example:
    ```python
    service = JobService(engine)
    submitted = service.submit(JobSpec(step="identity", input=ItemsInput(items=[1, 2])), idempotency_key="k1")
    record = service.get(submitted.record.id)
    ```
"""

from __future__ import annotations

import builtins
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import ValidationError

from jobnode.core.backend import LogQuery
from jobnode.core.models import (
    DeadLetter,
    DeletePlan,
    ItemsInput,
    JobError,
    JobEvent,
    JobPlan,
    JobResult,
    JobSpec,
    JobState,
    PlannedBatch,
    RejectedItem,
    too_deep,
)
from jobnode.service.changes import Subscription
from jobnode.service.cursors import BadCursor, decode_cursor, encode_cursor
from jobnode.service.documents import Documents
from jobnode.service.engine import EncodedBatch, Engine, EngineConflict, NewJob
from jobnode.service.errors import Conflict, InvalidRequest, JobDeleted, NotFound, TooLarge, Unprocessable
from jobnode.service.inputs import InputError, ResolvedInput, failed_items
from jobnode.service.limits import Limits
from jobnode.service.steps import Step, UnknownStep
from jobnode.service.store import LogRow, dumps
from jobnode.service.store.logs import NATIVE_LOG_SHAPE, LogShape
from jobnode.service.views import ArtifactRecord, JobRecord, iso, to_micros

#: most entries of a dry run's lists
PLAN_LISTED = 1000
#: most ids in one bulk read or watch
MAX_IDS = 10_000


@dataclass(frozen=True)
class Submitted:
    """A submitted job, and whether this request created it (False: an idempotency key found it)."""

    record: JobRecord
    created: bool


@dataclass(frozen=True)
class JobPage:
    """A page of jobs, newest first, with the cursors of the pages beside it."""

    records: list[JobRecord]
    next_cursor: str | None
    prev_cursor: str | None


@dataclass(frozen=True)
class LogPage:
    """A page of log entries (rows, or the native API's JSON of each) with the cursors beside it."""

    rows: list[LogRow]
    next_cursor: str | None
    prev_cursor: str | None


class JobService:
    """Jobs of one local engine, for every API that serves them."""

    def __init__(self, engine: Engine, *, limits: Limits | None = None) -> None:
        self._engine = engine
        self._store = engine.store
        self.limits = limits or Limits()

    # -- places and steps ---------------------------------------------------------------------------------------

    def workspace(self, name: str) -> Path:
        """A directory of the data directory for an emulator's own files (uploaded datasets, ...)."""
        path = self._engine.data_dir / "emulators" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def documents(self, platform: str) -> Documents:
        """The store of an emulator's own objects (see `jobnode.service.documents`)."""
        return Documents(self._store, platform)

    def steps(self) -> list[Step]:
        """Every registered processing step (each version)."""
        return self._engine.registry.all()

    def step(self, name: str, version: str | None = None) -> Step:
        """A processing step: the latest version, or `version`.

        Raises:
            Unprocessable: no such step or version (the field is `step` or `step_version`).
        """
        try:
            return self._engine.registry.get(name, version)
        except UnknownStep as exc:
            raise Unprocessable.one(exc.field, exc.message) from None

    def active_count(self) -> int:
        return len(list(self._engine.active_ids()))

    # -- submitting ---------------------------------------------------------------------------------------------

    def plan(self, spec: JobSpec) -> JobPlan:
        """What creating the job would do; nothing is created."""
        _, resolved, _ = self._prepare(spec, None)
        return _plan(spec, resolved)

    def submit(
        self, spec: JobSpec, *, idempotency_key: str | None = None, items: Sequence[Any] | None = None
    ) -> Submitted:
        """Create a job, or return the one an earlier request with the same `idempotency_key` created.

        `items` gives the job's items directly (an emulator that keeps its own data, such as an uploaded dataset);
        `spec.input` then only records where they came from and is not read.

        Raises:
            Unprocessable: an unknown step, wrong parameters, an input that cannot be read.
            Conflict: the key was used for a different request, or its job was deleted.
        """
        step, resolved, batches = self._prepare(spec, items)
        spec_json = spec.model_dump_json()
        new = NewJob(
            spec=spec,
            spec_json=spec_json,
            step=step,
            batches=batches,
            input_artifacts=resolved.artifacts,
            rejected=resolved.rejected,
            idempotency_key=idempotency_key,
            request_hash=hashlib.sha256(spec_json.encode()).hexdigest(),
        )
        try:
            job_id, created = self._engine.create(new)
        except EngineConflict as exc:
            raise Conflict(exc.message, details=exc.details) from None
        return Submitted(self.get(job_id), created)

    def _prepare(
        self, spec: JobSpec, items: Sequence[Any] | None
    ) -> tuple[Step, ResolvedInput, builtins.list[EncodedBatch]]:
        """The job's step (its parameters checked), its resolved input and its batches, within the limits."""
        step = self.step(spec.step, spec.step_version)
        try:
            step.params_model.model_validate(spec.params)
        except ValidationError as exc:
            raise Unprocessable(
                [("params." + ".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]
            ) from None
        if spec.parent_id and self._store.jobs.row(spec.parent_id) is None:
            raise Unprocessable.one("parent_id", f"no job {spec.parent_id!r}")
        if items is not None:
            resolved = ResolvedInput(items=list(items))
        else:
            try:
                resolved = self._engine.inputs.resolve(spec.input)
            except InputError as exc:
                raise Unprocessable.one(exc.field, exc.message) from None
        return step, resolved, self._batches(resolved, spec.batch_size)

    def _batches(self, resolved: ResolvedInput, size: int) -> builtins.list[EncodedBatch]:
        """The items cut into batches of JSON text, refused (413) beyond the items and batch-size limits."""
        items, limits = resolved.items, self.limits
        if len(items) + len(resolved.rejected) > limits.max_items:
            raise TooLarge(
                f"input: the job has {len(items) + len(resolved.rejected):,} items and this service takes at most "
                f"{limits.max_items:,} per job (--max-items); split it over several jobs",
                details={"field": "input", "max_items": limits.max_items},
            )
        batches: builtins.list[EncodedBatch] = []
        for first in range(0, len(items), size):
            chunk = items[first : first + size]
            text = dumps(chunk)
            length = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
            if length > limits.max_batch_bytes:
                raise TooLarge(
                    f"batch_size: batch {len(batches)} (items {first} to {first + len(chunk) - 1}) is {length:,} "
                    f"bytes of JSON and this service takes at most {limits.max_batch_bytes:,} per batch "
                    "(--max-batch-bytes); lower batch_size, or make the items smaller",
                    details={"field": "batch_size", "batch": len(batches), "max_batch_bytes": limits.max_batch_bytes},
                )
            batches.append((first, len(chunk), text))
        return batches

    def resubmit_failed(
        self, job_id: str, overrides: dict[str, Any], *, idempotency_key: str | None = None
    ) -> Submitted:
        """A new job over the items of a finished job that failed (dead-lettered batches and items that failed
        alone), with the same step, parameters and webhook unless `overrides` (JobSpec fields) say otherwise.
        The new job is tagged `resubmit-of:<job_id>`."""
        record = self.get(job_id)
        if not record.is_terminal:
            raise Conflict(f"job {job_id} is {record.state.value}; resubmit its failures once it has ended")
        if "input" in overrides:
            raise InvalidRequest("input", "the input of a resubmission is the failed items; leave it out", status=422)
        items = failed_items(self._store, job_id)
        if not items:
            raise Conflict(
                f"job {job_id} has no failed items that can run again",
                code="nothing_to_resubmit",
                details={"job_id": job_id},
            )
        original = record.spec
        fields = original.model_dump(exclude={"input", "start_at", "stop_at"})
        fields["tags"] = [*original.tags, f"resubmit-of:{job_id}"]
        fields.update(overrides)
        try:
            spec = JobSpec.model_validate({**fields, "input": ItemsInput(items=items)})
        except ValidationError as exc:
            raise Unprocessable([(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors()]) from None
        return self.submit(spec, idempotency_key=idempotency_key)

    # -- reading jobs -------------------------------------------------------------------------------------------

    def find(self, job_id: str) -> JobRecord | None:
        """The job, or None when there is none (deleted or never created)."""
        found = self._store.jobs.records([job_id])
        return found[0] if found else None

    def get(self, job_id: str) -> JobRecord:
        """The job.

        Raises:
            JobDeleted: it was deleted (the details hold its tombstone).
            NotFound: there never was such a job.
        """
        record = self.find(job_id)
        if record is None:
            self._missing(job_id)
        assert record is not None
        return record

    def _missing(self, job_id: str) -> None:
        tomb = self._store.jobs.tombstone(job_id)
        if tomb is not None:
            raise JobDeleted(
                f"job {job_id} was deleted",
                details={
                    "job_id": job_id,
                    "deleted_at": tomb["deleted_at"],
                    "deleted_by": tomb["deleted_by"],
                    "what": json.loads(tomb["what"]),
                },
            )
        raise NotFound(f"no job {job_id!r}; list jobs with GET /v1/jobs", details={"field": "job_id"})

    def exists(self, job_id: str) -> None:
        """Raise as `get` does when the job does not exist (cheaper: reads only its row)."""
        if self._store.jobs.row(job_id) is None:
            self._missing(job_id)

    def children(self, job_id: str) -> builtins.list[str]:
        """The ids of the job's sub-jobs (the jobs whose `parent_id` it is)."""
        return self._store.jobs.children(job_id)

    def get_many(self, job_ids: Sequence[str]) -> list[JobRecord]:
        """The jobs that exist among `job_ids` (in no particular order)."""
        if len(job_ids) > MAX_IDS:
            raise InvalidRequest("ids", f"at most {MAX_IDS} ids in one request")
        return self._store.jobs.records(job_ids)

    def list(
        self,
        *,
        states: Sequence[JobState] | None = None,
        tag: str | None = None,
        name: str | None = None,
        ids: Sequence[str] | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> JobPage:
        """A page of jobs, newest first; pass a page's `next_cursor` (or `prev_cursor`) back for the next one.

        `created_after` (inclusive) and `created_before` (exclusive) bound the jobs' creation times."""
        if ids is not None and len(ids) > MAX_IDS:
            raise InvalidRequest("ids", f"at most {MAX_IDS} ids in one request")
        before = after = None
        if cursor:
            fields = _cursor(cursor, {"before", "after"})
            before, after = fields.get("before"), fields.get("after")
        if ids is not None and not cursor:
            limit = max(limit, min(len(ids), MAX_IDS))
        records = self._store.jobs.listing(
            states=[s.value for s in states] if states else None,
            tag=tag,
            name=name,
            ids=ids,
            limit=limit + 1,
            before_seq=before,
            after_seq=after,
            created_after=created_after.timestamp() if created_after else None,
            created_before=created_before.timestamp() if created_before else None,
        )
        more = len(records) > limit
        if after is not None:
            records = records[-limit:] if more else records
        else:
            records = records[:limit]
        next_cursor = prev_cursor = None
        if records:
            if more or after is not None:
                next_cursor = encode_cursor(before=records[-1].seq)
            if (before is not None) or (after is not None and more):
                prev_cursor = encode_cursor(after=records[0].seq)
        return JobPage(records, next_cursor, prev_cursor)

    # -- logs, errors, events, dead letters, results ------------------------------------------------------------

    def logs(self, job_id: str, query: LogQuery) -> LogPage:
        """A page of log entries as `LogRow`s; `query.cursor` continues a page in either direction."""
        return self._logs(job_id, query, shape=None)

    def log_entries_json(self, job_id: str, query: LogQuery, shape: LogShape) -> tuple[builtins.list[str], LogPage]:
        """A page of log entries, each as JSON text in `shape` (rendered by SQLite: big logs page fast), and the
        page (for its cursors)."""
        page = self._logs(job_id, query, shape=shape)
        return [str(r[1]) for r in page.rows], page

    def logs_json(self, job_id: str, query: LogQuery) -> str:
        """A page of log entries as the native API's JSON body."""
        entries, page = self.log_entries_json(job_id, query, NATIVE_LOG_SHAPE)
        tail = json.dumps({"next_cursor": page.next_cursor, "prev_cursor": page.prev_cursor})[1:]
        return '{"data":[' + ",".join(entries) + "]," + tail

    def _logs(self, job_id: str, query: LogQuery, *, shape: LogShape | None) -> LogPage:
        self.exists(job_id)
        after_id = before_id = None
        backwards = False
        if query.cursor:
            fields = _cursor(query.cursor, {"after", "before"})
            after_id, before_id = fields.get("after"), fields.get("before")
            backwards = (query.order == "asc") == (before_id is not None)
        descending = (query.order == "desc") != backwards
        limit = query.limit
        rows: list[Any] = self._store.logs.page(
            job_id,
            after_time=to_micros(query.after_time) if query.after_time else None,
            before_time=to_micros(query.before_time) if query.before_time else None,
            min_level=query.min_level.rank if query.min_level else None,
            kind=query.kind,
            limit=limit + 1,
            after_id=after_id,
            before_id=before_id,
            descending=descending,
            shape=shape,
        )
        more = len(rows) > limit
        rows = rows[:limit]
        if backwards:
            rows.reverse()
        next_cursor = prev_cursor = None
        if rows:
            first, last = rows[0][0], rows[-1][0]
            forward_more = more if not backwards else True
            backward_more = (query.cursor is not None) if not backwards else more
            if forward_more:
                next_cursor = encode_cursor(after=last) if query.order == "asc" else encode_cursor(before=last)
            if backward_more:
                prev_cursor = encode_cursor(before=first) if query.order == "asc" else encode_cursor(after=first)
        return LogPage(rows, next_cursor, prev_cursor)

    def errors(self, job_id: str, limit: int = 100) -> builtins.list[JobError]:
        """The job's most recent errors, newest first."""
        self.exists(job_id)
        return [
            JobError(
                time=iso(r["time"]),  # pydantic parses the ISO text
                item=r["item"],
                batch=r["batch"],
                attempt=r["attempt"],
                message=r["message"],
            )
            for r in self._store.errors.recent(job_id, limit)
        ]

    def events(self, job_id: str) -> builtins.list[JobEvent]:
        """The job's lifecycle events, oldest first; still readable after the job was deleted."""
        rows = self._store.events.of(job_id)
        if not rows:
            self.exists(job_id)
        return [
            JobEvent(
                id=r["id"],
                job_id=r["job_id"],
                time=iso(r["time"]),
                type=r["type"],
                state=r["state"],
                message=r["message"],
                data=json.loads(r["data"]) if r["data"] else None,
            )
            for r in rows
        ]

    def dead_letters(self, job_id: str) -> builtins.list[DeadLetter]:
        self.exists(job_id)
        return [
            DeadLetter(
                batch=r["batch"],
                time=iso(r["time"]),
                attempts=r["attempts"],
                error=r["error"],
                items=json.loads(r["items"]),
            )
            for r in self._store.batches.dead_letters(job_id)
        ]

    def result(self, job_id: str, *, sample: int = 10) -> JobResult:
        """The job's progress, its outputs (with their consumers) and its first `sample` results."""
        record = self.get(job_id)
        outputs = self._store.artifacts.records([a.id for a in record.outputs])
        first: list[Any] = []
        for art in record.outputs[:1]:
            for line in self.artifact_lines(art.id):
                if len(first) >= sample:
                    break
                value = json.loads(line)
                if not too_deep(value):  # a step's result may nest deeper than an answer can
                    first.append(value)
        return JobResult.model_validate(
            {
                "job_id": job_id,
                "state": record.state,
                "progress": record.progress_json(),
                "outputs": [a.to_json() for a in outputs],
                "sample": first,
            }
        )

    # -- artifacts ----------------------------------------------------------------------------------------------

    def artifact(self, artifact_id: str) -> ArtifactRecord:
        """An artifact, with the jobs that consume it.

        Raises:
            NotFound: no such artifact.
        """
        found = self._store.artifacts.record(artifact_id)
        if found is None:
            raise NotFound(f"no artifact {artifact_id!r}", details={"field": "artifact_id"})
        return found

    def artifact_lines(self, artifact_id: str, *, skip: int = 0) -> Iterator[bytes]:
        """The artifact's records as JSON lines (with their newline), from record number `skip` on.

        Raises:
            NotFound: no such artifact (raised now, not while streaming: an answer cut short is no answer).
        """
        try:
            fh = open(self.artifact(artifact_id).path, "rb")  # noqa: SIM115  # closed by the generator
        except FileNotFoundError:
            raise NotFound(f"artifact {artifact_id!r} was deleted", details={"field": "artifact_id"}) from None
        return _lines(fh, skip)

    # -- changing jobs ------------------------------------------------------------------------------------------

    def cancel(self, job_id: str, reason: str = "cancelled by request") -> JobRecord:
        """Cancel a job; cancelling a finished job returns it unchanged."""
        self.exists(job_id)
        self._engine.cancel(job_id, reason=reason)
        return self.get(job_id)

    def delete(
        self,
        job_id: str,
        *,
        delete_outputs: bool = False,
        delete_subjobs: bool = False,
        dry_run: bool = False,
        by: str | None = None,
    ) -> DeletePlan:
        """Delete a job under the lineage rules (see `jobnode.core.lineage`); returns the plan, which says whether it
        was allowed (a refused plan deleted nothing and names every blocker)."""
        self.exists(job_id)
        return self._engine.delete(
            job_id, delete_outputs=delete_outputs, delete_subjobs=delete_subjobs, dry_run=dry_run, deleted_by=by
        )

    def delete_artifact(self, artifact_id: str, *, dry_run: bool = False, by: str | None = None) -> DeletePlan:
        """Delete an output artifact unless a job still reads it; returns the plan (see `delete`)."""
        self.artifact(artifact_id)
        return self._engine.delete_artifact(artifact_id, dry_run=dry_run, deleted_by=by)

    # -- changes ------------------------------------------------------------------------------------------------

    def subscribe(self, job_ids: Sequence[str] | None = None) -> Subscription:
        """Notifications of the changes of `job_ids` (every job when None); see `ChangeHub.subscribe`."""
        return self._engine.changes.subscribe(job_ids)


def _lines(fh: BinaryIO, skip: int) -> Iterator[bytes]:
    with fh:
        for number, line in enumerate(fh):
            if number >= skip:
                yield line


def _cursor(cursor: str, allowed: set[str]) -> dict[str, int]:
    try:
        return decode_cursor(cursor, allowed)
    except BadCursor as exc:
        raise InvalidRequest("cursor", f"{exc}; pass back a next_cursor or prev_cursor exactly") from None


def _plan(spec: JobSpec, resolved: ResolvedInput, listed: int = PLAN_LISTED) -> JobPlan:
    items, rejected = resolved.items, resolved.rejected
    size = spec.batch_size
    total = len(items)
    return JobPlan(
        items_total=total,
        batches_total=-(-total // size),
        batch_size=size,
        items=items if total <= listed else None,
        sample=items[:20],
        batches=[
            PlannedBatch(index=b, first_item=i, size=min(size, total - i))
            for b, i in enumerate(range(0, min(total, size * listed), size))
        ],
        files_total=len(resolved.files),
        files=resolved.files[:listed],
        rejected_total=len(rejected),
        rejected=[RejectedItem(item=label, reason=reason) for label, reason in rejected[:listed]],
        input_artifacts=resolved.artifacts,
    )
