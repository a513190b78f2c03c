"""The emulator on the wire (`jobnode serve --platform dataiku`, under /dip/publicapi): auth, bodies, shapes, DSS's
error body, datasets and their files, and a job that goes on after the service is killed."""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobnode.core.errors import ConfigurationError
from jobnode.service.process import ServiceProcess
from tests.platforms.dataiku.conftest import project_key
from tests.platforms.dataiku.steps import DATAIKU_FLOW, DATAIKU_STEPS

API = "/dip/publicapi"
SEED_DEF_KEYS = {
    "id",
    "initiationTimestamp",
    "initiator",
    "mailNotification",
    "name",
    "outputs",
    "projectKey",
    "refreshHiveMetastore",
    "refreshIntermediateMirrors",
    "refreshTargetMirrors",
    "triggeredFrom",
    "type",
}
ERROR_KEYS = {"errorType", "message", "detailedMessage"}


def call(
    service: ServiceProcess, method: str, path: str, *, auth: str | None = "basic", **kwargs: Any
) -> httpx.Response:
    token = service.token or ""
    headers = dict(kwargs.pop("headers", {}))
    if auth == "basic":
        kwargs["auth"] = httpx.BasicAuth(token, "")
    elif auth == "bearer":
        headers["Authorization"] = f"Bearer {token}"
    elif auth == "ticket":
        headers["X-DKU-APITicket"] = token
    return httpx.request(method, service.url + API + path, headers=headers, timeout=30, **kwargs)


def start(service: ServiceProcess, key: str, dataset: str, **definition: Any) -> dict[str, Any]:
    body = {"type": "NON_RECURSIVE_FORCED_BUILD", "outputs": [{"id": dataset}], **definition}
    response = call(service, "POST", f"/projects/{key}/jobs/", content=json.dumps(body))  # no Content-Type
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_done(service: ServiceProcess, key: str, job_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = call(service, "GET", f"/projects/{key}/jobs/{job_id}/").json()
        if status["baseStatus"]["state"] in ("DONE", "FAILED", "ABORTED") or time.monotonic() > deadline:
            return dict(status)
        time.sleep(0.05)


def dss_error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == ERROR_KEYS
    assert body["message"] == body["detailedMessage"]
    return str(body["errorType"]) + ": " + str(body["detailedMessage"])


class TestAuth:
    @pytest.mark.parametrize("auth", ["basic", "bearer", "ticket"])
    def test_the_api_key_three_ways(self, dataiku_service: ServiceProcess, auth: str) -> None:
        assert call(dataiku_service, "GET", "/projects/", auth=auth).status_code == 200

    def test_no_key_or_a_wrong_one(self, dataiku_service: ServiceProcess) -> None:
        missing = dss_error(call(dataiku_service, "GET", "/projects/", auth=None), 401)
        assert missing.startswith("com.dataiku.dip.exceptions.UnauthorizedException: missing or wrong API key")
        refused = httpx.get(dataiku_service.url + API + "/projects/", auth=("not-the-key", ""), timeout=10)
        dss_error(refused, 401)
        assert "not-the-key" not in refused.text


class TestJobs:
    def test_the_shapes_of_a_job(self, dataiku_service: ServiceProcess) -> None:
        key = project_key("SHAPES")
        job_def = start(dataiku_service, key, "dataset_to_build")
        assert set(job_def) >= SEED_DEF_KEYS
        assert re.fullmatch(r"build_dataset_to_build_NP_\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}", job_def["id"])
        assert job_def["outputs"] == [
            {
                "targetDataset": "dataset_to_build",
                "targetDatasetProjectKey": key,
                "targetPartition": "NP",
                "type": "DATASET",
            }
        ]
        status = wait_done(dataiku_service, key, job_def["id"])
        base = status["baseStatus"]
        assert base["state"] == "DONE" and base["stableState"] is True
        assert base["def"] == job_def and base["startTime"] > 0 and base["endTime"] >= base["startTime"]
        [activity] = base["activities"].values()
        assert activity["activityId"] == "compute_dataset_to_build_NP"
        assert activity["targets"] == [{"projectKey": key, "datasetName": "dataset_to_build", "partition": "NP"}]
        assert status["globalState"] == {
            "done": 1,
            "failed": 0,
            "running": 0,
            "notStarted": 0,
            "aborted": 0,
            "total": 1,
        }
        # without the trailing slash too
        assert call(dataiku_service, "GET", f"/projects/{key}/jobs/{job_def['id']}").json() == status
        [summary] = call(dataiku_service, "GET", f"/projects/{key}/jobs/").json()
        assert set(summary) == {
            "def",
            "state",
            "stableState",
            "startTime",
            "endTime",
            "warningsCount",
            "jobId",
            "projectKey",
        }
        assert (summary["jobId"], summary["projectKey"], summary["state"]) == (job_def["id"], key, "DONE")
        assert call(dataiku_service, "GET", f"/projects/{key}/jobs").json() == [summary]
        log = call(dataiku_service, "GET", f"/projects/{key}/jobs/{job_def['id']}/log")
        assert log.headers["content-type"].startswith("text/plain") and "Job DONE" in log.text
        abort = call(dataiku_service, "POST", f"/projects/{key}/jobs/{job_def['id']}/abort")
        assert abort.status_code == 200 and "Abort requested" in abort.json()["msg"]
        assert wait_done(dataiku_service, key, job_def["id"])["baseStatus"]["state"] == "DONE"  # it had ended

    def test_running_listings(self, dataiku_service: ServiceProcess) -> None:
        key = project_key("RUNNING")
        slow = start(dataiku_service, key, "dk_slow")
        start(dataiku_service, key, "dataset_to_build")
        mine = call(dataiku_service, "GET", f"/projects/{key}/jobs/running/").json()
        assert [j["jobId"] for j in mine] == [slow["id"]]
        everyone = call(dataiku_service, "GET", "/jobs/running/", params={"allUsers": True}).json()
        assert slow["id"] in {j["jobId"] for j in everyone}
        call(dataiku_service, "POST", f"/projects/{key}/jobs/{slow['id']}/abort")
        assert call(dataiku_service, "GET", f"/projects/{key}/jobs/running/").json() == []

    def test_ids_stay_unique_and_url_safe_when_jobs_start_together(self, dataiku_service: ServiceProcess) -> None:
        key = project_key("MANY")
        with ThreadPoolExecutor(8) as pool:
            defs = list(pool.map(lambda _: start(dataiku_service, key, "dataset_to_build"), range(16)))
        ids = [d["id"] for d in defs]
        assert len(set(ids)) == 16
        assert all(re.fullmatch(r"[A-Za-z0-9_.-]+", i) for i in ids)

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (b"{not json", "java.lang.IllegalArgumentException: body: not valid JSON"),
            ({"outputs": [{"id": "dataset_to_build"}]}, "type: required; give it"),
            ({"type": "FAST", "outputs": [{"id": "x"}]}, "type: Input should be 'RECURSIVE_BUILD'"),
            ({"type": "RECURSIVE_BUILD", "outputs": []}, "outputs: List should have at least 1 item"),
            ({"type": "RECURSIVE_BUILD", "outputs": [{}]}, "outputs.0.id: required; give it"),
            (
                {"type": "RECURSIVE_BUILD", "outputs": [{"id": "dataset_to_build", "type": "MANAGED_FOLDER"}]},
                "outputs.0.type: this emulator builds datasets, not MANAGED_FOLDER outputs",
            ),
            (
                {"type": "RECURSIVE_BUILD", "outputs": [{"id": "dataset_to_build", "projectKey": "ELSEWHERE"}]},
                "outputs.0.projectKey: a job of project",
            ),
        ],
    )
    def test_a_bad_definition_names_the_field(self, dataiku_service: ServiceProcess, body: Any, message: str) -> None:
        content = body if isinstance(body, bytes) else json.dumps(body)
        response = call(dataiku_service, "POST", f"/projects/{project_key('BAD')}/jobs/", content=content)
        assert message in dss_error(response, 400)

    def test_unknown_objects(self, dataiku_service: ServiceProcess) -> None:
        key = project_key("UNKNOWN")
        missing = dss_error(call(dataiku_service, "GET", f"/projects/{key}/jobs/nope/"), 404)
        assert missing == f"com.dataiku.dip.exceptions.UnknownObjectException: Job nope not found in project {key}"
        dss_error(call(dataiku_service, "POST", f"/projects/{key}/jobs/nope/abort"), 404)
        dss_error(call(dataiku_service, "GET", f"/projects/{key}/jobs/nope/log"), 404)
        unknown_dataset = {"type": "RECURSIVE_BUILD", "outputs": [{"id": "nope"}]}
        response = call(dataiku_service, "POST", f"/projects/{key}/jobs/", json=unknown_dataset)
        assert "outputs.0.id: dataset" in dss_error(response, 404)
        dss_error(call(dataiku_service, "GET", "/projects/bad-key/jobs/"), 404)
        dss_error(call(dataiku_service, "GET", "/no/such/route"), 404)
        assert "UnsupportedOperationException" in dss_error(
            call(dataiku_service, "DELETE", f"/projects/{key}/jobs/"), 405
        )

    def test_an_uploaded_dataset_is_not_built(self, dataiku_service: ServiceProcess) -> None:
        body = {"type": "NON_RECURSIVE_FORCED_BUILD", "outputs": [{"id": "raw"}]}
        response = call(dataiku_service, "POST", f"/projects/{project_key('CHAIN')}/jobs/", json=body)
        assert "outputs.0.id: dataset raw is an uploaded dataset" in dss_error(response, 400)


class TestDatasets:
    def upload(
        self, service: ServiceProcess, key: str, name: str, content: bytes, filename: str = "rows.jsonl"
    ) -> httpx.Response:
        files = {"file": (filename, content, "application/octet-stream")}
        return call(service, "POST", f"/projects/{key}/datasets/{name}/uploaded/files", files=files)

    def test_upload_build_read_and_clear(self, dataiku_service: ServiceProcess) -> None:
        key = project_key("CHAIN")
        assert self.upload(
            dataiku_service, key, "raw", b'{"id": "a", "text": "Hello\\tWorld"}\n\n{"id": "b"}\n'
        ).json() == {
            "path": "/rows.jsonl",
            "records": 2,
        }
        [file] = call(dataiku_service, "GET", f"/projects/{key}/datasets/raw/uploaded/files").json()
        assert file["path"] == "/rows.jsonl" and file["size"] > 0
        job = start(dataiku_service, key, "clean")
        assert wait_done(dataiku_service, key, job["id"])["baseStatus"]["state"] == "DONE"
        schema = call(dataiku_service, "GET", f"/projects/{key}/datasets/clean/schema").json()
        assert schema == {
            "columns": [{"name": "id", "type": "string"}, {"name": "text", "type": "string"}],
            "userModified": False,
        }
        data = call(
            dataiku_service, "GET", f"/projects/{key}/datasets/clean/data/", params={"format": "tsv-excel-header"}
        )
        assert data.text == 'id\ttext\na\t"hello\tworld"\nb\t\n'
        assert call(dataiku_service, "GET", f"/projects/{key}/datasets/clean/partitions").json() == ["NP"]
        settings = call(dataiku_service, "GET", f"/projects/{key}/datasets/clean").json()
        assert (settings["name"], settings["type"], settings["managed"]) == ("clean", "Filesystem", True)
        listed = {d["name"]: d["type"] for d in call(dataiku_service, "GET", f"/projects/{key}/datasets/").json()}
        assert listed == {"raw": "UploadedFiles", "clean": "Filesystem", "scored": "Filesystem", "report": "Filesystem"}
        cleared = call(dataiku_service, "DELETE", f"/projects/{key}/datasets/clean/data").json()
        assert cleared == {"success": True, "clearedPartitions": ["NP"]}
        assert call(dataiku_service, "GET", f"/projects/{key}/datasets/clean/partitions").json() == []
        assert call(dataiku_service, "GET", f"/projects/{key}/datasets/clean/data/").text == ""
        assert key in {p["projectKey"] for p in call(dataiku_service, "GET", "/projects/").json()}

    def test_bad_uploads_and_reads(self, dataiku_service: ServiceProcess) -> None:
        key = project_key("CHAIN")
        assert "file: line 2 is not JSON" in dss_error(self.upload(dataiku_service, key, "raw", b"{}\n{oops\n"), 400)
        built = dss_error(self.upload(dataiku_service, key, "clean", b"{}\n"), 400)
        assert "dataset clean is built by recipe compute_clean" in built
        not_multipart = call(dataiku_service, "POST", f"/projects/{key}/datasets/raw/uploaded/files", content=b"{}")
        assert "multipart/form-data" in dss_error(not_multipart, 400)
        dss_error(self.upload(dataiku_service, key, "nope", b"{}\n"), 404)  # not in the declared flow
        bad_format = call(dataiku_service, "GET", f"/projects/{key}/datasets/raw/data/", params={"format": "parquet"})
        assert "format: 'parquet' is not served here" in dss_error(bad_format, 400)
        dss_error(call(dataiku_service, "GET", f"/projects/{key}/datasets/nope/schema"), 404)

    def test_the_default_flow_takes_uploads_into_any_other_name(self, dataiku_service: ServiceProcess) -> None:
        key = project_key("DEFAULT")
        assert self.upload(dataiku_service, key, "prices", b'{"sku": 1, "price": 2.5}\n').status_code == 200
        graph = call(dataiku_service, "GET", f"/projects/{key}/flow/graph/").json()["nodes"]
        assert graph["prices"] == {"ref": "prices", "type": "COMPUTABLE_DATASET", "predecessors": [], "successors": []}
        assert graph["compute_dk_slow"]["successors"] == ["dk_slow"]
        recipes = {r["name"]: r for r in call(dataiku_service, "GET", f"/projects/{key}/recipes/").json()}
        assert recipes["compute_dataset_to_build"]["outputs"] == {"main": {"items": [{"ref": "dataset_to_build"}]}}
        built = dss_error(self.upload(dataiku_service, key, "dataset_to_build", b"{}\n"), 400)
        assert "is built by recipe compute_dataset_to_build" in built


def test_a_job_goes_on_after_the_service_is_killed(tmp_path: Path) -> None:
    """Kill -9 during the first activity of a recursive build; once the service is back, the engine finishes that
    activity and the job goes on to the next ones."""
    service = ServiceProcess(
        tmp_path / "svc",
        steps=[DATAIKU_STEPS],
        token="k",
        extra_args=["--platform", "dataiku"],
        env={"JOBNODE_DATAIKU_FLOW": str(DATAIKU_FLOW)},
    ).start()
    try:
        key = project_key("CHAIN")
        files = {"file": ("rows.jsonl", b'{"id": "a", "text": "Good", "sleep": 1.5}\n', "application/x-ndjson")}
        call(service, "POST", f"/projects/{key}/datasets/raw/uploaded/files", files=files).raise_for_status()
        job = start(service, key, "report", type="RECURSIVE_FORCED_BUILD")
        time.sleep(0.5)  # the first activity is asleep in its step
        service.restart(kill=True)
        status = wait_done(service, key, job["id"])
        assert status["baseStatus"]["state"] == "DONE", status
        assert [a["state"] for a in status["baseStatus"]["activities"].values()] == ["DONE", "DONE", "DONE"]
        rows = call(service, "GET", f"/projects/{key}/datasets/report/data/", params={"format": "tsv-excel-header"})
        assert rows.text.splitlines()[1].startswith("positive\t")
    finally:
        service.stop()


def test_a_bad_flow_declaration_stops_the_service_naming_the_field(tmp_path: Path) -> None:
    flow = tmp_path / "flow.toml"
    flow.write_text('[projects.SHOP.datasets.sales]\ninputs = ["orders"]\n')
    service = ServiceProcess(
        tmp_path / "svc", extra_args=["--platform", "dataiku"], env={"JOBNODE_DATAIKU_FLOW": str(flow)}
    )
    with pytest.raises(ConfigurationError, match=r"projects\.SHOP: datasets\.sales\.inputs\.0: 'orders' is not a"):
        service.start()
