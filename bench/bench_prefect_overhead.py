"""Overhead of the Prefect integration (issue 5). Prints; asserts nothing about speed.

    .venv/bin/python bench/bench_prefect_overhead.py [--items 10] [--repeat 10]

A real `jobnode serve` on 127.0.0.1 and a temporary Prefect server (`prefect_test_harness`, SQLite) run the same
tiny job (`identity` over `--items` items) `--repeat` times each way, interleaved so that both see the same machine:

1. plain client: `client.jobs.create` -> `wait` -> `iter_logs` -> `cleanup`;
2. the tasks' own code through `.fn` (no Prefect run: no states, no artifacts), to separate jobnode's share;
3. the `run_batch_job` flow: submit -> wait (progress artifact) -> fetch logs (run log, markdown and table
   artifacts) -> cleanup, each a Prefect task run with its states and logs sent to the Prefect API.

It prints milliseconds per run (median and best) and the ratio of the flow's median to the plain client's.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import jobnode
from jobnode.core.models import ItemsInput, JobSpec, JobState
from jobnode.prefect import (
    JobnodeCredentials,
    cleanup_jobs,
    fetch_job_logs,
    run_batch_job,
    submit_job,
    wait_for_job,
)
from jobnode.service.process import ServiceProcess


async def plain(client: jobnode.AsyncClient, spec: JobSpec) -> None:
    job = await client.jobs.create(spec)
    job = await client.jobs.wait(job.id, timeout=60, raise_on_failure=True)
    async for _ in client.jobs.iter_logs(job.id):
        pass
    await client.jobs.cleanup([job.id])


async def task_code(credentials: JobnodeCredentials, spec: JobSpec) -> None:
    job = await submit_job.fn(spec, credentials=credentials)
    job = await wait_for_job.fn(job.id, credentials=credentials, timeout=60)
    await fetch_job_logs.fn(job.id, credentials=credentials)
    await cleanup_jobs.fn([job.id], credentials=credentials)


async def as_flow(credentials: JobnodeCredentials, spec: JobSpec) -> None:
    job = await run_batch_job(spec, credentials=credentials)
    assert job.state is JobState.SUCCEEDED


async def timed(action: Callable[[], Awaitable[None]]) -> float:
    start = time.perf_counter()
    await action()
    return time.perf_counter() - start


def line(label: str, times: list[float]) -> str:
    return f"{label:<34} median {statistics.median(times) * 1000:8.1f} ms   best {min(times) * 1000:8.1f} ms"


async def bench(service: ServiceProcess, items: int, repeat: int) -> None:
    spec = JobSpec(name="bench-tiny", step="identity", input=ItemsInput(items=list(range(items))))
    credentials = JobnodeCredentials(url=service.url, token=service.token)
    async with jobnode.AsyncClient(service.url, token=service.token) as client:
        ways: dict[str, Callable[[], Awaitable[None]]] = {
            "plain client": lambda: plain(client, spec),
            "task code through .fn": lambda: task_code(credentials, spec),
            "run_batch_job flow (Prefect)": lambda: as_flow(credentials, spec),
        }
        times: dict[str, list[float]] = {label: [] for label in ways}
        for action in ways.values():  # warm up: imports, connections, the Prefect server's caches
            await action()
        for _ in range(repeat):
            for label, action in ways.items():
                times[label].append(await timed(action))
    print(f"one job of {items} items, {repeat} runs each way (interleaved)")
    for label, measured in times.items():
        print(line(label, measured))
    plain_times, flow_times = times["plain client"], times["run_batch_job flow (Prefect)"]
    ratio = statistics.median(flow_times) / statistics.median(plain_times)
    extra = (statistics.median(flow_times) - statistics.median(plain_times)) * 1000
    print(f"overhead: x{ratio:.1f} the plain client's time, +{extra:.0f} ms per job run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    logging.getLogger("prefect").setLevel(logging.WARNING)  # the flows' own lines would drown the figures
    from prefect.testing.utilities import prefect_test_harness

    with (
        tempfile.TemporaryDirectory() as tmp,
        ServiceProcess(Path(tmp) / "service", token=secrets.token_hex(16)) as service,
        prefect_test_harness(server_startup_timeout=120),
    ):
        asyncio.run(bench(service, args.items, args.repeat))


if __name__ == "__main__":
    main()
