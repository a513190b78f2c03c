"""PinexQ jobs as a jobnode platform: a small Siren client, the backend, and an emulator for the local service.

A PinexQ job runs a processing step (a named, versioned function) with parameters and tags over input WorkData; its
return value is its result and what it writes lands in output WorkData. The platform's deletion rules are jobnode's
lineage rules. See docs/pinexq.md.

Example:
    ```python
    async with jobnode.AsyncClient("https://myapihost.com", api_key, platform="pinexq") as client:
        job = await client.jobs.create(name="nightly", step="my_function", step_version="1.0.0",
                                       params={"x": 5}, items=[{"id": 1}])
        job = await client.jobs.wait(job.id)
    ```
"""

from jobnode.core.backend import Capabilities, Sweep
from jobnode.platforms.pinexq.settings import PinexqSettings
from jobnode.platforms.platform import Platform

#: the most jobs one page of a job query holds, in the emulator and in jobnode's listings
PAGE_SIZE_MAX = 100

PLATFORM = Platform(
    name="pinexq",
    title="PinexQ",
    label="PinexQ",
    settings=PinexqSettings,
    capabilities=Capabilities(
        cancel=True,
        delete=True,
        logs=True,
        watch=True,
        artifacts=True,
        read_artifacts=True,
        delete_artifacts=True,
        lineage=True,
        errors=True,
        subjobs=True,
        plan=True,
        tags=True,
        sweep=Sweep(page_size=PAGE_SIZE_MAX),
    ),
    backend="jobnode.platforms.pinexq.backend:PinexqBackend.from_settings",
    emulator="jobnode.platforms.pinexq.emulator:create_app",
    emulator_prefix="",
    docs="docs/pinexq.md",
)

__all__ = ["PLATFORM", "PinexqSettings"]
