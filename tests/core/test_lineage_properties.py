"""Property-based tests of the lineage planner over random lineage graphs and random delete sequences.

An independent reference (`violations`) restates DESIGN.md's rules over a set of jobs and artifacts to delete; the
planner must allow exactly what the reference finds safe, order its steps, and never, over any sequence of
deletions, remove an artifact that a surviving job consumes.
"""

from __future__ import annotations

from itertools import combinations

from hypothesis import given, settings
from hypothesis import strategies as st

from jobnode.core.lineage import JobNode, LineageGraph, plan_artifact_deletion, plan_cleanup, plan_deletion
from jobnode.core.models import DeletePlan


@st.composite
def graphs(draw: st.DrawFn, max_jobs: int = 9) -> LineageGraph:
    """A DAG like real lineage: each job may read earlier jobs' outputs and be a sub-job of an earlier job."""
    count = draw(st.integers(1, max_jobs))
    nodes: list[JobNode] = []
    artifacts: list[str] = []
    for i in range(count):
        job_id = f"j{i}"
        inputs = draw(st.sets(st.sampled_from(artifacts), max_size=3)) if artifacts else set()
        parent = draw(st.one_of(st.none(), st.sampled_from([n.id for n in nodes]))) if nodes else None
        outputs = {f"{job_id}/o{k}" for k in range(draw(st.integers(0, 2)))}
        nodes.append(JobNode(job_id, draw(st.booleans()), frozenset(inputs), frozenset(outputs), parent))
        artifacts.extend(sorted(outputs))
    protected = draw(st.sets(st.sampled_from(artifacts), max_size=2)) if artifacts else set()
    return LineageGraph.of(*nodes, protected=protected)


def subtree(graph: LineageGraph, roots: set[str]) -> set[str]:
    out = set(roots)
    while True:
        more = {j.id for j in graph.jobs.values() if j.parent_id in out} - out
        if not more:
            return out
        out |= more


def violations(graph: LineageGraph, jobs: set[str], artifacts: set[str], protected: frozenset[str]) -> list[str]:
    """Every rule that deleting these jobs and artifacts together would break (no cancelling)."""
    broken = []
    for job_id in jobs:
        node = graph.jobs[job_id]
        if not node.terminal:
            broken.append(f"rule 1: {job_id} is not terminal")
        if not node.outputs <= artifacts:
            broken.append(f"rule 2: {job_id} keeps outputs")
        if any(j.parent_id == job_id and j.id not in jobs for j in graph.jobs.values()):
            broken.append(f"rule 4: {job_id} keeps a sub-job")
    for artifact in artifacts:
        if artifact in protected:
            broken.append(f"{artifact} is protected")
        if any(artifact in j.inputs and j.id not in jobs for j in graph.jobs.values()):
            broken.append(f"rule 3: {artifact} is read by a surviving job")
    return broken


def deleted(plan: DeletePlan) -> tuple[set[str], set[str]]:
    return (
        {s.id for s in plan.steps if s.action == "delete_job"},
        {s.id for s in plan.steps if s.action == "delete_artifact"},
    )


def assert_ordered(graph: LineageGraph, plan: DeletePlan) -> None:
    position = {(s.action, s.id): i for i, s in enumerate(plan.steps)}
    assert len(position) == len(plan.steps), "a step appears twice"
    jobs, artifacts = deleted(plan)
    for job_id in jobs:
        node = graph.jobs[job_id]
        here = position[("delete_job", job_id)]
        if node.parent_id in jobs:
            assert here < position[("delete_job", node.parent_id)], "a sub-job must go before its parent"
        for artifact in node.inputs & artifacts:
            assert here < position[("delete_artifact", artifact)], "a consumer must go before what it reads"
        for artifact in node.outputs & artifacts:
            assert position[("delete_artifact", artifact)] < here, "outputs go before their job"


@settings(max_examples=300, deadline=None)
@given(graphs(), st.data(), st.booleans(), st.booleans())
def test_plan_deletion_allows_exactly_what_the_rules_allow(
    graph: LineageGraph, data: st.DataObject, delete_outputs: bool, delete_subjobs: bool
) -> None:
    targets = data.draw(st.lists(st.sampled_from(sorted(graph.jobs)), min_size=1, max_size=3, unique=True))
    plan = plan_deletion(graph, targets, delete_outputs=delete_outputs, delete_subjobs=delete_subjobs)
    doomed = subtree(graph, set(targets)) if delete_subjobs else set(targets)
    # targets lose their outputs when asked; sub-jobs always go with their data
    gone = {a for j in doomed for a in graph.jobs[j].outputs if delete_outputs or j not in targets}
    expected = violations(graph, doomed, gone, graph.protected)
    assert plan.allowed == (not expected), expected
    if plan.allowed:
        assert deleted(plan) == (doomed, gone)
        assert_ordered(graph, plan)
    else:
        assert plan.steps == [] and plan.blockers
    dry = plan_deletion(graph, targets, delete_outputs=delete_outputs, delete_subjobs=delete_subjobs, dry_run=True)
    assert dry.dry_run and dry.model_copy(update={"dry_run": False}) == plan


@settings(max_examples=300, deadline=None)
@given(graphs(max_jobs=8), st.data(), st.booleans())
def test_plan_cleanup_deletes_the_largest_safe_subset(
    graph: LineageGraph, data: st.DataObject, delete_outputs: bool
) -> None:
    targets = data.draw(st.lists(st.sampled_from(sorted(graph.jobs)), min_size=1, unique=True))
    plan = plan_cleanup(graph, targets, delete_outputs=delete_outputs)
    jobs, artifacts = deleted(plan)
    assert plan.allowed and jobs <= set(targets)
    assert artifacts == {a for j in jobs for a in graph.jobs[j].outputs}
    assert not violations(graph, jobs, artifacts, graph.protected)
    assert_ordered(graph, plan)
    assert {b.id for b in plan.blockers} == set(targets) - jobs, "every kept target is explained"
    best = 0
    for size in range(len(targets), 0, -1):
        for subset in combinations(targets, size):
            outputs = {a for j in subset for a in graph.jobs[j].outputs} if delete_outputs else set()
            if not violations(graph, set(subset), outputs, graph.protected):
                best = size
                break
        if best:
            break
    assert len(jobs) == best


@st.composite
def operations(draw: st.DrawFn) -> list[tuple[str, int, bool, bool]]:
    ops = st.tuples(
        st.sampled_from(["delete", "delete_artifact", "finish", "cleanup"]),
        st.integers(0, 20),
        st.booleans(),
        st.booleans(),
    )
    return draw(st.lists(ops, max_size=12))


@settings(max_examples=300, deadline=None)
@given(graphs(), operations())
def test_no_delete_sequence_removes_what_a_surviving_job_reads(
    graph: LineageGraph, ops: list[tuple[str, int, bool, bool]]
) -> None:
    produced = {a for j in graph.jobs.values() for a in j.outputs}
    for op, pick, flag_a, flag_b in ops:
        if not graph.jobs:
            break
        job_id = sorted(graph.jobs)[pick % len(graph.jobs)]
        node = graph.jobs[job_id]
        if op == "finish":  # jobs end between deletions
            graph = LineageGraph(
                jobs={**graph.jobs, job_id: JobNode(job_id, True, node.inputs, node.outputs, node.parent_id)},
                protected=graph.protected,
            )
            continue
        if op == "delete":
            plan = plan_deletion(graph, [job_id], delete_outputs=flag_a, delete_subjobs=flag_b)
        elif op == "cleanup":
            plan = plan_cleanup(graph, sorted(graph.jobs)[pick % len(graph.jobs) :], delete_outputs=flag_a)
        else:
            existing = sorted(a for j in graph.jobs.values() for a in j.outputs)
            if not existing:
                continue
            plan = plan_artifact_deletion(graph, [existing[pick % len(existing)]])
        if not plan.allowed:
            continue
        jobs, artifacts = deleted(plan)
        assert all(graph.jobs[j].terminal for j in jobs), "rule 1"
        graph = LineageGraph(
            jobs={
                j.id: JobNode(j.id, j.terminal, j.inputs, j.outputs - artifacts, j.parent_id)
                for j in graph.jobs.values()
                if j.id not in jobs
            },
            protected=graph.protected,
        )
        existing = {a for j in graph.jobs.values() for a in j.outputs}
        for survivor in graph.jobs.values():
            assert survivor.inputs & produced <= existing, f"{survivor.id} lost an input"
            assert survivor.parent_id is None or survivor.parent_id in graph.jobs, f"{survivor.id} lost its parent"
        assert graph.protected & produced <= existing, "a protected artifact was deleted"
