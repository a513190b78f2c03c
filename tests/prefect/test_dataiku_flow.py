"""Prefect on Dataiku DSS, through the emulator (`jobnode serve --platform dataiku`): the `DataikuCredentials` block,
the example flow in `flows/` given that block instead of the local service's (nothing else changes), and the Dataiku
flow (`flows/dataiku_flow.py`)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefect.blocks.core import Block
from prefect.flows import load_flow_from_entrypoint
from pydantic import ValidationError

from jobnode.platforms.dataiku.backend import DataikuBackend
from jobnode.prefect import DataikuCredentials
from jobnode.service.builtin_steps import SentimentParams, analyse
from jobnode.service.process import ServiceProcess
from tests.platforms.dataiku.conftest import project_key
from tests.prefect.standards import JobnodeBlockStandards

FLOWS = Path(__file__).resolve().parents[2] / "flows"
REVIEWS = ["Great food and lovely staff.", "Awful, slow and rude.", "It was fine."]


def dss(service: ServiceProcess, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A call to the emulator's DSS API (what a DSS user does with the API client)."""
    response = httpx.request(
        method, f"{service.url}/dip/publicapi{path}", auth=(service.token or "", ""), timeout=30, **kwargs
    )
    response.raise_for_status()
    return response


def credentials(service: ServiceProcess, key: str, name: str) -> DataikuCredentials:
    DataikuCredentials(url=service.url, token=service.token, project_key=key).save(name, overwrite=True)
    loaded = DataikuCredentials.load(name)
    assert isinstance(loaded, DataikuCredentials)
    return loaded


def built(service: ServiceProcess, key: str, dataset: str) -> list[str]:
    return list(dss(service, "GET", f"/projects/{key}/datasets/{dataset}/partitions").json())


class TestDataikuCredentialsStandards(JobnodeBlockStandards):
    @pytest.fixture
    def block(self) -> type[Block]:
        return DataikuCredentials


class TestBlock:
    def test_the_form_names_its_fields_as_dss_does(self) -> None:
        schema = DataikuCredentials.model_json_schema()
        fields = schema["properties"]
        assert (fields["url"]["title"], fields["token"]["title"]) == ("DSS URL", "API key")
        assert fields["project_key"]["title"] == "Project key" and schema["required"] == ["platform", "project_key"]
        assert DataikuCredentials(project_key="REVIEWS").url is None  # DSS has no public URL: give yours

    async def test_the_client_is_a_dataiku_client_with_every_option(self) -> None:
        block = DataikuCredentials(
            url="https://dss.example.com", token="s3cret-key", project_key="REVIEWS", recipes={"a": "b"}, timeout=12
        )
        async with block.get_async_client() as client:
            backend = client.backend
            assert isinstance(backend, DataikuBackend)
            assert (backend.url, backend.project_key, backend.recipes) == (
                "https://dss.example.com",
                "REVIEWS",
                {"a": "b"},
            )
            assert client.job_url("build_x") == "https://dss.example.com/projects/REVIEWS/jobs/build_x/"
        assert "s3cret-key" not in repr(block)

    @pytest.mark.parametrize("key", ["", "has space", "a-b"])
    def test_a_bad_project_key_is_named(self, key: str) -> None:
        with pytest.raises(ValidationError, match="project_key"):
            DataikuCredentials(project_key=key)


def test_example_flow_runs_on_dataiku_with_a_dataiku_credentials_block(dataiku_service: ServiceProcess) -> None:
    key = project_key("REVIEWS")
    block = credentials(dataiku_service, key, "dataiku-example")
    example_flow = load_flow_from_entrypoint(f"{FLOWS / 'example_flow.py'}:example_flow")
    # a deployment passes the saved block by reference: the flow gets the Dataiku block back
    ref = {"$ref": {"block_document_id": str(block._block_document_id)}}
    assert isinstance(example_flow.validate_parameters({"credentials": ref})["credentials"], DataikuCredentials)

    state: Any = example_flow(credentials=block, return_state=True)
    labels = state.result()
    assert sum(labels.values()) == 10 and set(labels) <= {"positive", "negative", "neutral"}
    # the reviews went into the uploaded dataset; the cleanup cleared the built datasets, consumer first
    assert built(dataiku_service, key, "reviews") == ["NP"]
    assert built(dataiku_service, key, "reviews_staged") == built(dataiku_service, key, "reviews_scored") == []


def test_the_dataiku_flow(dataiku_service: ServiceProcess) -> None:
    key = project_key("REVIEWS")
    rows = "".join(json.dumps({"id": f"r{i}", "text": text}) + "\n" for i, text in enumerate(REVIEWS))
    files = {"file": ("reviews.jsonl", rows.encode(), "application/x-ndjson")}
    dss(dataiku_service, "POST", f"/projects/{key}/datasets/reviews/uploaded/files", files=files)
    body = {"type": "NON_RECURSIVE_FORCED_BUILD", "outputs": [{"id": "stale"}]}
    stale = dss(dataiku_service, "POST", f"/projects/{key}/jobs/", json=body).json()["id"]
    dataiku_flow = load_flow_from_entrypoint(f"{FLOWS / 'dataiku_flow.py'}:dataiku_flow")

    labels = dataiku_flow(credentials=credentials(dataiku_service, key, "dataiku-reviews"))

    assert labels == dict(Counter(analyse(text, SentimentParams())["label"] for text in REVIEWS))
    assert dss(dataiku_service, "GET", f"/projects/{key}/jobs/{stale}/").json()["baseStatus"]["state"] == "ABORTED"
    [build] = [j for j in dss(dataiku_service, "GET", f"/projects/{key}/jobs/").json() if j["jobId"] != stale]
    status = dss(dataiku_service, "GET", f"/projects/{key}/jobs/{build['jobId']}/").json()
    assert list(status["baseStatus"]["activities"]) == ["identity_NP", "sentiment_NP"]
    assert built(dataiku_service, key, "reviews_staged") == built(dataiku_service, key, "reviews_scored") == []
    assert built(dataiku_service, key, "reviews") == ["NP"]
