"""Cortex Batch API jobs as a jobnode platform: wire models, the backend, and an emulator for the local service.

Example:
    ```python
    async with jobnode.AsyncClient("https://a1b2.elb.us-west-2.amazonaws.com", platform="cortex",
                                   dest_s3_dir="s3://my-bucket/results") as client:
        job = await client.jobs.create(step="image-classifier", files=["s3://bucket/images/"],
                                       includes=["**.jpg"], excludes=["**_3.jpg"], batch_size=2)
        job = await client.jobs.wait(job.id)   # job.id is "image-classifier/<job_id>"
    ```
"""

from jobnode.core.backend import Capabilities
from jobnode.platforms.cortex.settings import CortexSettings
from jobnode.platforms.platform import Platform

PLATFORM = Platform(
    name="cortex",
    title="Cortex",
    label="Cortex",
    settings=CortexSettings,
    # no logs API over HTTP (`cortex logs` streams them through the operator's websocket), no deletion (DELETE
    # stops a job), no tags, no idempotency keys; a job's output is the S3 prefix its results were written to
    capabilities=Capabilities(cancel=True, plan=True, read_artifacts=True),
    backend="jobnode.platforms.cortex.backend:CortexBackend.from_settings",
    emulator="jobnode.platforms.cortex.emulator:create_app",
    emulator_prefix="",
    docs="docs/cortex.md",
)

__all__ = ["PLATFORM", "CortexSettings"]
