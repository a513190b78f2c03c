"""`PinexqBackend` against a scripted PinexQ (httpx.MockTransport): what a real server does not produce on demand
(a 503 then a 200, a `Retry-After`, an answer that is not Siren, an event stream that cannot open or ends)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from jobnode.core.errors import BadRequest, JobnodeError, ServerError
from jobnode.core.models import ArtifactsInput, JobSpec, JobState
from jobnode.core.transport import HeaderAuth, Transport
from jobnode.platforms.pinexq.backend import PINEXQ_RETRY, PinexqBackend
from jobnode.platforms.pinexq.siren import PROBLEM, SIREN, NotOffered, parse_problem

URL = "https://pinexq.test"
Handler = Callable[[httpx.Request], httpx.Response]


def siren(body: dict[str, Any], status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body, headers={"Content-Type": SIREN})


def problem(status: int, detail: str, **extra: Any) -> httpx.Response:
    body = {"type": "about:blank", "title": "t", "status": status, "detail": detail, **extra}
    return httpx.Response(status, json=body, headers={"Content-Type": PROBLEM})


ENTRY = {
    "class": ["EntryPoint"],
    "links": [
        {"rel": ["self"], "href": f"{URL}/api/EntryPoint"},
        {"rel": ["Info"], "href": f"{URL}/api/info"},
        {"rel": ["JobsRoot"], "href": f"{URL}/api/jobs"},
        {"rel": ["WorkDataRoot"], "href": f"{URL}/api/workdata"},
        {"rel": ["ProcessingStepsRoot"], "href": f"{URL}/api/processingsteps"},
    ],
}
INFO = {
    "class": ["Info"],
    "links": [
        {"rel": ["self"], "href": f"{URL}/api/info"},
        {"rel": ["ApiEventsEndpoint"], "href": f"{URL}/api/events"},
    ],
}
WORKDATA = {"class": ["WorkDataRoot"], "links": [{"rel": ["self"], "href": f"{URL}/api/workdata"}]}
JOBS = {
    "class": ["JobsRoot"],
    "links": [{"rel": ["self"], "href": f"{URL}/api/jobs"}],
    "actions": [
        {"name": "RapidSetupJob", "href": f"{URL}/api/jobs/rapid", "method": "POST", "fields": [{"name": "p"}]},
        {"name": "CreateJobQuery", "href": f"{URL}/api/jobs/query", "method": "POST", "fields": [{"name": "p"}]},
    ],
}


def job(state: str, job_id: str = "j1") -> dict[str, Any]:
    return {
        "class": ["Job"],
        "properties": {"Name": "n", "State": state},
        "links": [{"rel": ["self"], "href": f"{URL}/api/jobs/{job_id}"}],
    }


class Scripted:
    """A backend whose HTTP goes to `routes` (`(method, path)` -> a response, a list answered in turn whose last
    item repeats, or a callable); requests and backoff sleeps are recorded (and not slept)."""

    def __init__(self, routes: dict[tuple[str, str], Any]) -> None:
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []
        base = {
            ("GET", "/api/EntryPoint"): siren(ENTRY),
            ("GET", "/api/info"): siren(INFO),
            ("GET", "/api/jobs"): siren(JOBS),
            ("GET", "/api/workdata"): siren(WORKDATA),
        }
        table = {**base, **routes}

        def handle(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            answer = table.get((request.method, request.url.path))
            if answer is None:
                return problem(404, f"no route {request.method} {request.url.path}")
            if isinstance(answer, list):
                answer = answer.pop(0) if len(answer) > 1 else answer[0]
            return answer(request) if callable(answer) else answer

        async def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        http = httpx.AsyncClient(
            base_url=URL, auth=HeaderAuth("x-api-key", "k3y"), transport=httpx.MockTransport(handle)
        )
        transport = Transport(
            URL, http=http, retry=PINEXQ_RETRY, platform="pinexq", error_parser=parse_problem, sleep=sleep
        )
        self.backend = PinexqBackend(URL, transport=transport, reconnect_delay=0)

    def paths(self, method: str | None = None) -> list[str]:
        return [r.url.path for r in self.requests if method is None or r.method == method]


async def test_a_503_is_retried_and_the_api_key_sent_on_every_request() -> None:
    scripted = Scripted({("GET", "/api/jobs/j1"): [problem(503, "busy"), siren(job("Completed"))]})
    assert (await scripted.backend.get_job("j1")).state is JobState.SUCCEEDED
    assert scripted.paths().count("/api/jobs/j1") == 2 and len(scripted.sleeps) == 1
    assert all(r.headers["x-api-key"] == "k3y" for r in scripted.requests)


async def test_a_429_waits_as_long_as_retry_after_says() -> None:
    busy = httpx.Response(429, json={"status": 429}, headers={"Content-Type": PROBLEM, "Retry-After": "7"})
    scripted = Scripted({("GET", "/api/jobs/j1"): [busy, siren(job("Pending"))]})
    assert (await scripted.backend.get_job("j1")).state is JobState.QUEUED
    assert scripted.sleeps[0] >= 7


async def test_a_problem_becomes_an_error_with_its_detail_and_the_whole_problem() -> None:
    refused = problem(400, "Parameters.x: required", errors={"Parameters.x": ["required"]})
    scripted = Scripted({("GET", "/api/jobs/j1"): refused})
    with pytest.raises(BadRequest) as error:
        await scripted.backend.get_job("j1")
    assert error.value.message == "Parameters.x: required"
    assert error.value.details["errors"] == {"Parameters.x": ["required"]}


async def test_an_answer_that_is_not_siren_is_refused() -> None:
    scripted = Scripted({("GET", "/api/jobs/j1"): httpx.Response(200, json=job("Completed"))})
    with pytest.raises(JobnodeError, match="not a Siren entity"):
        await scripted.backend.get_job("j1")


async def test_an_action_answered_with_202_is_an_error_not_a_success() -> None:
    step = {"class": ["ProcessingStep"], "links": [{"rel": ["self"], "href": f"{URL}/api/processingsteps/s"}]}
    steps_root = {
        "class": ["ProcessingStepRoot"],
        "links": [{"rel": ["self"], "href": f"{URL}/api/processingsteps"}],
        "actions": [
            {
                "name": "CreateProcessingStepQuery",
                "href": f"{URL}/api/ps/q",
                "method": "POST",
                "fields": [{"name": "p"}],
            }
        ],
    }
    scripted = Scripted(
        {
            ("GET", "/api/processingsteps"): siren(steps_root),
            ("POST", "/api/ps/q"): httpx.Response(201, headers={"Location": "/api/ps/q/1"}),
            ("GET", "/api/ps/q/1"): siren(
                {"class": ["ProcessingStepQueryResult"], "entities": [{**step, "rel": ["item"]}]}
            ),
            ("POST", "/api/jobs/rapid"): httpx.Response(202),
        }
    )
    with pytest.raises(JobnodeError, match="HTTP 202, not 200 or 201"):
        await scripted.backend.create_job(JobSpec(step="s", input=ArtifactsInput(artifacts=["wd1"])))
    # the query's relative Location was resolved against the action's URL
    assert "/api/ps/q/1" in scripted.paths("GET")


async def test_an_action_the_entity_does_not_offer_is_not_sent() -> None:
    scripted = Scripted({("GET", "/api/jobs/j1"): siren(job("Completed"))})
    entity = await scripted.backend.siren.get(f"{URL}/api/jobs/j1")
    with pytest.raises(NotOffered, match="does not offer 'StartProcessing' in state Completed"):
        await scripted.backend.siren.act(entity, "StartProcessing")


async def test_a_wait_polls_while_the_event_stream_cannot_open() -> None:
    scripted = Scripted(
        {
            ("GET", "/api/events"): problem(503, "the event stream is down"),
            ("GET", "/api/jobs/j1"): [siren(job("Pending")), siren(job("Processing")), siren(job("Completed"))],
        }
    )
    states = [j.state async for j in scripted.backend.watch(["j1"])]
    assert states == [JobState.QUEUED, JobState.RUNNING, JobState.SUCCEEDED]
    assert scripted.paths().count("/api/events") == 3


CHANGED = json.dumps({"EventType": "Changed", "ResourceType": "Job", "ResourceLink": f"{URL}/api/jobs/j1"})


async def test_a_wait_reopens_an_event_stream_that_ends() -> None:
    events = [
        httpx.Response(200, text="event: KeepAlive\ndata:\n\n", headers={"Content-Type": "text/event-stream"}),
        httpx.Response(
            200,
            text=f"event: Changed\ndata: {CHANGED}\n\n",
            headers={"Content-Type": "text/event-stream"},
        ),
    ]
    scripted = Scripted(
        {
            ("GET", "/api/events"): events,
            ("GET", "/api/jobs/j1"): [siren(job("Processing"))] * 3 + [siren(job("Completed"))],
        }
    )
    states = [j.state async for j in scripted.backend.watch(["j1"])]
    assert states[-1] is JobState.SUCCEEDED and set(states[:-1]) == {JobState.RUNNING}
    assert scripted.paths().count("/api/events") >= 2


async def test_a_wait_stops_on_an_error_that_waiting_cannot_cure() -> None:
    scripted = Scripted({("GET", "/api/events"): problem(401, "wrong x-api-key")})
    with pytest.raises(JobnodeError, match="wrong x-api-key"):
        async for _ in scripted.backend.watch(["j1"]):
            pass


async def test_a_server_error_that_lasts_is_raised_after_the_retries() -> None:
    scripted = Scripted({("GET", "/api/jobs/j1"): problem(503, "down")})
    with pytest.raises(ServerError, match="down"):
        await scripted.backend.get_job("j1")
    assert len(scripted.sleeps) == PINEXQ_RETRY.max_attempts - 1
