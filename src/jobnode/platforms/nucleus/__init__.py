"""Scale Nucleus async jobs as a jobnode platform: wire models, the backend, and an emulator for the local service.

A Nucleus job is the asynchronous side of a dataset operation: appending items to a dataset, or annotating them.

Example:
    ```python
    async with jobnode.AsyncClient("https://api.scale.com/v1/nucleus", api_key, platform="nucleus") as client:
        job = await client.jobs.create(
            step="append",
            params={"dataset_id": "ds_bwkezj6g5c4g05gqp1eg"},
            items=[{"reference_id": "img-1", "image_url": "s3://bucket/1.jpg"}],
        )
        job = await client.jobs.wait(job.id)
    ```
"""

from jobnode.core.backend import Capabilities, Sweep
from jobnode.platforms.nucleus.settings import NucleusSettings
from jobnode.platforms.nucleus.wire import JOBS_LIMIT_MAX
from jobnode.platforms.platform import Platform

PLATFORM = Platform(
    name="nucleus",
    title="Scale Nucleus",
    label="Nucleus",
    settings=NucleusSettings,
    # no cancel and no delete: Nucleus has neither (its SDK has no such call)
    capabilities=Capabilities(
        logs=True,
        errors=True,
        bulk_status=True,
        plan=True,
        sweep=Sweep(page_size=JOBS_LIMIT_MAX, active_only=True),
    ),
    backend="jobnode.platforms.nucleus.backend:NucleusBackend.from_settings",
    emulator="jobnode.platforms.nucleus.emulator:create_app",
    emulator_prefix="/v1/nucleus",
    docs="docs/nucleus.md",
)

__all__ = ["PLATFORM", "NucleusSettings"]
