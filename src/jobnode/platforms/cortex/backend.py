"""The `cortex` backend: Cortex Batch API jobs over async httpx.

A Batch API answers at `<url>/<api_name>`: `POST` submits a job (`?dryRun=true` lists the files it would read),
`GET ?jobID=` is its status, `DELETE ?jobID=` stops it. Cortex's Python package only drives its Go CLI, and its
batch endpoints are plain HTTP, so this is all the wire there is. Every error is HTTP 400 with
`{"kind", "message"}`; the kind is kept as the error's `code`, and `job.not_found` is raised as `NotFound`.

Retries: connection errors, 429 and 5xx (a load balancer in front of the operator) are retried with backoff on
`GET` and `DELETE`; a submission is never repeated once it may have reached Cortex (Cortex has no idempotency
keys), and the limits are checked before it is sent (see `mapping.submission`).

Where jobnode's `JobSpec` lands on Cortex: `mapping.submission`. A jobnode job id is `<api_name>/<job_id>`.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from jobnode.core.backend import ListQuery
from jobnode.core.errors import BadRequest, JobnodeError, NotFound
from jobnode.core.models import (
    Artifact,
    FilesInput,
    ItemsInput,
    Job,
    JobPlan,
    JobResult,
    JobSpec,
    Page,
    PlannedBatch,
)
from jobnode.core.ratelimit import RequestLimiter
from jobnode.core.transport import BearerAuth, RetryPolicy, Transport, parse_error_body
from jobnode.platforms.cortex import PLATFORM, mapping, ndjson, s3, wire
from jobnode.platforms.cortex.paths import is_s3_path
from jobnode.platforms.cortex.settings import CortexSettings

#: the operator's errors that mean "no such job" (0.28 and 0.42 spell it alike)
JOB_NOT_FOUND = "job.not_found"
#: stopping a job that has ended (0.28)
NOT_IN_PROGRESS = "job.job_is_not_in_progress"
#: most jobs read at once for a listing by ids
PARALLEL_GETS = 16
#: most entries of a plan's lists
PLAN_LISTED = 1000


def parse_cortex_error(response: httpx.Response) -> tuple[str, str | None, Any]:
    """(message, kind, body) of a Cortex error: `{"kind": ..., "message": ...}`, or the text of a dry run's."""
    try:
        body = response.json()
    except ValueError:
        return parse_error_body(response)
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        kind = body.get("kind")
        return body["message"], kind if isinstance(kind, str) else None, body
    return parse_error_body(response)


class CortexBackend:
    """Jobs of the Batch APIs of one Cortex cluster.

    `url` is where the Batch APIs answer (`<url>/<api_name>` is an API's endpoint); `api_name` is the API of job
    ids given without one and of `list_jobs`; `dest_s3_dir` is sent as the `config.dest_s3_dir` of jobs whose
    params name none; `dead_letter_queue_arn` gives every job a dead-letter queue (`max_attempts` receives).

    Example:
        ```python
        backend = CortexBackend("https://a1b2.elb.us-west-2.amazonaws.com", dest_s3_dir="s3://my-bucket/results")
        job = await backend.create_job(
            JobSpec(step="image-classifier", input=FilesInput(paths=["s3://bucket/images/"], includes=["**.jpg"]))
        )
        ```
    """

    platform = PLATFORM.name
    capabilities = PLATFORM.capabilities

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        api_name: str | None = None,
        dest_s3_dir: str | None = None,
        dead_letter_queue_arn: str | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        transport: Transport | None = None,
        limiter: RequestLimiter | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.api_name = api_name
        self.dest_s3_dir = dest_s3_dir
        self.dead_letter_queue_arn = dead_letter_queue_arn
        self.transport = transport or Transport(
            self.url,
            auth=BearerAuth(token) if token else None,
            timeout=timeout,
            retry=retry,
            platform=PLATFORM.name,
            error_parser=parse_cortex_error,
            limiter=limiter,
        )

    @classmethod
    def from_settings(cls, settings: CortexSettings) -> CortexBackend:
        return cls(
            settings.url,
            token=settings.secret(),
            api_name=settings.api_name,
            dest_s3_dir=settings.dest_s3_dir,
            dead_letter_queue_arn=settings.dead_letter_queue_arn,
            timeout=settings.timeout,
            limiter=settings.limiter(),
        )

    def __repr__(self) -> str:
        return f"CortexBackend(url={self.url!r}, api_name={self.api_name!r})"

    async def aclose(self) -> None:
        await self.transport.aclose()

    @staticmethod
    def _path(api_name: str) -> str:
        return "/" + quote(api_name, safe="")

    def job_url(self, job_id: str) -> str:
        """The job's status URL (`<batch_api_endpoint>?jobID=`): Cortex has no console page for a job."""
        api, cortex_id = mapping.split_ref(job_id, self.api_name)
        return f"{self.url}{self._path(api)}?jobID={quote(cortex_id, safe='')}"

    async def _request(self, method: str, api: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self.transport.request(method, self._path(api), **kwargs)
        except BadRequest as exc:
            if exc.code == JOB_NOT_FOUND:
                raise NotFound(
                    exc.message, status_code=exc.status_code, code=exc.code, details=exc.details, platform=self.platform
                ) from exc
            raise

    # -- jobs ---------------------------------------------------------------------------------------------------

    def _submission(self, spec: JobSpec) -> wire.Submission:
        return mapping.submission(spec, dest_s3_dir=self.dest_s3_dir, dead_letter_queue_arn=self.dead_letter_queue_arn)

    async def create_job(self, spec: JobSpec, *, idempotency_key: str | None = None) -> Job:
        """Submit a job to the Batch API `spec.step`.

        Cortex has no idempotency keys: `idempotency_key` is accepted for the common interface and not sent.
        """
        body = self._submission(spec)
        response = await self._request("POST", spec.step, json=body.to_wire())
        job = wire.BatchJob.model_validate_json(response.content)
        return mapping.submitted(spec.step, job, url=self.job_url(mapping.job_ref(spec.step, job.job_id)))

    async def get_job(self, job_id: str) -> Job:
        api, cortex_id = mapping.split_ref(job_id, self.api_name)
        response = await self._request("GET", api, params={"jobID": cortex_id})
        status = wire.BatchJobResponse.model_validate_json(response.content)
        return mapping.to_job(status, api_name=api, url=self.job_url(job_id))

    async def list_jobs(self, query: ListQuery) -> Page[Job]:
        """With `ids`: those jobs (each read on its own; unknown ones are left out). Otherwise the jobs the
        operator lists for the `api_name` setting's API (`GET /get/<api_name>`, what `cortex get <api_name>`
        shows: the jobs in progress and the most recent ones, in one page). `state` and `name` filter here."""
        if query.cursor:
            raise ValueError("cursor: Cortex lists a Batch API's jobs in one page; there is no next page")
        if query.ids is not None:
            jobs = await self._jobs(query.ids)
        else:
            jobs = await self._listing()
        if query.state:
            jobs = [job for job in jobs if job.state in query.state]
        if query.name is not None:
            jobs = [job for job in jobs if job.name == query.name]
        return Page(data=jobs[: query.limit])

    async def _jobs(self, job_ids: Sequence[str]) -> list[Job]:
        gate = asyncio.Semaphore(PARALLEL_GETS)

        async def one(job_id: str) -> Job | None:
            async with gate:
                try:
                    return await self.get_job(job_id)
                except NotFound:
                    return None

        found = await asyncio.gather(*(one(j) for j in job_ids))
        return [job for job in found if job is not None]

    async def _listing(self) -> list[Job]:
        if self.api_name is None:
            raise ValueError(
                "api_name: Cortex lists the jobs of one Batch API; set the api_name setting, or list by ids"
            )
        response = await self.transport.request("GET", f"/get{self._path(self.api_name)}")
        apis = [wire.APIResponse.model_validate(entry) for entry in response.json()]
        return [
            mapping.to_job(
                wire.BatchJobResponse(job_status=status),
                api_name=self.api_name,
                url=self.job_url(mapping.job_ref(self.api_name, status.job_id)),
            )
            for api in apis
            for status in api.batch_job_statuses or []
        ]

    async def cancel_job(self, job_id: str) -> Job:
        """Stop the job (`DELETE ?jobID=`); stopping a job that has ended changes nothing."""
        api, cortex_id = mapping.split_ref(job_id, self.api_name)
        try:
            await self._request("DELETE", api, params={"jobID": cortex_id})
        except (BadRequest, NotFound) as exc:
            # Cortex 0.28 refuses to stop a job that has ended; 0.42 no longer finds its resources
            if exc.code not in (NOT_IN_PROGRESS, JOB_NOT_FOUND):
                raise
        return await self.get_job(job_id)

    async def get_result(self, job_id: str) -> JobResult:
        """The job's state and batch counters, and where its results went (its output prefix, if any)."""
        job = await self.get_job(job_id)
        outputs = [Artifact(**ref.model_dump()) for ref in job.outputs]
        return JobResult(job_id=job.id, state=job.state, progress=job.progress, outputs=outputs)

    # -- dry runs -----------------------------------------------------------------------------------------------

    async def plan_job(self, spec: JobSpec) -> JobPlan:
        """Cortex's dry run (`?dryRun=true`): the S3 files the job would read (checked by Cortex, which also
        checks the request); inline items are checked here, against the same limits."""
        body = self._submission(spec)
        response = await self._request("POST", spec.step, params={"dryRun": "true"}, json=body.to_wire())
        lines = [line for line in response.text.splitlines() if line.strip()]
        if not lines or lines[-1].strip() != wire.VALIDATIONS_PASSED:
            raise JobnodeError(f"cortex: the dry run did not pass validation: {response.text.strip()[:500]}")
        files = lines[:-1]
        size = spec.batch_size
        items: list[Any] | None = None
        if isinstance(spec.input, ItemsInput):
            items = spec.input.items
        elif isinstance(spec.input, FilesInput):
            items = list(files)
        total = len(items) if items is not None else None
        return JobPlan(
            platform=self.platform,
            items_total=total,
            batches_total=math.ceil(total / size) if total is not None else None,
            batch_size=size,
            items=items if items is not None and len(items) <= PLAN_LISTED else None,
            sample=(items or [])[:20],
            batches=[
                PlannedBatch(index=b, first_item=i, size=min(size, total - i))
                for b, i in enumerate(range(0, min(total, size * PLAN_LISTED), size))
            ]
            if total is not None
            else [],
            files_total=len(files),
            files=files[:PLAN_LISTED],
            request=body.to_wire(),
        )

    # -- results ------------------------------------------------------------------------------------------------

    async def read_artifact(self, artifact_id: str, *, skip: int = 0) -> AsyncIterator[Any]:
        """The records of a job's output (an S3 prefix, `<dest_s3_dir>/<job_id>/`): the JSON values of each
        object under it, in key order, read as Cortex reads `delimited_files`."""
        if not is_s3_path(artifact_id):
            raise ValueError(
                f"artifact_id: {artifact_id!r} is not an S3 path; a Cortex job's output is the S3 prefix its "
                "results were written to (<dest_s3_dir>/<job_id>/)"
            )
        try:
            objects = await asyncio.to_thread(s3.list_objects, artifact_id)
        except OSError as exc:
            raise JobnodeError(f"cortex: cannot list {artifact_id}: {exc}") from None
        seen = 0
        for path in objects:
            try:
                data = await asyncio.to_thread(s3.read, path)
            except OSError as exc:
                raise JobnodeError(f"cortex: cannot read {path}: {exc}") from None
            try:
                records = [v.value for v in ndjson.values(data)]
            except ndjson.BadItem as exc:
                raise JobnodeError(f"cortex: {path} is not newline-delimited JSON: {exc}") from None
            for record in records:
                if seen >= skip:
                    yield record
                seen += 1
