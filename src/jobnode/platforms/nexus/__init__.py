"""Datature Nexus batch jobs as a jobnode platform: wire models, the backend, and an emulator for the local service.

Example:
    ```python
    async with jobnode.AsyncClient("https://api.datature.io", secret_key, platform="nexus",
                                   project_id="proj_b705a...") as client:
        job = await client.jobs.create(name="nightly", step="deploy_3286bd71", artifacts=["dataset_652e..."])
        job = await client.jobs.wait(job.id)
    ```
"""

from jobnode.platforms.nexus.backend import NexusBackend

__all__ = ["NexusBackend"]
