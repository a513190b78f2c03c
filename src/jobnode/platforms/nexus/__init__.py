"""Datature Nexus batch jobs as a jobnode platform: wire models, the backend, and an emulator for the local service.

Example:
    ```python
    async with jobnode.AsyncClient("https://api.datature.io", secret_key, platform="nexus",
                                   project_id="proj_b705a...") as client:
        job = await client.jobs.create(name="nightly", step="deploy_3286bd71", artifacts=["dataset_652e..."])
        job = await client.jobs.wait(job.id)
    ```
"""

from jobnode.core.backend import Capabilities, Sweep
from jobnode.platforms.nexus.settings import NexusSettings
from jobnode.platforms.platform import Platform

PLATFORM = Platform(
    name="nexus",
    title="Datature Nexus",
    label="Nexus",
    settings=NexusSettings,
    capabilities=Capabilities(
        cancel=True,
        delete=True,
        logs=True,
        artifacts=True,
        delete_artifacts=True,
        errors=True,
        plan=True,
        log_segments=True,
        sweep=Sweep(page_size=1000),
    ),
    backend="jobnode.platforms.nexus.backend:NexusBackend.from_settings",
    emulator="jobnode.platforms.nexus.emulator:create_app",
    emulator_prefix="",
    docs="docs/nexus.md",
)

__all__ = ["PLATFORM", "NexusSettings"]
