"""The flows in `flows/` on PinexQ: the emulator (`jobnode serve --platform pinexq`) behind a saved
`PinexQCredentials` block. The example flow runs on PinexQ by changing only its `credentials`; the PinexQ flow shows
the platform's rules at clean-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prefect.flows import load_flow_from_entrypoint

import jobnode
from jobnode.prefect import PinexQCredentials  # type: ignore[attr-defined]  # derived from the platform's descriptor
from jobnode.service.process import ServiceProcess

FLOWS = Path(__file__).resolve().parents[2] / "flows"


def saved_block(service: ServiceProcess) -> Any:
    PinexQCredentials(url=service.url, token=service.token).save("pinexq-example", overwrite=True)
    return PinexQCredentials.load("pinexq-example")


def test_example_flow_runs_on_pinexq_with_a_pinexq_credentials_block(pinexq_service: ServiceProcess) -> None:
    credentials = saved_block(pinexq_service)
    example_flow = load_flow_from_entrypoint(f"{FLOWS / 'example_flow.py'}:example_flow")
    # a deployment passes the saved block by reference: the flow gets the PinexQ block back
    ref = {"$ref": {"block_document_id": str(credentials._block_document_id)}}
    assert isinstance(example_flow.validate_parameters({"credentials": ref})["credentials"], PinexQCredentials)

    state: Any = example_flow(credentials=credentials, return_state=True)
    labels = state.result()
    assert sum(labels.values()) == 10 and set(labels) <= {"positive", "negative", "neutral"}


def test_the_pinexq_flow_deletes_what_it_may_and_keeps_what_is_read(pinexq_service: ServiceProcess) -> None:
    credentials = saved_block(pinexq_service)
    pinexq_flow = load_flow_from_entrypoint(f"{FLOWS / 'pinexq_flow.py'}:pinexq_flow")
    outcome: dict[str, Any] = pinexq_flow(credentials=credentials)

    assert sum(outcome["labels"].values()) == 6
    with jobnode.Client(pinexq_service.url, pinexq_service.token, platform="pinexq") as client:
        [scored] = outcome["deleted"]
        [staged] = outcome["kept"]
        kept = client.jobs.get(staged)
        assert kept.name == "stage-reviews" and kept.outputs
        readers = client.artifacts.get(kept.outputs[0].id).consumers
        [archive] = [client.jobs.get(r) for r in readers]
        assert archive.name == "archive-reviews"
        with pytest.raises(jobnode.NotFound):
            client.jobs.get(scored)  # deleted with its output
        client.jobs.delete(archive.id, delete_outputs=True)
        client.jobs.delete(kept.id, delete_outputs=True)
