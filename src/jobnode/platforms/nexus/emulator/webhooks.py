"""Nexus webhooks: create, list, get, update, rotate the secret, test, delete; and the instances an artifact runs on."""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from jobnode.platforms.nexus import wire
from jobnode.platforms.nexus.emulator.context import Nexus, bad, now_ms
from jobnode.service.delivery import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from jobnode.service.emulation import BadCursor, json_response

router = APIRouter(tags=["webhooks"])
PATH = "/projects/{project_id}/batch/webhooks"
Limit = Annotated[int, Query(ge=1, le=1000, description="items on a page")]
INSTANCES = [
    wire.AvailableInstance(instance_id="instance_x1cpu-standard", resources={"cpu": 1, "ram": 4096}),
    wire.AvailableInstance(
        instance_id="instance_t4-standard-1g",
        resources={"cpu": 4, "ram": 16384, "GPU_T4": 1},
        accelerator={"kind": "NvidiaGpu", "name": "T4", "count": 1},
    ),
    wire.AvailableInstance(
        instance_id="instance_l4-standard-1g",
        resources={"cpu": 4, "ram": 16384, "GPU_L4": 1},
        accelerator={"kind": "NvidiaGpu", "name": "L4", "count": 1},
    ),
]
REGIONS = ["us-central1", "europe-west4", "asia-southeast1"]


def _nexus(request: Request) -> Nexus:
    nexus: Nexus = request.app.state.nexus
    return nexus


def _endpoint(endpoint: str | None) -> str:
    if not endpoint or not endpoint.startswith(("http://", "https://")):
        raise bad("spec.endpoint: give the http:// or https:// URL that receives the results")
    return endpoint


def _retries(retries: wire.WebhookRetries) -> wire.WebhookRetries:
    if retries.max_retries > 19:
        raise bad("spec.retries.maxRetries: at most 19")
    return retries


@router.post(PATH, status_code=201)
def create_webhook(project_id: str, body: wire.CreateWebhookRequest, request: Request) -> Response:
    nexus = _nexus(request)
    now = now_ms()
    retries = _retries(body.spec.retries or wire.WebhookRetries())
    secret = body.spec.secret.contents if body.spec.secret else base64.b64encode(secrets.token_bytes(32)).decode()
    doc = nexus.records.insert(
        "webhook",
        f"webhook_{uuid.uuid4()}",
        {
            "name": body.name or "webhook",
            "endpoint": _endpoint(body.spec.endpoint),
            "secret": secret,
            "max_retries": retries.max_retries,
            "max_backoff_ms": retries.max_backoff_ms,
            "created": now,
            "updated": now,
        },
        scope=project_id,
    )
    return json_response(nexus.webhook_json(doc), 201)


@router.get(PATH)
def list_webhooks(project_id: str, request: Request, limit: Limit = 100, page: str | None = None) -> Response:
    nexus = _nexus(request)
    try:
        listing = nexus.records.listing("webhook", scope=project_id, limit=limit, cursor=page)
    except BadCursor as exc:
        raise bad(f"page: {exc}; pass back a nextPage or prevPage exactly") from None
    return json_response(
        {
            "nextPage": listing.next_cursor,
            "prevPage": listing.prev_cursor,
            "data": [nexus.webhook_json(d) for d in listing.documents],
        }
    )


@router.get(PATH + "/{webhook_id}")
def get_webhook(project_id: str, webhook_id: str, request: Request) -> Response:
    nexus = _nexus(request)
    return json_response(nexus.webhook_json(nexus.webhook(project_id, webhook_id)))


@router.patch(PATH + "/{webhook_id}")
def update_webhook(project_id: str, webhook_id: str, body: wire.UpdateWebhookRequest, request: Request) -> Response:
    nexus = _nexus(request)
    nexus.webhook(project_id, webhook_id)
    values: dict[str, Any] = {"updated": now_ms()}
    if body.spec.endpoint is not None:
        values["endpoint"] = _endpoint(body.spec.endpoint)
    if body.spec.retries is not None:
        retries = _retries(body.spec.retries)
        values.update(max_retries=retries.max_retries, max_backoff_ms=retries.max_backoff_ms)
    if body.spec.secret is not None:
        values["secret"] = body.spec.secret.contents
    nexus.records.update("webhook", webhook_id, **values)
    return json_response(nexus.webhook_json(nexus.webhook(project_id, webhook_id)))


@router.put(PATH + "/{webhook_id}/secret")
def update_webhook_secret(
    project_id: str, webhook_id: str, request: Request, contents: Annotated[str, Body(embed=True, min_length=1)]
) -> Response:
    nexus = _nexus(request)
    nexus.webhook(project_id, webhook_id)
    nexus.records.update("webhook", webhook_id, secret=contents, updated=now_ms())
    return json_response(nexus.webhook_json(nexus.webhook(project_id, webhook_id)))


@router.post(PATH + "/{webhook_id}:test")
async def test_webhook(project_id: str, webhook_id: str, request: Request) -> Response:
    """POST a signed test body to the webhook's endpoint and report how it answered."""
    doc = await run_in_threadpool(_nexus(request).webhook, project_id, webhook_id)
    body = json.dumps({"kind": "WebhookTest", "webhookId": webhook_id, "projectId": project_id}).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(doc.body["secret"], timestamp, body),
    }
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(timeout=10.0) as http:
            answer = await http.post(doc.body["endpoint"], content=body, headers=headers)
    except httpx.HTTPError as exc:
        result = wire.WebhookTestResult(
            status="Failed",
            response_code=0,
            latency_ms=int((time.perf_counter() - started) * 1000),
            attempt_count=1,
            reason=f"{type(exc).__name__}: could not reach the endpoint",
        )
    else:
        result = wire.WebhookTestResult(
            status="Success" if answer.is_success else "Failed",
            response_code=answer.status_code,
            latency_ms=int((time.perf_counter() - started) * 1000),
            attempt_count=1,
            body=answer.text[:1000],
            reason=None if answer.is_success else f"HTTP {answer.status_code}",
        )
    return json_response(result.to_wire())


@router.delete(PATH + "/{webhook_id}")
def delete_webhook(project_id: str, webhook_id: str, request: Request) -> Response:
    nexus = _nexus(request)
    nexus.webhook(project_id, webhook_id)
    nexus.records.delete("webhook", webhook_id)
    return json_response(wire.DeleteResponse(id=webhook_id, deleted=True).to_wire())


@router.get("/projects/{project_id}/artifacts/{artifact_id}/availableInstances/regions/{region}", tags=["artifacts"])
def available_instances(project_id: str, artifact_id: str, region: str, request: Request) -> Response:
    """The instance types an artifact can be deployed on (the SDK picks one when a job names none)."""
    _nexus(request).step_for(artifact_id, "artifact_id")
    regions = REGIONS if region == "*" else [region]
    instances = [i.model_copy(update={"regions": regions}) for i in INSTANCES]
    return json_response(
        wire.AvailableInstances(artifact_id=artifact_id, region=region, available_instances=instances).to_wire()
    )
