"""Property tests of PinexQ's deletion rules on the emulator, through jobnode: random lineage (chains of jobs and
WorkData, sub-jobs, jobs that have not started), then random deletions with `delete_job` (plain, or with outputs
and sub-jobs), `delete_artifact` and `cleanup`.

Each deletion must do exactly what an independent model of the rules allows (`scenarios.World`), and no sequence
may ever leave a job whose output WorkData is gone while it survives, or WorkData gone that a surviving job reads.
"""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings

import jobnode
from jobnode.core.errors import Conflict
from jobnode.platforms.pinexq import mapping
from jobnode.platforms.pinexq.backend import PinexqBackend
from jobnode.service.process import ServiceProcess
from tests.platforms.pinexq.scenarios import Scenario, World, build, observe, scenarios


async def play(service: ServiceProcess, scenario: Scenario) -> None:
    async with jobnode.AsyncClient(service.url, service.token, platform="pinexq") as client:
        backend = client.backend
        assert isinstance(backend, PinexqBackend)
        built = await build(backend, scenario)
        world = World(scenario)
        names = scenario.workdata()
        ids = [mapping.resource_id(href) for href in built.jobs]
        for kind, index in scenario.ops:
            if kind == "cleanup":
                targets = {i for i in range(len(built.jobs)) if index >> i & 1}
                expected = world.cleanup(targets)
                report = await client.jobs.cleanup([mapping.resource_id(built.jobs[i]) for i in sorted(targets)])
                assert {
                    built.jobs.index(next(h for h in built.jobs if h.endswith(j))) for j in report.deleted_jobs
                } == expected
            else:
                if kind == "wd":
                    allowed = world.delete_workdata(names[index])
                    call = backend.delete_artifact(mapping.resource_id(built.workdata[names[index]]))
                elif kind == "job":
                    allowed = world.delete_job(index)
                    call = backend.delete_job(ids[index])
                else:
                    allowed = world.delete_with_everything(index)
                    call = backend.delete_job(
                        mapping.resource_id(built.jobs[index]), delete_outputs=True, delete_subjobs=True
                    )
                try:
                    await call
                    done = True
                except Conflict as refused:
                    done = False
                    assert refused.details["blockers"], refused
                except jobnode.NotFound:
                    done = False  # deleted by an earlier op
                assert done is allowed, (kind, index, world)
            jobs, workdata = await observe(backend, built)
            assert (jobs, workdata) == (world.jobs, world.workdata), (kind, index)
            assert world.broken() == []


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(scenario=scenarios(kinds=("job", "job+", "wd", "cleanup")))
def test_deletions_through_jobnode_follow_the_rules(pinexq_service: ServiceProcess, scenario: Scenario) -> None:
    asyncio.run(play(pinexq_service, scenario))
