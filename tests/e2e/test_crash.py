"""Issue 11, defect 1, and the crash test: a batch that kills the service is dead-lettered after `max_attempts`
restarts instead of killing it forever, and repeated SIGKILLs of a running job lose and double no item."""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from jobnode.core.errors import ConfigurationError
from jobnode.service.process import ServiceProcess

STEPS = ["tests.steps", "tests.e2e.crash_steps"]


def api(svc: ServiceProcess) -> httpx.Client:
    return httpx.Client(base_url=svc.url, headers={"Authorization": f"Bearer {svc.token}"}, timeout=30)


def create(svc: ServiceProcess, **spec: Any) -> str:
    with api(svc) as http:
        response = http.post("/v1/jobs", json=spec)
        assert response.status_code == 201, response.text
        job_id: str = response.json()["id"]
        return job_id


def job(svc: ServiceProcess, job_id: str) -> dict[str, Any]:
    with api(svc) as http:
        found: dict[str, Any] = http.get(f"/v1/jobs/{job_id}").json()
        return found


def test_a_batch_that_kills_the_service_is_dead_lettered_and_the_service_stays_up(tmp_path: Path) -> None:
    svc = ServiceProcess(tmp_path, steps=STEPS, token="crash-token").start()
    try:
        poisoned = create(
            svc,
            step="poison",
            params={"poison": 5},
            input={"kind": "items", "items": list(range(10))},
            batch_size=2,
            max_attempts=2,
            max_item_failures=2,
            start_at=(datetime.now(UTC) + timedelta(seconds=1)).isoformat(),  # runs after the answer is sent
        )
        deaths = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the test is the supervisor: it restarts the service when it dies
            assert svc.proc is not None
            if svc.proc.poll() is not None:
                deaths += 1
                assert deaths <= 2, "the poison batch ran more often than max_attempts"
                with contextlib.suppress(ConfigurationError):  # it may die again before it has said it is up
                    svc.start()
                continue
            try:
                state = job(svc, poisoned)
            except httpx.TransportError:
                continue  # it died under our request
            if state["state"] in ("succeeded", "failed"):
                break
            time.sleep(0.05)
        assert deaths == 2  # attempt 1 and attempt 2 each took the service down; then no attempt was left
        assert state["state"] == "succeeded" and state["progress"]["items_processed"] == 8
        assert (state["progress"]["items_failed"], state["progress"]["batches_failed"]) == (2, 1)
        with api(svc) as http:
            [dead] = http.get(f"/v1/jobs/{poisoned}/dead-letters").json()["data"]
            assert (dead["batch"], dead["attempts"], dead["items"]) == (2, 2, [4, 5])
            assert "did the batch crash it?" in dead["error"]
            failed = http.get(f"/v1/jobs/{poisoned}/logs", params={"kind": "ItemFailed"}).json()["data"]
            assert sorted(e["item"] for e in failed) == ["4", "5"]
            assert http.get("/healthz").status_code == 200
        healthy = create(svc, step="identity", input={"kind": "items", "items": [1, 2, 3]})
        for _ in range(200):
            if job(svc, healthy)["state"] == "succeeded":
                break
            time.sleep(0.05)
        assert job(svc, healthy)["state"] == "succeeded"
    finally:
        svc.stop()


KILLS = 8


@pytest.mark.timeout(240)
def test_repeated_sigkills_mid_job_lose_and_double_no_item(tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    svc = ServiceProcess(tmp_path / "service", steps=STEPS, token="kill-token").start()
    items = list(range(100))
    try:
        job_id = create(
            svc,
            step="record",
            params={"marker_dir": str(markers), "seconds": 0.2},
            input={"kind": "items", "items": items},
            batch_size=2,
            workers=1,
            max_attempts=100,  # every kill may cost a batch in flight one attempt
        )
        kills = 0
        seen = 0
        while kills < KILLS:
            state = job(svc, job_id)
            if state["state"] != "running":
                break
            if state["progress"]["batches_succeeded"] > seen:  # kill once more progress was recorded
                seen = state["progress"]["batches_succeeded"]
                svc.kill()
                kills += 1
                svc.start()
            time.sleep(0.05)
        for _ in range(1200):
            state = job(svc, job_id)
            if state["state"] not in ("queued", "running"):
                break
            time.sleep(0.05)
        assert kills == KILLS, f"the job ended after {kills} kills; give it more items"
        assert state["state"] == "succeeded", state
        assert state["progress"]["items_processed"] == len(items)
        with api(svc) as http:
            artifact = state["outputs"][0]["id"]
            lines = http.get(f"/v1/artifacts/{artifact}/content").text.splitlines()
            logs: list[dict[str, Any]] = []
            cursor = None
            while True:
                page = http.get(f"/v1/jobs/{job_id}/logs", params={"kind": "ItemProcessed", "cursor": cursor}).json()
                logs += page["data"]
                cursor = page["next_cursor"]
                if cursor is None:
                    break
        assert [json.loads(line)["item"] for line in lines] == items  # every item once, in order
        assert Counter(int(e["item"]) for e in logs) == Counter(items)  # one success entry per item
        runs = Counter(int(p.name.rsplit("-", 3)[2]) for p in markers.iterdir())
        assert any(n > 2 for n in runs.values()), "no batch ran again after a kill"
    finally:
        svc.stop()
