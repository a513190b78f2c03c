"""The lineage planner: which jobs and artifacts a deletion may remove, in which order, or why not.

Pure functions over a `LineageGraph` (no I/O): the local service plans `DELETE /v1/jobs/{id}` with
`plan_deletion`, and the client's cleanup plans the largest safe subset with `plan_cleanup` for any platform.

The rules (DESIGN.md, "Lineage-aware deletion"):

1. A job that is not terminal is never deleted, unless the request says cancel first (the plan then cancels it
   and the executor deletes it only once it is terminal).
2. A job that still has output artifacts is not deleted unless the request also deletes those outputs.
3. An artifact that is an input of a job that is not being deleted in the same plan is never deleted.
4. A job with sub-jobs is not deleted unless the request also deletes the sub-jobs, with their data.
5. Deletion is permanent (tombstones and events are the executor's business).
6. A dry run returns the same plan without deleting anything.

Protected artifacts (for example an Airflow outlet asset) are never deleted either.

Each blocker names the rule (`kind`), what cannot be deleted (`id`), why (`reason`) and what holds it (`by`):

| kind | id | by |
|---|---|---|
| `not_found` | the unknown job | |
| `job_state` | the job that is not terminal | |
| `outputs` | the job that still has outputs | its output artifact |
| `consumer` | the artifact still read | the surviving job that consumes it |
| `protected` | the protected artifact | |
| `subjob` | the parent job | the sub-job that is not deleted |
| `kept` | a job that `plan_cleanup` keeps | the job or artifact whose keeping holds it |
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from jobnode.core.models import DeleteBlocker, DeletePlan, DeleteStep

__all__ = ["JobNode", "LineageGraph", "plan_artifact_deletion", "plan_cleanup", "plan_deletion"]


@dataclass(frozen=True)
class JobNode:
    """One job of a lineage graph.

    Attributes:
        id: the job id.
        terminal: whether the job has ended (succeeded, failed, cancelled, timed out).
        inputs: ids of the artifacts the job consumes.
        outputs: ids of the artifacts the job produced (and that still exist).
        parent_id: the job this one is a sub-job of.
    """

    id: str
    terminal: bool
    inputs: frozenset[str] = frozenset()
    outputs: frozenset[str] = frozenset()
    parent_id: str | None = None


@dataclass(frozen=True)
class LineageGraph:
    """The jobs a platform knows, with what they consume and produce.

    A job that is only known as a consumer of an artifact should still be a node (non-terminal if its state is
    unknown): the planner then never deletes what it reads.

    Example:
        ```python
        graph = LineageGraph.of(
            JobNode("a", terminal=True, outputs=frozenset({"a/results"})),
            JobNode("b", terminal=True, inputs=frozenset({"a/results"})),
        )
        plan_deletion(graph, ["a"], delete_outputs=True).allowed  # False: b still reads a/results
        ```
    """

    jobs: Mapping[str, JobNode]
    protected: frozenset[str] = frozenset()
    _children: Mapping[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)
    _consumers: Mapping[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        children: dict[str, list[str]] = {}
        consumers: dict[str, list[str]] = {}
        for node in sorted(self.jobs.values(), key=lambda n: n.id):
            if node.parent_id is not None:
                children.setdefault(node.parent_id, []).append(node.id)
            for artifact in sorted(node.inputs):
                consumers.setdefault(artifact, []).append(node.id)
        # frozen dataclass: the derived indexes are set once, here, so that every plan reuses them
        object.__setattr__(self, "_children", {k: tuple(v) for k, v in children.items()})
        object.__setattr__(self, "_consumers", {k: tuple(v) for k, v in consumers.items()})

    @classmethod
    def of(cls, *nodes: JobNode, protected: Iterable[str] = ()) -> LineageGraph:
        """A graph from its nodes.

        Example:
            ```python
            graph = LineageGraph.of(JobNode("a", terminal=True), protected={"a/results"})
            ```
        """
        return cls(jobs={node.id: node for node in nodes}, protected=frozenset(protected))

    def children(self, job_id: str) -> tuple[str, ...]:
        """The ids of the sub-jobs of a job, sorted."""
        return self._children.get(job_id, ())

    def consumers(self, artifact_id: str) -> tuple[str, ...]:
        """The ids of the jobs that consume an artifact, sorted."""
        return self._consumers.get(artifact_id, ())


def plan_deletion(
    graph: LineageGraph,
    targets: Sequence[str],
    *,
    delete_outputs: bool = False,
    delete_subjobs: bool = False,
    cancel_first: bool = False,
    dry_run: bool = False,
) -> DeletePlan:
    """Plan deleting `targets` all together, or refuse with every blocker.

    With `delete_subjobs`, the sub-jobs of each target (recursively) are deleted too, with their outputs. The plan
    is all or nothing: when `allowed` is False, `steps` is empty and `blockers` lists every reason.

    Args:
        graph: the jobs and artifacts the platform knows.
        targets: the ids of the jobs to delete.
        delete_outputs: delete the targets' output artifacts as well (rule 2).
        delete_subjobs: delete the targets' sub-jobs and their outputs as well (rule 4).
        cancel_first: plan a `cancel` step for targets that are not terminal instead of refusing them (rule 1).
        dry_run: recorded in the plan; the planner never deletes anything itself.

    Returns:
        The plan: `cancel` steps first, then for each job (consumers before producers, sub-jobs before parents)
        its `delete_artifact` steps followed by its `delete_job` step.

    Example:
        ```python
        plan = plan_deletion(graph, ["job-a"], delete_outputs=True)
        if not plan.allowed:
            for blocker in plan.blockers:
                print(blocker.kind, blocker.id, blocker.reason)
        ```
    """
    targets = list(dict.fromkeys(targets))
    blockers: list[DeleteBlocker] = []
    known = [t for t in targets if t in graph.jobs]
    blockers += [_not_found(t) for t in targets if t not in graph.jobs]

    doomed = _with_subjobs(graph, known) if delete_subjobs else set(known)
    if not delete_subjobs:
        blockers += [
            _subjob_blocker(job_id, child)
            for job_id in known
            for child in graph.children(job_id)
            if child not in doomed
        ]
    to_cancel: list[str] = []
    for job_id in _ordered(graph, doomed):
        node = graph.jobs[job_id]
        if not node.terminal:
            if cancel_first:
                to_cancel.append(job_id)
            else:
                blockers.append(
                    DeleteBlocker(kind="job_state", id=job_id, reason=f"job {job_id} is not finished; cancel it first")
                )
        # a sub-job goes with its data (rule 4); a target's outputs go only when asked (rule 2)
        if node.outputs and not delete_outputs and job_id in known:
            blockers += [_outputs_blocker(job_id, artifact) for artifact in sorted(node.outputs)]
        blockers += _artifact_blockers(graph, node, doomed)

    if blockers:
        return DeletePlan(
            job_id=targets[0] if len(targets) == 1 else None,
            targets=targets,
            allowed=False,
            dry_run=dry_run,
            blockers=blockers,
        )
    return DeletePlan(
        job_id=targets[0] if len(targets) == 1 else None,
        targets=targets,
        allowed=True,
        dry_run=dry_run,
        steps=_steps(graph, doomed, to_cancel, delete_outputs=True),
    )


def plan_cleanup(
    graph: LineageGraph,
    targets: Sequence[str],
    *,
    delete_outputs: bool = True,
    protected: Iterable[str] = frozenset(),
) -> DeletePlan:
    """Plan deleting the largest safe subset of `targets`; keep the rest and say why.

    A target is kept when it is not terminal, when it has a sub-job that is not deleted, or when one of its outputs
    must stay (protected, read by a job that is kept, or `delete_outputs` is False). Keeping a job can keep others
    (the jobs whose outputs it reads), so this repeats until nothing changes; the result is the largest set that
    obeys every rule. Sub-jobs are never added: only the targets are candidates.

    Args:
        graph: the jobs and artifacts the platform knows.
        targets: the ids of the jobs to clean up.
        delete_outputs: delete the output artifacts of the jobs that are deleted (a job with outputs is kept when
            this is False).
        protected: artifacts that must survive, besides `graph.protected`.

    Returns:
        A plan that is always `allowed` (possibly with no steps); `blockers` name each job that is kept and why.

    Example:
        ```python
        plan = plan_cleanup(graph, ["extract", "transform"], protected={"transform/results"})
        deleted = [step.id for step in plan.steps if step.action == "delete_job"]
        ```
    """
    targets = list(dict.fromkeys(targets))
    protected_all = graph.protected | frozenset(protected)
    kept: dict[str, DeleteBlocker] = {t: _not_found(t) for t in targets if t not in graph.jobs}
    doomed = {t for t in targets if t in graph.jobs}
    changed = True
    while changed:
        changed = False
        for job_id in sorted(doomed):
            reason = _keep_reason(graph, graph.jobs[job_id], doomed, protected_all, delete_outputs=delete_outputs)
            if reason is not None:
                doomed.discard(job_id)
                kept[job_id] = reason
                changed = True
    return DeletePlan(
        job_id=targets[0] if len(targets) == 1 else None,
        targets=targets,
        allowed=True,
        steps=_steps(graph, doomed, [], delete_outputs=delete_outputs),
        blockers=[kept[t] for t in targets if t in kept],
    )


def plan_artifact_deletion(graph: LineageGraph, artifacts: Sequence[str], *, dry_run: bool = False) -> DeletePlan:
    """Plan deleting artifacts on their own (their producers stay): refused while a job reads one (rule 3) or
    when one is protected.

    Args:
        graph: the jobs that consume the artifacts (at least).
        artifacts: the ids of the artifacts to delete.
        dry_run: recorded in the plan.

    Example:
        ```python
        plan = plan_artifact_deletion(graph, ["art_0123"])
        ```
    """
    artifacts = list(dict.fromkeys(artifacts))
    blockers = [
        DeleteBlocker(kind="protected", id=a, reason=f"artifact {a} is protected")
        for a in artifacts
        if a in graph.protected
    ]
    blockers += [
        DeleteBlocker(
            kind="consumer",
            id=a,
            reason=f"artifact {a} is an input of job {consumer}; delete that job first",
            by=consumer,
        )
        for a in artifacts
        for consumer in graph.consumers(a)
    ]
    return DeletePlan(
        targets=artifacts,
        allowed=not blockers,
        dry_run=dry_run,
        steps=[] if blockers else [DeleteStep(action="delete_artifact", id=a) for a in artifacts],
        blockers=blockers,
    )


def _keep_reason(
    graph: LineageGraph, node: JobNode, doomed: set[str], protected: frozenset[str], *, delete_outputs: bool
) -> DeleteBlocker | None:
    """The first reason to keep a job, given the jobs still planned for deletion, or None."""
    if not node.terminal:
        return DeleteBlocker(kind="job_state", id=node.id, reason=f"job {node.id} is not finished")
    for child in graph.children(node.id):
        if child not in doomed:
            return _subjob_blocker(node.id, child)
    for artifact in sorted(node.outputs):
        if not delete_outputs:
            return _outputs_blocker(node.id, artifact)
        if artifact in protected:
            return DeleteBlocker(
                kind="kept",
                id=node.id,
                reason=f"job {node.id} is kept: its output {artifact} is protected",
                by=artifact,
            )
        for consumer in graph.consumers(artifact):
            if consumer not in doomed:
                return DeleteBlocker(
                    kind="kept",
                    id=node.id,
                    reason=f"job {node.id} is kept: its output {artifact} is read by job {consumer}, which stays",
                    by=consumer,
                )
    return None


def _artifact_blockers(graph: LineageGraph, node: JobNode, doomed: set[str]) -> list[DeleteBlocker]:
    """Rule 3 and protection: the outputs of a doomed job that must survive."""
    blockers: list[DeleteBlocker] = []
    for artifact in sorted(node.outputs):
        if artifact in graph.protected:
            blockers.append(
                DeleteBlocker(kind="protected", id=artifact, reason=f"artifact {artifact} is protected", by=node.id)
            )
        blockers += [
            DeleteBlocker(
                kind="consumer",
                id=artifact,
                reason=f"artifact {artifact} is an input of job {consumer}, which is not being deleted",
                by=consumer,
            )
            for consumer in graph.consumers(artifact)
            if consumer not in doomed
        ]
    return blockers


def _steps(graph: LineageGraph, doomed: set[str], to_cancel: list[str], *, delete_outputs: bool) -> list[DeleteStep]:
    steps = [DeleteStep(action="cancel", id=job_id) for job_id in to_cancel]
    for job_id in _ordered(graph, doomed):
        if delete_outputs:
            steps += [DeleteStep(action="delete_artifact", id=a) for a in sorted(graph.jobs[job_id].outputs)]
        steps.append(DeleteStep(action="delete_job", id=job_id))
    return steps


def _ordered(graph: LineageGraph, doomed: set[str]) -> list[str]:
    """The doomed jobs with consumers before producers and sub-jobs before parents (ties by id).

    A job must go after every doomed job that reads one of its outputs and after its doomed sub-jobs. Real lineage
    has no cycles; should a graph have one, its jobs follow in id order so that the plan is still complete.
    """
    # waiting[x] = doomed jobs that must be deleted before x
    waiting: dict[str, set[str]] = {job_id: set() for job_id in doomed}
    for job_id in doomed:
        node = graph.jobs[job_id]
        waiting[job_id].update(c for c in graph.children(job_id) if c in doomed)
        for artifact in node.outputs:
            waiting[job_id].update(c for c in graph.consumers(artifact) if c in doomed and c != job_id)
    order: list[str] = []
    ready = sorted(job_id for job_id, before in waiting.items() if not before)
    done: set[str] = set()
    while len(done) < len(waiting):
        if not ready:  # a cycle: release the smallest remaining id
            ready = [min(job_id for job_id in waiting if job_id not in done)]
        job_id = ready.pop(0)
        if job_id in done:
            continue
        done.add(job_id)
        order.append(job_id)
        newly = [x for x, before in waiting.items() if x not in done and job_id in before and before <= done]
        ready = sorted(set(ready) | set(newly))
    return order


def _with_subjobs(graph: LineageGraph, roots: Iterable[str]) -> set[str]:
    found: set[str] = set()
    pending = list(roots)
    while pending:
        job_id = pending.pop()
        if job_id in found:
            continue
        found.add(job_id)
        pending.extend(graph.children(job_id))
    return found


def _not_found(job_id: str) -> DeleteBlocker:
    return DeleteBlocker(kind="not_found", id=job_id, reason=f"job {job_id} does not exist (or was already deleted)")


def _subjob_blocker(job_id: str, child: str) -> DeleteBlocker:
    return DeleteBlocker(
        kind="subjob",
        id=job_id,
        reason=f"job {job_id} has sub-job {child}; delete it too (delete_subjobs=true)",
        by=child,
    )


def _outputs_blocker(job_id: str, artifact: str) -> DeleteBlocker:
    return DeleteBlocker(
        kind="outputs",
        id=job_id,
        reason=f"job {job_id} still has output {artifact}; delete it too (delete_outputs=true)",
        by=artifact,
    )
