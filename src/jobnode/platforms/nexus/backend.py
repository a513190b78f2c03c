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
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from jobnode.core.backend import ListQuery, LogQuery
from jobnode.core.errors import Conflict, JobnodeError, NotFound
from jobnode.core.models import (
    Artifact,
    ArtifactsInput,
    DeleteBlocker,
    DeletePlan,
    DeleteStep,
    ItemsInput,
    Job,
    JobError,
    JobPlan,
    JobResult,
    JobSpec,
    LogEntry,
    Page,
)
from jobnode.core.ratelimit import RequestLimiter
from jobnode.core.transport import HeaderAuth, RetryPolicy, Transport, parse_error_body
from jobnode.platforms.nexus import PLATFORM, mapping, wire
from jobnode.platforms.nexus.datasets import NexusDatasets
from jobnode.platforms.nexus.logs import NexusLogs
from jobnode.platforms.nexus.settings import NEXUS_URL, NexusSettings

DEFAULT_URL = NEXUS_URL
#: Datature's SDK also retries 520-524 (errors of the proxy in front of Nexus)
NEXUS_RETRY = RetryPolicy(statuses=frozenset({429, 500, 502, 503, 504, 520, 521, 522, 523, 524}))


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
        self.datasets = NexusDatasets(self.transport, self._uploads, self._base, webhook_id)
        self.logs = NexusLogs(self.transport, self._base)

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
        dataset_id, item_count = await self.datasets.dataset_for(spec)
        webhook_id = await self.datasets.webhook_for(spec)
        body = mapping.create_request(spec, dataset_id=dataset_id, webhook_id=webhook_id, deployments=self.deployments)
        response = await self.transport.request("POST", f"{self._base}/jobs", json=body.to_wire())
        job = wire.BatchJob.model_validate_json(response.content)
        if item_count is not None:
            self.datasets.remember(dataset_id, item_count)
        return await self._to_job(job)

    async def plan_job(self, spec: JobSpec) -> JobPlan:
        """A dry run: the request that `create_job` would send, without creating anything on Nexus."""
        items_total: int | None = None
        if isinstance(spec.input, ArtifactsInput):
            dataset_id = self.datasets.dataset_id(spec.input)
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
        await self.datasets.load_item_counts({j.spec.dataset_id for j in page.data if j.spec.dataset_id})
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
        count = await self.datasets.item_count(job.spec.dataset_id) if job.spec.dataset_id else None
        return mapping.to_job(job, count, url=self.job_url(job.id), now_ms=int(time.time() * 1000))

    # -- datasets, webhooks and logs (`datasets.py`, `logs.py`) -------------------------------------------------

    async def get_dataset(self, dataset_id: str) -> wire.Dataset:
        return await self.datasets.get_dataset(dataset_id)

    async def upload_dataset(self, name: str, content: bytes) -> wire.Dataset:
        """Create a dataset from newline-delimited JSON and upload it (see `NexusDatasets.upload_dataset`)."""
        return await self.datasets.upload_dataset(name, content)

    async def delete_dataset(self, dataset_id: str) -> None:
        await self.datasets.delete_dataset(dataset_id)

    async def create_webhook(
        self, name: str, endpoint: str, *, secret: str | None = None, max_retries: int = 3
    ) -> wire.Webhook:
        """A webhook that receives job results (see `NexusDatasets.create_webhook`)."""
        return await self.datasets.create_webhook(name, endpoint, secret=secret, max_retries=max_retries)

    async def get_logs(self, job_id: str, query: LogQuery) -> Page[LogEntry]:
        return await self.logs.get_logs(job_id, query)

    async def log_segments(self, job_id: str, query: LogQuery) -> list[LogQuery]:
        return await self.logs.segments(job_id, query)

    async def get_errors(self, job_id: str, *, limit: int = 100) -> list[JobError]:
        return await self.logs.errors(job_id, limit=limit)

    # -- logs ---------------------------------------------------------------------------------------------------

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
