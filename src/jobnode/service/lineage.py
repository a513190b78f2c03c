"""The local service's lineage, read from its store for the planner in `jobnode.core.lineage`."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

from jobnode.core.lineage import JobNode, LineageGraph

TERMINAL = frozenset({"succeeded", "failed", "cancelled", "timed_out"})


def _marks(values: Sequence[str]) -> str:
    return ",".join("?" * len(values))


def load_graph(conn: sqlite3.Connection, job_ids: Iterable[str] = (), artifact_ids: Iterable[str] = ()) -> LineageGraph:
    """The part of the lineage that deleting `job_ids` (or `artifact_ids`) depends on.

    That is the jobs themselves and their sub-jobs (recursively), with their inputs and outputs, and every job
    that consumes one of their outputs (or one of `artifact_ids`). Unknown ids are left out.

    Example:
        ```python
        with store.write() as conn:
            plan = plan_deletion(load_graph(conn, ["job_0123"]), ["job_0123"], delete_outputs=True)
        ```
    """
    family: list[str] = []
    frontier = [j for j in dict.fromkeys(job_ids)]
    frontier = [r[0] for r in conn.execute(f"SELECT id FROM jobs WHERE id IN ({_marks(frontier)})", frontier)]
    while frontier:
        family.extend(frontier)
        frontier = [
            r[0]
            for r in conn.execute(f"SELECT id FROM jobs WHERE parent_id IN ({_marks(frontier)})", frontier)
            if r[0] not in family
        ]
    nodes = _nodes(conn, family, with_outputs=True)
    watched = [a for node in nodes.values() for a in node.outputs] + list(artifact_ids)
    consumers = {
        r[0] for r in conn.execute(f"SELECT job_id FROM consumers WHERE artifact_id IN ({_marks(watched)})", watched)
    }
    nodes.update(_nodes(conn, [c for c in consumers if c not in nodes], with_outputs=False))
    return LineageGraph(jobs=nodes)


def _nodes(conn: sqlite3.Connection, job_ids: Sequence[str], *, with_outputs: bool) -> dict[str, JobNode]:
    if not job_ids:
        return {}
    inputs: dict[str, set[str]] = {}
    for artifact_id, job_id in conn.execute(
        f"SELECT artifact_id, job_id FROM consumers WHERE job_id IN ({_marks(job_ids)})", job_ids
    ):
        inputs.setdefault(job_id, set()).add(artifact_id)
    outputs: dict[str, set[str]] = {}
    if with_outputs:
        for artifact_id, job_id in conn.execute(
            f"SELECT id, job_id FROM artifacts WHERE job_id IN ({_marks(job_ids)})", job_ids
        ):
            outputs.setdefault(job_id, set()).add(artifact_id)
    return {
        job_id: JobNode(
            id=job_id,
            terminal=state in TERMINAL,
            inputs=frozenset(inputs.get(job_id, ())),
            outputs=frozenset(outputs.get(job_id, ())),
            parent_id=parent_id,
        )
        for job_id, state, parent_id in conn.execute(
            f"SELECT id, state, parent_id FROM jobs WHERE id IN ({_marks(job_ids)})", job_ids
        )
    }
