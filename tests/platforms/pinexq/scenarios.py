"""Random lineage on the PinexQ emulator, and a model of PinexQ's deletion rules to judge what happens to it.

A scenario is a few uploaded WorkData and a few jobs, each reading some of the WorkData that exist when it is
created (uploads and the outputs of earlier jobs, so chains form), perhaps a sub-job of an earlier job, perhaps left
unstarted (its selected WorkData are then held by it). A started job with input WorkData writes output WorkData; one
without is a call and writes none. Then comes a sequence of deletions.

`World` restates the rules independently of jobnode's planner: a job is deleted only when none of its output
WorkData and none of its sub-jobs survive; WorkData only when no surviving job reads it (or has selected it).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from hypothesis import strategies as st

from jobnode.core.errors import NotFound
from jobnode.platforms.pinexq import mapping, wire
from jobnode.platforms.pinexq.backend import PinexqBackend

Op = tuple[str, int]


@dataclass(frozen=True)
class PlannedJob:
    reads: tuple[str, ...]
    parent: int | None
    started: bool


@dataclass(frozen=True)
class Scenario:
    uploads: int
    jobs: tuple[PlannedJob, ...]
    ops: tuple[Op, ...]

    def workdata(self) -> list[str]:
        """The WorkData of the scenario: `u<k>` uploads, `o<i>` the output of job i."""
        return [f"u{k}" for k in range(self.uploads)] + [
            f"o{i}" for i, job in enumerate(self.jobs) if job.started and job.reads
        ]


@st.composite
def scenarios(draw: st.DrawFn, kinds: tuple[str, ...], max_jobs: int = 5, max_ops: int = 6) -> Scenario:
    uploads = draw(st.integers(1, 2))
    available = [f"u{k}" for k in range(uploads)]
    jobs: list[PlannedJob] = []
    for i in range(draw(st.integers(1, max_jobs))):
        reads = tuple(sorted(draw(st.sets(st.sampled_from(available), max_size=2))))
        parent = draw(st.one_of(st.none(), st.integers(0, i - 1))) if i else None
        started = draw(st.booleans()) if draw(st.integers(0, 3)) == 0 else True
        jobs.append(PlannedJob(reads, parent, started))
        if started and reads:
            available.append(f"o{i}")
    # an op names a job by its index, a WorkData by its index in `Scenario.workdata()`, a cleanup its targets by bits
    bound = {"wd": len(available) - 1, "cleanup": 2 ** len(jobs) - 1}
    op = st.one_of(
        *(st.tuples(st.just(k), st.integers(1 if k == "cleanup" else 0, bound.get(k, len(jobs) - 1))) for k in kinds)
    )
    return Scenario(uploads, tuple(jobs), tuple(draw(st.lists(op, min_size=1, max_size=max_ops))))


@dataclass
class World:
    """What survives, by the rules (every started job has ended before the deletions)."""

    scenario: Scenario
    jobs: set[int] = field(default_factory=set)
    workdata: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.jobs = set(range(len(self.scenario.jobs)))
        self.workdata = set(self.scenario.workdata())

    def output(self, i: int) -> str | None:
        job = self.scenario.jobs[i]
        return f"o{i}" if job.started and job.reads else None

    def children(self, i: int) -> list[int]:
        """The surviving sub-jobs of job i, newest first (the order the platform lists them)."""
        return sorted((c for c in self.jobs if self.scenario.jobs[c].parent == i), reverse=True)

    def readers(self, wd: str) -> list[int]:
        return [j for j in self.jobs if wd in self.scenario.jobs[j].reads]

    def may_delete_job(self, i: int) -> bool:
        return i in self.jobs and self.output(i) not in self.workdata and not self.children(i)

    def may_delete_workdata(self, wd: str) -> bool:
        return wd in self.workdata and not self.readers(wd)

    def delete_job(self, i: int) -> bool:
        allowed = self.may_delete_job(i)
        if allowed:
            self.jobs.discard(i)
        return allowed

    def delete_workdata(self, wd: str) -> bool:
        allowed = self.may_delete_workdata(wd)
        if allowed:
            self.workdata.discard(wd)
        return allowed

    def delete_with_everything(self, i: int) -> bool:
        """All or nothing: the job, its sub-jobs (recursively) and all their outputs, unless a job that stays reads
        one of those outputs."""
        if i not in self.jobs:
            return False
        doomed = {i}
        while more := {c for d in doomed for c in self.children(d)} - doomed:
            doomed |= more
        outputs = {o for d in doomed if (o := self.output(d)) in self.workdata}
        if any(r not in doomed for o in outputs for r in self.readers(o)):
            return False
        self.jobs -= doomed
        self.workdata -= outputs
        return True

    def delete_with_associated(self, i: int) -> None:
        """The SDK's `delete_with_associated()`, step by step and best effort: each sub-job likewise (newest first),
        then each output WorkData, then the job; a step that is refused is skipped."""
        if i not in self.jobs:
            return
        for child in self.children(i):
            self.delete_with_associated(child)
        output = self.output(i)
        if output is not None:
            self.delete_workdata(output)
        self.delete_job(i)

    def cleanup(self, targets: set[int]) -> set[int]:
        """jobnode's cleanup: the largest set of targets it may delete with their outputs (a job that has not
        started is not finished for jobnode, so it stays)."""
        doomed = {t for t in targets if t in self.jobs and self.scenario.jobs[t].started}
        changed = True
        while changed:
            changed = False
            for t in sorted(doomed):
                output = self.output(t)
                keeps_child = any(c not in doomed for c in self.children(t))
                read = output in self.workdata and any(r not in doomed for r in self.readers(output or ""))
                if keeps_child or read:
                    doomed.discard(t)
                    changed = True
        self.jobs -= doomed
        self.workdata -= {o for d in doomed if (o := self.output(d)) is not None}
        return doomed

    def broken(self) -> list[str]:
        """The rules a surviving set breaks (it must never break any)."""
        out = []
        for i in self.jobs:
            job = self.scenario.jobs[i]
            out += [f"job {i} reads {w}, which was deleted" for w in job.reads if w not in self.workdata]
            if job.parent is not None and job.parent not in self.jobs:
                out.append(f"job {i} survives its parent {job.parent}")
        for wd in self.workdata:
            if wd.startswith("o") and int(wd[1:]) not in self.jobs:
                out.append(f"{wd} survives the job that wrote it")
        return out


@dataclass
class Built:
    """A scenario on the platform: the URL of each job and WorkData."""

    jobs: list[str]
    workdata: dict[str, str]


async def build(backend: PinexqBackend, scenario: Scenario) -> Built:
    """Create the scenario's WorkData and jobs, and wait until every started job has ended."""
    siren = backend.siren
    entry = await siren.entry_point()
    jobs_root = await siren.follow(entry, "JobsRoot")
    steps_root = await siren.follow(entry, "ProcessingStepsRoot")
    steps = {}
    for name, version in (("identity", "1"), ("my_function", "1.0.0")):
        query = wire.ProcessingStepQueryParameters(
            filter=wire.ProcessingStepFilter(function_name=name, function_name_match_type="MatchExact", version=version)
        )
        location = await siren.act(steps_root, "CreateProcessingStepQuery", query)
        steps[name] = (await siren.get(location or "")).embedded("item")[0].self_href
    workdata = {
        f"u{k}": await backend.upload_workdata(f"u{k}.jsonl", b'{"value": 1}\n{"value": 2}\n')
        for k in range(scenario.uploads)
    }
    jobs: list[str] = []
    for i, planned in enumerate(scenario.jobs):
        body = wire.RapidJobSetupParameters(
            name=f"j{i}",
            processing_step_url=steps["identity" if planned.reads else "my_function"],
            parent_job_url=jobs[planned.parent] if planned.parent is not None else None,
            input_data_slots=[wire.InputDataSlotParameter(index=0, work_data_urls=[workdata[r] for r in planned.reads])]
            if planned.reads
            else None,
            start=planned.started,
        )
        location = await siren.act(jobs_root, "RapidSetupJob", body)
        assert location is not None
        jobs.append(location)
        if planned.started:
            ended = [j async for j in backend.watch([mapping.resource_id(location)])][-1]
            assert ended.is_terminal, ended
            if planned.reads:
                [output] = ended.outputs
                assert output.uri is not None
                workdata[f"o{i}"] = output.uri.removesuffix("/download")
    return Built(jobs, workdata)


async def exists(backend: PinexqBackend, href: str) -> bool:
    try:
        await backend.siren.get(href)
    except NotFound:
        return False
    return True


async def observe(backend: PinexqBackend, built: Built) -> tuple[set[int], set[str]]:
    """Which of the scenario's jobs and WorkData exist on the platform now."""
    jobs = await asyncio.gather(*(exists(backend, href) for href in built.jobs))
    names = sorted(built.workdata)
    workdata = await asyncio.gather(*(exists(backend, built.workdata[n]) for n in names))
    return {i for i, found in enumerate(jobs) if found}, {n for n, found in zip(names, workdata, strict=True) if found}
