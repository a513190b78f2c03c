"""`PinexqBackend` against the emulator (`jobnode serve --platform pinexq`) over HTTP: the lifecycle, every state a
job of jobnode's reaches, errors, paging, deletion under the rules, and the event stream (its keep-alives, a wait
whose stream drops in the middle)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

import jobnode
from jobnode.core.backend import ListQuery, LogQuery
from jobnode.core.errors import AuthenticationError, BadRequest, Conflict, NotFound
from jobnode.core.models import ArtifactsInput, FilesInput, ItemsInput, JobSpec, JobState
from jobnode.platforms.pinexq.backend import PinexqBackend
from jobnode.platforms.pinexq.siren import Entity
from jobnode.service.process import ServiceProcess
from tests.platforms.pinexq.proxy import Proxy


def spec(step: str = "my_function", *, version: str | None = "1.0.0", **fields: Any) -> JobSpec:
    fields.setdefault("input", ItemsInput(items=[{"id": 1}]))
    return JobSpec(step=step, step_version=version, **fields)


async def wait(backend: PinexqBackend, job_id: str) -> list[jobnode.Job]:
    seen = []
    async for job in backend.watch([job_id]):
        seen.append(job)
    return seen


class TestLifecycle:
    async def test_a_job_runs_over_its_uploaded_items_and_its_results_are_output_workdata(
        self, pinexq: PinexqBackend
    ) -> None:
        items = [{"id": i, "value": i} for i in range(5)]
        job = await pinexq.create_job(
            spec(
                "px_scale", version=None, name="scale", params={"factor": 3}, input=ItemsInput(items=items), tags=["a"]
            )
        )
        assert job.state in (JobState.QUEUED, JobState.RUNNING, JobState.SUCCEEDED)
        assert (job.name, job.step, job.step_version, job.tags) == ("scale", "px_scale", "1", ["a"])
        assert job.url == pinexq.job_url(job.id)
        [upload] = job.inputs
        done = (await wait(pinexq, job.id))[-1]
        assert done.state is JobState.SUCCEEDED and done.raw_state == "Completed"
        assert done.ended_at is not None and done.started_at is not None
        [output] = done.outputs
        assert output.job_id == job.id
        assert [r async for r in pinexq.read_artifact(output.id)] == [{"value": i, "scaled": i * 3.0} for i in range(5)]
        assert [r async for r in pinexq.read_artifact(upload.id, skip=3)] == items[3:]
        artifact = await pinexq.get_artifact(upload.id)
        assert (artifact.consumers, artifact.media_type) == ([job.id], "application/x-ndjson")
        result = await pinexq.get_result(job.id)
        assert (result.progress.items_total, result.progress.items_processed) == (5, 5)
        assert [o.id for o in result.outputs] == [output.id] and result.sample[0] == {"value": 0, "scaled": 0.0}

    async def test_a_job_reads_the_output_of_another(self, pinexq: PinexqBackend) -> None:
        first = await pinexq.create_job(spec("identity", version=None, input=ItemsInput(items=[{"value": 2}])))
        first = (await wait(pinexq, first.id))[-1]
        second = await pinexq.create_job(
            spec("px_scale", version=None, input=ArtifactsInput(artifacts=[f"{first.id}/results"]))
        )
        second = (await wait(pinexq, second.id))[-1]
        assert [a.id for a in second.inputs] == [first.outputs[0].id]
        assert [r async for r in pinexq.read_artifact(second.outputs[0].id)] == [{"value": 2, "scaled": 4.0}]

    async def test_without_rapid_setup_a_job_is_set_up_in_the_sdks_steps(self, pinexq: PinexqBackend) -> None:
        root = await pinexq.siren.follow(await pinexq.siren.entry_point(), "JobsRoot")
        # a platform that offers no RapidSetupJob (the SDK treats it as optional)
        pinexq._roots["JobsRoot"] = root.model_copy(
            update={"actions": [a for a in root.actions or [] if a.name != "RapidSetupJob"]}
        )
        parent = await pinexq.create_job(spec(params={"x": 3}, tags=["stepwise"]))
        child = await pinexq.create_job(
            spec("px_scale", version=None, parent_id=parent.id, input=ItemsInput(items=[{"value": 2}]))
        )
        done = [(await wait(pinexq, j.id))[-1] for j in (parent, child)]
        assert [j.state for j in done] == [JobState.SUCCEEDED, JobState.SUCCEEDED]
        assert (done[0].tags, done[1].parent_id, len(done[1].inputs)) == (["stepwise"], parent.id, 1)
        with pytest.raises(BadRequest, match=r"Parameters\.x"):
            await pinexq.create_job(spec(params={"x": "many"}, tags=["stepwise-bad"]))
        # the job that could not be configured was deleted again
        assert (await pinexq.list_jobs(ListQuery(tag="stepwise-bad"))).data == []

    async def test_a_step_given_by_its_link_and_a_dry_run(
        self, pinexq: PinexqBackend, pinexq_service: ServiceProcess
    ) -> None:
        link = f"{pinexq_service.url}/api/processingsteps/my_function@2.0.0"
        job = (await wait(pinexq, (await pinexq.create_job(spec(link, version=None, params={"x": 2}))).id))[-1]
        assert (job.step, job.step_version, (await pinexq.get_result(job.id)).sample) == (
            "my_function",
            "2.0.0",
            [{"x": 2, "cube": 8}],
        )
        plan = await pinexq.plan_job(spec(params={"x": 2}, input=ItemsInput(items=[1, 2])))
        assert plan.items_total == 2 and plan.request is not None
        assert plan.request["ProcessingStepUrl"].endswith("/api/processingsteps/my_function@1.0.0")
        assert plan.request["InputDataSlots"] == [
            {"Index": 0, "WorkDataUrls": ["<a new WorkData, uploaded from the input>"]}
        ]

    async def test_a_failing_step_fails_the_job_with_its_error_as_the_reason(self, pinexq: PinexqBackend) -> None:
        job = await pinexq.create_job(spec(params={"x": 4, "fail": True}))
        done = (await wait(pinexq, job.id))[-1]
        assert (done.state, done.raw_state) == (JobState.FAILED, "Error")
        assert done.reason is not None and "my_function refuses x=4" in done.reason
        errors = await pinexq.get_errors(job.id)
        assert errors and all("my_function refuses x=4" in e.message for e in errors)

    async def test_an_item_that_fails_fails_the_job(self, pinexq: PinexqBackend) -> None:
        items = ItemsInput(items=[{"value": 1}, {"value": 2}])
        job = await pinexq.create_job(spec("px_scale", version=None, params={"fail_on": [2]}, input=items))
        done = (await wait(pinexq, job.id))[-1]
        assert done.state is JobState.FAILED and "cannot scale 2" in (done.reason or "")

    async def test_cancel_stops_a_running_job_and_reads_back_cancelled(self, pinexq: PinexqBackend) -> None:
        job = await pinexq.create_job(spec(params={"x": 1, "sleep": 30}))
        assert job.state in (JobState.QUEUED, JobState.RUNNING)
        cancelled = await pinexq.cancel_job(job.id)
        assert (cancelled.state, cancelled.raw_state) == (JobState.CANCELLED, "Error")
        assert cancelled.reason is not None and cancelled.reason.startswith("Cancelled by jobnode")
        assert (await pinexq.cancel_job(job.id)).state is JobState.CANCELLED  # once ended, nothing changes

    async def test_a_job_created_by_the_platforms_own_api_is_created_until_it_starts(
        self, pinexq: PinexqBackend, pinexq_service: ServiceProcess
    ) -> None:
        async with api(pinexq_service) as http:
            root = await entity(http, "/api/jobs")
            created = await http.post(root.action("CreateJob").href, json={"Name": "configured-later"})  # type: ignore[union-attr]
            job_id = created.headers["location"].rpartition("/")[2]
        job = await pinexq.get_job(job_id)
        assert (job.state, job.raw_state) == (JobState.CREATED, "Created")

    async def test_jobnode_jobs_are_listed_newest_first_page_by_page(self, pinexq: PinexqBackend) -> None:
        tag = uuid.uuid4().hex
        ids = [(await pinexq.create_job(spec(tags=[tag], params={"x": i}))).id for i in range(5)]
        first = await pinexq.list_jobs(ListQuery(tag=tag, limit=2))
        assert [j.id for j in first.data] == ids[::-1][:2] and first.prev_cursor is None
        assert first.next_cursor is not None
        second = await pinexq.list_jobs(ListQuery(tag=tag, limit=2, cursor=first.next_cursor))
        third = await pinexq.list_jobs(ListQuery(tag=tag, limit=2, cursor=second.next_cursor))
        assert [j.id for j in second.data + third.data] == ids[::-1][2:]
        assert third.next_cursor is None and third.prev_cursor is not None
        for job_id in ids:
            await wait(pinexq, job_id)
        done = await pinexq.list_jobs(ListQuery(tag=tag, state=[JobState.SUCCEEDED], limit=10))
        assert len(done.data) == 5
        assert (await pinexq.list_jobs(ListQuery(tag=tag, state=[JobState.FAILED, JobState.CANCELLED]))).data == []
        assert [j.id for j in (await pinexq.list_jobs(ListQuery(ids=ids[:2]))).data] == ids[:2]

    async def test_logs_page_in_both_orders_and_filter_by_level(self, pinexq: PinexqBackend) -> None:
        job = await pinexq.create_job(spec("px_scale", version=None, input=ItemsInput(items=list(range(7)))))
        await wait(pinexq, job.id)
        first = await pinexq.get_logs(job.id, LogQuery(limit=3))
        assert len(first.data) == 3 and first.next_cursor is not None
        everything = list(first.data)
        cursor = first.next_cursor
        while cursor:
            page = await pinexq.get_logs(job.id, LogQuery(limit=3, cursor=cursor))
            everything += page.data
            cursor = page.next_cursor
        assert [e.item for e in everything if e.kind == "ItemProcessed"] == [str(i) for i in range(7)]
        newest = await pinexq.get_logs(job.id, LogQuery(limit=1, order="desc"))
        assert newest.data[0].id == everything[-1].id
        assert (await pinexq.get_logs(job.id, LogQuery(min_level=jobnode.LogLevel.ERROR))).data == []


class TestErrors:
    async def test_what_cannot_map_onto_a_pinexq_job_is_refused_naming_the_field(self, pinexq: PinexqBackend) -> None:
        with pytest.raises(ValueError, match="timeout: a PinexQ job has no time limit"):
            await pinexq.create_job(spec(timeout=60))
        with pytest.raises(ValueError, match="step: PinexQ has no processing step 'nope'"):
            await pinexq.create_job(spec("nope"))
        with pytest.raises(ValueError, match="step: PinexQ has no processing step 'my_function' of version 9"):
            await pinexq.create_job(spec(version="9"))
        with pytest.raises(ValueError, match="input: a PinexQ job reads WorkData"):
            await pinexq.create_job(spec(input=FilesInput(paths=["s3://reviews/2026/"])))

    async def test_the_platform_names_the_parameter_it_refuses(self, pinexq: PinexqBackend) -> None:
        with pytest.raises(BadRequest, match=r"Parameters\.x") as refused:
            await pinexq.create_job(spec(params={"x": "many"}))
        assert refused.value.details["errors"]["Parameters.x"]

    async def test_an_unknown_job_or_workdata_is_not_found(self, pinexq: PinexqBackend) -> None:
        with pytest.raises(NotFound, match="Job 'nope' not found"):
            await pinexq.get_job("nope")
        with pytest.raises(NotFound, match="WorkData 'nope' not found"):
            await pinexq.get_artifact("nope")

    async def test_a_wrong_api_key_is_refused_without_showing_it(self, pinexq_service: ServiceProcess) -> None:
        backend = PinexqBackend(pinexq_service.url, token="not-the-key")
        try:
            with pytest.raises(AuthenticationError) as refused:
                await backend.get_job("x")
            assert "not-the-key" not in str(refused.value)
        finally:
            await backend.aclose()

    async def test_a_cursor_of_another_host_is_refused(self, pinexq: PinexqBackend) -> None:
        with pytest.raises(ValueError, match="cursor: not a cursor of this PinexQ API"):
            await pinexq.list_jobs(ListQuery(cursor="https://elsewhere.example.com/api/jobs/query/x"))

    @pytest.mark.parametrize(
        ("path", "body", "status", "field"),
        [
            ("/api/jobs", b"{not json", 400, "body"),
            ("/api/jobs", {"Name": ""}, 400, "Name"),
            ("/api/jobs", {"Name": 7}, 400, "Name"),
            ("/api/jobs", ["Name"], 400, "body"),
            ("/api/jobs", {"Name": "x", "Folder": "http://h/api/folders/1"}, 400, "Folder"),
            ("/api/jobs/RapidSetupJob", {"Name": "x"}, 400, "ProcessingStepUrl"),
            (
                "/api/jobs/RapidSetupJob",
                {"Name": "x", "ProcessingStepUrl": "http://h/api/processingsteps/no"},
                400,
                None,
            ),
            (
                "/api/jobs/RapidSetupJob",
                {"Name": "x", "ProcessingStepUrl": "h/my_function@1.0.0", "Parameters": "[1]"},
                400,
                "Parameters",
            ),
            ("/api/jobs/CreateSubJob", {"Name": "x", "ParentJobUrl": "http://h/api/jobs/none"}, 400, "ParentJobUrl"),
            ("/api/jobs/query", {"Pagination": {"PageSize": 0}}, 400, "Pagination.PageSize"),
            ("/api/jobs/query", {"Filter": {"State": "Sleeping"}}, 400, "Filter.State"),
            ("/api/processingsteps/query", {"Pagination": {"PageSize": 10_000}}, 400, "Pagination.PageSize"),
            ("/api/workdata/upload", b"no multipart", 400, "upload-file"),
        ],
    )
    async def test_bad_input_is_a_problem_naming_the_field_never_a_500(
        self, pinexq_service: ServiceProcess, path: str, body: Any, status: int, field: str | None
    ) -> None:
        async with api(pinexq_service) as http:
            content = body if isinstance(body, bytes) else json.dumps(body).encode()
            response = await http.post(path, content=content, headers={"Content-Type": "application/json"})
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["status"] == status and problem["detail"]
        if field is not None:
            assert field in problem["errors"], problem

    async def test_an_action_the_job_does_not_offer_now_is_refused(self, pinexq_service: ServiceProcess) -> None:
        async with api(pinexq_service) as http:
            root = await entity(http, "/api/jobs")
            created = await http.post(root.action("CreateJob").href, json={"Name": "idle"})  # type: ignore[union-attr]
            job = await entity(http, created.headers["location"])
            assert job.action("StartProcessing") is None
            refused = await http.post(created.headers["location"] + "/StartProcessing")
            unknown = await http.post(created.headers["location"] + "/Fly")
        assert refused.status_code == 409 and "does not offer StartProcessing" in refused.json()["detail"]
        assert unknown.status_code == 404


class TestDeletion:
    async def test_a_job_is_deleted_with_its_outputs_only_when_asked_and_never_while_read(
        self, pinexq: PinexqBackend
    ) -> None:
        producer = await pinexq.create_job(spec("identity", version=None, input=ItemsInput(items=[{"value": 1}])))
        producer = (await wait(pinexq, producer.id))[-1]
        with pytest.raises(Conflict) as has_outputs:
            await pinexq.delete_job(producer.id)
        assert [b["kind"] for b in has_outputs.value.details["blockers"]] == ["outputs"]
        reader = await pinexq.create_job(
            spec("px_scale", version=None, input=ArtifactsInput(artifacts=[producer.outputs[0].id]))
        )
        await wait(pinexq, reader.id)
        with pytest.raises(Conflict) as is_read:
            await pinexq.delete_job(producer.id, delete_outputs=True)
        assert [(b["kind"], b["by"]) for b in is_read.value.details["blockers"]] == [("consumer", reader.id)]
        dry = await pinexq.delete_job(reader.id, delete_outputs=True, dry_run=True)
        assert dry.allowed and dry.dry_run and (await pinexq.get_job(reader.id)).state is JobState.SUCCEEDED
        await pinexq.delete_job(reader.id, delete_outputs=True)
        plan = await pinexq.delete_job(producer.id, delete_outputs=True)
        assert [(s.action, s.id) for s in plan.steps] == [
            ("delete_artifact", producer.outputs[0].id),
            ("delete_job", producer.id),
        ]
        for gone in (reader.id, producer.id):
            with pytest.raises(NotFound):
                await pinexq.get_job(gone)
        # the job's input, uploaded by jobnode, is the caller's: it stays
        assert (await pinexq.get_artifact(producer.inputs[0].id)).consumers == []

    async def test_a_running_job_is_not_deleted(self, pinexq: PinexqBackend) -> None:
        job = await pinexq.create_job(spec(params={"sleep": 30}))
        with pytest.raises(Conflict) as runs:
            await pinexq.delete_job(job.id)
        assert [b["kind"] for b in runs.value.details["blockers"]] == ["job_state"]
        await pinexq.cancel_job(job.id)
        await pinexq.delete_job(job.id)

    async def test_sub_jobs_go_only_with_delete_subjobs(self, pinexq: PinexqBackend) -> None:
        parent = await pinexq.create_job(spec())
        child = await pinexq.create_job(spec("identity", version=None, parent_id=parent.id))
        assert child.parent_id == parent.id
        grandchild = await pinexq.create_job(spec(parent_id=child.id))
        for job in (parent, child, grandchild):
            await wait(pinexq, job.id)
        with pytest.raises(Conflict) as has_child:
            await pinexq.delete_job(parent.id, delete_outputs=True)
        assert [(b["kind"], b["by"]) for b in has_child.value.details["blockers"]] == [("subjob", child.id)]
        plan = await pinexq.delete_job(parent.id, delete_outputs=True, delete_subjobs=True)
        assert [s.id for s in plan.steps if s.action == "delete_job"] == [grandchild.id, child.id, parent.id]

    async def test_workdata_is_deleted_on_its_own_unless_read_or_protected(
        self, pinexq: PinexqBackend, pinexq_service: ServiceProcess
    ) -> None:
        job = await pinexq.create_job(spec("identity", version=None))
        [upload] = job.inputs
        with pytest.raises(Conflict) as read:
            await pinexq.delete_artifact(upload.id)
        assert [(b["kind"], b["by"]) for b in read.value.details["blockers"]] == [("consumer", job.id)]
        job = (await wait(pinexq, job.id))[-1]
        [output] = job.outputs
        async with api(pinexq_service) as http:
            await http.post(f"{output.uri.rpartition('/download')[0]}/DisallowDeletion")  # type: ignore[union-attr]
        with pytest.raises(Conflict) as protected:
            await pinexq.delete_artifact(output.id)
        assert [b["kind"] for b in protected.value.details["blockers"]] == ["protected"]
        async with api(pinexq_service) as http:
            await http.post(f"{output.uri.rpartition('/download')[0]}/AllowDeletion")  # type: ignore[union-attr]
        assert (await pinexq.delete_artifact(output.id)).allowed
        assert (await pinexq.get_job(job.id)).outputs == []

    async def test_jobnodes_cleanup_deletes_what_it_may_and_keeps_what_is_read(
        self, pinexq_service: ServiceProcess
    ) -> None:
        async with jobnode.AsyncClient(pinexq_service.url, pinexq_service.token, platform="pinexq") as client:
            stage = await client.jobs.create(name="stage", step="identity", items=[1, 2])
            stage = await client.jobs.wait(stage.id, timeout=60)
            score = await client.jobs.create(name="score", step="px_scale", artifacts=[stage.outputs[0].id])
            score = await client.jobs.wait(score.id, timeout=60)
            keeper = await client.jobs.create(name="keeper", step="px_scale", artifacts=[stage.outputs[0].id])
            keeper = await client.jobs.wait(keeper.id, timeout=60)
            report = await client.jobs.cleanup([score.id, stage.id])
            assert report.deleted_jobs == [score.id]
            assert [(k.id, k.by) for k in report.kept] == [(stage.id, keeper.id)]
            assert (await client.jobs.get(stage.id)).outputs == stage.outputs


class TestEventStream:
    async def test_keepalives_come_more_often_than_every_five_seconds(self, pinexq_service: ServiceProcess) -> None:
        """Read the stream as PinexQ's SDK does (httpx's default 5-second read timeout) for six quiet seconds."""
        keepalives = 0
        async with api(pinexq_service) as http:
            info = await entity(http, "/api/info")
            href = info.href("ApiEventsEndpoint")
            async with http.stream("GET", href, headers={"Accept": "text/event-stream"}) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                loop = asyncio.get_running_loop()
                until = loop.time() + 6
                async for line in response.aiter_lines():
                    keepalives += line == "event: KeepAlive"
                    if loop.time() > until:
                        break
        assert keepalives >= 2

    async def test_each_change_of_a_job_is_an_event_naming_its_url(
        self, pinexq: PinexqBackend, pinexq_service: ServiceProcess
    ) -> None:
        async with api(pinexq_service) as http:
            info = await entity(http, "/api/info")
            async with http.stream("GET", info.href("ApiEventsEndpoint")) as response:
                job = await pinexq.create_job(spec())
                links = set()
                async for line in response.aiter_lines():
                    if line.startswith("data: {"):
                        event = json.loads(line.removeprefix("data: "))
                        assert event["ResourceType"] == "Job" and event["EventType"] in ("Changed", "Deleted")
                        links.add(event["ResourceLink"])
                    if job.url in links and (await pinexq.get_job(job.id)).is_terminal:
                        break
        assert job.url in links

    async def test_many_jobs_are_read_a_page_at_a_time(self, pinexq: PinexqBackend) -> None:
        """Waiting for thirty jobs reads them from the pages of the newest jobs, not one request each."""
        tag = uuid.uuid4().hex
        ids = [(await pinexq.create_job(spec(tags=[tag], params={"x": i}))).id for i in range(30)]
        requests: list[str] = []

        async def count(request: httpx.Request) -> None:
            requests.append(request.url.path)

        pinexq.transport.http.event_hooks["request"] = [count]
        ended = {job.id async for job in pinexq.watch(ids) if job.is_terminal}
        assert ended == set(ids)
        assert len(requests) < 20, requests
        assert [j.id for j in (await pinexq.list_jobs(ListQuery(ids=ids))).data] == ids

    async def test_a_wait_goes_on_when_the_stream_drops_in_the_middle(self, pinexq_service: ServiceProcess) -> None:
        target = urlsplit(pinexq_service.url)
        async with Proxy(target.hostname or "127.0.0.1", target.port or 80) as proxy:
            backend = PinexqBackend(proxy.url, token=pinexq_service.token, reconnect_delay=0.2)
            try:
                job = await backend.create_job(spec(params={"sleep": 2}))
                states = []
                async for seen in backend.watch([job.id]):
                    if not states:
                        proxy.cut()  # the stream (and every pooled connection) drops
                    states.append(seen.state)
            finally:
                await backend.aclose()
        assert states[0] in (JobState.QUEUED, JobState.RUNNING)
        assert states[-1] is JobState.SUCCEEDED
        assert proxy.accepted >= 3  # the first connections, a poll, and the stream opened again


# -- the platform's own API, as a PinexQ user reaches it ------------------------------------------------------------


def api(service: ServiceProcess) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=service.url, headers={"x-api-key": service.token or ""})


async def entity(http: httpx.AsyncClient, href: str) -> Entity:
    response = await http.get(href)
    response.raise_for_status()
    assert response.headers["content-type"] == "application/vnd.siren+json"
    return Entity.model_validate_json(response.content)
