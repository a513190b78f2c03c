"""The example flow in `flows/` on Cortex (the emulator behind a saved `CortexCredentials` block, passed as the flow's
`credentials`; nothing else about the flow changes), and the Cortex flow (a job over S3 images filtered by globs).
S3 is a real S3-compatible server that the service and this process both reach."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prefect.flows import load_flow_from_entrypoint

from jobnode.prefect import CortexCredentials
from jobnode.service.process import ServiceProcess
from tests.platforms.cortex.servers import S3, fsspec_configured

FLOWS = Path(__file__).resolve().parents[2] / "flows"


@pytest.fixture
def s3_here(cortex_s3: S3) -> Iterator[S3]:
    """The flows' tasks read the jobs' results from S3 in this process."""
    with fsspec_configured(cortex_s3):
        yield cortex_s3


def _saved(service: ServiceProcess, results: str, name: str) -> CortexCredentials:
    CortexCredentials(url=service.url, token=service.token, dest_s3_dir=results).save(name, overwrite=True)
    return CortexCredentials.load(name)


def _results(s3: S3, results: str) -> dict[str, list[Any]]:
    """Each job's results under `results`, by job id."""
    out = {}
    for path in s3.fs.find(results.removeprefix("s3://")):
        job_id = path.split("/")[-2]
        out[job_id] = [json.loads(line) for line in s3.fs.cat(path).decode().splitlines()]
    return out


def test_example_flow_runs_on_cortex_with_a_cortex_credentials_block(
    cortex_service: ServiceProcess, s3_here: S3
) -> None:
    results = f"s3://results/example-flow-{uuid.uuid4().hex}"
    credentials = _saved(cortex_service, results, "cortex-example")
    example_flow = load_flow_from_entrypoint(f"{FLOWS / 'example_flow.py'}:example_flow")

    # a deployment passes the saved block by reference: the flow gets the Cortex block back
    ref = {"$ref": {"block_document_id": str(credentials._block_document_id)}}
    assert isinstance(example_flow.validate_parameters({"credentials": ref})["credentials"], CortexCredentials)

    state: Any = example_flow(credentials=credentials, return_state=True)
    labels = state.result()
    assert sum(labels.values()) == 10 and set(labels) <= {"positive", "negative", "neutral"}

    # two jobs wrote their results: the staged reviews, and their sentiment (read from the first job's output)
    written = _results(s3_here, results)
    assert len(written) == 2
    staged = next(r for r in written.values() if "id" in r[0])
    scored = next(r for r in written.values() if "label" in r[0])
    assert [r["id"] for r in staged] == [f"review-{i:03d}" for i in range(10)]
    assert Counter(r["label"] for r in scored) == labels


def test_the_cortex_flow_classifies_the_images_its_globs_select(cortex_service: ServiceProcess, s3_here: S3) -> None:
    results = f"s3://results/cortex-flow-{uuid.uuid4().hex}"
    credentials = _saved(cortex_service, results, "cortex-images")
    classify_images = load_flow_from_entrypoint(f"{FLOWS / 'cortex_flow.py'}:classify_images")
    assert classify_images(credentials=credentials) == {"dog": 1}
    assert list(_results(s3_here, results).values()) == [
        [{"url": "s3://bucket/images/img_2.jpg", "class": "dog", "top_k": 1}]
    ]
    everything = classify_images(credentials=credentials, includes=[], excludes=["**.gif"])
    assert everything == {"cat": 2, "dog": 1}
