"""The fault-injection test (issue 11): a fifth of all requests fail in each of the ways of `tests.e2e.faults`, on
their way between the clients and the service; jobs created with idempotency keys, awaited and read through both
clients all end well, and the service's own store holds each job once, with each item processed once.

It prints its figures (requests, faults by kind, failed waits and reads, duplicates, lost jobs and items).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import jobnode
from jobnode.core.transport import RetryPolicy
from jobnode.platforms.local.backend import LocalBackend
from jobnode.service.process import ServiceProcess
from tests.e2e.faults import FAULTS, FaultProxy

JOBS_PER_CLIENT = 100
ITEMS = 10
SEED = 11
#: enough attempts that 20% faults never exhaust them (0.2^12), with short waits so the test stays short
RETRY = RetryPolicy(max_attempts=12, backoff_base=0.02, backoff_max=0.5, retry_after_max=0.5)


def expected(n: int) -> list[dict[str, int]]:
    return [{"n": n, "i": i} for i in range(ITEMS)]


@pytest.mark.timeout(280)
def test_no_job_or_item_is_lost_or_doubled_under_faults(tmp_path: Path) -> None:
    service = ServiceProcess(tmp_path / "service", token="fault-token").start()
    outcomes: Counter[str] = Counter()
    job_ids: dict[str, str] = {}
    try:
        with FaultProxy(service.port, rate=0.2, seed=SEED) as proxy:

            def backend() -> LocalBackend:
                return LocalBackend(proxy.url, token="fault-token", retry=RETRY, timeout=30)

            def run_sync(client: jobnode.Client, n: int) -> None:
                key = f"fault-sync-{n}"
                job = client.jobs.create(step="identity", items=expected(n), batch_size=3, idempotency_key=key)
                job_ids[key] = job.id
                try:
                    done = client.jobs.wait(job.id, timeout=120)
                except Exception:
                    outcomes["failed waits"] += 1
                    return
                try:
                    outcomes[
                        "good reads" if list(client.artifacts.read(done.outputs[0].id)) == expected(n) else "bad reads"
                    ] += 1
                except Exception:
                    outcomes["failed reads"] += 1

            async def run_async(client: jobnode.AsyncClient, n: int, gate: asyncio.Semaphore) -> None:
                key = f"fault-async-{n}"
                async with gate:
                    job = await client.jobs.create(
                        step="identity", items=expected(n), batch_size=3, idempotency_key=key
                    )
                    job_ids[key] = job.id
                    try:
                        done = await client.jobs.wait(job.id, timeout=120)
                    except Exception:
                        outcomes["failed waits"] += 1
                        return
                    try:
                        records = [r async for r in client.artifacts.read(done.outputs[0].id)]
                    except Exception:
                        outcomes["failed reads"] += 1
                        return
                    outcomes["good reads" if records == expected(n) else "bad reads"] += 1

            async def run_all_async() -> None:
                gate = asyncio.Semaphore(20)
                async with jobnode.AsyncClient(backend=backend()) as client:
                    await asyncio.gather(*(run_async(client, n, gate) for n in range(JOBS_PER_CLIENT)))

            with jobnode.Client(backend=backend()) as client, ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda n: run_sync(client, n), range(JOBS_PER_CLIENT)))
            asyncio.run(run_all_async())
            counts = dict(proxy.counts)
    finally:
        service.stop()

    store = check_store(service.data_dir / "jobnode.db", job_ids)
    faults = sum(counts.get(f, 0) for f in FAULTS)
    print(
        f"\nfault test: {counts['requests']} requests, {faults} faults injected "
        f"({', '.join(f'{f} {counts.get(f, 0)}' for f in FAULTS)}); {2 * JOBS_PER_CLIENT} jobs; "
        f"failed waits {outcomes['failed waits']}, failed reads {outcomes['failed reads']}, "
        f"bad reads {outcomes['bad reads']}; duplicates {store['duplicates']}, lost jobs {store['lost jobs']}, "
        f"lost items {store['lost items']}, doubled items {store['doubled items']}"
    )
    assert faults >= counts["requests"] // 10, "the proxy injected too few faults to test anything"
    assert all(counts.get(f, 0) > 0 for f in FAULTS)
    assert outcomes["good reads"] == 2 * JOBS_PER_CLIENT, outcomes
    assert store == {"duplicates": 0, "lost jobs": 0, "lost items": 0, "doubled items": 0}


def check_store(db: Path, job_ids: dict[str, str]) -> dict[str, int]:
    """What the service's own database says, read directly."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        jobs: dict[str, Any] = {
            key: (job_id, processed)
            for key, job_id, processed in conn.execute("SELECT idempotency_key, id, items_processed FROM jobs")
        }
        logged = Counter(
            job_id for job_id, _item in conn.execute("SELECT job_id, item FROM logs WHERE kind = 'ItemProcessed'")
        )
        per_item = Counter(conn.execute("SELECT job_id, item FROM logs WHERE kind = 'ItemProcessed'").fetchall())
    finally:
        conn.close()
    return {
        "duplicates": len(jobs) - len(job_ids) if len(jobs) > len(job_ids) else 0,
        "lost jobs": sum(1 for key in job_ids if key not in jobs)
        + sum(1 for k, v in job_ids.items() if k in jobs and jobs[k][0] != v),
        "lost items": sum(ITEMS - min(ITEMS, logged[job_id]) for job_id in job_ids.values())
        + sum(1 for _, processed in jobs.values() if processed != ITEMS),
        "doubled items": sum(1 for n in per_item.values() if n > 1),
    }
