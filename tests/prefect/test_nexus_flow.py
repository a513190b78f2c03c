"""The example flow in `flows/` on Datature Nexus: the emulator (`jobnode serve --platform nexus`) behind a saved
`NexusCredentials` block, passed as the flow's `credentials`. Nothing else about the flow changes."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from prefect.flows import load_flow_from_entrypoint

import jobnode
from jobnode.prefect import NexusCredentials
from jobnode.service.process import ServiceProcess
from tests.platforms.nexus.receiver import Receiver

FLOWS = Path(__file__).resolve().parents[2] / "flows"


def nexus_api(service: ServiceProcess, method: str, path: str, **kwargs: Any) -> Any:
    """A call to the emulator's Nexus API (what a Nexus user does in Datature's console or SDK)."""
    response = httpx.request(method, service.url + path, headers={"Secret-Key": service.token or ""}, **kwargs)
    response.raise_for_status()
    return response.json()


def test_example_flow_runs_on_nexus_with_a_nexus_credentials_block(
    nexus_service: ServiceProcess, nexus_receiver: Receiver
) -> None:
    project_id = f"proj_{uuid.uuid4().hex}"
    base = f"/projects/{project_id}/batch"
    webhook = nexus_api(
        nexus_service,
        "POST",
        f"{base}/webhooks",
        json={"name": "example-results", "spec": {"endpoint": nexus_receiver.endpoint(project_id)}},
    )
    NexusCredentials(
        url=nexus_service.url, token=nexus_service.token, project_id=project_id, webhook_id=webhook["id"]
    ).save("nexus-example", overwrite=True)
    credentials = NexusCredentials.load("nexus-example")
    example_flow = load_flow_from_entrypoint(f"{FLOWS / 'example_flow.py'}:example_flow")

    # a deployment passes the saved block by reference: the flow gets the Nexus block back
    ref = {"$ref": {"block_document_id": str(credentials._block_document_id)}}
    assert isinstance(example_flow.validate_parameters({"credentials": ref})["credentials"], NexusCredentials)

    state: Any = example_flow(credentials=credentials, return_state=True)
    assert state.result() == {}  # the labels went to the webhook: there is no output to count them from

    deliveries = nexus_receiver.deliveries[project_id]
    by_job = Counter(body["job_name"] for body in deliveries for _ in body["results"])
    assert by_job == {"stage-reviews": 10, "score-reviews": 10}
    labels = Counter(r["result"]["label"] for b in deliveries if b["job_name"] == "score-reviews" for r in b["results"])
    assert sum(labels.values()) == 10
    assert set(labels) <= {"positive", "negative", "neutral"}
    # the scoring job read the staging job's dataset: the reviews were uploaded once
    [dataset] = nexus_api(nexus_service, "GET", f"{base}/datasets")["data"]
    assert dataset["status"]["itemCount"] == 10
    # and the flow's clean-up deleted both jobs (the dataset, their input, stays)
    with jobnode.Client(nexus_service.url, nexus_service.token, platform="nexus", project_id=project_id) as client:
        assert client.jobs.list().data == []
