"""A job's neighbours in the lineage, as the small graph of its page: upstream, the jobs whose outputs it reads and
its parent; downstream, the jobs that read its outputs and its sub-jobs.

The graph is laid out here (three columns of boxes, arrows between them) and drawn by the template as SVG, with
the same neighbours listed as text beside it for screen readers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jobnode.service.errors import NotFound
from jobnode.service.jobs import JobService
from jobnode.service.views import JobRecord

#: the drawing's size and its boxes'
WIDTH, BOX_W, BOX_H, ROW = 900, 220, 46, 62
#: neighbours drawn on each side (the lists beside the drawing say how many more there are)
MOST = 12
COLUMNS = (10, (WIDTH - BOX_W) // 2, WIDTH - BOX_W - 10)


@dataclass(frozen=True)
class Neighbour:
    """A job next to this one: how it is related (`reads`, `read by`, `parent`, `sub-job`) and through which
    artifact, with its name and state when it still exists."""

    job_id: str
    relation: str
    artifact: str | None = None
    name: str | None = None
    state: str | None = None
    x: int = 0
    y: int = 0

    @property
    def label(self) -> str:
        return self.artifact or self.relation


@dataclass(frozen=True)
class Lineage:
    job: JobRecord
    upstream: list[Neighbour] = field(default_factory=list)
    downstream: list[Neighbour] = field(default_factory=list)
    more_upstream: int = 0
    more_downstream: int = 0
    height: int = ROW
    x: int = COLUMNS[1]
    y: int = 0

    width = WIDTH
    box_w = BOX_W
    box_h = BOX_H

    @property
    def empty(self) -> bool:
        return not self.upstream and not self.downstream


def lineage_of(service: JobService, record: JobRecord) -> Lineage:
    """The job's neighbours, placed for drawing."""
    upstream: list[tuple[str, str, str | None]] = []
    if record.parent_id:
        upstream.append((record.parent_id, "parent", None))
    for artifact_id in record.inputs:
        try:
            art = service.artifact(artifact_id)
        except NotFound:
            continue
        upstream.append((art.job_id, "reads", art.name))
    downstream: list[tuple[str, str, str | None]] = []
    for output in record.outputs:
        try:
            consumers = service.artifact(output.id).consumers or ()
        except NotFound:
            continue
        downstream += [(job_id, "read by", output.name) for job_id in consumers]
    downstream += [(job_id, "sub-job", None) for job_id in service.children(record.id)]
    more_up, more_down = max(0, len(upstream) - MOST), max(0, len(downstream) - MOST)
    upstream, downstream = upstream[:MOST], downstream[:MOST]
    known = {r.id: r for r in service.get_many(sorted({n[0] for n in upstream + downstream}))}
    rows = max(len(upstream), len(downstream), 1)
    height = rows * ROW + 10

    def place(found: list[tuple[str, str, str | None]], column: int) -> list[Neighbour]:
        top = (height - len(found) * ROW) // 2 + (ROW - BOX_H) // 2
        out = []
        for i, (job_id, relation, artifact) in enumerate(found):
            other = known.get(job_id)
            out.append(
                Neighbour(
                    job_id,
                    relation,
                    artifact,
                    other.name if other else None,
                    other.state.value if other else None,
                    COLUMNS[column],
                    top + i * ROW,
                )
            )
        return out

    return Lineage(
        record,
        place(upstream, 0),
        place(downstream, 2),
        more_up,
        more_down,
        height,
        COLUMNS[1],
        (height - BOX_H) // 2,
    )
