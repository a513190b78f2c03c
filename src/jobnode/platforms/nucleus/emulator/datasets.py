"""Nucleus datasets: create, list, read (name, size, items, an item with its annotations), delete."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from jobnode.platforms.nucleus import wire
from jobnode.platforms.nucleus.emulator.context import Nucleus, validated
from jobnode.service.emulation import json_response, read_json

router = APIRouter(prefix="/dataset", tags=["datasets"])


def _nucleus(request: Request) -> Nucleus:
    nucleus: Nucleus = request.app.state.nucleus
    return nucleus


@router.post("/create")
async def create_dataset(request: Request) -> Response:
    body = validated(wire.CreateDatasetRequest, await read_json(request))
    doc = await run_in_threadpool(_nucleus(request).create_dataset, body)
    return json_response(wire.CreatedDataset(dataset_id=doc.id, name=doc.body["name"]).to_wire())


@router.get("/details")
def list_datasets(request: Request) -> Response:
    """Every dataset (`NucleusClient.datasets`)."""
    docs = _nucleus(request).datasets()
    return json_response([{"id": d.id, "name": d.body["name"], "is_public": False} for d in docs])


@router.get("/{dataset_id}/name")
def dataset_name(dataset_id: str, request: Request) -> Response:
    return json_response({"name": _nucleus(request).dataset(dataset_id).body["name"]})


@router.get("/{dataset_id}/is_scene")
def dataset_is_scene(dataset_id: str, request: Request) -> Response:
    return json_response({"is_scene": _nucleus(request).dataset(dataset_id).body["is_scene"]})


@router.get("/{dataset_id}/use_privacy_mode")
def dataset_privacy_mode(dataset_id: str, request: Request) -> Response:
    return json_response({"use_privacy_mode": _nucleus(request).dataset(dataset_id).body["use_privacy_mode"]})


@router.get("/{dataset_id}/size")
def dataset_size(dataset_id: str, request: Request) -> Response:
    return json_response({"count": len(_nucleus(request).items(dataset_id))})


@router.get("/{dataset_id}/datasetItems")
def dataset_items(dataset_id: str, request: Request) -> Response:
    return json_response({"dataset_items": _nucleus(request).items(dataset_id)})


@router.get("/{dataset_id}/refloc/{reference_id:path}")
def item_by_reference(dataset_id: str, reference_id: str, request: Request) -> Response:
    """An item and its annotations, grouped by type (`Dataset.refloc`)."""
    item, annotations = _nucleus(request).item(dataset_id, reference_id)
    grouped: dict[str, list[dict[str, object]]] = {}
    for annotation in annotations:
        grouped.setdefault(str(annotation["type"]), []).append(annotation)
    return json_response({"item": item, "annotations": grouped})


@router.delete("/{dataset_id}")
def delete_dataset(dataset_id: str, request: Request) -> Response:
    _nucleus(request).delete_dataset(dataset_id)
    return json_response({"dataset_id": dataset_id, "deleted": True})
