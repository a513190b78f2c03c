"""Every malformed or inconsistent request gets a 4xx in the error shape, naming the field. Never a 500."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobnode.service.process import ServiceProcess


@pytest.fixture
def api(service: ServiceProcess) -> httpx.Client:
    return httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {service.token}"})


def body(**changes: Any) -> dict[str, Any]:
    return {"step": "identity", "input": {"kind": "items", "items": [1, 2]}, **changes}


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    err: dict[str, Any] = response.json()["error"]
    assert set(err) == {"code", "message", "details"}
    return err


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"step": "no-such-step"}, "step"),
        ({"step_version": "99"}, "step_version"),
        ({"batch_size": 0}, "batch_size"),
        ({"workers": 0}, "workers"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"timeout": -1}, "timeout"),
        ({"input": {"kind": "items", "items": []}}, "input.items.items"),
        ({"input": {"kind": "carrier-pigeon"}}, "input"),
        ({"colour": "red"}, "colour"),
        ({"start_at": "not a time"}, "start_at"),
        ({"parent_id": "job_missing"}, "parent_id"),
    ],
)
def test_bad_job_fields_are_named(api: httpx.Client, changes: dict[str, Any], field: str) -> None:
    err = error_of(api.post("/v1/jobs", json=body(**changes)), 422)
    assert field in err["message"]


def test_bad_params_name_the_parameter(api: httpx.Client) -> None:
    err = error_of(api.post("/v1/jobs", json=body(step="sleep", params={"seconds": "long"})), 422)
    assert err["details"][0]["field"] == "params.seconds"
    err = error_of(api.post("/v1/jobs", json=body(step="sleep", params={"sekonds": 1})), 422)
    assert err["details"][0]["field"] == "params.sekonds"


def test_window_end_before_start(api: httpx.Client) -> None:
    err = error_of(
        api.post("/v1/jobs", json=body(start_at="2030-01-02T00:00:00Z", stop_at="2030-01-01T00:00:00Z")), 422
    )
    assert "stop_at must be after start_at" in err["message"]


def test_malformed_json_body(api: httpx.Client) -> None:
    response = api.post("/v1/jobs", content=b"{not json", headers={"Content-Type": "application/json"})
    error_of(response, 422)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/jobs/job_nope"),
        ("POST", "/v1/jobs/job_nope/cancel"),
        ("DELETE", "/v1/jobs/job_nope"),
        ("GET", "/v1/jobs/job_nope/logs"),
        ("GET", "/v1/jobs/job_nope/errors"),
        ("GET", "/v1/jobs/job_nope/result"),
        ("GET", "/v1/jobs/job_nope/events"),
        ("GET", "/v1/artifacts/art_nope"),
        ("GET", "/v1/watch?ids=job_nope"),
    ],
)
def test_unknown_job_is_404(api: httpx.Client, method: str, path: str) -> None:
    error_of(api.request(method, path), 404)


@pytest.mark.parametrize("cursor", ["garbage", "eyJ4IjogMX0", "e30", "eyJiZWZvcmUiOiAiYSJ9"])
def test_bad_cursor(api: httpx.Client, cursor: str) -> None:
    err = error_of(api.get("/v1/jobs", params={"cursor": cursor}), 400)
    assert err["details"]["field"] == "cursor"
    job_id = api.post("/v1/jobs", json=body()).json()["id"]
    err = error_of(api.get(f"/v1/jobs/{job_id}/logs", params={"cursor": cursor}), 400)
    assert err["details"]["field"] == "cursor"


@pytest.mark.parametrize(
    ("params", "field"),
    [({"state": "sleeping"}, "state"), ({"limit": 0}, "limit"), ({"limit": 5000}, "limit")],
)
def test_bad_list_filters(api: httpx.Client, params: dict[str, Any], field: str) -> None:
    response = api.get("/v1/jobs", params=params)
    assert response.status_code in (400, 422)
    assert field in response.json()["error"]["message"]


def test_bad_log_filters(api: httpx.Client) -> None:
    job_id = api.post("/v1/jobs", json=body()).json()["id"]
    assert "min_level" in error_of(api.get(f"/v1/jobs/{job_id}/logs", params={"min_level": "loud"}), 400)["message"]
    assert "order" in error_of(api.get(f"/v1/jobs/{job_id}/logs", params={"order": "up"}), 422)["message"]
    assert "after_time" in error_of(api.get(f"/v1/jobs/{job_id}/logs", params={"after_time": "x"}), 422)["message"]


def test_auth_is_required_and_the_token_never_echoed(service: ServiceProcess) -> None:
    plain = httpx.Client(base_url=service.url)
    assert plain.get("/healthz").status_code == 200
    assert plain.get("/openapi.json").status_code == 200
    error_of(plain.get("/v1/jobs"), 401)
    wrong = plain.get("/v1/jobs", headers={"Authorization": "Bearer wrong-token-value"})
    assert "wrong-token-value" not in wrong.text
    error_of(wrong, 401)
    assert service.token and service.token not in service.log_file.read_text()


def test_refuses_to_listen_beyond_loopback_without_a_token(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "jobnode", "serve", "--host", "0.0.0.0", "--port", "0", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "", "HOME": str(tmp_path)},
    )
    assert result.returncode == 2
    assert "refusing to listen on 0.0.0.0 without a token" in result.stderr
