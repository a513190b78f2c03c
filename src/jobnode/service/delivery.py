"""Webhook delivery: each finished batch's results POSTed as signed JSON, retried with backoff.

A delivery is one batch. Its body is JSON:

```json
{"delivery_id": "dlv_job_0123_4", "job_id": "job_0123", "job_name": "nightly", "batch": 4,
 "results": [{"item": "img_7.png", "index": 407, "result": {"label": "cat"}}]}
```

Headers: `X-Jobnode-Delivery` (the same id on every retry of a batch, so that a receiver can drop duplicates),
`X-Jobnode-Attempt`, `X-Jobnode-Timestamp` (Unix seconds) and, when the webhook has a secret,
`X-Jobnode-Signature: sha256=<hex>`, the HMAC-SHA256 under the secret of `<timestamp>.<body>` (check it with
`verify_signature`). A 2xx answer delivers the batch; a connection error, a timeout, 408, 425, 429 or a 5xx is
retried (honouring `Retry-After`) until the webhook's `max_attempts`, with the backoff of `WEBHOOK_RETRY` (jobnode's
one `RetryPolicy`); any other answer fails the delivery at once.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from jobnode.core.transport import RetryPolicy, redact_url, retry_after_seconds

log = logging.getLogger("jobnode.delivery")

DELIVERY_HEADER = "X-Jobnode-Delivery"
ATTEMPT_HEADER = "X-Jobnode-Attempt"
TIMESTAMP_HEADER = "X-Jobnode-Timestamp"
SIGNATURE_HEADER = "X-Jobnode-Signature"
#: how deliveries are retried: 0.5 s doubling up to 30 s, `Retry-After` honoured up to 30 s; the number of attempts
#: is each webhook's `max_attempts`
WEBHOOK_RETRY = RetryPolicy(
    backoff_base=0.5,
    backoff_max=30.0,
    retry_after_max=30.0,
    statuses=frozenset({408, 425, 429, *range(500, 600)}),
)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Jobnode-Signature` value of a body sent at `timestamp`.

    Example:
        ```python
        sign("s3cret", "1767225600", b'{"job_id": "job_0123"}')  # "sha256=9f86..."
        ```
    """
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: str, body: bytes, *, timestamp: str, signature: str, tolerance: float = 300.0, now: float | None = None
) -> bool:
    """Whether a delivery is authentic: signed with `secret` and sent less than `tolerance` seconds ago.

    Example:
        ```python
        ok = verify_signature(
            secret, request_body,
            timestamp=headers["X-Jobnode-Timestamp"], signature=headers["X-Jobnode-Signature"],
        )
        ```
    """
    try:
        age = abs((time.time() if now is None else now) - float(timestamp))
    except ValueError:
        return False
    # compared as bytes: `compare_digest` refuses str with non-ASCII characters (a forged header may hold any)
    expected = sign(secret, timestamp, body).encode()
    return age <= tolerance and hmac.compare_digest(expected, signature.encode("utf-8", "surrogatepass"))


@dataclass(frozen=True)
class Delivery:
    """One batch's results on their way to a webhook."""

    job_id: str
    batch: int
    url: str
    secret: str | None = field(repr=False)
    max_attempts: int
    body: bytes = field(repr=False)
    labels: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"dlv_{self.job_id}_{self.batch}"


@dataclass(frozen=True)
class DeliveryOutcome:
    """How a delivery ended: `delivered`, or `error` after `attempts` tries; `retried` lists each failed try."""

    job_id: str
    batch: int
    labels: tuple[str, ...]
    delivered: bool
    attempts: int
    duration: float
    error: str | None = None
    retried: tuple[str, ...] = ()


def batch_delivery(
    *,
    job_id: str,
    job_name: str,
    batch: int,
    first_item: int,
    labels: Sequence[str],
    results: Sequence[Any],
    url: str,
    secret: str | None,
    max_attempts: int,
) -> Delivery | None:
    """The delivery of a batch's results (items that failed, whose result is None, are left out), or None when
    nothing is left to deliver."""
    delivered = [
        {"item": labels[i], "index": first_item + i, "result": result}
        for i, result in enumerate(results)
        if result is not None
    ]
    if not delivered:
        return None
    body = json.dumps(
        {
            "delivery_id": f"dlv_{job_id}_{batch}",
            "job_id": job_id,
            "job_name": job_name,
            "batch": batch,
            "results": delivered,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    return Delivery(
        job_id=job_id,
        batch=batch,
        url=url,
        secret=secret,
        max_attempts=max_attempts,
        body=body,
        labels=tuple(d["item"] for d in delivered),
    )


@dataclass
class _Attempts:
    delivery: Delivery
    is_cancelled: Callable[[], bool]
    started: float
    attempt: int = 0
    retried: list[str] = field(default_factory=list)


class Deliverer:
    """Sends deliveries from a small thread pool; retries wait in a timer queue, not in a pool thread.

    Each delivery ends with exactly one call of `report` (from a delivery thread), unless its job was cancelled
    meanwhile or the deliverer was closed.

    Example:
        ```python
        deliverer = Deliverer(report=outcomes.put)
        deliverer.submit(delivery, is_cancelled=lambda: False)
        ```
    """

    def __init__(
        self,
        report: Callable[[DeliveryOutcome], None],
        *,
        workers: int = 8,
        timeout: float = 10.0,
        retry: RetryPolicy = WEBHOOK_RETRY,
    ) -> None:
        self._report = report
        self._retry = retry
        self._http = httpx.Client(timeout=timeout, follow_redirects=False, headers={"User-Agent": "jobnode-webhook"})
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="jobnode-delivery")
        self._timers: list[tuple[float, int, _Attempts]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._closed = False
        self._timer_thread = threading.Thread(target=self._run_timers, name="jobnode-delivery-timer", daemon=True)
        self._timer_thread.start()

    def submit(self, delivery: Delivery, is_cancelled: Callable[[], bool]) -> None:
        """Start delivering now."""
        self._pool.submit(self._attempt, _Attempts(delivery, is_cancelled, time.monotonic()))

    def close(self) -> None:
        """Stop: deliveries under way end without a report (they run again after a restart)."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._timer_thread.join(timeout=5)
        self._http.close()

    def _attempt(self, state: _Attempts) -> None:
        if self._closed or state.is_cancelled():
            return
        d = state.delivery
        state.attempt += 1
        error, retry_after = self._post(d, state.attempt)
        if error is None:
            self._finish(state, delivered=True)
            return
        retryable = retry_after is not None
        if not retryable or state.attempt >= d.max_attempts:
            self._finish(state, delivered=False, error=error)
            return
        state.retried.append(error)
        delay = self._retry.delay(state.attempt, retry_after)
        log.info("delivery %s attempt %d failed (%s); retrying in %.1fs", d.id, state.attempt, error, delay)
        with self._cond:
            heapq.heappush(self._timers, (time.monotonic() + delay, next(self._seq), state))
            self._cond.notify()

    def _post(self, d: Delivery, attempt: int) -> tuple[str | None, float | None]:
        """One POST; returns (error or None, seconds to wait before a retry or None when it must not be retried)."""
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            DELIVERY_HEADER: d.id,
            ATTEMPT_HEADER: str(attempt),
            TIMESTAMP_HEADER: timestamp,
        }
        if d.secret:
            headers[SIGNATURE_HEADER] = sign(d.secret, timestamp, d.body)
        try:
            response = self._http.post(d.url, content=d.body, headers=headers)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__} posting to {redact_url(d.url)}", 0.0
        if response.is_success:
            return None, None
        error = f"HTTP {response.status_code} from {redact_url(d.url)}"
        if response.status_code in self._retry.statuses:
            return error, retry_after_seconds(response) or 0.0
        return error, None

    def _finish(self, state: _Attempts, *, delivered: bool, error: str | None = None) -> None:
        d = state.delivery
        self._report(
            DeliveryOutcome(
                job_id=d.job_id,
                batch=d.batch,
                labels=d.labels,
                delivered=delivered,
                attempts=state.attempt,
                duration=time.monotonic() - state.started,
                error=error,
                retried=tuple(state.retried),
            )
        )

    def _run_timers(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (not self._timers or self._timers[0][0] > time.monotonic()):
                    self._cond.wait(self._timers[0][0] - time.monotonic() if self._timers else None)
                if self._closed:
                    return
                _, _, state = heapq.heappop(self._timers)
            try:
                self._pool.submit(self._attempt, state)
            except RuntimeError:  # the pool was shut down by close()
                return
