"""The `dataiku` backend: jobs of a Dataiku DSS project over async httpx.

Auth is the API key as the user of HTTP Basic (`Authorization: Basic base64(key:)`), as the API client sends it.
Every call goes through the shared `Transport`; the API client retries nothing, so only connection errors are
retried (starting a job, which DSS cannot recognise when repeated, never is once it may have reached DSS).

Where jobnode's `JobSpec` lands on DSS (see `mapping`):

- `step` names a recipe of the project (or a step mapped to one by the `recipes` setting); the job builds the
  recipe's outputs (`params.outputs` picks some), in `params.partition`, with `params.type` as its build type.
- `input`: `artifacts=["PROJECT.dataset", ...]` names datasets the recipe reads; `items=[...]` or
  `delimited=[files]` replace the data of the recipe's one uploaded input dataset first.
- `batch_size`, `workers`, `max_attempts`, `max_item_failures`, `tags` and an idempotency key are not sent (DSS
  has none of them); `step_version`, `timeout`, `start_at`, `stop_at`, `webhook` and `parent_id` are refused.

Deleting a job clears the dataset partitions it built, under the project's dataset lineage (the flow, which DSS
keeps): a partition is not cleared while a dataset built from it (downstream in the flow) still has data, unless
that dataset is cleared with it. DSS keeps its job history: there is no API to delete the job itself.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

import fsspec
import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from jobnode.core.backend import ListQuery, LogQuery
from jobnode.core.errors import Conflict, JobFailed, NotFound
from jobnode.core.models import (
    ACTIVE_STATES,
    Artifact,
    DeleteBlocker,
    DeletePlan,
    DeleteStep,
    DelimitedInput,
    ItemsInput,
    Job,
    JobError,
    JobPlan,
    JobResult,
    JobSpec,
    LogEntry,
    LogLevel,
    Page,
)
from jobnode.core.ratelimit import RequestLimiter
from jobnode.core.transport import RetryPolicy, Transport, parse_error_body
from jobnode.platforms.dataiku import PLATFORM, mapping, table, wire
from jobnode.platforms.dataiku.mapping import DatasetPartition
from jobnode.platforms.dataiku.settings import DataikuSettings

API = "/dip/publicapi"
#: the API client retries no status code: only connection errors are retried
DSS_RETRY = RetryPolicy(statuses=frozenset())
#: parsed logs kept for paging (the pages of one listing should not download the log again)
LOG_CACHE = 2
SAMPLE = 10
_SUMMARIES: TypeAdapter[list[wire.JobSummary]] = TypeAdapter(list[wire.JobSummary])
_PARTITIONS: TypeAdapter[list[str]] = TypeAdapter(list[str])


def parse_dss_error(response: httpx.Response) -> tuple[str, str | None, Any]:
    """(message, code, details) of a DSS error: `{"errorType", "message", "detailedMessage"}`; the message is the
    detailed one (what the API client shows), the code the error type, the details the whole body."""
    try:
        body = response.json()
    except ValueError:
        return parse_error_body(response)
    error_type, message = mapping.error_fields(body)
    if message is None:
        return parse_error_body(response)
    return message, error_type, body


class _Cursor(BaseModel):
    """Where the next page starts: after (asc) or before (desc) a position (a log line number, a listing index)."""

    order: Literal["asc", "desc"]
    at: int

    def encode(self) -> str:
        return base64.urlsafe_b64encode(self.model_dump_json().encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, order: str) -> _Cursor:
        try:
            cursor = cls.model_validate_json(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        except (binascii.Error, ValueError, ValidationError):
            raise ValueError("cursor: not a cursor of the dataiku backend; pass back a next_cursor exactly") from None
        if cursor.order != order:
            raise ValueError(f"cursor: it continues an order={cursor.order!r} listing; pass order={cursor.order!r}")
        return cursor


class DataikuBackend:
    """Jobs of one Dataiku DSS project.

    `url` is the DSS instance (without `/dip/publicapi`) or a local `jobnode serve --platform dataiku`; `token` is
    an API key; `project_key` the project whose flow the jobs build; `recipes` maps jobnode step names to the
    project's recipe names.

    Example:
        ```python
        backend = DataikuBackend("https://dss.example.com", token=api_key, project_key="REVIEWS")
        job = await backend.start_job(JobDefinitionBuilder("RECURSIVE_BUILD").with_output("scored").definition())
        job = await backend.wait_job(job.id)          # as the API client's DSSJobWaiter waits
        print(await backend.get_log_text(job.id))
        ```
    """

    platform = PLATFORM.name
    capabilities = PLATFORM.capabilities

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        project_key: str | None = None,
        recipes: Mapping[str, str] | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        transport: Transport | None = None,
        limiter: RequestLimiter | None = None,
    ) -> None:
        if not project_key:
            raise ValueError("project_key: the dataiku platform needs the key of the project whose datasets it builds")
        self.url = url.rstrip("/")
        self.project_key = project_key
        self.recipes = dict(recipes or {})
        self.transport = transport or Transport(
            self.url,
            auth=httpx.BasicAuth(token, "") if token else None,
            timeout=timeout,
            retry=retry or DSS_RETRY,
            platform="dataiku",
            error_parser=parse_dss_error,
            limiter=limiter,
        )
        self._logs: dict[str, list[LogEntry]] = {}

    @classmethod
    def from_settings(cls, settings: DataikuSettings) -> DataikuBackend:
        return cls(
            settings.url,
            token=settings.secret(),
            project_key=settings.project_key,
            recipes=settings.recipes,
            timeout=settings.timeout,
            limiter=settings.limiter(),
        )

    def __repr__(self) -> str:
        return f"DataikuBackend(url={self.url!r}, project_key={self.project_key!r})"

    async def aclose(self) -> None:
        await self.transport.aclose()

    def _path(self, *parts: str, project_key: str | None = None) -> str:
        key = quote(project_key or self.project_key, safe="")
        return f"{API}/projects/{key}/" + "/".join(quote(p, safe="") for p in parts)

    def job_url(self, job_id: str) -> str:
        """The job's page in DSS's own web interface."""
        return f"{self.url}/projects/{quote(self.project_key, safe='')}/jobs/{quote(job_id, safe='')}/"

    # -- jobs ---------------------------------------------------------------------------------------------------

    async def start_job(self, definition: wire.JobDefinition) -> Job:
        """Start a job from a DSS job definition (`project.start_job(definition)`), and return it.

        Example:
            ```python
            job = await backend.start_job(wire.JobDefinitionBuilder().with_output("dataset_to_build").definition())
            ```
        """
        response = await self.transport.request("POST", self._path("jobs", ""), json=definition.to_wire())
        return await self.get_job(wire.JobDef.model_validate_json(response.content).id)

    async def create_job(self, spec: JobSpec, *, idempotency_key: str | None = None) -> Job:
        """Build the outputs of the recipe `spec.step` names, after uploading the spec's items if it has any.

        DSS has no idempotency keys: `idempotency_key` is accepted for the common interface and not sent.
        """
        options = mapping.build_options(spec)
        recipe = mapping.recipe_for(spec.step, self.recipes)
        plan = mapping.recipe_job(spec, options, await self.flow_graph(), self.project_key, recipe)
        if plan.upload_to is not None:
            await self.replace_records(plan.upload_to, await _records(spec))
        return await self.start_job(mapping.definition_for(options, plan.outputs))

    async def plan_job(self, spec: JobSpec) -> JobPlan:
        """A dry run: the definition `create_job` would start (checked against the flow), starting nothing."""
        options = mapping.build_options(spec)
        recipe = mapping.recipe_for(spec.step, self.recipes)
        plan = mapping.recipe_job(spec, options, await self.flow_graph(), self.project_key, recipe)
        items = spec.input.items if isinstance(spec.input, ItemsInput) else None
        request: dict[str, Any] = mapping.definition_for(options, plan.outputs).to_wire()
        if plan.upload_to is not None:
            request = {**request, "uploadTo": plan.upload_to}
        return JobPlan(
            platform=self.platform,
            items_total=len(items) if items is not None else None,
            input_artifacts=[DatasetPartition(self.project_key, i).artifact_id for i in plan.inputs],
            request=request,
        )

    async def get_job(self, job_id: str) -> Job:
        response = await self.transport.request("GET", self._path("jobs", job_id, ""))
        return mapping.to_job(wire.JobStatus.model_validate_json(response.content), url=self.job_url(job_id))

    async def list_jobs(self, query: ListQuery) -> Page[Job]:
        """The project's jobs, newest first. DSS lists every job at once: `state` and `name` filter here and
        jobnode pages the list itself. Only jobs that have not ended come from the running-jobs listing; `ids` reads
        the running ones from it and the others one by one."""
        if query.ids is not None:
            return Page(data=await self._get_many(query.ids))
        active = bool(query.state) and set(query.state or ()) <= set(ACTIVE_STATES)
        jobs = [
            j
            for j in await self._summaries(running=active)
            if (not query.state or j.state in query.state) and (query.name is None or j.name == query.name)
        ]
        jobs.sort(key=lambda j: (j.created_at is not None, j.created_at), reverse=True)
        start = _Cursor.decode(query.cursor, "asc").at if query.cursor else 0
        end = start + max(1, query.limit)
        more = end < len(jobs)
        return Page(data=jobs[start:end], next_cursor=_Cursor(order="asc", at=end).encode() if more else None)

    async def _summaries(self, *, running: bool) -> list[Job]:
        path = self._path("jobs", "running", "") if running else self._path("jobs", "")
        response = await self.transport.request("GET", path)
        return [
            mapping.summary_to_job(s, url=self.job_url(s.definition.id))
            for s in _SUMMARIES.validate_json(response.content)
        ]

    async def _get_many(self, job_ids: Sequence[str]) -> list[Job]:
        running = {j.id: j for j in await self._summaries(running=True)}

        async def ended(job_id: str) -> Job | None:
            try:
                return await self.get_job(job_id)
            except NotFound:
                return None

        others = await asyncio.gather(*(ended(j) for j in job_ids if j not in running))
        found = {j.id: j for j in others if j is not None} | running
        return [found[j] for j in dict.fromkeys(job_ids) if j in found]

    async def cancel_job(self, job_id: str) -> Job:
        """Abort the job (a job that has ended is unchanged)."""
        # aborting twice is aborting once: safe to retry
        await self.transport.request("POST", self._path("jobs", job_id, "abort"), retry_unsafe=True)
        return await self.get_job(job_id)

    async def wait_job(self, job_id: str, *, no_fail: bool = False) -> Job:
        """Wait as the API client's `DSSJobWaiter` waits: a status request, then pauses of 0.2 s growing by 10% up
        to 15 s, until the job is `DONE`, `FAILED` or `ABORTED`.

        Raises:
            JobFailed: the job did not end `DONE` (unless `no_fail`).
        """
        delays = mapping.waiter_delays()
        job = await self.get_job(job_id)
        while job.raw_state not in wire.TERMINAL_STATES:
            await asyncio.sleep(next(delays))
            job = await self.get_job(job_id)
        if job.raw_state != wire.DONE and not no_fail:
            raise JobFailed(job, await self.get_errors(job_id, limit=10))
        return job

    async def get_result(self, job_id: str) -> JobResult:
        """The job's state and counters, the partitions it built, and the first records of the first one."""
        job = await self.get_job(job_id)
        sample: list[Any] = []
        if job.outputs:
            async with aclosing(self.read_artifact(job.outputs[0].id)) as records:
                async for record in records:
                    sample.append(record)
                    if len(sample) >= SAMPLE:
                        break
        outputs = [Artifact(id=o.id, name=o.name) for o in job.outputs]
        return JobResult(job_id=job.id, state=job.state, progress=job.progress, outputs=outputs, sample=sample)

    # -- deleting: clearing what a job built, under the flow's lineage ------------------------------------------

    async def delete_job(
        self, job_id: str, *, delete_outputs: bool = False, delete_subjobs: bool = False, dry_run: bool = False
    ) -> DeletePlan:
        """Clear the partitions the job built (DSS keeps the job itself in its history). Refused with `Conflict`
        while the job runs, when it built something and `delete_outputs` is off, or while a dataset built from one
        of its partitions still has data. DSS jobs have no sub-jobs."""
        job = await self.get_job(job_id)
        parts = [DatasetPartition.parse(o.id, self.project_key) for o in job.outputs]
        blockers: list[DeleteBlocker] = []
        if not job.is_terminal:
            reason = f"job {job_id} is {job.raw_state}; abort it and wait until it has ended"
            blockers.append(DeleteBlocker(kind="job_state", id=job_id, reason=reason))
        if parts and not delete_outputs:
            blockers += [
                DeleteBlocker(
                    kind="outputs",
                    id=job_id,
                    reason=f"job {job_id} built {p.artifact_id}; clear it too (delete_outputs=true)",
                    by=p.artifact_id,
                )
                for p in parts
            ]
        if not blockers:
            blockers = await self._downstream_blockers(parts)
        steps = [DeleteStep(action="delete_artifact", id=p.artifact_id) for p in parts]
        steps.append(DeleteStep(action="delete_job", id=job_id))
        plan = self._plan([job_id], steps, blockers, dry_run, job_id=job_id)
        if not dry_run:
            for part in reversed(parts):  # downstream first: no moment where a dataset outlives its source's data
                await self.clear_dataset(part)
        return plan

    async def delete_artifact(self, artifact_id: str, *, dry_run: bool = False) -> DeletePlan:
        """Clear a dataset partition, unless a dataset built from it still has data (`Conflict` naming it)."""
        part = DatasetPartition.parse(artifact_id, self.project_key)
        blockers = await self._downstream_blockers([part])
        steps = [DeleteStep(action="delete_artifact", id=part.artifact_id)]
        plan = self._plan([part.artifact_id], steps, blockers, dry_run)
        if not dry_run:
            await self.clear_dataset(part)
        return plan

    def _plan(
        self,
        targets: list[str],
        steps: list[DeleteStep],
        blockers: list[DeleteBlocker],
        dry_run: bool,
        *,
        job_id: str | None = None,
    ) -> DeletePlan:
        """The plan, or `Conflict` with every blocker in its details."""
        if not blockers:
            return DeletePlan(job_id=job_id, targets=targets, allowed=True, dry_run=dry_run, steps=steps)
        plan = DeletePlan(job_id=job_id, targets=targets, allowed=False, dry_run=dry_run, blockers=blockers)
        raise Conflict(
            f"{', '.join(targets)} cannot be cleared: " + "; ".join(b.reason for b in blockers),
            details=plan.model_dump(mode="json"),
            platform=self.platform,
        )

    async def _downstream_blockers(self, parts: list[DatasetPartition]) -> list[DeleteBlocker]:
        """A blocker for each dataset built from one of `parts` (and not among them) that still has data."""
        clearing = {(p.project_key, p.dataset) for p in parts}
        graphs: dict[str, wire.FlowGraph] = {}
        blockers: list[DeleteBlocker] = []
        for part in parts:
            if part.project_key not in graphs:
                graphs[part.project_key] = await self.flow_graph(part.project_key)
            for dataset in graphs[part.project_key].downstream(part.dataset):
                if (part.project_key, dataset) in clearing:
                    continue
                built = await self.list_partitions(dataset, project_key=part.project_key)
                if built:
                    downstream = DatasetPartition(part.project_key, dataset).artifact_id
                    blockers.append(
                        DeleteBlocker(
                            kind="consumer",
                            id=part.artifact_id,
                            reason=f"{downstream} is built from {part.artifact_id} and still has data "
                            f"({', '.join(built)}); clear it first",
                            by=downstream,
                        )
                    )
        return blockers

    # -- datasets -----------------------------------------------------------------------------------------------

    async def flow_graph(self, project_key: str | None = None) -> wire.FlowGraph:
        """The project's flow: its datasets and recipes, and what each reads and builds."""
        response = await self.transport.request("GET", self._path("flow", "graph", "", project_key=project_key))
        return wire.FlowGraph.model_validate_json(response.content)

    async def list_partitions(self, dataset: str, *, project_key: str | None = None) -> list[str]:
        """The partitions of a dataset that hold data (`["NP"]` for a built dataset that is not partitioned)."""
        path = self._path("datasets", dataset, "partitions", project_key=project_key)
        response = await self.transport.request("GET", path)
        return _PARTITIONS.validate_json(response.content)

    async def clear_dataset(self, part: DatasetPartition) -> None:
        """Clear a partition's data (the whole dataset for `NP`)."""
        params = {} if part.partition == wire.NOT_PARTITIONED else {"partitions": part.partition}
        await self.transport.request(
            "DELETE", self._path("datasets", part.dataset, "data", project_key=part.project_key), params=params
        )

    async def replace_records(self, dataset: str, records: Sequence[Any]) -> None:
        """Replace the data of an uploaded-files dataset with `records` (one JSON line each)."""
        await self.clear_dataset(DatasetPartition(self.project_key, dataset))
        body, content_type = await asyncio.to_thread(_upload_form, dataset, records)
        path = self._path("datasets", dataset, "uploaded", "files")
        await self.transport.request("POST", path, content=body, headers={"Content-Type": content_type})

    async def read_artifact(self, artifact_id: str, *, skip: int = 0) -> AsyncGenerator[Any, None]:
        """The records of a dataset partition (`PROJECT.dataset[@partition]`), read as the API client's
        `iter_rows` reads them (tab-separated rows, typed by the dataset's schema)."""
        part = DatasetPartition.parse(artifact_id, self.project_key)
        response = await self.transport.request(
            "GET", self._path("datasets", part.dataset, "schema", project_key=part.project_key)
        )
        columns = wire.Schema.model_validate_json(response.content).columns
        params = {"format": "tsv-excel-noheader"}
        if part.partition != wire.NOT_PARTITIONED:
            params["partitions"] = part.partition
        path = self._path("datasets", part.dataset, "data", "", project_key=part.project_key)
        async with self.transport.stream("GET", path, params=params) as response:
            records = _tsv_records(response, columns)
            async for record in records:
                if skip:
                    skip -= 1
                    continue
                yield record

    # -- logs ---------------------------------------------------------------------------------------------------

    async def get_log_text(self, job_id: str, activity: str | None = None) -> str:
        """The job's log as DSS gives it (text), or one activity's (`compute_<dataset>_<partition>`)."""
        response = await self.transport.request("GET", self._path("jobs", job_id, "log"), params={"activity": activity})
        return response.text

    async def get_logs(self, job_id: str, query: LogQuery) -> Page[LogEntry]:
        """One page of the job's log entries (one per line; see `mapping.parse_log`). DSS gives the whole log at
        once: the first page reads it, later pages of the same listing page through that copy (the cursor names a
        line, so a page read again after the log grew goes on where it stopped)."""
        cursor = _Cursor.decode(query.cursor, query.order) if query.cursor else None
        entries = self._logs.get(job_id) if cursor is not None else None
        if entries is None:
            entries = await asyncio.to_thread(mapping.parse_log, await self.get_log_text(job_id))
            self._logs[job_id] = entries
            while len(self._logs) > LOG_CACHE:
                self._logs.pop(next(iter(self._logs)))
        wanted = [e for e in entries if _matches(e, query)]
        if query.order == "desc":
            wanted.reverse()
        if cursor is not None:
            after = cursor.at
            wanted = [e for e in wanted if (int(e.id) > after if query.order == "asc" else int(e.id) < after)]
        limit = max(1, query.limit)
        page = wanted[:limit]
        more = len(wanted) > limit
        return Page(data=page, next_cursor=_Cursor(order=query.order, at=int(page[-1].id)).encode() if more else None)

    async def get_errors(self, job_id: str, *, limit: int = 100) -> list[JobError]:
        """The job's most recent error lines, newest first."""
        page = await self.get_logs(job_id, LogQuery(min_level=LogLevel.ERROR, limit=limit, order="desc"))
        return [JobError(time=e.time, item=e.item, message=e.message or e.kind) for e in page.data]


def _matches(entry: LogEntry, query: LogQuery) -> bool:
    if query.min_level is not None and entry.level.rank < query.min_level.rank:
        return False
    if query.kind is not None and entry.kind != query.kind:
        return False
    if query.after_time is not None and entry.time <= _aware(query.after_time):
        return False
    return query.before_time is None or entry.time < _aware(query.before_time)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


async def _tsv_records(response: httpx.Response, columns: list[wire.SchemaColumn]) -> AsyncIterator[dict[str, Any]]:
    """The records of a streamed tab-separated body, read as whole rows arrive (a quoted cell may hold newlines)."""
    pending = ""
    async for chunk in response.aiter_text():
        pending += chunk
        cut = table.complete_rows(pending)
        if cut:
            for record in table.read_tsv(io.StringIO(pending[:cut]), columns):
                yield record
            pending = pending[cut:]
    if pending.strip():
        for record in table.read_tsv(io.StringIO(pending), columns):
            yield record


async def _records(spec: JobSpec) -> list[Any]:
    """The items a spec uploads: its own, or the lines of its newline-delimited JSON files."""
    if isinstance(spec.input, ItemsInput):
        return list(spec.input.items)
    assert isinstance(spec.input, DelimitedInput)
    return await asyncio.to_thread(_read_lines, spec.input.paths)


def _upload_form(dataset: str, records: Sequence[Any]) -> tuple[bytes, str]:
    """A multipart body holding the records as newline-delimited JSON, as the API client's `uploaded_add_file` sends
    a file; and its content type."""
    content = "".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n" for r in records).encode()
    form = httpx.Request("POST", "http://upload", files={"file": (f"{dataset}.jsonl", content, "application/x-ndjson")})
    return form.read(), form.headers["Content-Type"]


def _read_lines(paths: Sequence[str]) -> list[Any]:
    records: list[Any] = []
    for path in paths:
        with fsspec.open(path, "rt", encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        records.append(json.loads(line))
                    except ValueError as exc:
                        raise ValueError(f"input.paths: {path}:{number} is not JSON ({exc})") from None
    return records
