"""The emulator's Nucleus API called directly over HTTP, as a Nucleus user's SDK or console would (for setting up a
test's dataset and for checking what a job left in it)."""

from __future__ import annotations

from typing import Any

import httpx

from jobnode.platforms.nucleus import PLATFORM
from jobnode.service.process import ServiceProcess


class NucleusApi:
    """Calls to `jobnode serve --platform nucleus` with the service's token as the API key (HTTP Basic user)."""

    def __init__(self, service: ServiceProcess) -> None:
        self.url = service.url + PLATFORM.emulator_prefix
        self.key = service.token or ""

    def call(self, method: str, route: str, *, key: str | None = None, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"{self.url}/{route}", auth=(self.key if key is None else key, ""), **kwargs)

    def upload(self, signed_url: str, content: bytes) -> httpx.Response:
        """The SDK's PUT to a signed URL: no API key."""
        return httpx.put(signed_url, content=content)

    def json(self, method: str, route: str, **kwargs: Any) -> Any:
        response = self.call(method, route, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def create_dataset(self, name: str = "dataset") -> str:
        return str(self.json("POST", "dataset/create", json={"name": name, "is_scene": False})["dataset_id"])

    def reference_ids(self, dataset_id: str) -> list[str]:
        return [i["reference_id"] for i in self.json("GET", f"dataset/{dataset_id}/datasetItems")["dataset_items"]]

    def annotations(self, dataset_id: str, reference_id: str) -> dict[str, list[dict[str, Any]]]:
        body: dict[str, list[dict[str, Any]]] = self.json("GET", f"dataset/{dataset_id}/refloc/{reference_id}")[
            "annotations"
        ]
        return body


def items(n: int, prefix: str = "img") -> list[dict[str, Any]]:
    """`n` items as the SDK uploads them."""
    return [
        {"reference_id": f"{prefix}_{i}", "image_url": f"s3://bucket/{prefix}/{i}.jpg", "metadata": {"i": i}}
        for i in range(n)
    ]


def boxes(reference_ids: list[str], label: str = "car") -> list[dict[str, Any]]:
    """A box annotation of each reference id, as the SDK uploads it."""
    return [
        {
            "label": label,
            "type": "box",
            "geometry": {"x": 50, "y": 60, "width": 70, "height": 80},
            "reference_id": ref,
            "annotation_id": f"{label}_{n}",
            "metadata": {},
        }
        for n, ref in enumerate(reference_ids)
    ]
