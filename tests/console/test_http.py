"""The console's rules over plain HTTP against the real service: sessions, CSRF, the `Host` check, headers, bad
input (never a 500), secrets, downloads, live streams, and the job's `url` that every integration prints."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import jobnode
from jobnode.core.models import Webhook
from jobnode.service.process import ServiceProcess


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@pytest.fixture
def browser_like(service: ServiceProcess) -> Iterator[httpx.Client]:
    """An HTTP client logged in to the console, as a browser would be (its session cookie and HTML requests)."""
    with httpx.Client(base_url=service.url, headers={"accept": "text/html"}, timeout=30) as http:
        answer = http.post("/ui/login", data={"token": service.token, "next": "/ui/jobs"})
        assert answer.status_code == 303 and answer.headers["location"] == "/ui/jobs"
        yield http


@pytest.fixture
def tokenless(tmp_path: Path) -> Iterator[ServiceProcess]:
    with ServiceProcess(tmp_path / "tokenless", steps=["tests.steps"]) as svc:
        yield svc


def test_a_job_s_url_is_its_console_page_and_the_cli_prints_it(
    client: jobnode.Client, service: ServiceProcess, browser_like: httpx.Client
) -> None:
    job = client.jobs.wait(client.jobs.create(name="url", step="identity", items=[1]).id)
    page = f"{service.url}/ui/jobs/{job.id}"
    assert job.url == page == client.job_url(job.id)
    env = {**os.environ, "JOBNODE_URL": service.url, "JOBNODE_TOKEN": service.token or ""}
    shown = subprocess.run(
        [sys.executable, "-m", "jobnode", "jobs", "get", job.id], capture_output=True, text=True, env=env, timeout=120
    )
    assert shown.returncode == 0 and page in shown.stdout, shown.stderr
    opened = browser_like.get(page)
    assert opened.status_code == 200 and "<h1>url " in opened.text


def test_pages_need_a_session_and_the_login_keeps_the_token_out_of_addresses(
    service: ServiceProcess, client: jobnode.Client
) -> None:
    job = client.jobs.create(name="locked", step="identity", items=[1])
    with httpx.Client(base_url=service.url, timeout=30) as http:
        page = http.get(f"/ui/jobs/{job.id}", headers={"accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"] == f"/ui/login?next=%2Fui%2Fjobs%2F{job.id}"
        assert http.get(f"/ui/jobs/{job.id}/live", headers={"accept": "text/event-stream"}).status_code == 401
        assert http.get(f"/ui/jobs/{job.id}/logs").status_code == 401
        assert http.post(f"/ui/jobs/{job.id}/cancel", data={"csrf": "x"}).status_code == 401
        assert http.get("/ui/login?token=x").status_code == 200  # a token in the address is no way in
        assert http.get("/ui/jobs", headers={"accept": "text/html"}).status_code == 303
        # the API's bearer token does not open the console, whose pages a browser shows
        bearer = http.get("/ui/jobs", headers={"authorization": f"Bearer {service.token}", "accept": "text/html"})
        assert bearer.status_code == 303
        elsewhere = http.post("/ui/login", data={"token": service.token, "next": "https://elsewhere.test/"})
        assert elsewhere.status_code == 303 and elsewhere.headers["location"] == "/ui/jobs"  # no open redirect
        assert "HttpOnly" in elsewhere.headers["set-cookie"] and "SameSite=Strict" in elsewhere.headers["set-cookie"]


def test_actions_need_the_session_s_csrf_token_and_this_site(
    service: ServiceProcess, client: jobnode.Client, browser_like: httpx.Client
) -> None:
    job = client.jobs.create(name="csrf", step="sleep", items=[1], params={"seconds": 30})
    page = browser_like.get(f"/ui/jobs/{job.id}")
    token = csrf_of(page.text)
    assert browser_like.post(f"/ui/jobs/{job.id}/cancel", data={"nothing": ""}).status_code == 403
    assert browser_like.post(f"/ui/jobs/{job.id}/cancel", data={"csrf": "forged"}).status_code == 403
    cross_site = browser_like.post(
        f"/ui/jobs/{job.id}/cancel", data={"csrf": token}, headers={"origin": "http://evil.test"}
    )
    assert cross_site.status_code == 403
    fetched = browser_like.post(
        f"/ui/jobs/{job.id}/cancel", data={"csrf": token}, headers={"sec-fetch-site": "cross-site"}
    )
    assert fetched.status_code == 403
    assert client.jobs.get(job.id).state.value in ("queued", "running")  # none of those did anything
    with httpx.Client(base_url=service.url, timeout=30) as other:  # another browser's session has its own token
        other.post("/ui/login", data={"token": service.token})
        assert other.post(f"/ui/jobs/{job.id}/cancel", data={"csrf": token}).status_code == 403
    done = browser_like.post(f"/ui/jobs/{job.id}/cancel", data={"csrf": token}, headers={"origin": service.url})
    assert done.status_code == 303 and done.headers["location"] == f"/ui/jobs/{job.id}"
    assert client.jobs.wait(job.id, timeout=60).state.value == "cancelled"


def test_logging_out_ends_the_session(service: ServiceProcess, browser_like: httpx.Client) -> None:
    token = csrf_of(browser_like.get("/ui/jobs").text)
    out = browser_like.post("/ui/logout", data={"csrf": token})
    assert out.status_code == 303 and "Max-Age=0" in out.headers["set-cookie"]
    assert browser_like.get("/ui/jobs").status_code == 303  # the old cookie opens nothing any more


def test_without_a_token_the_console_opens_at_once_only_at_a_loopback_address(tokenless: ServiceProcess) -> None:
    with httpx.Client(base_url=tokenless.url, headers={"accept": "text/html"}, timeout=30) as http:
        first = http.get("/ui/jobs")
        assert first.status_code == 200 and "Log out" not in first.text
        cookie = first.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/ui" in cookie
        assert http.get("/ui/jobs").headers.get("set-cookie") is None  # the same session from then on
        # still no action without the CSRF token
        assert http.post("/ui/jobs/job_x/cancel", data={"nothing": ""}).status_code == 403
        rebinding = http.get("/ui/jobs", headers={"host": "attacker.test"})
        assert rebinding.status_code == 421


def test_answers_say_they_may_not_be_framed_cached_or_run_foreign_scripts(browser_like: httpx.Client) -> None:
    answer = browser_like.get("/ui/jobs")
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "<script" not in answer.text.replace('<script src="/ui/static/console.js" defer></script>', "")
    script = browser_like.get("/ui/static/console.js")
    assert script.status_code == 200 and "EventSource" in script.text


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/ui/jobs?state=done", 400, "state: unknown state"),
        ("/ui/jobs?created_after=yesterday", 400, "created_after: give a date and time"),
        ("/ui/jobs?cursor=nonsense", 400, "cursor"),
        ("/ui/jobs/job_nope", 404, "no job"),
        ("/ui/jobs/job_nope/delete", 404, "no job"),
        ("/ui/artifacts/art_nope", 404, "no artifact"),
        ("/ui/artifacts/art_nope/content", 404, "no artifact"),
        ("/ui/nowhere", 404, "Not Found"),
    ],
)
def test_bad_input_is_a_page_that_says_what_is_wrong(
    browser_like: httpx.Client, path: str, status: int, says: str
) -> None:
    answer = browser_like.get(path)
    assert answer.status_code == status and says in answer.text
    assert answer.headers["content-type"].startswith("text/html")


def test_bad_log_filters_are_explained_in_the_log_part(client: jobnode.Client, browser_like: httpx.Client) -> None:
    job = client.jobs.create(name="bad-logs", step="identity", items=[1])
    for params, says in [
        ("log_cursor=nonsense", "log_cursor:"),
        ("log_level=loud", "log_level: unknown level"),
        ("log_order=up", "log_order:"),
        ("log_limit=7", "log_limit: use one of"),
    ]:
        fragment = browser_like.get(f"/ui/jobs/{job.id}/logs?{params}")
        assert fragment.status_code == 400 and says in fragment.text, params
        whole = browser_like.get(f"/ui/jobs/{job.id}?{params}")
        assert whole.status_code == 200 and says in whole.text, params


def test_refused_actions_are_pages_not_errors(client: jobnode.Client, browser_like: httpx.Client) -> None:
    job = client.jobs.wait(client.jobs.create(name="fine", step="identity", items=[1]).id)
    token = csrf_of(browser_like.get(f"/ui/jobs/{job.id}").text)
    nothing = browser_like.post(f"/ui/jobs/{job.id}/resubmit", data={"csrf": token})
    assert nothing.status_code == 409 and "no failed items" in nothing.text
    running = client.jobs.create(name="busy", step="sleep", items=[1], params={"seconds": 30})
    plan = browser_like.get(f"/ui/jobs/{running.id}/delete")
    assert plan.status_code == 200 and "cannot be deleted" in plan.text
    refused = browser_like.post(f"/ui/jobs/{running.id}/delete", data={"csrf": token, "delete_outputs": "1"})
    assert refused.status_code == 409 and "cannot be deleted" in refused.text
    client.jobs.cancel(running.id)
    wrong_form = browser_like.post(f"/ui/jobs/{job.id}/cancel", json={"csrf": token})
    assert wrong_form.status_code == 415


def test_secrets_of_a_spec_are_never_shown(
    client: jobnode.Client, browser_like: httpx.Client, service: ServiceProcess
) -> None:
    secret = uuid.uuid4().hex
    job = client.jobs.create(
        name="secretive",
        step="identity",
        items=list(range(100)),
        webhook=Webhook(url="http://127.0.0.1:9/hook", secret=secret, max_attempts=1),
    )
    page = browser_like.get(f"/ui/jobs/{job.id}")
    spec = browser_like.get(f"/ui/jobs/{job.id}/spec.json")
    assert secret not in page.text and secret not in spec.text
    assert spec.json()["webhook"]["secret"] == "(hidden)" and len(spec.json()["input"]["items"]) == 100
    assert "and 80 more items" in page.text  # the page shows the first inline items only
    client.jobs.cancel(job.id)


def test_an_artifact_downloads_as_json_lines(client: jobnode.Client, browser_like: httpx.Client) -> None:
    records = [{"id": i, "text": f"row {i}"} for i in range(25)]
    job = client.jobs.wait(client.jobs.create(name="download", step="identity", items=records).id)
    artifact = job.outputs[0]
    answer = browser_like.get(f"/ui/artifacts/{artifact.id}/content")
    assert answer.status_code == 200 and 'filename="results.jsonl"' in answer.headers["content-disposition"]
    assert [json.loads(line) for line in answer.text.splitlines()] == records
    shown = browser_like.get(f"/ui/artifacts/{artifact.id}")
    assert shown.status_code == 303 and shown.headers["location"] == f"/ui/jobs/{job.id}#artifact-{artifact.id}"


def test_the_live_stream_of_a_finished_job_sends_its_parts_once_then_ends(
    client: jobnode.Client, browser_like: httpx.Client
) -> None:
    job = client.jobs.wait(client.jobs.create(name="ended", step="identity", items=[1, 2]).id)
    with browser_like.stream("GET", f"/ui/jobs/{job.id}/live", headers={"accept": "text/event-stream"}) as stream:
        text = "".join(stream.iter_text())
    events = [block for block in text.split("\n\n") if block.strip()]
    assert [e.splitlines()[0] for e in events] == ["event: parts", "event: end"]
    parts = json.loads(events[0].splitlines()[1].removeprefix("data: "))
    assert set(parts) == {"summary", "actions", "activity", "outputs", "lineage", "announce"}
    assert "succeeded" in parts["summary"] and parts["announce"] == "Job ended: succeeded"


def test_guessing_the_token_is_stopped(fresh_service: ServiceProcess) -> None:
    with httpx.Client(base_url=fresh_service.url, timeout=30) as http:
        guesses = [http.post("/ui/login", data={"token": f"guess-{i}"}).status_code for i in range(12)]
        assert guesses == [401] * 10 + [429] * 2
        right = http.post("/ui/login", data={"token": fresh_service.token})
        assert right.status_code == 429 and int(right.headers["retry-after"]) > 0  # even the right one, for now


def test_the_lineage_names_the_parent_and_the_sub_jobs(client: jobnode.Client, browser_like: httpx.Client) -> None:
    parent = client.jobs.wait(client.jobs.create(name="parent", step="identity", items=[1]).id)
    child = client.jobs.wait(client.jobs.create(name="child", step="identity", items=[2], parent_id=parent.id).id)
    shown = browser_like.get(f"/ui/jobs/{parent.id}").text
    assert re.search(rf'sub-job: <a href="/ui/jobs/{child.id}">child</a>', shown)
    assert 'aria-label="sub-job: child"' in shown  # the drawing's box, a link with a name
    assert re.search(
        rf'parent <a href="/ui/jobs/{parent.id}">parent</a>', browser_like.get(f"/ui/jobs/{child.id}").text
    )
