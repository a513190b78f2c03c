"""The shared transport: retries, backoff, Retry-After, idempotency and errors (HTTP faked, time faked)."""

from __future__ import annotations

import random

import httpx
import pytest

from jobnode.core.errors import BadRequest, NotFound, RateLimited, ServerError, TransportError
from jobnode.core.transport import (
    BearerAuth,
    RetryPolicy,
    Transport,
    parse_error_body,
    redact_url,
    retry_after_seconds,
)


class Script:
    """Answers requests from a list of responses (or exceptions), recording each request."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def make(script: Script, **kwargs: object) -> tuple[Transport, list[float]]:
    sleeps: list[float] = []

    async def sleep(delay: float) -> None:
        sleeps.append(delay)

    http = httpx.AsyncClient(base_url="http://svc", transport=httpx.MockTransport(script), auth=BearerAuth("tok-123"))
    return Transport("http://svc", http=http, sleep=sleep, **kwargs), sleeps  # type: ignore[arg-type]


async def test_retries_5xx_then_succeeds() -> None:
    script = Script(httpx.Response(503), httpx.Response(502), httpx.Response(200, json={"ok": True}))
    transport, sleeps = make(script)
    response = await transport.request("GET", "/v1/jobs")
    assert response.json() == {"ok": True}
    assert len(script.requests) == 3
    assert len(sleeps) == 2


async def test_honours_retry_after_on_429() -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json={}))
    transport, sleeps = make(script)
    await transport.request("GET", "/x")
    assert sleeps[0] >= 7


async def test_gives_up_after_max_attempts_with_the_last_error() -> None:
    script = Script(*[httpx.Response(500, json={"error": {"message": "boom", "code": "internal"}})] * 3)
    transport, _ = make(script, retry=RetryPolicy(max_attempts=3))
    with pytest.raises(ServerError, match="boom"):
        await transport.request("GET", "/x")
    assert len(script.requests) == 3


async def test_post_without_idempotency_key_is_not_retried_on_5xx() -> None:
    script = Script(httpx.Response(503), httpx.Response(201, json={}))
    transport, _ = make(script)
    with pytest.raises(ServerError):
        await transport.request("POST", "/v1/jobs", json={})
    assert len(script.requests) == 1


async def test_post_with_idempotency_key_is_retried() -> None:
    script = Script(httpx.Response(503), httpx.Response(201, json={"id": "j"}))
    transport, _ = make(script)
    response = await transport.request("POST", "/v1/jobs", json={}, headers={"Idempotency-Key": "k1"})
    assert response.status_code == 201
    assert [r.headers["Idempotency-Key"] for r in script.requests] == ["k1", "k1"]


async def test_connect_error_is_retried_even_for_post() -> None:
    script = Script(httpx.ConnectError("refused"), httpx.Response(201, json={}))
    transport, _ = make(script)
    await transport.request("POST", "/v1/jobs", json={})
    assert len(script.requests) == 2


async def test_read_error_on_post_is_not_retried() -> None:
    script = Script(httpx.ReadError("reset"), httpx.Response(201, json={}))
    transport, _ = make(script)
    with pytest.raises(TransportError):
        await transport.request("POST", "/v1/jobs", json={})


async def test_unreachable_service_error_says_what_to_do_and_hides_the_token() -> None:
    script = Script(*[httpx.ConnectError("refused")] * 2)
    transport, _ = make(script, retry=RetryPolicy(max_attempts=2))
    with pytest.raises(TransportError) as info:
        await transport.request("GET", "/v1/jobs")
    assert "check that it is running" in str(info.value)
    assert "tok-123" not in str(info.value)
    assert script.requests[0].headers["Authorization"] == "Bearer tok-123"
    assert "tok-123" not in repr(BearerAuth("tok-123"))


@pytest.mark.parametrize(
    ("failure", "says", "not_says"),
    [
        (httpx.PoolTimeout("busy"), "no free connection to the local service at http://svc", "could not reach"),
        (httpx.ReadTimeout("slow"), "did not answer GET /v1/jobs within", "could not reach"),
        (httpx.ConnectTimeout("slow"), "did not accept a connection within", "could not reach"),
        (httpx.ConnectError("refused"), "could not reach the local service at http://svc", "did not answer"),
        (httpx.RemoteProtocolError("cut"), "the connection to the local service at http://svc broke", "could not"),
    ],
)
async def test_each_kind_of_failure_says_what_happened_and_what_to_do(
    failure: Exception, says: str, not_says: str
) -> None:
    transport, _ = make(Script(*[failure] * 2), retry=RetryPolicy(max_attempts=2))
    with pytest.raises(TransportError) as info:
        await transport.request("GET", "/v1/jobs")
    assert says in str(info.value) and not_says not in str(info.value)


@pytest.mark.parametrize(
    ("status", "cls"), [(400, BadRequest), (404, NotFound), (429, RateLimited), (500, ServerError)]
)
async def test_status_maps_to_error_class(status: int, cls: type[Exception]) -> None:
    script = Script(*[httpx.Response(status, json={"message": "nope"})] * 5)
    transport, _ = make(script, retry=RetryPolicy(max_attempts=1))
    with pytest.raises(cls, match="nope"):
        await transport.request("GET", "/x")


def test_error_body_shapes() -> None:
    def parse(**kw: object) -> tuple[str, object, object]:
        return parse_error_body(httpx.Response(400, **kw))  # type: ignore[arg-type]

    assert parse(json={"error": {"message": "m", "code": "c", "details": {"field": "f"}}}) == ("m", "c", {"field": "f"})
    assert parse(json={"message": "plain"})[0] == "plain"
    assert parse(json={"detail": "fastapi"})[0] == "fastapi"
    assert parse(text="just text")[0] == "just text"


def test_retry_after_forms() -> None:
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "3"})) == 3
    assert retry_after_seconds(httpx.Response(429)) is None
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "soon"})) is None


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(backoff_base=1, backoff_max=8)
    assert all(0.5 <= policy.backoff(1) <= 1 for _ in range(50))
    assert all(4 <= policy.backoff(10) <= 8 for _ in range(50))


def test_jitter_leaves_a_seeded_random_module_alone() -> None:
    """A program that seeds `random` for its own reasons gets the same numbers, whatever jobnode's retries draw."""
    random.seed(7)
    expected = [random.random() for _ in range(3)]
    random.seed(7)
    RetryPolicy().backoff(3)
    assert [random.random() for _ in range(3)] == expected


async def test_a_pool_timeout_is_reported_as_one_not_as_an_unreachable_service() -> None:
    """Issue 11, defect 7: a client whose connections are all busy said 'could not reach the local service'."""
    transport, _ = make(Script(*[httpx.PoolTimeout("no connection available")] * 5))
    with pytest.raises(TransportError) as caught:
        await transport.request("GET", "/v1/jobs/job_1")
    message = str(caught.value)
    assert "no free connection" in message and "the service was not asked" in message
    assert "could not reach" not in message


async def test_an_error_without_a_message_says_so() -> None:
    """Issue 11, defect 11: an empty exception read `ReadError: ; check that ...`."""
    transport, _ = make(Script(*[httpx.ReadError("")] * 5))
    with pytest.raises(TransportError, match=r"ReadError: no detail; check that it is running"):
        await transport.request("GET", "/v1/jobs/job_1")


def test_urls_in_httpx_logs_lose_their_user_info_and_query_values(caplog: pytest.LogCaptureFixture) -> None:
    """Issue 11, defect 6: httpx logged webhook URLs with their password and signature at INFO."""
    url = "http://user:PASS-1@127.0.0.1:9/hook?sig=SECRET-2&v=1"
    with caplog.at_level("INFO", logger="httpx"):
        transport = httpx.MockTransport(lambda request: httpx.Response(204))
        with httpx.Client(transport=transport) as client:
            client.post(url, content=b"{}")
    logged = caplog.text
    assert "HTTP Request: POST http://127.0.0.1:9/hook?sig=***&v=***" in logged
    assert "PASS-1" not in logged and "SECRET-2" not in logged and "user" not in logged


def test_redact_url() -> None:
    assert redact_url("https://u:p@[::1]:8443/a/b?x=1&y=&z=3#frag") == "https://[::1]:8443/a/b?x=***&y=***&z=***"
    assert redact_url("http://example.com/plain") == "http://example.com/plain"


def test_one_delay_rule_for_backoff_and_retry_after() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=8.0, retry_after_max=20.0)
    assert 2.0 <= policy.delay(3) <= 4.0
    assert policy.delay(1, retry_after=15.0) == 15.0
    assert policy.delay(1, retry_after=500.0) == 20.0
