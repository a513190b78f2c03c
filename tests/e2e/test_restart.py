"""State survives restarts: idempotency keys, and a job killed with SIGKILL mid-run that goes on and finishes."""

from __future__ import annotations

import collections
from pathlib import Path

import jobnode
from jobnode import JobState
from jobnode.service.process import ServiceProcess


def test_idempotency_key_survives_a_restart(fresh_service: ServiceProcess) -> None:
    with jobnode.Client(fresh_service.url, token=fresh_service.token) as client:
        job = client.jobs.create(step="identity", items=[1, 2], idempotency_key="restart-key")
    fresh_service.restart()
    with jobnode.Client(fresh_service.url, token=fresh_service.token) as client:
        again = client.jobs.create(step="identity", items=[1, 2], idempotency_key="restart-key")
        assert again.id == job.id
        assert client.jobs.list(limit=100).data == [client.jobs.get(job.id)]


def test_sigkill_mid_job_resumes_without_losing_or_duplicating_items(
    fresh_service: ServiceProcess, tmp_path: Path
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    items = list(range(12))
    with jobnode.Client(fresh_service.url, token=fresh_service.token) as client:
        job = client.jobs.create(
            step="record", params={"marker_dir": str(markers), "seconds": 0.4}, items=items, batch_size=2, workers=1
        )
        for seen in client.jobs.watch([job.id]):
            if seen.progress.batches_succeeded >= 2:
                break
    fresh_service.kill()
    runs_before_kill = {p.name for p in markers.iterdir()}
    fresh_service.start()
    with jobnode.Client(fresh_service.url, token=fresh_service.token) as client:
        done = client.jobs.wait(job.id, timeout=60)
        assert done.state is JobState.SUCCEEDED
        assert done.progress.items_processed == 12
        results = list(client.artifacts.read(done.outputs[0].id))
        logs = list(client.jobs.iter_logs(job.id, kind="ItemProcessed"))
    assert [r["item"] for r in results] == items  # every item once, in order
    assert sorted(int(e.item or -1) for e in logs) == items  # one success entry per item
    # the batch that was in flight at the kill ran again, as a new attempt
    attempts = collections.defaultdict(set)
    for name in {p.name for p in markers.iterdir()}:
        _, _item, batch, attempt = name.rsplit("-", 3)
        attempts[int(batch)].add(int(attempt))
    assert any(max(a) >= 2 for a in attempts.values()), attempts
    in_flight = {name.rsplit("-", 3)[2] for name in runs_before_kill}
    assert max(int(b) for b in in_flight) >= 2
