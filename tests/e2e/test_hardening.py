"""Issue 11, one test per defect, against the real service: no 500 for odd input, no fetch of arbitrary URLs, the
`Host` check, the size limits, no secret in the log, a clean stop, one service per data directory, an OpenAPI
document that describes the API, and error texts that name the field."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

import jobnode
from jobnode.service.process import ServiceProcess
from jobnode.service.server import ENDPOINT_FILE


@pytest.fixture(scope="module")
def api(service: ServiceProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {service.token}"}, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def tokenless(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """A service without a token and with small limits."""
    limits = ["--max-request-bytes", "20000", "--max-items", "50", "--max-batch-bytes", "2000"]
    with ServiceProcess(tmp_path_factory.mktemp("tokenless"), extra_args=limits) as svc:
        yield svc


def body(**changes: Any) -> dict[str, Any]:
    return {"step": "identity", "input": {"kind": "items", "items": [1, 2]}, **changes}


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    err: dict[str, Any] = response.json()["error"]
    assert set(err) == {"code", "message", "details"}
    return err


def cursor(**fields: int) -> str:
    return base64.urlsafe_b64encode(json.dumps(fields).encode()).decode().rstrip("=")


# -- defect 2: bad input that got a 500 -------------------------------------------------------------------------


@pytest.mark.parametrize("position", [2**63, -(2**63) - 1, 10**30])
def test_a_cursor_beyond_sqlite_integers_is_a_400(api: httpx.Client, position: int) -> None:
    assert (
        error_of(api.get("/v1/jobs", params={"cursor": cursor(before=position)}), 400)["details"]["field"] == "cursor"
    )
    job_id = api.post("/v1/jobs", json=body()).json()["id"]
    logs = api.get(f"/v1/jobs/{job_id}/logs", params={"cursor": cursor(after=position)})
    assert error_of(logs, 400)["details"]["field"] == "cursor"


@pytest.mark.parametrize("dry_run", ["true", "false"])
@pytest.mark.parametrize("depth", [150, 260, 900])
def test_deep_items_are_refused_alike_by_the_dry_run_and_the_create(
    api: httpx.Client, dry_run: str, depth: int
) -> None:
    item = "[" * depth + "1" + "]" * depth
    raw = '{"step": "identity", "input": {"kind": "items", "items": [' + item + "]}}"
    response = api.post(
        "/v1/jobs", content=raw, params={"dry_run": dry_run}, headers={"Content-Type": "application/json"}
    )
    err = error_of(response, 422)
    assert "nested more than 100 levels" in err["message"] and err["details"][0]["field"].startswith("input.items")


def test_a_body_nested_beyond_the_parser_is_a_422(api: httpx.Client) -> None:
    raw = '{"step": "identity", "input": {"kind": "items", "items": [' + "[" * 100_000 + "]" * 100_000 + "]}}"
    err = error_of(api.post("/v1/jobs", content=raw, headers={"Content-Type": "application/json"}), 422)
    assert err["details"][0]["field"] == "body" and "nested too deeply" in err["message"]


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ('{"step": "identity", "input": {"kind": "items", "items": ["\\ud800"]}}', "lone surrogate"),
        ('{"step": "identity", "tags": ["\\udfff"], "input": {"kind": "items", "items": [1]}}', "lone surrogate"),
        ('{"step": "identity", "input": {"kind": "items", "items": [NaN]}}', "NaN is not JSON"),
        ('{"step": "identity", "timeout": Infinity, "input": {"kind": "items", "items": [1]}}', "Infinity is not JSON"),
    ],
)
def test_what_is_not_strict_json_is_a_422_naming_the_body(api: httpx.Client, raw: str, words: str) -> None:
    for dry_run in ("true", "false"):
        response = api.post(
            "/v1/jobs", content=raw.encode(), params={"dry_run": dry_run}, headers={"Content-Type": "application/json"}
        )
        err = error_of(response, 422)
        assert err["details"][0]["field"] == "body" and words in err["message"]


def test_a_boolean_is_not_a_batch_size(api: httpx.Client) -> None:
    err = error_of(api.post("/v1/jobs", json=body(batch_size=True)), 422)
    assert err["details"][0]["field"] == "batch_size"


@pytest.mark.parametrize("path", ["generic://x", "async_wrapper://x", "ftp://127.0.0.1:1/x"])
def test_fsspec_protocols_that_do_not_fit_are_a_422(api: httpx.Client, path: str) -> None:
    err = error_of(api.post("/v1/jobs", json=body(input={"kind": "files", "paths": [path]})), 422)
    assert err["details"][0]["field"] == "input.paths[0]"


# -- defect 3: inputs that made the service fetch any URL -------------------------------------------------------


@pytest.fixture(scope="module")
def secret_site() -> Iterator[str]:
    """A page on 127.0.0.1 that the service must not fetch for a job."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"secret": "internal-only"}\n')

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/data.jsonl"
    server.shutdown()


@pytest.mark.parametrize("kind", ["files", "delimited"])
def test_a_url_input_is_not_fetched(api: httpx.Client, secret_site: str, kind: str) -> None:
    response = api.post("/v1/jobs", json=body(input={"kind": kind, "paths": [secret_site]}), params={"dry_run": "true"})
    err = error_of(response, 422)
    assert "protocol 'http' is not allowed" in err["message"] and "internal-only" not in response.text


def test_an_allowed_protocol_still_may_not_reach_this_machine(tmp_path: Path, secret_site: str) -> None:
    with ServiceProcess(tmp_path, token="t0ken-x", extra_args=["--allow-protocol", "http"]) as svc:
        response = httpx.post(
            f"{svc.url}/v1/jobs?dry_run=true",
            json=body(input={"kind": "delimited", "paths": [secret_site]}),
            headers={"Authorization": "Bearer t0ken-x"},
        )
    err = error_of(response, 422)
    assert "an address of this machine or a private network" in err["message"]
    assert "internal-only" not in response.text


# -- defect 4: a tokenless service answered any Host ------------------------------------------------------------


def test_a_tokenless_service_answers_only_loopback_host_names(tokenless: ServiceProcess) -> None:
    port = tokenless.port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
        assert httpx.get(f"{tokenless.url}/v1/jobs", headers={"Host": host}).status_code == 200
    for host in ("attacker.example", f"attacker.example:{port}", f"rebind.127.0.0.1.nip.io:{port}"):
        err = error_of(httpx.get(f"{tokenless.url}/v1/jobs", headers={"Host": host}), 421)
        assert err["details"]["field"] == "Host"


# -- defect 5: no limit on request bodies -----------------------------------------------------------------------


def _rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1])


def test_a_body_over_the_limit_is_a_413_before_it_is_read(tokenless: ServiceProcess) -> None:
    assert tokenless.proc is not None
    before = _rss_kib(tokenless.proc.pid)
    big = b'{"step": "identity", "input": {"kind": "items", "items": [' + b'"x",' * 5_000_000 + b'"x"]}}'
    json_type = {"Content-Type": "application/json"}
    err = error_of(httpx.post(f"{tokenless.url}/v1/jobs", content=big, headers=json_type, timeout=60), 413)
    assert "20,000 bytes" in err["message"] and "--max-request-bytes" in err["message"]
    assert _rss_kib(tokenless.proc.pid) - before < 20 * 1024  # refused from its Content-Length: nothing read

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused once too much has arrived
        yield b'{"step": "identity", "input": {"kind": "items", "items": ['
        for _ in range(100):
            yield b'"xxxxxxxxxx",' * 100
        yield b'"x"]}}'

    error_of(httpx.post(f"{tokenless.url}/v1/jobs", content=chunks(), headers=json_type, timeout=60), 413)


def test_items_and_batches_over_the_limits_are_a_413(tokenless: ServiceProcess) -> None:
    url = f"{tokenless.url}/v1/jobs"
    for dry_run in ("true", "false"):
        err = error_of(
            httpx.post(url, params={"dry_run": dry_run}, json=body(input={"kind": "items", "items": list(range(51))})),
            413,
        )
        assert err["details"]["field"] == "input" and "--max-items" in err["message"]
        items = ["x" * 300] * 20
        err = error_of(
            httpx.post(
                url, params={"dry_run": dry_run}, json=body(input={"kind": "items", "items": items}, batch_size=10)
            ),
            413,
        )
        assert err["details"] == {"field": "batch_size", "batch": 0, "max_batch_bytes": 2000}
    ok = httpx.post(url, json=body(input={"kind": "items", "items": items}, batch_size=5))
    assert ok.status_code == 201, ok.text


# -- defect 6: secrets in logs ----------------------------------------------------------------------------------


def test_webhook_urls_leave_no_secret_in_the_service_log(service: ServiceProcess, client: jobnode.Client) -> None:
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://hook-user:PASS-w3bh00k@127.0.0.1:{server.server_address[1]}/hook?sig=SIG-s3cr3t"
        job = client.jobs.create(step="identity", items=[1, 2], webhook={"url": url, "secret": "HMAC-k3y"})
        assert client.jobs.wait(job.id, timeout=60).progress.items_delivered == 2
    finally:
        server.shutdown()
    assert seen == ["/hook?sig=SIG-s3cr3t"]  # it was sent, query and all
    log = service.log_file.read_text()
    assert "HTTP Request: POST http://127.0.0.1" in log  # httpx's line is there, redacted
    for secret in ("PASS-w3bh00k", "SIG-s3cr3t", "HMAC-k3y"):
        assert secret not in log


# -- defect 9: the service's life cycle -------------------------------------------------------------------------


def test_sigterm_cleans_up_as_sigint_does(tmp_path: Path) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        svc = ServiceProcess(tmp_path / sig.name).start()
        assert svc.proc is not None and (svc.data_dir / ENDPOINT_FILE).exists()
        svc.proc.send_signal(sig)
        svc.proc.wait(30)
        assert not (svc.data_dir / ENDPOINT_FILE).exists(), sig.name
        assert "Traceback" not in svc.log_file.read_text()


def test_a_second_service_on_one_data_directory_is_refused(tmp_path: Path) -> None:
    with ServiceProcess(tmp_path) as first:
        result = subprocess.run(
            [sys.executable, "-m", "jobnode", "serve", "--port", "0", "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2
        assert f"another jobnode service (pid {first.proc.pid if first.proc else 0})" in result.stderr
        assert "Traceback" not in result.stderr
        assert httpx.get(f"{first.url}/healthz").status_code == 200  # the first one is untouched
        assert json.loads((tmp_path / ENDPOINT_FILE).read_text())["url"] == first.url


def test_an_unknown_log_level_is_a_one_line_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "jobnode", "--log-level", "chatty", "serve", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert result.returncode == 2
    assert "invalid choice: 'chatty'" in result.stderr and "Traceback" not in result.stderr


# -- defect 10: the OpenAPI document ----------------------------------------------------------------------------


def test_the_openapi_document_describes_errors_inputs_and_constraints(api: httpx.Client) -> None:
    doc = api.get("/openapi.json").json()
    create = doc["paths"]["/v1/jobs"]["post"]["responses"]
    for status in ("400", "401", "404", "409", "413", "422"):
        assert create[status]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    assert doc["components"]["schemas"]["ErrorBody"]["required"] == ["error"]
    assert set(doc["components"]["schemas"]["ErrorDetail"]["required"]) == {"code", "message"}
    assert doc["components"]["schemas"]["ItemsInput"]["required"][0] == "kind"
    listing = {p["name"]: p["schema"] for p in doc["paths"]["/v1/jobs"]["get"]["parameters"]}
    assert "timed_out" in listing["state"]["pattern"]
    assert "{0,9999}" in listing["ids"]["pattern"]
    assert "HTTPBearer" in doc["components"]["securitySchemes"]


def test_405_names_every_allowed_method(api: httpx.Client) -> None:
    response = api.put("/v1/jobs/job_x")
    error_of(response, 405)
    assert response.headers["Allow"] == "DELETE, GET"


@pytest.mark.parametrize(("value", "status"), [("running,queued", 200), ("running, queued", 400), ("", 400)])
def test_the_state_filter_is_exactly_what_the_document_says(api: httpx.Client, value: str, status: int) -> None:
    assert api.get("/v1/jobs", params={"state": value}).status_code == status


# -- defect 11: error texts -------------------------------------------------------------------------------------


def test_a_missing_input_kind_names_the_field_and_its_choices(api: httpx.Client) -> None:
    err = error_of(api.post("/v1/jobs", json={"step": "identity", "input": {"items": [1]}}), 422)
    assert err["details"][0] == {
        "field": "input.kind",
        "message": "required; one of 'items', 'files', 'delimited', 'artifacts'",
    }
    err = error_of(api.post("/v1/jobs", json={"step": "identity", "input": {"kind": "pigeon"}}), 422)
    assert err["details"][0]["field"] == "input.kind" and "unknown value 'pigeon'" in err["message"]
