"""Each input kind through the real service: files, delimited JSON files, artifacts, dry runs, path safety."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import httpx
import pytest

import jobnode
from jobnode import JobState
from jobnode.service.process import ServiceProcess


@pytest.fixture
def inputs_dir(service: ServiceProcess) -> Path:
    """A fresh directory inside the service's data directory (one of the roots it allows by default)."""
    path = service.data_dir / "inputs" / uuid.uuid4().hex[:8]
    path.mkdir(parents=True)
    return path


@pytest.fixture
def images(inputs_dir: Path) -> Path:
    """The folder of the Cortex seed's filtering examples."""
    folder = inputs_dir / "images"
    folder.mkdir()
    for name in ("img_1.png", "img_2.jpg", "img_3.jpg", "img_4.gif"):
        (folder / name).write_bytes(name.encode())
    return folder


def _run(client: jobnode.Client, **fields: object) -> jobnode.Job:
    job = client.jobs.create(step="identity", **fields)  # type: ignore[arg-type]
    return client.jobs.wait(job.id, timeout=60)


@pytest.mark.parametrize(
    ("paths", "includes", "excludes", "expected"),
    [
        (["images/"], [], [], ["img_1.png", "img_2.jpg", "img_3.jpg", "img_4.gif"]),
        (["images/img"], [], [], ["img_1.png", "img_2.jpg", "img_3.jpg", "img_4.gif"]),
        (["images/img_1.png", "images/img_2.jpg"], [], [], ["img_1.png", "img_2.jpg"]),
        (["images/"], ["**.jpg"], [], ["img_2.jpg", "img_3.jpg"]),
        (["images/"], ["**.jpg"], ["**_3.jpg"], ["img_2.jpg"]),
        (["images/"], [], ["**.gif"], ["img_1.png", "img_2.jpg", "img_3.jpg"]),
    ],
    ids=["all-files", "all-by-prefix", "specific-files", "only-jpg", "jpg-but-one", "all-but-gif"],
)
def test_cortex_filtering_examples_select_the_same_files(
    client: jobnode.Client,
    images: Path,
    paths: list[str],
    includes: list[str],
    excludes: list[str],
    expected: list[str],
) -> None:
    root = images.parent
    plan = client.jobs.plan(step="identity", files=[f"{root}/{p}" for p in paths], includes=includes, excludes=excludes)
    assert plan.items == [f"{images}/{name}" for name in expected]
    assert plan.files == plan.items and plan.files_total == len(expected)


def test_each_file_is_one_item_of_a_job(client: jobnode.Client, images: Path) -> None:
    done = _run(client, files=[f"file://{images}/"], includes=["**.jpg"], batch_size=1)
    assert done.state is JobState.SUCCEEDED
    assert done.progress.items_total == 2 and done.progress.batches_total == 2
    assert list(client.artifacts.read(done.outputs[0].id)) == [
        f"file://{images}/img_2.jpg",
        f"file://{images}/img_3.jpg",
    ]
    assert sorted(e.item for e in client.jobs.iter_logs(done.id, kind="ItemProcessed")) == [
        f"file://{images}/img_2.jpg",
        f"file://{images}/img_3.jpg",
    ]


def test_delimited_files_each_line_an_item_and_bad_lines_fail_alone(client: jobnode.Client, inputs_dir: Path) -> None:
    (inputs_dir / "part-1.jsonl").write_text('{"id": "r1", "n": 1}\n{"id": "r2", "n": 2}\nnot json\n')
    (inputs_dir / "part-2.jsonl").write_text('\n{"id": "r3", "n": 3}\n{"id": "r4", "n": \n')
    done = _run(client, delimited=[f"{inputs_dir}/part-"], batch_size=2, max_item_failures=2)
    assert done.state is JobState.SUCCEEDED
    assert (done.progress.items_total, done.progress.items_processed, done.progress.items_failed) == (5, 3, 2)
    assert [r["id"] for r in client.artifacts.read(done.outputs[0].id)] == ["r1", "r2", "r3"]
    errors = client.jobs.errors(done.id)
    assert sorted(e.item for e in errors if e.item) == [f"{inputs_dir}/part-1.jsonl:3", f"{inputs_dir}/part-2.jsonl:3"]
    rejected = list(client.jobs.iter_logs(done.id, min_level="error"))
    assert {e.status for e in rejected} == {"Rejected"} and all("is not JSON" in (e.message or "") for e in rejected)


def test_a_bad_line_fails_the_job_when_no_failure_is_tolerated(client: jobnode.Client, inputs_dir: Path) -> None:
    (inputs_dir / "one.jsonl").write_text('{"n": 1}\n{oops}\n')
    done = _run(client, delimited=[str(inputs_dir / "one.jsonl")])
    assert done.state is JobState.FAILED
    assert done.reason == "1 of 2 items failed"


def test_artifacts_of_earlier_jobs_by_id_and_by_name_record_lineage(client: jobnode.Client) -> None:
    first = _run(client, items=[{"id": "a"}, {"id": "b"}])
    second = _run(client, items=[{"id": "c"}])
    chained = _run(client, artifacts=[first.outputs[0].id, f"{second.id}/results"], batch_size=2)
    assert chained.state is JobState.SUCCEEDED
    assert [r["id"] for r in client.artifacts.read(chained.outputs[0].id)] == ["a", "b", "c"]
    assert {a.id for a in chained.inputs} == {first.outputs[0].id, second.outputs[0].id}
    assert client.artifacts.get(first.outputs[0].id).consumers == [chained.id]
    plan = client.jobs.plan(step="identity", artifacts=[f"{first.id}/results"])
    assert plan.input_artifacts == [first.outputs[0].id] and plan.items == [{"id": "a"}, {"id": "b"}]


def test_unknown_artifacts_and_missing_files_are_422_naming_the_field(client: jobnode.Client, inputs_dir: Path) -> None:
    with pytest.raises(jobnode.ValidationFailed) as info:
        client.jobs.create(step="identity", artifacts=["art_missing"])
    assert "input.artifacts[0]" in info.value.message and "JOB_ID/OUTPUT_NAME" in info.value.message
    with pytest.raises(jobnode.ValidationFailed) as info:
        client.jobs.create(step="identity", files=[str(inputs_dir / "nope")])
    assert "input.paths[0]" in info.value.message


def test_dry_run_resolves_items_and_batches_and_creates_nothing(client: jobnode.Client, inputs_dir: Path) -> None:
    lines = inputs_dir / "many.jsonl"
    lines.write_text("".join(json.dumps({"id": f"x{i}"}) + "\n" for i in range(2500)) + "{bad\n")
    before = client.jobs.list(name="dry-run-input", limit=1000).data
    plan = client.jobs.plan(name="dry-run-input", step="identity", delimited=[str(lines)], batch_size=100)
    assert plan.dry_run is True
    assert (plan.items_total, plan.batches_total, plan.batch_size) == (2500, 25, 100)
    assert plan.items is None and plan.sample[:2] == [{"id": "x0"}, {"id": "x1"}]  # many: a sample only
    assert plan.batches[-1].model_dump() == {"index": 24, "first_item": 2400, "size": 100}
    assert [r.model_dump() for r in plan.rejected] == [{"item": f"{lines}:2501", "reason": plan.rejected[0].reason}]
    assert plan.files == [str(lines)]
    assert client.jobs.list(name="dry-run-input", limit=1000).data == before


@pytest.mark.parametrize(
    "path",
    [
        "/etc/passwd",
        "file:///etc/",
        "{data}/../../../../etc/passwd",
        "{outside}/secret.txt",
        "{data}/link-out",
        "{data}/dir-out/secret.txt",
        "simplecache::file:///etc/passwd",
    ],
)
def test_path_escapes_are_refused(
    client: jobnode.Client, service: ServiceProcess, inputs_dir: Path, tmp_path: Path, path: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text('{"secret": true}\n')
    os.symlink(outside / "secret.txt", inputs_dir / "link-out")
    os.symlink(outside, inputs_dir / "dir-out")
    target = path.format(data=inputs_dir, outside=outside)
    for kind in ("files", "delimited"):
        with pytest.raises(jobnode.ValidationFailed) as info:
            client.jobs.plan(step="identity", **{kind: [target]})
        assert "input.paths[0]" in info.value.message
        assert "--allow-root" in info.value.message or "not accepted" in info.value.message


def test_bad_input_over_raw_http_is_a_422_never_a_500(service: ServiceProcess) -> None:
    headers = {"Authorization": f"Bearer {service.token}"}
    bodies = [
        {"step": "identity", "input": {"kind": "files", "paths": []}},
        {"step": "identity", "input": {"kind": "files", "paths": ["x"], "includes": "**"}},
        {"step": "identity", "input": {"kind": "delimited", "paths": ["/"], "excludes": ["[oops"]}},
        {"step": "identity", "input": {"kind": "artifacts", "artifacts": ["../../etc/passwd"]}},
        {"step": "identity", "input": {"kind": "files", "paths": ["nosuchproto://x/y"]}},
        {"step": "identity", "input": {"kind": "items", "items": [1]}, "webhook": {"url": "ftp://x"}},
    ]
    for body in bodies:
        response = httpx.post(f"{service.url}/v1/jobs?dry_run=true", json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["message"]


def test_allow_root_replaces_the_default_roots(tmp_path: Path) -> None:
    allowed = tmp_path / "shared-data"
    allowed.mkdir()
    (allowed / "a.jsonl").write_text('{"n": 1}\n')
    data_dir = tmp_path / "service"
    with (
        ServiceProcess(data_dir, extra_args=["--allow-root", str(allowed)]) as service,
        jobnode.Client(service.url) as client,
    ):
        assert client.jobs.plan(step="identity", delimited=[str(allowed)]).items == [{"n": 1}]
        (data_dir / "b.jsonl").write_text('{"n": 2}\n')
        with pytest.raises(jobnode.ValidationFailed, match="--allow-root"):
            client.jobs.plan(step="identity", delimited=[str(data_dir / "b.jsonl")])
