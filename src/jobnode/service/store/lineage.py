"""The lineage the store records (jobs, their parents, the artifacts they read and produce), read for the planner
in `jobnode.core.lineage`, and the deletions it plans, carried out with their tombstones."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from jobnode.core.lineage import JobNode, LineageGraph
from jobnode.core.models import DeletePlan, JobState
from jobnode.service.store.database import dumps, json_list
from jobnode.service.store.events import EventTable


class Lineage:
    """Reads and deletions inside the caller's transaction: planning and deleting must see the same lineage."""

    @staticmethod
    def graph(conn: sqlite3.Connection, job_ids: Iterable[str] = (), artifact_ids: Iterable[str] = ()) -> LineageGraph:
        """The part of the lineage that deleting `job_ids` (or `artifact_ids`) depends on.

        That is the jobs themselves and their sub-jobs (recursively), with their inputs and outputs, and every job
        that consumes one of their outputs (or one of `artifact_ids`). Unknown ids are left out.

        Example:
            ```python
            with store.write() as conn:
                plan = plan_deletion(store.lineage.graph(conn, ["job_0123"]), ["job_0123"], delete_outputs=True)
            ```
        """
        family: list[str] = []
        frontier = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM jobs WHERE id IN (SELECT value FROM json_each(?))", (json_list(dict.fromkeys(job_ids)),)
            )
        ]
        while frontier:
            family.extend(frontier)
            frontier = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM jobs WHERE parent_id IN (SELECT value FROM json_each(?))", (json_list(frontier),)
                )
                if r[0] not in family
            ]
        nodes = _nodes(conn, family, with_outputs=True)
        watched = [a for node in nodes.values() for a in node.outputs] + list(artifact_ids)
        consumers = {
            r[0]
            for r in conn.execute(
                "SELECT job_id FROM consumers WHERE artifact_id IN (SELECT value FROM json_each(?))",
                (json_list(watched),),
            )
        }
        nodes.update(_nodes(conn, [c for c in consumers if c not in nodes], with_outputs=False))
        return LineageGraph(jobs=nodes)

    @staticmethod
    def carry_out(conn: sqlite3.Connection, plan: DeletePlan, deleted_by: str | None) -> list[Path]:
        """Delete the rows of an allowed plan, in its order; returns the artifact files to remove after commit.

        A job's tombstone records who deleted it, when, and what went with it; its events stay.
        """
        paths: list[Path] = []
        gone: dict[str, list[str]] = {}
        for step in plan.steps:
            if step.action == "delete_artifact":
                art = conn.execute("SELECT job_id, path FROM artifacts WHERE id = ?", (step.id,)).fetchone()
                if art is None:
                    continue
                paths.append(Path(art["path"]))
                gone.setdefault(art["job_id"], []).append(step.id)
                conn.execute("DELETE FROM artifacts WHERE id = ?", (step.id,))
                conn.execute("DELETE FROM consumers WHERE artifact_id = ?", (step.id,))
                EventTable.add(
                    conn, art["job_id"], "artifact_deleted", None, f"artifact {step.id} deleted", {"artifact": step.id}
                )
                continue
            job_id = step.id
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                continue
            what = {
                "name": row["name"],
                "state": row["state"],
                "step": row["step"],
                "parent_id": row["parent_id"],
                "idempotency_key": row["idempotency_key"],
                "artifacts": gone.get(job_id, []),
                "plan_targets": plan.targets,
            }
            for table in ("jobs", "batches", "logs", "errors", "dead_letters"):
                column = "id" if table == "jobs" else "job_id"
                conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (job_id,))
            conn.execute("DELETE FROM consumers WHERE job_id = ?", (job_id,))
            conn.execute(
                "INSERT OR REPLACE INTO tombstones (job_id, deleted_at, deleted_by, what) VALUES (?, ?, ?, ?)",
                (job_id, time.time(), deleted_by, dumps(what)),
            )
            EventTable.add(
                conn,
                job_id,
                "deleted",
                None,
                f"deleted by {deleted_by or 'a client'}",
                {"artifacts": what["artifacts"], "plan_targets": plan.targets},
            )
        return paths


def _nodes(conn: sqlite3.Connection, job_ids: Sequence[str], *, with_outputs: bool) -> dict[str, JobNode]:
    if not job_ids:
        return {}
    ids = json_list(job_ids)
    inputs: dict[str, set[str]] = {}
    for artifact_id, job_id in conn.execute(
        "SELECT artifact_id, job_id FROM consumers WHERE job_id IN (SELECT value FROM json_each(?))", (ids,)
    ):
        inputs.setdefault(job_id, set()).add(artifact_id)
    outputs: dict[str, set[str]] = {}
    if with_outputs:
        for artifact_id, job_id in conn.execute(
            "SELECT id, job_id FROM artifacts WHERE job_id IN (SELECT value FROM json_each(?))", (ids,)
        ):
            outputs.setdefault(job_id, set()).add(artifact_id)
    return {
        job_id: JobNode(
            id=job_id,
            terminal=JobState(state).is_terminal,
            inputs=frozenset(inputs.get(job_id, ())),
            outputs=frozenset(outputs.get(job_id, ())),
            parent_id=parent_id,
        )
        for job_id, state, parent_id in conn.execute(
            "SELECT id, state, parent_id FROM jobs WHERE id IN (SELECT value FROM json_each(?))", (ids,)
        )
    }
