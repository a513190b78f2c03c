"""Lineage-aware deletion through the real service: chains, sub-jobs, artifacts, tombstones, client cleanup."""

from __future__ import annotations

import httpx
import pytest

import jobnode
from jobnode.service.process import ServiceProcess


def _done(client: jobnode.Client, **fields: object) -> jobnode.Job:
    job = client.jobs.create(step="identity", **fields)  # type: ignore[arg-type]
    return client.jobs.wait(job.id, timeout=60)


def _blockers(info: pytest.ExceptionInfo[jobnode.Conflict]) -> set[tuple[str, str, str | None]]:
    return {(b["kind"], b["id"], b.get("by")) for b in info.value.details["blockers"]}


def test_a_consumed_output_keeps_its_producer_until_the_consumer_is_deleted(client: jobnode.Client) -> None:
    a = _done(client, name="chain-a", items=[{"id": "x"}, {"id": "y"}])
    out = a.outputs[0].id
    b = _done(client, name="chain-b", artifacts=[out])
    assert [r["id"] for r in client.artifacts.read(b.outputs[0].id)] == ["x", "y"]

    with pytest.raises(jobnode.Conflict) as info:
        client.jobs.delete(a.id)
    assert _blockers(info) == {("outputs", a.id, out), ("consumer", out, b.id)}
    with pytest.raises(jobnode.Conflict) as info:
        client.jobs.delete(a.id, delete_outputs=True)
    assert _blockers(info) == {("consumer", out, b.id)}
    assert info.value.code == "lineage_conflict" and b.id in info.value.message
    assert client.jobs.get(a.id).outputs[0].id == out  # nothing was deleted

    plan = client.jobs.delete(b.id, delete_outputs=True)
    assert [(s.action, s.id) for s in plan.steps] == [("delete_artifact", b.outputs[0].id), ("delete_job", b.id)]
    plan = client.jobs.delete(a.id, delete_outputs=True)
    assert plan.allowed and [(s.action, s.id) for s in plan.steps] == [("delete_artifact", out), ("delete_job", a.id)]

    for job_id in (a.id, b.id):
        with pytest.raises(jobnode.NotFound) as gone:
            client.jobs.get(job_id)
        assert gone.value.code == "deleted"
        events = client.jobs.events(job_id)
        assert events[0].type == "created" and events[-1].type == "deleted"
    with pytest.raises(jobnode.NotFound):
        client.artifacts.get(out)


def test_dry_runs_return_the_plan_and_delete_nothing(client: jobnode.Client) -> None:
    a = _done(client, items=[1])
    b = _done(client, artifacts=[a.outputs[0].id])
    refused = client.jobs.delete(a.id, delete_outputs=True, dry_run=True)
    assert refused.dry_run and not refused.allowed and refused.blockers[0].by == b.id
    would = client.jobs.delete(b.id, delete_outputs=True, dry_run=True)
    assert would.dry_run and would.allowed and {s.id for s in would.steps} == {b.id, b.outputs[0].id}
    assert client.jobs.get(b.id).outputs[0].id == b.outputs[0].id
    assert client.artifacts.get(a.outputs[0].id).consumers == [b.id]


def test_sub_jobs_block_their_parent_unless_deleted_with_their_data(client: jobnode.Client) -> None:
    parent = _done(client, name="parent", items=[1])
    child = _done(client, name="child", items=[2], parent_id=parent.id)
    grandchild = _done(client, name="grandchild", items=[3], parent_id=child.id)
    assert client.jobs.get(child.id).parent_id == parent.id
    with pytest.raises(jobnode.Conflict) as info:
        client.jobs.delete(parent.id, delete_outputs=True)
    assert _blockers(info) == {("subjob", parent.id, child.id)}
    plan = client.jobs.delete(parent.id, delete_outputs=True, delete_subjobs=True)
    order = [s.id for s in plan.steps if s.action == "delete_job"]
    assert order == [grandchild.id, child.id, parent.id]
    assert len([s for s in plan.steps if s.action == "delete_artifact"]) == 3
    for job_id in order:
        with pytest.raises(jobnode.NotFound):
            client.jobs.get(job_id)


def test_a_running_job_is_refused_until_it_has_ended(client: jobnode.Client) -> None:
    job = client.jobs.create(step="sleep", params={"seconds": 30}, items=[1])
    with pytest.raises(jobnode.Conflict) as info:
        client.jobs.delete(job.id, delete_outputs=True)
    assert _blockers(info) == {("job_state", job.id, None)}
    client.jobs.cancel(job.id)
    assert client.jobs.delete(job.id).allowed


def test_deleting_an_artifact_is_refused_while_a_job_reads_it(client: jobnode.Client, service: ServiceProcess) -> None:
    a = _done(client, items=[1])
    b = _done(client, artifacts=[a.outputs[0].id])
    headers = {"Authorization": f"Bearer {service.token}"}
    response = httpx.delete(f"{service.url}/v1/artifacts/{a.outputs[0].id}", headers=headers)
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "lineage_conflict"
    assert error["details"]["blockers"] == [
        {"kind": "consumer", "id": a.outputs[0].id, "by": b.id, "reason": error["details"]["blockers"][0]["reason"]}
    ]
    dry = httpx.delete(f"{service.url}/v1/artifacts/{b.outputs[0].id}?dry_run=true", headers=headers)
    assert dry.status_code == 200 and dry.json()["allowed"] and client.artifacts.get(b.outputs[0].id)
    client.artifacts.delete(b.outputs[0].id)
    with pytest.raises(jobnode.NotFound):
        client.artifacts.get(b.outputs[0].id)
    assert client.jobs.get(b.id).outputs == []
    assert client.jobs.delete(b.id).allowed  # no outputs left: rule 2 is satisfied
    client.artifacts.delete(a.outputs[0].id)  # no consumer left
    assert "artifact_deleted" in [e.type for e in client.jobs.events(a.id)]


def test_a_new_job_cannot_read_a_deleted_artifact(client: jobnode.Client) -> None:
    a = _done(client, items=[1])
    client.jobs.delete(a.id, delete_outputs=True)
    with pytest.raises(jobnode.ValidationFailed, match=r"input\.artifacts"):
        client.jobs.create(step="identity", artifacts=[a.outputs[0].id])


class TestCleanup:
    def test_deletes_the_largest_safe_subset_and_says_why_it_keeps_the_rest(self, client: jobnode.Client) -> None:
        extract = _done(client, name="extract", items=[{"id": 1}])
        transform = _done(client, name="transform", artifacts=[extract.outputs[0].id])
        report_job = _done(client, name="report", artifacts=[transform.outputs[0].id])
        outsider = _done(client, name="outsider", artifacts=[report_job.outputs[0].id])

        dry = client.jobs.cleanup([extract.id, transform.id, report_job.id], dry_run=True)
        assert dry.plan.dry_run and dry.deleted_jobs == [] and dry.plan.steps == []  # everything is kept
        assert [(b.id, b.by) for b in dry.kept] == [
            (extract.id, transform.id),
            (transform.id, report_job.id),
            (report_job.id, outsider.id),
        ]
        assert client.jobs.get(extract.id)  # a dry run deletes nothing

        protected = transform.outputs[0].id
        report = client.jobs.cleanup(
            [extract.id, transform.id, report_job.id, outsider.id, "job_unknown"], protect=[protected]
        )
        assert report.deleted_jobs == [outsider.id, report_job.id]
        assert report.deleted_artifacts == [outsider.outputs[0].id, report_job.outputs[0].id]
        assert [(b.kind, b.id, b.by) for b in report.kept] == [
            ("kept", extract.id, transform.id),
            ("kept", transform.id, protected),
            ("not_found", "job_unknown", None),
        ]
        assert client.jobs.get(transform.id).outputs[0].id == protected

        would = client.jobs.cleanup([extract.id, transform.id], dry_run=True)
        assert would.deleted_jobs == [transform.id, extract.id] and would.plan.dry_run
        assert would.deleted_artifacts == [protected, extract.outputs[0].id]
        assert client.jobs.get(extract.id).outputs  # nothing was deleted
        rest = client.jobs.cleanup([extract.id, transform.id])
        assert rest.deleted_jobs == [transform.id, extract.id] and rest.kept == []

    def test_a_refusal_the_client_could_not_foresee_keeps_that_job_and_goes_on(self, client: jobnode.Client) -> None:
        parent = _done(client, name="cleanup-parent", items=[1])
        _done(client, name="cleanup-child", items=[1], parent_id=parent.id)  # the client cannot list sub-jobs
        lone = _done(client, name="cleanup-lone", items=[1])
        report = client.jobs.cleanup([parent.id, lone.id])
        assert report.deleted_jobs == [lone.id]
        assert [(b.kind, b.id) for b in report.kept] == [("subjob", parent.id)]
        assert "refused" in report.kept[0].reason
        assert client.jobs.get(parent.id)

    async def test_the_async_client_cleans_up_too(self, aclient: jobnode.AsyncClient) -> None:
        job = await aclient.jobs.create(step="identity", items=[1])
        await aclient.jobs.wait(job.id, timeout=60)
        report = await aclient.jobs.cleanup([job.id], delete_outputs=False)
        assert report.deleted_jobs == [] and report.kept[0].kind == "outputs"
        report = await aclient.jobs.cleanup([job.id])
        assert report.deleted_jobs == [job.id] and len(report.deleted_artifacts) == 1
