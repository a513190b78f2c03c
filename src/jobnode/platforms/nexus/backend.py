"""The `nexus` backend: Datature Nexus batch jobs over async httpx.

Auth is the project's secret key in a `Secret-Key` header. Every call goes through the shared `Transport`:
connect errors, 429 (honouring `Retry-After`, which Datature's SDK ignores) and 5xx are retried with backoff;
creating a job or a dataset is never repeated after the request may have reached Nexus, since Nexus has no
idempotency keys.

Where jobnode's `JobSpec` lands on Nexus (see `mapping.create_request`):

- `step`: `deploy_...` runs an existing deployment; `artifact_...` deploys that artifact for the job, configured
  by `params` (`EphemeralDeploymentOptions`: name, region, instance_id, replicas, ...); any other name is looked
  up in the backend's `deployments` mapping, or taken as `deploy_<step>`.
- `input`: `artifacts=["dataset_..."]` runs over an uploaded dataset; `items=[...]` and `delimited=[paths]` are
  uploaded as a new newline-delimited JSON dataset first.
- `webhook`: a new Nexus webhook is created for the job (`max_attempts` - 1 retries); without one, the backend's
  `webhook_id` receives the results; without either, none is named and the server decides.
- `start_at` / `stop_at` (or `timeout`) are the job's start and stop times.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import fsspec
import httpx
from pydantic import BaseModel, ValidationError

from jobnode.core.backend import ListQuery, LogQuery
from jobnode.core.errors import Conflict, JobnodeError, NotFound
from jobnode.core.models import (
    Artifact,
    ArtifactsInput,
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
from jobnode.core.transport import HeaderAuth, RetryPolicy, Transport, parse_error_body
from jobnode.platforms.nexus import PLATFORM, mapping, wire
from jobnode.platforms.nexus.checksum import crc32c_base64
from jobnode.platforms.nexus.settings import NEXUS_URL, NexusSettings

DEFAULT_URL = NEXUS_URL
#: Datature's SDK also retries 520-524 (errors of the proxy in front of Nexus)
NEXUS_RETRY = RetryPolicy(statuses=frozenset({429, 500, 502, 503, 504, 520, 521, 522, 523, 524}))
DATASET_READY_TIMEOUT = 600.0
#: the entries an oldest-first time window aims at: well under a page, so that most windows come back whole
WINDOW_TARGET = 800
#: the most segments a log is cut into for reading ahead
MAX_LOG_SEGMENTS = 256


def parse_nexus_error(response: httpx.Response) -> tuple[str, str | None, Any]:
    """(message, code, details) of a Nexus error: the body is `{"message": ...}`, the one field Datature's SDK
    reads; the whole body is kept as the details."""
    try:
        body = response.json()
    except ValueError:
        return parse_error_body(response)
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        code = body.get("code", body.get("errorCode"))
        return body["message"], None if code is None else str(code), body
    return parse_error_body(response)


class _LogCursor(BaseModel):
    """Where the next page of log entries starts: the boundary millisecond (inclusive) and the ids already
    returned at that millisecond; an ascending iteration also keeps its end and its probe window."""

    order: Literal["asc", "desc"]
    at: int
    seen: list[str] = []
    end: int | None = None
    width: int | None = None

    def encode(self) -> str:
        return base64.urlsafe_b64encode(self.model_dump_json(exclude_none=True).encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, order: str) -> _LogCursor:
        try:
            cursor = cls.model_validate_json(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        except (binascii.Error, ValueError, ValidationError):
            raise ValueError("cursor: not a log cursor of the nexus backend; pass back a next_cursor exactly") from None
        if cursor.order != order:
            raise ValueError(f"cursor: it continues an order={cursor.order!r} listing; pass order={cursor.order!r}")
        return cursor


class NexusBackend:
    """Batch jobs of one Datature Nexus project.

    `token` is the project's secret key; `project_id` is the project (`proj_` is added when missing). `url` is
    `https://api.datature.io`, or a local `jobnode serve --platform nexus`. `webhook_id` receives the results of
    jobs whose spec names no webhook; `deployments` maps jobnode step names to Nexus deployment or artifact ids.

    Example:
        ```python
        backend = NexusBackend(token=secret_key, project_id="proj_b705a...")
        job = await backend.create_job(
            JobSpec(name="nightly", step="deploy_3286bd71", input=ArtifactsInput(artifacts=["dataset_652e..."]),
                    webhook=Webhook(url="https://example.com/hook", secret="s3cret"))
        )
        ```
    """

    platform = PLATFORM.name
    capabilities = PLATFORM.capabilities

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        token: str | None = None,
        project_id: str | None = None,
        webhook_id: str | None = None,
        deployments: Mapping[str, str] | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        transport: Transport | None = None,
        upload_transport: Transport | None = None,
        limiter: RequestLimiter | None = None,
    ) -> None:
        if not project_id:
            raise ValueError("project_id: the nexus platform needs your project's id (proj_...)")
        self.url = url.rstrip("/")
        self.project_id = mapping.project_id(project_id)
        self.webhook_id = webhook_id
        self.deployments = dict(deployments or {})
        policy = retry or NEXUS_RETRY
        self.transport = transport or Transport(
            self.url,
            auth=HeaderAuth("Secret-Key", token) if token else None,
            timeout=timeout,
            retry=policy,
            platform="nexus",
            error_parser=parse_nexus_error,
            limiter=limiter,
        )
        # upload URLs may point at another host (signed storage URLs): they never get the secret key
        self._uploads = upload_transport or Transport(
            "", timeout=timeout, retry=policy, platform="nexus", error_parser=parse_nexus_error
        )
        # dataset id -> item count; an uploaded dataset never changes, and a missing one does not come back
        self._item_counts: dict[str, int | None] = {}

    @classmethod
    def from_settings(cls, settings: NexusSettings) -> NexusBackend:
        return cls(
            settings.url,
            token=settings.secret(),
            project_id=settings.project_id,
            webhook_id=settings.webhook_id,
            deployments=settings.deployments,
            timeout=settings.timeout,
            limiter=settings.limiter(),
        )

    def __repr__(self) -> str:
        return f"NexusBackend(url={self.url!r}, project_id={self.project_id!r})"

    async def aclose(self) -> None:
        await self.transport.aclose()
        await self._uploads.aclose()

    @property
    def _base(self) -> str:
        return f"/projects/{self.project_id}/batch"

    def job_url(self, job_id: str) -> str:
        return f"{self.url}{self._base}/jobs/{job_id}"

    async def _get(self, path: str, **params: Any) -> httpx.Response:
        return await self.transport.request("GET", path, params=params)

    # -- jobs ---------------------------------------------------------------------------------------------------

    async def create_job(self, spec: JobSpec, *, idempotency_key: str | None = None) -> Job:
        """Create a Nexus batch job; its dataset and webhook are created first when the spec asks for new ones.

        Nexus has no idempotency keys: `idempotency_key` is accepted for the common interface and not sent.
        """
        mapping.deployment_for(spec, self.deployments)  # a bad step or params fails before anything is created
        dataset_id, item_count = await self._dataset_for(spec)
        webhook_id = await self._webhook_for(spec)
        body = mapping.create_request(spec, dataset_id=dataset_id, webhook_id=webhook_id, deployments=self.deployments)
        response = await self.transport.request("POST", f"{self._base}/jobs", json=body.to_wire())
        job = wire.BatchJob.model_validate_json(response.content)
        if item_count is not None:
            self._item_counts[dataset_id] = item_count
        return await self._to_job(job)

    async def plan_job(self, spec: JobSpec) -> JobPlan:
        """A dry run: the request that `create_job` would send, without creating anything on Nexus."""
        items_total: int | None = None
        if isinstance(spec.input, ArtifactsInput):
            dataset_id = self._dataset_id(spec.input)
        else:
            dataset_id = "<a new dataset, uploaded from the input>"
            if isinstance(spec.input, ItemsInput):
                items_total = len(spec.input.items)
        webhook_id = "<a new webhook>" if spec.webhook else self.webhook_id
        body = mapping.create_request(spec, dataset_id=dataset_id, webhook_id=webhook_id, deployments=self.deployments)
        return JobPlan(platform=self.platform, items_total=items_total, request=body.to_wire())

    async def get_job(self, job_id: str) -> Job:
        response = await self._get(f"{self._base}/jobs/{job_id}")
        return await self._to_job(wire.BatchJob.model_validate_json(response.content))

    async def list_jobs(self, query: ListQuery) -> Page[Job]:
        """One page of the project's jobs, newest first. Nexus filters nothing: `state` and `name` filter the page
        here (so a page may hold fewer than `limit` jobs); `ids` fetches those jobs; tags do not exist on Nexus."""
        if query.ids is not None:
            return Page(data=await self._get_many(query.ids))
        response = await self._get(f"{self._base}/jobs", limit=query.limit, page=query.cursor)
        page = wire.Page[wire.BatchJob].model_validate_json(response.content)
        await self._load_item_counts({j.spec.dataset_id for j in page.data if j.spec.dataset_id})
        jobs = [await self._to_job(j) for j in page.data]
        if query.state:
            jobs = [j for j in jobs if j.state in query.state]
        if query.name:
            jobs = [j for j in jobs if j.name == query.name]
        return Page(data=jobs, next_cursor=page.next_page, prev_cursor=page.prev_page)

    async def _get_many(self, job_ids: Sequence[str]) -> list[Job]:
        async def one(job_id: str) -> Job | None:
            try:
                return await self.get_job(job_id)
            except NotFound:
                return None

        found = await asyncio.gather(*(one(j) for j in job_ids))
        return [j for j in found if j is not None]

    async def cancel_job(self, job_id: str) -> Job:
        """Cancel by moving the job's stop time to now (Nexus has no cancel call); a finished job is unchanged."""
        body = wire.PatchJobRequest(spec=wire.PatchJobSpec(stop_at_time=int(time.time() * 1000)))
        # setting the stop time is idempotent: safe to retry
        response = await self.transport.request(
            "PATCH", f"{self._base}/jobs/{job_id}", json=body.to_wire(), retry_unsafe=True
        )
        return await self._to_job(wire.BatchJob.model_validate_json(response.content))

    async def delete_job(
        self, job_id: str, *, delete_outputs: bool = False, delete_subjobs: bool = False, dry_run: bool = False
    ) -> DeletePlan:
        """Delete a job that has ended. Nexus jobs have no outputs (results went to the webhook) and no sub-jobs,
        and the job's dataset is an input, which is kept; a job that has not ended is refused with `Conflict`."""
        job = await self.get_job(job_id)
        if not job.is_terminal:
            blocker = DeleteBlocker(
                kind="job_state", id=job_id, reason=f"job is {job.state.value}; cancel it and wait until it has ended"
            )
            plan = DeletePlan(job_id=job_id, targets=[job_id], allowed=False, dry_run=dry_run, blockers=[blocker])
            raise Conflict(
                f"job {job_id} cannot be deleted: {blocker.reason}",
                details=plan.model_dump(mode="json"),
                platform=self.platform,
            )
        plan = DeletePlan(
            job_id=job_id,
            targets=[job_id],
            allowed=True,
            dry_run=dry_run,
            steps=[DeleteStep(action="delete_job", id=job_id)],
        )
        if not dry_run:
            response = await self.transport.request("DELETE", f"{self._base}/jobs/{job_id}")
            if not wire.DeleteResponse.model_validate_json(response.content).deleted:
                raise JobnodeError(f"nexus answered that job {job_id} was not deleted; try again later")
        return plan

    async def _to_job(self, job: wire.BatchJob) -> Job:
        count = await self._item_count(job.spec.dataset_id) if job.spec.dataset_id else None
        return mapping.to_job(job, count, url=self.job_url(job.id), now_ms=int(time.time() * 1000))

    # -- datasets and webhooks ----------------------------------------------------------------------------------

    async def _item_count(self, dataset_id: str) -> int | None:
        """The dataset's `itemCount`, which Datature's waiter compares the delivered counters with."""
        if dataset_id in self._item_counts:
            return self._item_counts[dataset_id]
        try:
            dataset = await self.get_dataset(dataset_id)
        except NotFound:
            self._item_counts[dataset_id] = None  # expired or deleted: the job's own counters must do
            return None
        if dataset.status.overview != wire.DATASET_UPLOADED:
            return None
        self._item_counts[dataset_id] = dataset.status.item_count
        return dataset.status.item_count

    async def _load_item_counts(self, dataset_ids: set[str]) -> None:
        await asyncio.gather(*(self._item_count(d) for d in dataset_ids if d not in self._item_counts))

    async def get_dataset(self, dataset_id: str) -> wire.Dataset:
        response = await self._get(f"{self._base}/datasets/{dataset_id}")
        return wire.Dataset.model_validate_json(response.content)

    async def upload_dataset(
        self, name: str, content: bytes, *, ready_within: float = DATASET_READY_TIMEOUT
    ) -> wire.Dataset:
        """Create a dataset from newline-delimited JSON, upload it to the URL Nexus signs, and wait until Nexus
        has read it.

        Example:
            ```python
            dataset = await backend.upload_dataset("images", b'{"url": "https://example.com/1.jpg"}\\n')
            dataset.status.item_count  # 1
            ```
        """
        checksum = await asyncio.to_thread(crc32c_base64, content)
        request = wire.CreateDatasetRequest(
            name=name,
            spec=wire.DatasetSpec(source=wire.DatasetSourceSpec(size_bytes=len(content), crc32c=checksum)),
        )
        response = await self.transport.request("POST", f"{self._base}/datasets", json=request.to_wire())
        dataset = wire.Dataset.model_validate_json(response.content)
        upload = dataset.status.source.upload_url
        await self._uploads.request(upload.method, upload.url, content=content, headers=upload.headers)
        return await self._dataset_ready(dataset.id, ready_within)

    async def _dataset_ready(self, dataset_id: str, ready_within: float) -> wire.Dataset:
        deadline = time.monotonic() + ready_within
        delay = 0.1
        while True:
            dataset = await self.get_dataset(dataset_id)
            overview = dataset.status.overview
            if overview == wire.DATASET_UPLOADED:
                return dataset
            if overview in (wire.DATASET_FAILED_UPLOAD, wire.DATASET_FAILED_PROCESSING):
                raise JobnodeError(f"nexus could not read dataset {dataset_id} ({overview}): {dataset.status.message}")
            if time.monotonic() >= deadline:
                raise JobnodeError(f"nexus dataset {dataset_id} was still {overview} after {ready_within:g}s")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def delete_dataset(self, dataset_id: str) -> None:
        await self.transport.request("DELETE", f"{self._base}/datasets/{dataset_id}")

    async def create_webhook(
        self, name: str, endpoint: str, *, secret: str | None = None, max_retries: int = 3
    ) -> wire.Webhook:
        """A webhook that receives job results; `secret` signs them (Nexus generates one when it is None)."""
        spec = wire.WebhookSpec(
            endpoint=endpoint,
            secret=wire.WebhookSecret(contents=base64.b64encode(secret.encode()).decode()) if secret else None,
            retries=wire.WebhookRetries(max_retries=max_retries),
        )
        response = await self.transport.request(
            "POST", f"{self._base}/webhooks", json=wire.CreateWebhookRequest(name=name, spec=spec).to_wire()
        )
        return wire.Webhook.model_validate_json(response.content)

    def _dataset_id(self, job_input: ArtifactsInput) -> str:
        if len(job_input.artifacts) != 1 or not job_input.artifacts[0].startswith("dataset_"):
            raise ValueError("input.artifacts: a Nexus job runs over exactly one dataset; name its id (dataset_...)")
        return job_input.artifacts[0]

    async def _dataset_for(self, spec: JobSpec) -> tuple[str, int | None]:
        """The dataset the job runs over, uploaded now unless the input names one; and its item count if known."""
        job_input = spec.input
        if isinstance(job_input, ArtifactsInput):
            return self._dataset_id(job_input), None
        if isinstance(job_input, ItemsInput):
            content = await asyncio.to_thread(_ndjson, job_input.items)
        elif isinstance(job_input, DelimitedInput):
            if job_input.includes or job_input.excludes:
                raise ValueError("input.includes: Nexus datasets are uploaded from named files; list the files")
            content = await asyncio.to_thread(_read_files, job_input.paths)
        else:
            raise ValueError(
                "input: Nexus jobs run over a newline-delimited JSON dataset; pass items=, delimited=[files] or "
                "artifacts=['dataset_...']"
            )
        dataset = await self.upload_dataset(spec.name, content)
        return dataset.id, dataset.status.item_count

    async def _webhook_for(self, spec: JobSpec) -> str | None:
        if spec.webhook is None:
            return self.webhook_id
        webhook = await self.create_webhook(
            f"{spec.name}-results",
            spec.webhook.url,
            secret=spec.webhook.secret,
            max_retries=spec.webhook.max_attempts - 1,
        )
        return webhook.id

    # -- logs ---------------------------------------------------------------------------------------------------

    async def _log_page(
        self, job_id: str, *, after: int | None, before: int | None, level: str | None, max_entries: int
    ) -> list[wire.LogEntry]:
        response = await self._get(
            f"{self._base}/jobs/{job_id}/logs",
            afterTime=after,
            beforeTime=before,
            minLevel=level,
            maxEntries=max_entries,
        )
        return wire.JobLogs.model_validate_json(response.content).entries

    async def get_logs(self, job_id: str, query: LogQuery) -> Page[LogEntry]:
        """One page of log entries. Nexus returns at most 1,000 entries, newest first, between two times (both
        inclusive); jobnode pages on with those times and drops the entries it has already returned at the boundary
        millisecond, as Datature's own `get_all_log_entries` does. `order="asc"` pages oldest first through time
        windows sized to hold fewer than 1,000 entries. `kind` filters each page here (Nexus cannot)."""
        limit = max(1, min(query.limit, wire.LOG_PAGE_MAX))
        level = mapping.level_name(query.min_level) if query.min_level else None
        cursor = _LogCursor.decode(query.cursor, query.order) if query.cursor else None
        if query.order == "desc":
            entries, next_cursor = await self._logs_newest_first(job_id, query, cursor, level, limit)
        else:
            entries, next_cursor = await self._logs_oldest_first(job_id, query, cursor, level, limit)
        data = [mapping.to_log_entry(e) for e in entries if query.kind is None or e.kind == query.kind]
        return Page(data=data, next_cursor=next_cursor.encode() if next_cursor else None)

    async def log_segments(self, job_id: str, query: LogQuery) -> list[LogQuery]:
        """The log's time range cut into windows sized to hold about `WINDOW_TARGET` entries each, from the density
        of its newest page (one request, plus one for the job's creation time): Nexus pages by time, so each window
        is read on its own and several are read at once. A log that fits in one page is one segment."""
        level = mapping.level_name(query.min_level) if query.min_level else None
        after = mapping.to_ms(query.after_time) if query.after_time else None
        end = mapping.to_ms(query.before_time) if query.before_time else None
        newest = await self._log_page(job_id, after=after, before=end, level=level, max_entries=wire.LOG_PAGE_MAX)
        if len(newest) < wire.LOG_PAGE_MAX:
            return [query]
        end = newest[0].create_time if end is None else end
        if after is None:
            response = await self._get(f"{self._base}/jobs/{job_id}")
            after = wire.BatchJob.model_validate_json(response.content).create_date
        span = newest[0].create_time - newest[-1].create_time + 1
        total = max(1, end - after + 1)
        count = min(MAX_LOG_SEGMENTS, -(-total // max(1, span * WINDOW_TARGET // wire.LOG_PAGE_MAX)))
        width = -(-total // count)
        windows = [(low, min(end, low + width - 1)) for low in range(after, end + 1, width)]
        segments = [
            dataclasses.replace(query, after_time=mapping.from_ms(low), before_time=mapping.from_ms(high), cursor=None)
            for low, high in windows
        ]
        return segments if query.order == "asc" else segments[::-1]

    async def _logs_newest_first(
        self, job_id: str, query: LogQuery, cursor: _LogCursor | None, level: str | None, limit: int
    ) -> tuple[list[wire.LogEntry], _LogCursor | None]:
        before = cursor.at if cursor else (mapping.to_ms(query.before_time) if query.before_time else None)
        seen = set(cursor.seen) if cursor else set()
        after = mapping.to_ms(query.after_time) if query.after_time else None
        want = min(wire.LOG_PAGE_MAX, limit + len(seen))
        raw = await self._log_page(job_id, after=after, before=before, level=level, max_entries=want)
        fresh = [e for e in raw if e.id not in seen]
        if len(raw) == want and not fresh:
            raise _tie_error(job_id, before)
        page = fresh[:limit]
        if not page or (len(raw) < want and len(fresh) <= limit):
            return page, None
        at = page[-1].create_time
        at_seen = [e.id for e in page if e.create_time == at] + (sorted(seen) if at == before else [])
        return page, _LogCursor(order="desc", at=at, seen=at_seen)

    async def _logs_oldest_first(
        self, job_id: str, query: LogQuery, cursor: _LogCursor | None, level: str | None, limit: int
    ) -> tuple[list[wire.LogEntry], _LogCursor | None]:
        if cursor is None:
            cursor = await self._first_window(job_id, query, level)
            if cursor is None:
                return [], None
        start, seen, end = cursor.at, set(cursor.seen), cursor.end
        assert end is not None
        width = cursor.width or end - start + 1
        while start <= end:
            stop = min(end, start + width - 1)
            raw = await self._log_page(job_id, after=start, before=stop, level=level, max_entries=wire.LOG_PAGE_MAX)
            if len(raw) >= wire.LOG_PAGE_MAX:
                # the window holds 1,000 entries or more, and only its newest came back: narrow it
                if stop == start:
                    raise _tie_error(job_id, start)
                span = raw[0].create_time - raw[-1].create_time + 1  # what the newest 1,000 spanned
                width = max(1, min(stop - start, span * WINDOW_TARGET // wire.LOG_PAGE_MAX))
                continue
            fresh = [e for e in reversed(raw) if e.id not in seen]
            if len(fresh) > limit:
                page = fresh[:limit]
                at = page[-1].create_time
                at_seen = [e.id for e in page if e.create_time == at] + (sorted(seen) if at == start else [])
                return page, _LogCursor(order="asc", at=at, seen=at_seen, end=end, width=width)
            # the whole window fit: size the next one to the density seen in this one
            used = stop - start + 1
            width = min(used * 8, max(1, used * WINDOW_TARGET // len(raw))) if raw else used * 8
            start, seen = stop + 1, set()
            if fresh:
                more = start <= end
                return fresh, _LogCursor(order="asc", at=start, end=end, width=width) if more else None
        return [], None

    async def _first_window(self, job_id: str, query: LogQuery, level: str | None) -> _LogCursor | None:
        """The time range an oldest-first listing walks: from the job's creation (or `after_time`) to its newest
        entry now (or `before_time`)."""
        if query.before_time is not None:
            end = mapping.to_ms(query.before_time)
        else:
            newest = await self._log_page(job_id, after=None, before=None, level=level, max_entries=1)
            if not newest:
                return None
            end = newest[0].create_time
        if query.after_time is not None:
            start = mapping.to_ms(query.after_time)
        else:
            response = await self._get(f"{self._base}/jobs/{job_id}")
            start = wire.BatchJob.model_validate_json(response.content).create_date
        return _LogCursor(order="asc", at=min(start, end), end=end)

    async def get_errors(self, job_id: str, *, limit: int = 100) -> list[JobError]:
        """The most recent error entries of the job's log."""
        page = await self.get_logs(job_id, LogQuery(min_level=LogLevel.ERROR, limit=limit, order="desc"))
        return [
            JobError(time=e.time, item=e.item, message=e.message or e.status or e.kind)
            for e in page.data
            if e.level is LogLevel.ERROR
        ]

    async def get_result(self, job_id: str) -> JobResult:
        """The job's state and counters; Nexus delivers the results themselves to the webhook."""
        job = await self.get_job(job_id)
        return JobResult(job_id=job.id, state=job.state, progress=job.progress)

    # -- artifacts: the datasets jobs run over ------------------------------------------------------------------

    async def get_artifact(self, artifact_id: str) -> Artifact:
        """A dataset as an artifact (its item count as `records`)."""
        dataset = await self.get_dataset(artifact_id)
        return Artifact(
            id=dataset.id,
            name=dataset.name,
            media_type="application/x-ndjson",
            records=dataset.status.item_count,
            created_at=mapping.from_ms(dataset.create_date),
        )

    async def delete_artifact(self, artifact_id: str, *, dry_run: bool = False) -> DeletePlan:
        """Delete a dataset (Nexus keeps no record of which jobs read it, so nothing holds it back)."""
        plan = DeletePlan(
            targets=[artifact_id],
            allowed=True,
            dry_run=dry_run,
            steps=[DeleteStep(action="delete_artifact", id=artifact_id)],
        )
        if not dry_run:
            await self.delete_dataset(artifact_id)
        return plan


def _tie_error(job_id: str, at: int | None) -> JobnodeError:
    return JobnodeError(
        f"more than {wire.LOG_PAGE_MAX} log entries of job {job_id} share the millisecond {at}: Nexus pages logs by "
        "time, so the rest of that millisecond cannot be read; narrow the listing with min_level"
    )


def _ndjson(items: Sequence[Any]) -> bytes:
    return "".join(json.dumps(item, separators=(",", ":"), ensure_ascii=False) + "\n" for item in items).encode()


def _read_files(paths: Sequence[str]) -> bytes:
    parts: list[bytes] = []
    for path in paths:
        with fsspec.open(path, "rb") as fh:
            data = fh.read()
        parts.append(data if data.endswith(b"\n") or not data else data + b"\n")
    return b"".join(parts)
