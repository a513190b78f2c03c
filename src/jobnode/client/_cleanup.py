"""Lineage-aware cleanup on any platform: delete the largest safe subset of some jobs, keep the rest.

The lineage comes from what the platform knows: each job's inputs, outputs and parent and, where the platform
has an artifacts API, each output's consumers (a consumer that is not being cleaned up keeps what it reads).
`jobnode.core.lineage.plan_cleanup` plans; the steps run in order through the backend (a platform with lineage,
like the local service, deletes a job's outputs together with the job). A platform may still refuse a step (it
knows a sub-job jobnode does not): that job is kept, the plan is made again without it, and the cleanup goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

from pydantic import Field

from jobnode.client._capabilities import require
from jobnode.core.backend import Backend, DeletesArtifacts, DeletesJobs, FindsArtifacts
from jobnode.core.errors import Conflict, NotFound
from jobnode.core.lineage import JobNode, LineageGraph, plan_cleanup
from jobnode.core.models import DeleteBlocker, DeletePlan, Job, Model


class CleanupReport(Model):
    """What a cleanup planned, deleted and kept.

    Attributes:
        plan: the first plan (`plan.dry_run` is True in a dry run).
        deleted_jobs: the jobs deleted, in order (in a dry run: the jobs that would be deleted).
        deleted_artifacts: the artifacts deleted, in order (in a dry run: those that would be).
        kept: one blocker per target that was kept, saying why.
    """

    plan: DeletePlan
    deleted_jobs: list[str] = Field(default_factory=list)
    deleted_artifacts: list[str] = Field(default_factory=list)
    kept: list[DeleteBlocker] = Field(default_factory=list)


async def lineage_graph(backend: Backend, job_ids: Sequence[str], *, protect: Iterable[str] = ()) -> LineageGraph:
    """The lineage of `job_ids` as the platform knows it; unknown jobs are left out.

    Each output's consumers (where the platform lists them) that are not among `job_ids` become nodes that are
    never deleted, so their inputs survive.

    Example:
        ```python
        graph = await lineage_graph(client.backend, ["job_a", "job_b"], protect={"art_0123"})
        ```
    """
    found = await asyncio.gather(*(_job_or_none(backend, j) for j in dict.fromkeys(job_ids)))
    jobs = [job for job in found if job is not None]
    nodes = {
        job.id: JobNode(
            id=job.id,
            terminal=job.is_terminal,
            inputs=frozenset(a.id for a in job.inputs),
            outputs=frozenset(a.id for a in job.outputs),
            parent_id=job.parent_id,
        )
        for job in jobs
    }
    if backend.capabilities.artifacts:
        outputs = sorted({a.id for job in jobs for a in job.outputs})
        finder = require(backend, "artifacts", FindsArtifacts)
        artifacts = await asyncio.gather(*(finder.get_artifact(a) for a in outputs))
        readers: dict[str, set[str]] = {}
        for artifact in artifacts:
            for consumer in artifact.consumers:
                if consumer not in nodes:
                    readers.setdefault(consumer, set()).add(artifact.id)
        # a consumer's state does not matter: it is not a target, so it stays and keeps what it reads
        nodes.update({c: JobNode(id=c, terminal=False, inputs=frozenset(a)) for c, a in readers.items()})
    return LineageGraph(jobs=nodes, protected=frozenset(protect))


async def cleanup(
    backend: Backend,
    job_ids: Sequence[str],
    *,
    delete_outputs: bool = True,
    protect: Iterable[str] = (),
    dry_run: bool = False,
) -> CleanupReport:
    """Delete what can be deleted of `job_ids` under the lineage rules (see `AsyncJobs.cleanup`)."""
    targets = list(dict.fromkeys(job_ids))
    graph = await lineage_graph(backend, targets, protect=protect)
    plan = plan_cleanup(graph, targets, delete_outputs=delete_outputs)
    report = CleanupReport(plan=plan.model_copy(update={"dry_run": dry_run}))
    kept = {b.id: b for b in plan.blockers}
    if dry_run:
        report.deleted_jobs = [s.id for s in plan.steps if s.action == "delete_job"]
        report.deleted_artifacts = [s.id for s in plan.steps if s.action == "delete_artifact"]
        report.kept = list(kept.values())
        return report
    deleted: set[str] = set()
    while True:
        refused = await _carry_out(backend, plan, graph, delete_outputs, report, deleted)
        if refused is None:
            break
        kept[refused.id] = refused
        # plan again without the refused job: it stays, and so does everything it holds
        graph = LineageGraph(jobs={k: v for k, v in graph.jobs.items() if k not in deleted}, protected=graph.protected)
        remaining = [t for t in targets if t not in deleted and t not in kept]
        plan = plan_cleanup(graph, remaining, delete_outputs=delete_outputs)
        for blocker in plan.blockers:
            kept.setdefault(blocker.id, blocker)
    report.kept = [kept[t] for t in targets if t in kept and t not in deleted]
    return report


def nothing_deleted(platform: str, job_ids: Sequence[str], *, dry_run: bool = False) -> CleanupReport:
    """The cleanup of a platform that cannot delete jobs (Nucleus): nothing is deleted, and every job is kept with
    the reason, so that what was not done is said rather than raised."""
    blockers = [
        DeleteBlocker(kind="unsupported", id=j, reason=f"job {j} is kept: the {platform} platform cannot delete jobs")
        for j in dict.fromkeys(job_ids)
    ]
    plan = DeletePlan(targets=[b.id for b in blockers], allowed=False, dry_run=dry_run, blockers=blockers)
    return CleanupReport(plan=plan, kept=blockers)


async def _carry_out(
    backend: Backend,
    plan: DeletePlan,
    graph: LineageGraph,
    delete_outputs: bool,
    report: CleanupReport,
    deleted: set[str],
) -> DeleteBlocker | None:
    """Run the plan's steps in order; stop at the first refusal and return it as the blocker of its job."""
    owners = {a: job_id for job_id, node in graph.jobs.items() for a in node.outputs}
    for step in plan.steps:
        if step.action == "delete_artifact":
            # a platform with lineage deletes a job's outputs with the job, in one go; one without an artifacts
            # API deletes them with the job too, or keeps them
            if backend.capabilities.lineage or not backend.capabilities.delete_artifacts:
                continue
            try:
                await require(backend, "delete_artifacts", DeletesArtifacts).delete_artifact(step.id)
            except NotFound:
                continue
            except Conflict as exc:
                return _refused(owners.get(step.id, step.id), exc)
            report.deleted_artifacts.append(step.id)
        elif step.action == "delete_job":
            try:
                done = await require(backend, "delete", DeletesJobs).delete_job(step.id, delete_outputs=delete_outputs)
            except NotFound:
                deleted.add(step.id)  # gone already
                continue
            except Conflict as exc:
                return _refused(step.id, exc)
            deleted.add(step.id)
            report.deleted_jobs.append(step.id)
            report.deleted_artifacts.extend(
                s.id for s in done.steps if s.action == "delete_artifact" and s.id not in report.deleted_artifacts
            )
    return None


def _refused(job_id: str, exc: Conflict) -> DeleteBlocker:
    blockers = exc.details.get("blockers") if isinstance(exc.details, dict) else None
    first = blockers[0] if isinstance(blockers, list) and blockers and isinstance(blockers[0], dict) else {}
    return DeleteBlocker(
        kind=str(first.get("kind", "refused")),
        id=job_id,
        reason=f"the platform refused: {exc.message}",
        by=first.get("by") or first.get("id"),
    )


async def _job_or_none(backend: Backend, job_id: str) -> Job | None:
    try:
        return await backend.get_job(job_id)
    except NotFound:
        return None
