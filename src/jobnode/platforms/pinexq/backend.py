"""The `pinexq` backend: PinexQ jobs over async httpx, by following the platform's Siren links and actions.

Auth is the API key in an `x-api-key` header. Every call goes through the shared `Transport` with PinexQ's
problem+json errors. PinexQ's SDK retries nothing; it names 429 and 503 as transient, and jobnode retries those
(and gateway errors) with backoff, honouring `Retry-After`, for reads and for actions that are safe to repeat.

Where jobnode's `JobSpec` lands on PinexQ (see `mapping.rapid_setup`): one `RapidSetupJob` that creates, configures
and starts the job.

- `step` and `step_version`: the processing step with that `FunctionName` and `Version` (no version: the highest);
- `params`: the step's parameters; `tags`: the job's tags; `parent_id`: the job's parent (a sub-job);
- `input`: `artifacts=[...]` are WorkData ids (or `<job id>/results`, a job's output WorkData), selected in the
  step's input slot; `items=[...]` and `delimited=[files]` are uploaded as one JSON-lines WorkData first;
  `files=` has no PinexQ counterpart (upload each file as WorkData and pass their ids);
- `batch_size`, `workers`, `max_attempts` and `max_item_failures` tune jobnode's own engine and are not sent;
  `timeout`, `start_at`, `stop_at` and `webhook` cannot be kept by PinexQ and are refused.

Waiting uses the platform's event stream (one stream for many jobs; each event names a job that changed, which is
then read); while the stream is down the jobs are polled, and the stream is opened again.

Deleting follows PinexQ's rules, which are jobnode's lineage rules: the backend reads the job's sub-jobs, outputs
and their readers, plans with `jobnode.core.lineage` (a refusal names every blocker and deletes nothing), then runs
the plan's steps as the platform's own `Delete` actions; the platform judges each of them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from jobnode.core import ndjson
from jobnode.core.backend import ListQuery, LogQuery
from jobnode.core.errors import Conflict, JobnodeError, NotFound
from jobnode.core.lineage import JobNode, LineageGraph, plan_artifact_deletion, plan_deletion
from jobnode.core.models import (
    Artifact,
    ArtifactsInput,
    DeletePlan,
    DelimitedInput,
    ItemsInput,
    Job,
    JobError,
    JobPlan,
    JobResult,
    JobSpec,
    JobState,
    LogEntry,
    LogLevel,
    Page,
    Progress,
)
from jobnode.core.ratelimit import RequestLimiter
from jobnode.core.transport import HeaderAuth, RetryPolicy, Transport, is_transient
from jobnode.platforms.pinexq import PAGE_SIZE_MAX, PLATFORM, mapping, wire
from jobnode.platforms.pinexq.events import job_changes
from jobnode.platforms.pinexq.settings import PinexqSettings
from jobnode.platforms.pinexq.siren import Entity, NotOffered, SirenClient, parse_problem

log = logging.getLogger("jobnode.platforms.pinexq")

#: 429 and 503 are the statuses PinexQ's SDK names as transient; 502 and 504 come from proxies in front of it
PINEXQ_RETRY = RetryPolicy(statuses=frozenset({429, 502, 503, 504}))
NDJSON = "application/x-ndjson"
#: reads in flight at once when many jobs are read one by one (the connections the transport keeps alive)
READ_CONCURRENCY = 20
#: from how many jobs on a read of many reads pages of the newest jobs instead of each job (a page costs two
#: requests: the query and its page), and from how many when their creation times are known
SWEEP_FROM, SWEEP_KNOWN_FROM = 20, 3
#: the margin around creation times in a query (PinexQ's bounds are exclusive)
TIME_STEP = timedelta(milliseconds=1)


class PinexqBackend:
    """Jobs of a PinexQ Job-Management API.

    `url` is the API's host (its entry point is `<url>/api/EntryPoint`), or a local `jobnode serve --platform
    pinexq`; `token` is the API key. A job's id is the last segment of its URL (a GUID), a WorkData's likewise.

    Example:
        ```python
        backend = PinexqBackend("https://myapihost.com", token=api_key)
        job = await backend.create_job(
            JobSpec(name="nightly", step="my_function", step_version="1.0.0", params={"x": 5},
                    input=ArtifactsInput(artifacts=[workdata_id]))
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
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        transport: Transport | None = None,
        reconnect_delay: float = 2.0,
        limiter: RequestLimiter | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.reconnect_delay = reconnect_delay
        self.transport = transport or Transport(
            self.url,
            auth=HeaderAuth("x-api-key", token) if token else None,
            timeout=timeout,
            retry=retry or PINEXQ_RETRY,
            platform="pinexq",
            error_parser=parse_problem,
            limiter=limiter,
        )
        self.siren = SirenClient(self.transport)
        self._roots: dict[str, Entity] = {}
        self._roots_lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: PinexqSettings) -> PinexqBackend:
        return cls(settings.url, token=settings.secret(), timeout=settings.timeout, limiter=settings.limiter())

    def __repr__(self) -> str:
        return f"PinexqBackend(url={self.url!r})"

    async def aclose(self) -> None:
        await self.transport.aclose()

    # -- where things are ---------------------------------------------------------------------------------------

    async def _root(self, rel: str) -> Entity:
        """A root of the API (`JobsRoot`, `WorkDataRoot`, `ProcessingStepsRoot`, `Info`), read once."""
        if rel not in self._roots:
            async with self._roots_lock:
                if "EntryPoint" not in self._roots:
                    self._roots["EntryPoint"] = await self.siren.entry_point()
                if rel not in self._roots:
                    self._roots[rel] = await self.siren.follow(self._roots["EntryPoint"], rel)
        return self._roots[rel]

    async def _job_href(self, job_id: str) -> str:
        return f"{(await self._root('JobsRoot')).self_href}/{quote(job_id, safe='')}"

    async def _workdata_href(self, workdata_id: str) -> str:
        return f"{(await self._root('WorkDataRoot')).self_href}/{quote(workdata_id, safe='')}"

    def job_url(self, job_id: str) -> str:
        jobs = self._roots.get("JobsRoot")
        base = jobs.self_href if jobs is not None else f"{self.url}/api/jobs"
        return f"{base}/{quote(job_id, safe='')}"

    def _ours(self, href: str, field: str) -> str:
        """A URL jobnode handed out (a cursor): only ever one of this API's, which gets the API key."""
        if not href.startswith(self.url + "/"):
            raise ValueError(f"{field}: not a cursor of this PinexQ API; pass back a next_cursor exactly")
        return href

    # -- jobs ---------------------------------------------------------------------------------------------------

    async def _job_entity(self, job_id: str) -> Entity:
        return await self.siren.get(await self._job_href(job_id))

    async def get_job(self, job_id: str) -> Job:
        return mapping.to_job(await self._job_entity(job_id))

    async def create_job(self, spec: JobSpec, *, idempotency_key: str | None = None) -> Job:
        """Create and start a job in one `RapidSetupJob` (or, where the platform offers none, in the steps PinexQ's
        SDK takes); its input is uploaded first when the spec holds it.

        PinexQ has no idempotency keys: `idempotency_key` is accepted for the common interface and not sent.
        """
        mapping.check_spec(spec)
        step_url = await self._step_url(spec.step, spec.step_version)
        input_urls = await self._input_urls(spec)
        parent_url = await self._job_href(spec.parent_id) if spec.parent_id else None
        body = mapping.rapid_setup(
            spec, step_url=step_url, input_urls=input_urls, parent_url=parent_url, tags=spec.tags
        )
        jobs_root = await self._root("JobsRoot")
        if jobs_root.action("RapidSetupJob") is not None:
            location = _created(await self.siren.act(jobs_root, "RapidSetupJob", body))
        else:
            location = await self._set_up_stepwise(jobs_root, body)
        return mapping.to_job(await self.siren.get(location))

    async def _set_up_stepwise(self, jobs_root: Entity, body: wire.RapidJobSetupParameters) -> str:
        """What a rapid setup does, in the SDK's steps: create the job (a sub-job, with a parent), select its step,
        tag it, configure its parameters, select its input WorkData, start it. A job that cannot be started is
        deleted again."""
        if body.parent_job_url:
            created = wire.CreateSubJobParameters(name=body.name, parent_job_url=body.parent_job_url)
            location = _created(await self.siren.act(jobs_root, "CreateSubJob", created))
        else:
            location = _created(await self.siren.act(jobs_root, "CreateJob", wire.CreateJobParameters(name=body.name)))
        try:
            job = await self.siren.get(location)
            chosen = wire.SelectProcessingParameters(processing_step_url=body.processing_step_url)
            await self.siren.act(job, "SelectProcessing", chosen)
            job = await self.siren.get(location)  # what it offers now: its step's parameters and input slot
            if body.tags:
                await self.siren.act(job, "EditTags", wire.SetTagsParameters(tags=body.tags))
            await self.siren.act(job, "ConfigureProcessing", json.loads(body.parameters or "{}"))
            for slot in body.input_data_slots or []:
                [input_slot] = job.embedded("InputDataSlot")[slot.index or 0 : (slot.index or 0) + 1]
                urls = wire.SelectWorkDataCollectionParameters(work_data_urls=slot.work_data_urls or [])
                await self.siren.act(input_slot, "SelectWorkDataCollection", urls)
            await self.siren.act(await self.siren.get(location), "StartProcessing")
        except BaseException:
            with contextlib.suppress(Exception):
                await self.siren.act(await self.siren.get(location), "Delete")
            raise
        return location

    async def plan_job(self, spec: JobSpec) -> JobPlan:
        """A dry run: the `RapidSetupJob` that `create_job` would send (the step is looked up; nothing is created
        or uploaded)."""
        mapping.check_spec(spec)
        step_url = await self._step_url(spec.step, spec.step_version)
        items_total = None
        if isinstance(spec.input, ArtifactsInput):
            input_urls = [
                await self._workdata_href(a) if "/" not in a else f"<the output of {a}>" for a in spec.input.artifacts
            ]
        else:
            self._upload_kind(spec)
            input_urls = ["<a new WorkData, uploaded from the input>"]
            if isinstance(spec.input, ItemsInput):
                items_total = len(spec.input.items)
        parent_url = await self._job_href(spec.parent_id) if spec.parent_id else None
        body = mapping.rapid_setup(
            spec, step_url=step_url, input_urls=input_urls, parent_url=parent_url, tags=spec.tags
        )
        return JobPlan(platform=self.platform, items_total=items_total, request=body.to_wire())

    async def _step_url(self, name: str, version: str | None) -> str:
        """The URL of the processing step `name` of `version` (the highest version when None); a step given by its
        URL (its link) is that URL."""
        if name.startswith(("https://", "http://")):
            if version is not None:
                raise ValueError("step_version: a step given by its link is one version already; leave it out")
            return name
        query = wire.ProcessingStepQueryParameters(
            filter=wire.ProcessingStepFilter(
                function_name=name, function_name_match_type="MatchExact", version=version or "*"
            ),
            sort_by=wire.SortBy(property_name="Version", sort_type=wire.SortTypes.DESCENDING),
            pagination=wire.Pagination(page_size=1),
        )
        location = await self.siren.act(
            await self._root("ProcessingStepsRoot"), "CreateProcessingStepQuery", query, retry=True
        )
        found = (await self.siren.get(_created(location))).embedded("item")
        if not found:
            which = f" of version {version}" if version else ""
            raise ValueError(f"step: PinexQ has no processing step {name!r}{which}; name a registered function")
        return found[0].self_href

    def _upload_kind(self, spec: JobSpec) -> ItemsInput | DelimitedInput:
        job_input = spec.input
        if isinstance(job_input, ItemsInput):
            return job_input
        if isinstance(job_input, DelimitedInput):
            if job_input.includes or job_input.excludes:
                raise ValueError("input.includes: the files are uploaded as they are named; list them instead")
            return job_input
        raise ValueError(
            "input: a PinexQ job reads WorkData; pass items=, delimited=[files] (uploaded as one WorkData) or "
            "artifacts=[WorkData ids]"
        )

    async def _input_urls(self, spec: JobSpec) -> list[str]:
        """The URLs of the WorkData the job reads, uploaded now unless the input names them."""
        if isinstance(spec.input, ArtifactsInput):
            return [await self._artifact_href(a) for a in spec.input.artifacts]
        job_input = self._upload_kind(spec)
        if isinstance(job_input, ItemsInput):
            content = await asyncio.to_thread(ndjson.encode, job_input.items)
        else:
            content = await asyncio.to_thread(ndjson.read, job_input.paths)
        return [await self.upload_workdata(f"{spec.name}.jsonl", content, media_type=NDJSON)]

    async def _artifact_href(self, ref: str) -> str:
        """A WorkData id, or `<job id>/<output slot>` (a job's output WorkData in that slot)."""
        if "/" not in ref:
            return await self._workdata_href(ref)
        job_id, _, slot = ref.partition("/")
        entity = await self._job_entity(job_id)
        assigned = [
            wd.self_href
            for s in entity.embedded("OutputDataSlot")
            if (s.properties or {}).get("Name") == slot
            for wd in s.embedded("Assigned")
        ]
        if len(assigned) != 1:
            raise ValueError(f"input.artifacts: job {job_id} has {len(assigned)} WorkData in its output slot {slot!r}")
        return assigned[0]

    async def upload_workdata(
        self, filename: str, content: bytes, *, media_type: str = NDJSON, tags: Sequence[str] = ()
    ) -> str:
        """Upload a file as WorkData; returns its URL.

        Example:
            ```python
            url = await backend.upload_workdata("reviews.jsonl", b'{"text": "great"}\\n', tags=["reviews"])
            ```
        """
        parameters = wire.UploadWorkDataParameters(tags=list(tags)) if tags else None
        return await self.siren.upload(
            await self._root("WorkDataRoot"),
            "Upload",
            filename=filename,
            content=content,
            media_type=media_type,
            parameters=parameters,
        )

    async def list_jobs(self, query: ListQuery) -> Page[Job]:
        """One page of jobs, newest first (hidden ones too). PinexQ filters by one state: with several, the page
        is filtered here (it may then hold fewer than `limit` jobs); `ids` reads those jobs. The cursors are the
        query's `next` and `previous` links."""
        if query.ids is not None:
            return Page(data=await self._read(query.ids))
        states = set(query.state or ())
        if query.cursor:
            page = await self.siren.get(self._ours(query.cursor, "cursor"))
        else:
            page = await self._newest(
                limit=query.limit, state=_one_pinexq_state(states), name=query.name, tag=query.tag
            )
        jobs = [mapping.to_job(e) for e in page.embedded("item")]
        if states:
            jobs = [j for j in jobs if j.state in states]
        following, previous = page.link("next"), page.link("previous")
        return Page(
            data=jobs,
            next_cursor=following.href if following else None,
            prev_cursor=previous.href if previous else None,
        )

    async def _newest(
        self,
        *,
        limit: int = PAGE_SIZE_MAX,
        state: wire.JobStates | None = None,
        name: str | None = None,
        tag: str | None = None,
        created: tuple[datetime, datetime] | None = None,
    ) -> Entity:
        """The first page of a query of jobs, newest first (created within `created`, both ends included)."""
        after, before = (created[0] - TIME_STEP, created[1] + TIME_STEP) if created else (None, None)
        parameters = wire.JobQueryParameters(
            filter=wire.JobFilter(
                state=state,
                name=name,
                tags_by_and=[tag] if tag else None,
                show_hidden=True,
                created_after=after,
                created_before=before,
            ),
            sort_by=wire.SortBy(property_name="CreatedAt", sort_type=wire.SortTypes.DESCENDING),
            pagination=wire.Pagination(page_size=max(1, min(limit, PAGE_SIZE_MAX)), page_offset=0),
        )
        location = await self.siren.act(await self._root("JobsRoot"), "CreateJobQuery", parameters, retry=True)
        return await self.siren.get(_created(location))

    async def _read(self, job_ids: Sequence[str], known: Mapping[str, Job] | None = None) -> list[Job]:
        """Many jobs in few requests, `PAGE_SIZE_MAX` a request: the pages of the jobs created when they were (their
        creation times are `known`), else the pages of the newest jobs while they hold some of them; then each job
        not found there on its own. A few jobs are read one by one."""
        wanted = set(job_ids)
        times = [j.created_at for j in (known or {}).values() if j.id in wanted and j.created_at]
        window = (min(times), max(times)) if len(times) == len(wanted) else None
        if len(wanted) < (SWEEP_KNOWN_FROM if window else SWEEP_FROM):
            return await self._get_many(job_ids)
        found: dict[str, Job] = {}
        page: Entity | None = await self._newest(created=window)
        pages = 0
        while page is not None and len(found) < len(wanted) and pages <= len(wanted) // PAGE_SIZE_MAX + 2:
            hits = [job for job in map(mapping.to_job, page.embedded("item")) if job.id in wanted]
            if not hits and window is None:
                break  # past the jobs asked for (or they are older than the newest pages)
            pages += 1
            found.update((job.id, job) for job in hits)
            following = page.link("next")
            page = await self.siren.get(following.href) if following else None
        found.update((job.id, job) for job in await self._get_many([j for j in job_ids if j not in found]))
        return [found[j] for j in job_ids if j in found]

    async def _get_many(self, job_ids: Sequence[str]) -> list[Job]:
        """Many jobs, `READ_CONCURRENCY` at a time: a burst of a thousand reads would only open and close
        connections."""
        limit = asyncio.Semaphore(READ_CONCURRENCY)

        async def one(job_id: str) -> Job:
            async with limit:
                return await self.get_job(job_id)

        return list(await asyncio.gather(*(one(j) for j in job_ids)))

    async def _query(self, root: Entity, action: str, parameters: Any) -> list[Entity]:
        """Every item of a query, page after page."""
        items: list[Entity] = []
        href: str | None = _created(await self.siren.act(root, action, parameters, retry=True))
        while href:
            page = await self.siren.get(href)
            items += page.embedded("item")
            following = page.link("next")
            href = following.href if following else None
        return items

    async def _jobs_where(self, **filters: Any) -> list[Entity]:
        parameters = wire.JobQueryParameters(
            filter=wire.JobFilter(show_hidden=True, **filters), pagination=wire.Pagination(page_size=PAGE_SIZE_MAX)
        )
        return await self._query(await self._root("JobsRoot"), "CreateJobQuery", parameters)

    async def cancel_job(self, job_id: str) -> Job:
        """Stop a job with `SetJobToErrorState` (PinexQ has no cancel action); it reads back as cancelled. A job
        that has ended is unchanged."""
        entity = await self._job_entity(job_id)
        if entity.action("SetJobToErrorState") is None:
            return mapping.to_job(entity)
        message = wire.SetJobErrorStateParameters(message=f"{mapping.CANCEL_MARK}: cancelled by request")
        with contextlib.suppress(Conflict):  # it ended meanwhile
            await self.siren.act(entity, "SetJobToErrorState", message, retry=True)
        return await self.get_job(job_id)

    # -- lineage and deletion -------------------------------------------------------------------------------------

    async def _lineage(self, job_id: str, *, with_subjobs: bool) -> tuple[LineageGraph, dict[str, Entity]]:
        """The lineage a deletion of `job_id` depends on, as the platform knows it: the job, its sub-jobs (all of
        them with `with_subjobs`, else the first level: they hold it), the outputs of those jobs and every job that
        reads one; and each entity by id (to run their `Delete` actions)."""
        entities: dict[str, Entity] = {job_id: await self._job_entity(job_id)}
        nodes: dict[str, JobNode] = {}
        frontier = [job_id]
        while frontier:
            parent = frontier.pop()
            for child in await self._jobs_where(is_sub_job=True, parent_job_url=entities[parent].self_href):
                child_id = mapping.resource_id(child.self_href)
                if child_id not in entities:
                    entities[child_id] = child
                    if with_subjobs:
                        frontier.append(child_id)
        protected: set[str] = set()
        for ident, entity in list(entities.items()):
            nodes[ident] = _node(entity)
            for wd in mapping.slot_workdata(entity, "OutputDataSlot", "Assigned"):
                wd_id = mapping.resource_id(wd.self_href)
                entities[wd_id] = wd
                if wd.action("Delete") is None:
                    protected.add(wd_id)
                for reader in await self._jobs_where(work_data_url=wd.self_href):
                    reader_id = mapping.resource_id(reader.self_href)
                    if reader_id not in nodes and reader_id not in entities:
                        nodes[reader_id] = _node(reader)
        return LineageGraph(jobs=nodes, protected=frozenset(protected)), entities

    async def delete_job(
        self, job_id: str, *, delete_outputs: bool = False, delete_subjobs: bool = False, dry_run: bool = False
    ) -> DeletePlan:
        """Delete a job under PinexQ's rules (see this module's docstring); a refusal raises `Conflict` whose
        details are the plan, with every blocker."""
        graph, entities = await self._lineage(job_id, with_subjobs=delete_subjobs)
        plan = plan_deletion(
            graph, [job_id], delete_outputs=delete_outputs, delete_subjobs=delete_subjobs, dry_run=dry_run
        )
        if not plan.allowed:
            raise Conflict(
                f"job {job_id} cannot be deleted: " + "; ".join(b.reason for b in plan.blockers),
                details=plan.model_dump(mode="json"),
                platform=self.platform,
            )
        if not dry_run:
            await self._carry_out(plan, entities)
        return plan

    async def _carry_out(self, plan: DeletePlan, entities: dict[str, Entity]) -> None:
        done: list[str] = []
        for step in plan.steps:
            try:
                await self.siren.act(entities[step.id], "Delete")
            except NotFound:
                pass  # gone already
            except (Conflict, NotOffered) as exc:
                details = exc.details if isinstance(exc, Conflict) else None
                after = f" (after deleting {', '.join(done)})" if done else ""
                raise Conflict(
                    f"PinexQ refused to delete {step.id}{after}: {exc}", details=details, platform=self.platform
                ) from exc
            done.append(step.id)

    async def delete_artifact(self, artifact_id: str, *, dry_run: bool = False) -> DeletePlan:
        """Delete a WorkData unless a job reads it (or has selected it) or it is not deletable."""
        entity = await self.siren.get(await self._workdata_href(artifact_id))
        readers = [_node(e) for e in await self._jobs_where(work_data_url=entity.self_href)]
        protected = {artifact_id} if entity.action("Delete") is None else set()
        graph = LineageGraph.of(*readers, protected=protected)
        plan = plan_artifact_deletion(graph, [artifact_id], dry_run=dry_run)
        if not plan.allowed:
            raise Conflict(
                f"WorkData {artifact_id} cannot be deleted: " + "; ".join(b.reason for b in plan.blockers),
                details=plan.model_dump(mode="json"),
                platform=self.platform,
            )
        if not dry_run:
            await self._carry_out(plan, {artifact_id: entity})
        return plan

    # -- artifacts: WorkData ----------------------------------------------------------------------------------------

    async def get_artifact(self, artifact_id: str) -> Artifact:
        """A WorkData as an artifact, with the jobs that read it (or have selected it)."""
        entity = await self.siren.get(await self._workdata_href(artifact_id))
        readers = await self._jobs_where(work_data_url=entity.self_href)
        return mapping.to_artifact(entity, [mapping.resource_id(r.self_href) for r in readers])

    async def read_artifact(self, artifact_id: str, *, skip: int = 0) -> AsyncIterator[Any]:
        """Each record of a WorkData from record number `skip` on: a JSON document's elements (or the document),
        each line of JSON lines, each line of text."""
        entity = await self.siren.get(await self._workdata_href(artifact_id))
        media_type = str((entity.properties or {}).get("MediaType") or "")
        async with self.transport.stream("GET", entity.href("Download")) as response:
            if media_type in (NDJSON, "application/jsonl") or media_type.startswith("text/"):
                number = 0
                async for line in response.aiter_lines():
                    if not line.strip():
                        continue
                    if number >= skip:
                        yield line if media_type.startswith("text/") else json.loads(line)
                    number += 1
                return
            content = await response.aread()
        try:
            value = json.loads(content)
        except ValueError:
            raise JobnodeError(
                f"WorkData {artifact_id} ({media_type or 'no media type'}) holds no JSON records; download it instead"
            ) from None
        for record in (value if isinstance(value, list) else [value])[skip:]:
            yield record

    # -- results, logs, errors --------------------------------------------------------------------------------------

    async def get_result(self, job_id: str) -> JobResult:
        """The job's state, its counters (its `Metrics`), its output WorkData and a sample: its `Result` (a job
        that was one call), or the first records of its output."""
        entity = await self._job_entity(job_id)
        job = mapping.to_job(entity)
        outputs = [await self.get_artifact(ref.id) for ref in job.outputs]
        result = mapping.properties(entity).result
        sample: list[Any] = [json.loads(result)] if result and not outputs else []
        if outputs:
            records = self.read_artifact(outputs[0].id)
            async for record in records:
                sample.append(record)
                if len(sample) >= 10:
                    break
            await records.aclose()  # type: ignore[attr-defined]  # an async generator
        return JobResult(
            job_id=job.id, state=job.state, progress=await self._progress(entity), outputs=outputs, sample=sample
        )

    async def _progress(self, entity: Entity) -> Progress:
        if entity.link("Metrics") is None:
            return Progress()
        metrics = wire.MetricsProperties.model_validate((await self.siren.follow(entity, "Metrics")).properties or {})
        counters = metrics.metrics or {}

        def count(key: str) -> int:
            value = counters.get(key)
            return value if isinstance(value, int) else 0

        return Progress(
            items_total=counters.get("ItemsTotal") if isinstance(counters.get("ItemsTotal"), int) else None,
            items_gathered=count("ItemsTotal"),
            items_processed=count("ItemsProcessed"),
            items_failed=count("ItemsFailed"),
            batches_total=counters.get("BatchesTotal") if isinstance(counters.get("BatchesTotal"), int) else None,
            batches_running=count("BatchesRunning"),
            batches_succeeded=count("BatchesSucceeded"),
            batches_failed=count("BatchesFailed"),
        )

    async def get_logs(self, job_id: str, query: LogQuery) -> Page[LogEntry]:
        """A page of the job's log, through its `Logs` link; the cursor is the page's `next` link."""
        if query.cursor:
            href, params = self._ours(query.cursor, "cursor"), None
        else:
            href = (await self._job_entity(job_id)).href("Logs")
            params = {
                "limit": max(1, min(query.limit, 1000)),
                "order": query.order,
                "after": query.after_time.isoformat() if query.after_time else None,
                "before": query.before_time.isoformat() if query.before_time else None,
                "level": mapping.LEVEL_NAMES[query.min_level] if query.min_level else None,
                "kind": query.kind,
            }
        response = await self.transport.request("GET", href, params=params)
        page = self.siren.parse(response, href)
        props = wire.LogProperties.model_validate(page.properties or {})
        start = props.current or 0
        entries = [mapping.to_log_entry(e, start + i) for i, e in enumerate(props.logs or [])]
        following = page.link("next")
        return Page(data=entries, next_cursor=following.href if following else None)

    async def get_errors(self, job_id: str, *, limit: int = 100) -> list[JobError]:
        """The most recent error entries of the job's log; for a job that failed without any, its description."""
        page = await self.get_logs(job_id, LogQuery(min_level=LogLevel.ERROR, limit=limit, order="desc"))
        errors = [JobError(time=e.time, item=e.item, message=e.message or e.status or e.kind) for e in page.data]
        if not errors:
            job = await self.get_job(job_id)
            if job.state is JobState.FAILED and job.reason and job.ended_at:
                errors.append(JobError(time=job.ended_at, message=job.reason))
        return errors

    # -- waiting: the event stream ----------------------------------------------------------------------------------

    async def watch(self, job_ids: Sequence[str]) -> AsyncIterator[Job]:
        """The jobs now, then each change, until all have ended: through the event stream (each event names a job
        that changed, which is then read); while the stream is down the jobs are polled every `reconnect_delay`
        seconds and the stream is opened again."""
        pending = set(job_ids)
        seen: dict[str, Job] = {}
        while pending:
            try:
                events = (await self._root("Info")).href("ApiEventsEndpoint")
                async with job_changes(self.transport, events, self.timeout) as changes:
                    # read after subscribing: a change between the two cannot be missed
                    for job in await self._read(sorted(pending), seen):
                        seen[job.id] = job
                        yield job
                        if job.is_terminal:
                            pending.discard(job.id)
                    while pending:
                        changed = await changes.next() & pending
                        for job in await self._read(sorted(changed), seen):
                            seen[job.id] = job
                            yield job
                            if job.is_terminal:
                                pending.discard(job.id)
                return
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.info("pinexq: the event stream is down (%s); polling %d job(s)", exc, len(pending))
            try:
                for job in await self._read(sorted(pending), seen):
                    seen[job.id] = job
                    yield job
                    if job.is_terminal:
                        pending.discard(job.id)
            except Exception as exc:
                if not is_transient(exc):
                    raise
            if pending:
                await asyncio.sleep(self.reconnect_delay)


def _node(entity: Entity) -> JobNode:
    """A job as the lineage planner sees it: PinexQ deletes a job that does not run, whatever its state."""
    job = mapping.to_job(entity)
    state = mapping.properties(entity).state
    return JobNode(
        id=job.id,
        terminal=state not in mapping.RUNNING,
        inputs=frozenset(a.id for a in job.inputs),
        outputs=frozenset(a.id for a in job.outputs),
        parent_id=job.parent_id,
    )


def _created(location: str | None) -> str:
    """The URL of what an action created (its answer's `Location`)."""
    if location is None:
        raise JobnodeError("PinexQ created something without saying where it is (no Location)")
    return location


def _one_pinexq_state(states: set[JobState]) -> wire.JobStates | None:
    """The one PinexQ state a listing may ask the platform for, when the requested states are exactly one."""
    exact = {
        JobState.QUEUED: wire.JobStates.PENDING,
        JobState.RUNNING: wire.JobStates.PROCESSING,
        JobState.SUCCEEDED: wire.JobStates.COMPLETED,
    }
    if len(states) == 1:
        return exact.get(next(iter(states)))
    return None
