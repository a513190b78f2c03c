"""S3 inputs against a real S3-compatible server (moto in server mode on 127.0.0.1), read by the real service.

The service reaches S3 the way a user configures it: fsspec's environment variables (`FSSPEC_S3_ENDPOINT_URL`)
and the usual AWS ones, set on `jobnode serve`'s process.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import s3fs

import jobnode
from jobnode import JobState
from jobnode.service.process import ServiceProcess
from tests.platforms.cortex.servers import AWS, S3


@pytest.fixture(scope="module")
def s3(cortex_s3: S3) -> s3fs.S3FileSystem:
    """The session's S3 server (one per process: moto keeps its buckets in the process) with the Cortex seed's
    s3://bucket/images/img_{1.png,2.jpg,3.jpg,4.gif}, plus some JSON lines."""
    fs = cortex_s3.fs
    fs.pipe("bucket/lines/2026/01/part-0.jsonl", b'{"id": "a"}\n{"id": "b"}\n')
    fs.pipe("bucket/lines/2026/02/part-0.jsonl", b'{"id": "c"}\n{"id": oops}\n{"id": "d"}\n')
    fs.pipe("bucket/lines/2026/02/_SUCCESS", b"")
    return fs


@pytest.fixture(scope="module")
def s3_client(
    cortex_s3: S3, s3: s3fs.S3FileSystem, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[jobnode.Client]:
    data_dir: Path = tmp_path_factory.mktemp("s3-service")
    with (
        ServiceProcess(
            data_dir,
            steps=["tests.steps"],
            token=secrets.token_hex(8),
            env=cortex_s3.env(),
            extra_args=["--allow-protocol", "s3"],
        ) as service,
        jobnode.Client(service.url, token=service.token) as client,
    ):
        yield client


CORTEX = [
    ({"s3_paths": ["s3://bucket/images/"]}, ["img_1.png", "img_2.jpg", "img_3.jpg", "img_4.gif"]),
    ({"s3_paths": ["s3://bucket/images/img"]}, ["img_1.png", "img_2.jpg", "img_3.jpg", "img_4.gif"]),
    ({"s3_paths": ["s3://bucket/images/img_1.png", "s3://bucket/images/img_2.jpg"]}, ["img_1.png", "img_2.jpg"]),
    ({"s3_paths": ["s3://bucket/images/"], "includes": ["**.jpg"]}, ["img_2.jpg", "img_3.jpg"]),
    ({"s3_paths": ["s3://bucket/images/"], "includes": ["**.jpg"], "excludes": ["**_3.jpg"]}, ["img_2.jpg"]),
    ({"s3_paths": ["s3://bucket/images/"], "excludes": ["**.gif"]}, ["img_1.png", "img_2.jpg", "img_3.jpg"]),
]


@pytest.mark.parametrize(
    ("request_", "selected"),
    CORTEX,
    ids=["select-all", "select-all-by-prefix", "specific-files", "only-jpg", "jpg-except-one", "all-but-gif"],
)
def test_cortex_filtering_examples_verbatim(
    s3_client: jobnode.Client, request_: dict[str, list[str]], selected: list[str]
) -> None:
    plan = s3_client.jobs.plan(
        step="identity",
        files=request_["s3_paths"],
        includes=request_.get("includes", ()),
        excludes=request_.get("excludes", ()),
    )
    assert plan.items == [f"s3://bucket/images/{name}" for name in selected]


def test_a_job_over_s3_files(s3_client: jobnode.Client) -> None:
    job = s3_client.jobs.create(step="identity", files=["s3://bucket/images/"], includes=["**.{png,gif}"])
    done = s3_client.jobs.wait(job.id, timeout=60)
    assert done.state is JobState.SUCCEEDED
    assert list(s3_client.artifacts.read(done.outputs[0].id)) == [
        "s3://bucket/images/img_1.png",
        "s3://bucket/images/img_4.gif",
    ]


def test_delimited_files_in_s3_with_a_bad_line(s3_client: jobnode.Client) -> None:
    job = s3_client.jobs.create(
        step="identity", delimited=["s3://bucket/lines/2026/"], includes=["**.jsonl"], max_item_failures=1, batch_size=2
    )
    done = s3_client.jobs.wait(job.id, timeout=60)
    assert done.state is JobState.SUCCEEDED
    assert [r["id"] for r in s3_client.artifacts.read(done.outputs[0].id)] == ["a", "b", "c", "d"]
    [error] = s3_client.jobs.errors(done.id)
    assert error.item == "s3://bucket/lines/2026/02/part-0.jsonl:2"


def test_new_objects_are_seen_by_the_next_job(s3_client: jobnode.Client, s3: s3fs.S3FileSystem) -> None:
    before = s3_client.jobs.plan(step="identity", files=["s3://bucket/images/"]).items_total
    s3.pipe("bucket/images/img_5.jpg", b"5")
    try:
        after = s3_client.jobs.plan(step="identity", files=["s3://bucket/images/"]).items_total
        assert after == before + 1
    finally:
        s3.rm("bucket/images/img_5.jpg")


def test_a_missing_prefix_or_bucket_is_a_clear_error(s3_client: jobnode.Client) -> None:
    with pytest.raises(jobnode.ValidationFailed, match=r"input.paths\[0\]: no file at or under"):
        s3_client.jobs.plan(step="identity", files=["s3://bucket/nothing/here/"])
    with pytest.raises(jobnode.ValidationFailed, match=r"input.paths\[0\]") as info:
        s3_client.jobs.plan(step="identity", files=["s3://no-such-bucket/x"])
    assert AWS["AWS_SECRET_ACCESS_KEY"] not in str(info.value)
