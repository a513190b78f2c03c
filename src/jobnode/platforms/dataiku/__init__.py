"""Dataiku DSS jobs as a jobnode platform: a job builds datasets of a project's flow by running its recipes.

Wire models, the backend, and an emulator for the local service (`jobnode serve --platform dataiku`), which the
official `dataiku-api-client` accepts unmodified.

Example:
    ```python
    async with jobnode.AsyncClient("https://dss.example.com", api_key, platform="dataiku",
                                   project_key="REVIEWS") as client:
        job = await client.jobs.create(step="compute_reviews_scored", artifacts=["REVIEWS.reviews_staged"])
        job = await client.jobs.wait(job.id)
    ```
"""

from jobnode.core.backend import Capabilities, Sweep
from jobnode.platforms.dataiku.settings import DataikuSettings
from jobnode.platforms.platform import Platform

PLATFORM = Platform(
    name="dataiku",
    title="Dataiku DSS",
    label="Dataiku",
    settings=DataikuSettings,
    capabilities=Capabilities(
        cancel=True,
        delete=True,
        logs=True,
        bulk_status=True,
        read_artifacts=True,
        delete_artifacts=True,
        lineage=True,
        errors=True,
        plan=True,
        sweep=Sweep(page_size=1000, active_only=True),
    ),
    backend="jobnode.platforms.dataiku.backend:DataikuBackend.from_settings",
    emulator="jobnode.platforms.dataiku.emulator:create_app",
    emulator_prefix="/dip/publicapi",
    docs="docs/dataiku.md",
)

__all__ = ["PLATFORM", "DataikuSettings"]
