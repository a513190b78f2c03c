"""Waiting on many Nucleus async jobs at once (issue 13): jobnode against the SDK's own waiter. Prints; asserts nothing.

    .venv/bin/python bench/bench_nucleus.py [--jobs 1000] [--items 200] [--threads 1] [--interval 5]

A real `jobnode serve --platform nucleus` on 127.0.0.1 (its engine held to `--threads` batches at once, so that the
jobs take a while) gets `--jobs` appends of `--items` items each, twice; in one run:

1. jobnode: `AsyncClient(platform="nucleus").jobs.watch(ids, poll_interval=...)`, what the Airflow poller and the
   Prefect waits run on: one `POST jobs/` per interval (bulk status), plus one `GET job/{id}` for each job that ended
   since the last one (its message and final counters);
2. the SDK, unmodified, in its own environment: one `AsyncJob.sleep_until_complete()` per job, each in a thread of
   its own, as a program that waits on all its jobs does: one `GET job/{id}` per job every 5 seconds.

For each: the wall time from the start of the wait until every job has ended, the requests sent while waiting, and
the requests per poll interval (the SDK's interval is fixed at 5 s, so `--interval` defaults to it). The SDK's
requests are counted by wrapping `requests.get` in its driver (the SDK itself is not touched). Step 2 is skipped, with a
note, until `python tests/conformance/nucleus/setup_env.py` has made the SDK's environment.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import runpy
import secrets
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from jobnode.client import AsyncClient
from jobnode.core.models import ItemsInput, JobSpec
from jobnode.core.transport import Transport
from jobnode.platforms.nucleus.backend import NUCLEUS_RETRY, NucleusBackend
from jobnode.service.process import ServiceProcess

ROOT = Path(__file__).resolve().parent.parent
#: where the SDK's environment is, and which version it must hold (`python tests/conformance/nucleus/setup_env.py`)
SDK_SETUP = runpy.run_path(str(ROOT / "tests" / "conformance" / "nucleus" / "setup_env.py"))

#: the SDK's waiter, run in its environment: waits on every job id of stdin at once, one thread per job
SDK_DRIVER = r"""
import json, sys, threading, time
import requests
import nucleus

sent = []  # (seconds since the wait began, what)
lock = threading.Lock()
plain_get = requests.get

def counting_get(url, *args, **kwargs):
    with lock:
        sent.append((time.monotonic() - started, "GET job/{id}" if "/job/" in url else "other"))
    return plain_get(url, *args, **kwargs)

key, ids = sys.argv[1], json.loads(sys.stdin.read())
client = nucleus.NucleusClient(key)
jobs = [nucleus.async_job.AsyncJob(i, "Running", "uploadDatasetItems", "", client) for i in ids]
requests.get = counting_get  # counted from here: the waits only
started = time.monotonic()
threads = [threading.Thread(target=job.sleep_until_complete, kwargs={"verbose_std_out": False}) for job in jobs]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps({"seconds": time.monotonic() - started, "sent": sent}))
"""


def counting_client(url: str, token: str, sent: list[tuple[float, str]], started: list[float]) -> httpx.AsyncClient:
    """An HTTP client that notes when each request is sent (seconds since `started[0]`) and what it is."""

    async def hook(request: httpx.Request) -> None:
        path = request.url.path.split("/v1/nucleus/", 1)[-1]
        what = "POST jobs/" if path == "jobs/" else "GET job/{id}" if path.startswith("job/") else "other"
        sent.append((time.monotonic() - started[0], what))

    return httpx.AsyncClient(
        base_url=url, auth=httpx.BasicAuth(token, ""), event_hooks={"request": [hook]}, timeout=120
    )


async def create_jobs(backend: NucleusBackend, jobs: int, items: int, prefix: str) -> list[str]:
    """`jobs` appends of `items` items each, 20 at a time (each is three requests: signed URL, upload, start)."""
    gate = asyncio.Semaphore(20)

    async def one(n: int) -> str:
        units = [{"reference_id": f"{prefix}{n}_{i}", "image_url": f"s3://bench/{n}/{i}.jpg"} for i in range(items)]
        async with gate:
            return (await backend.create_job(JobSpec(step="append", input=ItemsInput(items=units)))).id

    return list(await asyncio.gather(*(one(n) for n in range(jobs))))


async def jobnode_wait(url: str, token: str, dataset_id: str, args: argparse.Namespace) -> dict[str, Any]:
    sent: list[tuple[float, str]] = []
    started = [time.monotonic()]
    http = counting_client(url, token, sent, started)
    transport = Transport(url, retry=NUCLEUS_RETRY, platform="nucleus", http=http)
    backend = NucleusBackend(url, dataset_id=dataset_id, transport=transport)
    ids = await create_jobs(backend, args.jobs, args.items, "jobnode")
    sent.clear()
    started[0] = time.monotonic()
    ended: set[str] = set()
    async with AsyncClient(backend=backend) as client:
        async for job in client.jobs.watch(ids, poll_interval=args.interval):
            if job.is_terminal:
                ended.add(job.id)
    seconds = time.monotonic() - started[0]
    await http.aclose()
    assert len(ended) == len(ids)
    return {"seconds": seconds, "sent": sent}


def sdk_wait(url: str, token: str, dataset_id: str, args: argparse.Namespace) -> dict[str, Any] | None:
    python = SDK_SETUP["env_python"]()
    if SDK_SETUP["installed_version"](python) != SDK_SETUP["SDK_VERSION"]:
        return None
    backend = NucleusBackend(url, token=token, dataset_id=dataset_id)

    async def create() -> list[str]:
        try:
            return await create_jobs(backend, args.jobs, args.items, "sdk")
        finally:
            await backend.aclose()

    ids = asyncio.run(create())
    with tempfile.TemporaryDirectory() as scratch:
        driver = Path(scratch) / "driver.py"
        driver.write_text(SDK_DRIVER)
        done = subprocess.run(
            [str(python), str(driver), token],
            input=json.dumps(ids),
            capture_output=True,
            text=True,
            check=True,
            env={"NUCLEUS_ENDPOINT": url, "PATH": ""},
        )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def report(name: str, result: dict[str, Any], interval: float) -> float:
    """Print a waiter's figures; returns its most requests in one poll interval."""
    sent = result["sent"]
    intervals = max(1, math.ceil(result["seconds"] / interval))
    per = Counter(min(intervals - 1, int(at // interval)) for at, _ in sent)
    kinds = Counter(what for _, what in sent)
    busiest = max(per.values(), default=0)
    print(
        f"{name:<40} {result['seconds']:6.1f} s {len(sent):6d} requests "
        f"({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}); per {interval:g}-s interval: "
        f"most {busiest}, mean {len(sent) / intervals:.1f} over {intervals}"
    )
    return float(busiest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--items", type=int, default=200, help="items per append")
    parser.add_argument("--interval", type=float, default=5.0, help="jobnode's poll interval (the SDK's is 5 s)")
    parser.add_argument("--threads", type=int, default=1, help="batches the service runs at once")
    args = parser.parse_args()
    token = secrets.token_hex(16)
    with (
        tempfile.TemporaryDirectory() as data,
        ServiceProcess(
            Path(data), token=token, extra_args=["--platform", "nucleus", "--threads", str(args.threads)]
        ) as service,
    ):
        url = service.url + "/v1/nucleus"
        created = httpx.post(f"{url}/dataset/create", json={"name": "bench"}, auth=(token, ""), timeout=60)
        dataset_id = created.json()["dataset_id"]
        print(
            f"{args.jobs} appends of {args.items} items each, waited on at once; engine: {args.threads} batches at once"
        )
        ours = asyncio.run(jobnode_wait(url, token, dataset_id, args))
        theirs = sdk_wait(url, token, dataset_id, args)
    mine = report("jobnode jobs.watch (bulk status)", ours, args.interval)
    if theirs is None:
        print("SDK: skipped; create its environment with python tests/conformance/nucleus/setup_env.py")
        return
    sdk = report(f"scale-nucleus {SDK_SETUP['SDK_VERSION']} sleep_until_complete", theirs, 5.0)
    print(f"most requests in one interval, SDK / jobnode: {sdk / max(mine, 1):.0f}x")


if __name__ == "__main__":
    main()
