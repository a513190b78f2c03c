"""Nexus datasets and webhooks as jobnode's backend needs them: the dataset a job runs over (uploaded from the job's
items or files, or named), its item count (what Datature's waiter compares the delivered counters with), and the
webhook that receives a job's results."""

from __future__ import annotations

import asyncio
import base64
import time

import httpx

from jobnode.core import ndjson
from jobnode.core.errors import JobnodeError, NotFound
from jobnode.core.models import ArtifactsInput, DelimitedInput, ItemsInput, JobSpec
from jobnode.core.transport import Transport
from jobnode.platforms.nexus import wire
from jobnode.platforms.nexus.checksum import crc32c_base64

DATASET_READY_TIMEOUT = 600.0


class NexusDatasets:
    """Datasets and webhooks of one Nexus project.

    `transport` reaches the API; `uploads` reaches the signed upload URLs (which may be on another host, and never
    get the secret key); `base` is the project's batch path; `webhook_id` receives the results of jobs that name
    no webhook.
    """

    def __init__(self, transport: Transport, uploads: Transport, base: str, webhook_id: str | None) -> None:
        self.transport = transport
        self._uploads = uploads
        self._base = base
        self.webhook_id = webhook_id
        # dataset id -> item count; an uploaded dataset never changes, and a missing one does not come back
        self._item_counts: dict[str, int | None] = {}

    async def _get(self, path: str) -> httpx.Response:
        return await self.transport.request("GET", path)

    def remember(self, dataset_id: str, item_count: int) -> None:
        self._item_counts[dataset_id] = item_count

    async def item_count(self, dataset_id: str) -> int | None:
        """The dataset's `itemCount`, which Datature's waiter compares the delivered counters with."""
        if dataset_id in self._item_counts:
            return self._item_counts[dataset_id]
        try:
            dataset = await self.get_dataset(dataset_id)
        except NotFound:
            self._item_counts[dataset_id] = None  # expired or deleted: the job's own counters must do
            return None
        if dataset.status.overview != wire.DATASET_UPLOADED:
            return None
        self._item_counts[dataset_id] = dataset.status.item_count
        return dataset.status.item_count

    async def load_item_counts(self, dataset_ids: set[str]) -> None:
        await asyncio.gather(*(self.item_count(d) for d in dataset_ids if d not in self._item_counts))

    async def get_dataset(self, dataset_id: str) -> wire.Dataset:
        response = await self._get(f"{self._base}/datasets/{dataset_id}")
        return wire.Dataset.model_validate_json(response.content)

    async def upload_dataset(
        self, name: str, content: bytes, *, ready_within: float = DATASET_READY_TIMEOUT
    ) -> wire.Dataset:
        """Create a dataset from newline-delimited JSON, upload it to the URL Nexus signs, and wait until Nexus
        has read it.

        Example:
            ```python
            dataset = await backend.upload_dataset("images", b'{"url": "https://example.com/1.jpg"}\\n')
            dataset.status.item_count  # 1
            ```
        """
        checksum = await asyncio.to_thread(crc32c_base64, content)
        request = wire.CreateDatasetRequest(
            name=name,
            spec=wire.DatasetSpec(source=wire.DatasetSourceSpec(size_bytes=len(content), crc32c=checksum)),
        )
        response = await self.transport.request("POST", f"{self._base}/datasets", json=request.to_wire())
        dataset = wire.Dataset.model_validate_json(response.content)
        upload = dataset.status.source.upload_url
        await self._uploads.request(upload.method, upload.url, content=content, headers=upload.headers)
        return await self._dataset_ready(dataset.id, ready_within)

    async def _dataset_ready(self, dataset_id: str, ready_within: float) -> wire.Dataset:
        deadline = time.monotonic() + ready_within
        delay = 0.1
        while True:
            dataset = await self.get_dataset(dataset_id)
            overview = dataset.status.overview
            if overview == wire.DATASET_UPLOADED:
                return dataset
            if overview in (wire.DATASET_FAILED_UPLOAD, wire.DATASET_FAILED_PROCESSING):
                raise JobnodeError(f"nexus could not read dataset {dataset_id} ({overview}): {dataset.status.message}")
            if time.monotonic() >= deadline:
                raise JobnodeError(f"nexus dataset {dataset_id} was still {overview} after {ready_within:g}s")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def delete_dataset(self, dataset_id: str) -> None:
        await self.transport.request("DELETE", f"{self._base}/datasets/{dataset_id}")

    async def create_webhook(
        self, name: str, endpoint: str, *, secret: str | None = None, max_retries: int = 3
    ) -> wire.Webhook:
        """A webhook that receives job results; `secret` signs them (Nexus generates one when it is None)."""
        spec = wire.WebhookSpec(
            endpoint=endpoint,
            secret=wire.WebhookSecret(contents=base64.b64encode(secret.encode()).decode()) if secret else None,
            retries=wire.WebhookRetries(max_retries=max_retries),
        )
        response = await self.transport.request(
            "POST", f"{self._base}/webhooks", json=wire.CreateWebhookRequest(name=name, spec=spec).to_wire()
        )
        return wire.Webhook.model_validate_json(response.content)

    def dataset_id(self, job_input: ArtifactsInput) -> str:
        if len(job_input.artifacts) != 1 or not job_input.artifacts[0].startswith("dataset_"):
            raise ValueError("input.artifacts: a Nexus job runs over exactly one dataset; name its id (dataset_...)")
        return job_input.artifacts[0]

    async def dataset_for(self, spec: JobSpec) -> tuple[str, int | None]:
        """The dataset the job runs over, uploaded now unless the input names one; and its item count if known."""
        job_input = spec.input
        if isinstance(job_input, ArtifactsInput):
            return self.dataset_id(job_input), None
        if isinstance(job_input, ItemsInput):
            content = await asyncio.to_thread(ndjson.encode, job_input.items)
        elif isinstance(job_input, DelimitedInput):
            if job_input.includes or job_input.excludes:
                raise ValueError("input.includes: Nexus datasets are uploaded from named files; list the files")
            content = await asyncio.to_thread(ndjson.read, job_input.paths)
        else:
            raise ValueError(
                "input: Nexus jobs run over a newline-delimited JSON dataset; pass items=, delimited=[files] or "
                "artifacts=['dataset_...']"
            )
        dataset = await self.upload_dataset(spec.name, content)
        return dataset.id, dataset.status.item_count

    async def webhook_for(self, spec: JobSpec) -> str | None:
        if spec.webhook is None:
            return self.webhook_id
        webhook = await self.create_webhook(
            f"{spec.name}-results",
            spec.webhook.url,
            secret=spec.webhook.secret,
            max_retries=spec.webhook.max_attempts - 1,
        )
        return webhook.id
