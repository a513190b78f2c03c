"""Property tests of PinexQ's deletion rules through PinexQ's own SDK: random lineage (chains of jobs and WorkData,
sub-jobs, jobs that have not started) built on the emulator, then random deletions with `Job.delete()`,
`WorkData.delete()` and `Job.delete_with_associated()`.

Each deletion must do exactly what an independent model of the rules allows (`tests.platforms.pinexq.scenarios`);
no sequence may ever leave a job whose output WorkData is gone while it survives, or WorkData gone that a surviving
job reads.
"""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings

from jobnode.platforms.pinexq.backend import PinexqBackend
from jobnode.service.process import ServiceProcess
from tests.conformance.pinexq.conftest import Sdk
from tests.conformance.sdk_runner import SdkError
from tests.platforms.pinexq.scenarios import Built, Scenario, World, build, observe, scenarios

DELETE_JOB = "Job.from_url(client, url).delete()"
DELETE_WORKDATA = "WorkData.from_url(client, url).delete()"
# best effort: the SDK warns about each step the platform refuses and goes on
DELETE_WITH_ASSOCIATED = """
import warnings
with warnings.catch_warnings(record=True) as refused:
    warnings.simplefilter("always")
    Job.from_url(client, url).delete_with_associated()
result = [str(w.message) for w in refused]
"""


async def _setup(service: ServiceProcess, scenario: Scenario) -> Built:
    backend = PinexqBackend(service.url, token=service.token)
    try:
        return await build(backend, scenario)
    finally:
        await backend.aclose()


async def _observe(service: ServiceProcess, built: Built) -> tuple[set[int], set[str]]:
    backend = PinexqBackend(service.url, token=service.token)
    try:
        return await observe(backend, built)
    finally:
        await backend.aclose()


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(scenario=scenarios(kinds=("job", "wd", "dwa")))
def test_deletions_through_the_sdk_follow_the_rules(
    sdk: Sdk, pinexq_service: ServiceProcess, scenario: Scenario
) -> None:
    built = asyncio.run(_setup(pinexq_service, scenario))
    world = World(scenario)
    names = scenario.workdata()
    for kind, index in scenario.ops:
        if kind == "dwa":
            existed = index in world.jobs
            world.delete_with_associated(index)
            try:
                sdk.run(DELETE_WITH_ASSOCIATED, url=built.jobs[index])
            except SdkError as gone:
                assert not existed and "status: 404" in gone.message  # deleted by an earlier op
        else:
            if kind == "job":
                existed, allowed = index in world.jobs, world.delete_job(index)
                code, url = DELETE_JOB, built.jobs[index]
            else:
                existed, allowed = names[index] in world.workdata, world.delete_workdata(names[index])
                code, url = DELETE_WORKDATA, built.workdata[names[index]]
            try:
                sdk.run(code, url=url)
                done = True
            except SdkError as refused:
                done = False
                assert ("status: 409" if existed else "status: 404") in refused.message, refused.message
            assert done is allowed, (kind, index, world)
        jobs, workdata = asyncio.run(_observe(pinexq_service, built))
        assert (jobs, workdata) == (world.jobs, world.workdata), (kind, index)
        assert world.broken() == []
