"""A Cortex job over 100,000 newline-delimited JSON lines in S3, submitted and waited for through jobnode against the
emulator (issue 16). Prints; asserts nothing about speed.

    .venv/bin/python bench/bench_cortex.py [--lines 100000] [--files 4] [--jobs 20] [--poll 0.5] [--repeat 2]

An S3-compatible server (moto, on 127.0.0.1) holds `--lines` lines in `--files` objects; a real
`jobnode serve --platform cortex` serves the built-in `identity` step as a Batch API and writes each job's results
back to S3 (`dest_s3_dir`). In one run, interleaved `--repeat` times:

1. **jobnode**: `client.jobs.create(step="identity", delimited=[prefix], batch_size=1000)` then
   `client.jobs.wait(poll_interval=--poll)`: the submission's latency (Cortex answers before it enqueues), the time
   until the job's status leaves `status_enqueuing`, the wall time to `status_succeeded` (results written), lines/s,
   and the status requests made.
2. **a Cortex user's loop**, the baseline Cortex documents: `POST` the same body with httpx, then `GET ?jobID=`
   every `--poll` seconds until the status is final (Cortex's Python package has no submit and no waiter).
3. **the local service's native API** over the same S3 objects (`delimited=`, the same step and batches): what the
   emulator's Cortex layer costs on top of the engine (its S3 listing and reading, message checks, results to S3).

Then `--jobs` small jobs waited for at once, through one jobnode client and through as many plain pollers: the status
requests per poll interval (Cortex has no bulk status and no push channel, so both make one per job).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import s3fs
from moto.server import ThreadedMotoServer

import jobnode
from jobnode.core.transport import BearerAuth, Transport
from jobnode.platforms.cortex.backend import CortexBackend, parse_cortex_error
from jobnode.service.process import ServiceProcess

AWS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret", "AWS_DEFAULT_REGION": "us-east-1"}
FINAL = (
    "status_succeeded",
    "status_completed_with_failures",
    "status_enqueue_failed",
    "status_stopped",
    "status_timed_out",
)


@contextmanager
def s3_server() -> Iterator[tuple[str, s3fs.S3FileSystem]]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        fs = s3fs.S3FileSystem(
            key=AWS["AWS_ACCESS_KEY_ID"],
            secret=AWS["AWS_SECRET_ACCESS_KEY"],
            endpoint_url=endpoint,
            skip_instance_cache=True,
        )
        fs.mkdir("bench")
        yield endpoint, fs
    finally:
        server.stop()


def write_lines(fs: s3fs.S3FileSystem, lines: int, files: int) -> str:
    per_file = -(-lines // files)
    for f in range(files):
        first, last = f * per_file, min(lines, (f + 1) * per_file)
        body = "".join(
            json.dumps({"id": f"line-{i:07d}", "text": "a review of a product"}) + "\n" for i in range(first, last)
        )
        fs.pipe(f"bench/lines/part-{f:03d}.jsonl", body.encode())
    return "s3://bench/lines/"


def check(status: str | None) -> None:
    """A run whose job did not succeed measured nothing: stop, saying so."""
    if status not in ("status_succeeded", "succeeded"):
        raise SystemExit(f"the benchmark's job ended {status}; the figures would mean nothing")


class Counting:
    """An httpx client that counts its requests (`GET`s are status requests)."""

    def __init__(self, url: str, token: str) -> None:
        self.gets = 0

        async def count(request: httpx.Request) -> None:
            if request.method == "GET":
                self.gets += 1

        self.http = httpx.AsyncClient(
            base_url=url, auth=BearerAuth(token), timeout=120, event_hooks={"request": [count]}
        )


async def jobnode_run(url: str, token: str, prefix: str, results: str, poll: float) -> dict[str, Any]:
    counting = Counting(url, token)
    transport = Transport(url, http=counting.http, platform="cortex", error_parser=parse_cortex_error)
    backend = CortexBackend(url, transport=transport, dest_s3_dir=results)
    client = jobnode.AsyncClient(backend=backend)
    try:
        start = time.perf_counter()
        job = await client.jobs.create(step="identity", delimited=[prefix], batch_size=1000, workers=4)
        submitted = time.perf_counter() - start
        enqueued: float | None = None

        def seen(update: jobnode.Job) -> None:
            nonlocal enqueued
            if enqueued is None and update.raw_state not in (None, "status_enqueuing"):
                enqueued = time.perf_counter() - start

        done = await client.jobs.wait(job.id, timeout=600, poll_interval=poll, on_progress=seen)
        wall = time.perf_counter() - start
        check(done.raw_state)
        return {
            "submit": submitted,
            "enqueued": enqueued,
            "wall": wall,
            "gets": counting.gets,
            "batches": done.progress.batches_total,
        }
    finally:
        await client.aclose()


def plain_run(url: str, token: str, prefix: str, results: str, poll: float) -> dict[str, Any]:
    body = {
        "workers": 4,
        "delimited_files": {"s3_paths": [prefix], "batch_size": 1000},
        "config": {"dest_s3_dir": results},
    }
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
        start = time.perf_counter()
        job_id = http.post("/identity", json=body).raise_for_status().json()["job_id"]
        submitted = time.perf_counter() - start
        gets = 0
        while True:
            gets += 1
            status = http.get("/identity", params={"jobID": job_id}).raise_for_status().json()["job_status"]["status"]
            if status in FINAL:
                break
            time.sleep(poll)
        wall = time.perf_counter() - start
    check(status)
    return {"submit": submitted, "wall": wall, "gets": gets}


def native_run(url: str, token: str, prefix: str) -> dict[str, Any]:
    with jobnode.Client(url, token) as client:
        start = time.perf_counter()
        job = client.jobs.create(step="identity", delimited=[prefix], batch_size=1000, workers=4)
        submitted = time.perf_counter() - start
        done = client.jobs.wait(job.id, timeout=600, poll_interval=0.05)
        wall = time.perf_counter() - start
    check(done.state.value)
    return {"submit": submitted, "wall": wall}


async def many_jobnode(url: str, token: str, jobs: int, poll: float) -> tuple[int, float]:
    """`jobs` jobs of 2 seconds waited for through one client: status requests per poll interval."""
    counting = Counting(url, token)
    transport = Transport(url, http=counting.http, platform="cortex", error_parser=parse_cortex_error)
    client = jobnode.AsyncClient(backend=CortexBackend(url, transport=transport))
    try:
        created = [await client.jobs.create(step="sleep", items=[1], params={"seconds": 2}) for _ in range(jobs)]
        counting.gets = 0
        start = time.perf_counter()
        await asyncio.gather(*(client.jobs.wait(j.id, timeout=600, poll_interval=poll) for j in created))
        wall = time.perf_counter() - start
    finally:
        await client.aclose()
    return counting.gets, wall


def many_plain(url: str, token: str, jobs: int, poll: float) -> tuple[int, float]:
    headers = {"Authorization": f"Bearer {token}"}
    body = {"workers": 1, "item_list": {"items": [1], "batch_size": 1}, "config": {"seconds": 2}}
    with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
        ids = [http.post("/sleep", json=body).raise_for_status().json()["job_id"] for _ in range(jobs)]
        gets = 0
        start = time.perf_counter()
        pending = set(ids)
        while pending:
            for job_id in list(pending):
                gets += 1
                status = http.get("/sleep", params={"jobID": job_id}).json()["job_status"]["status"]
                if status in FINAL:
                    pending.discard(job_id)
            if pending:
                time.sleep(poll)
        wall = time.perf_counter() - start
    return gets, wall


def warm_up(cortex_url: str, native_url: str, token: str, prefix: str) -> None:
    """A dry run on each service first: its first S3 access loads botocore (seconds), which no run should pay."""
    headers = {"Authorization": f"Bearer {token}"}
    body = {"workers": 1, "delimited_files": {"s3_paths": [prefix], "batch_size": 1}}
    httpx.post(f"{cortex_url}/identity", params={"dryRun": "true"}, json=body, headers=headers, timeout=120)
    with jobnode.Client(native_url, token) as client:
        client.jobs.plan(step="identity", files=[prefix])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--poll", type=float, default=0.5)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    token = secrets.token_hex(16)
    with s3_server() as (endpoint, fs), tempfile.TemporaryDirectory() as tmp:
        env = {"FSSPEC_S3_ENDPOINT_URL": endpoint, **AWS}
        prefix = write_lines(fs, args.lines, args.files)
        print(f"{args.lines:,} lines in {args.files} S3 objects; poll every {args.poll:g}s; 2 cores shared", flush=True)
        with (
            ServiceProcess(Path(tmp) / "cortex", token=token, extra_args=["--platform", "cortex"], env=env) as cortex,
            ServiceProcess(Path(tmp) / "native", token=token, extra_args=["--allow-protocol", "s3"], env=env) as native,
        ):
            warm_up(cortex.url, native.url, token, prefix)
            runs: dict[str, list[dict[str, Any]]] = {"jobnode": [], "plain": [], "native": []}
            for r in range(args.repeat):
                results = f"s3://bench/results/{r}"
                runs["jobnode"].append(asyncio.run(jobnode_run(cortex.url, token, prefix, results + "/j", args.poll)))
                runs["plain"].append(plain_run(cortex.url, token, prefix, results + "/p", args.poll))
                runs["native"].append(native_run(native.url, token, prefix))
            report(args, runs)
            ours, our_wall = asyncio.run(many_jobnode(cortex.url, token, args.jobs, args.poll))
            theirs, their_wall = many_plain(cortex.url, token, args.jobs, args.poll)
            print(f"\n{args.jobs} jobs of 2 s waited for at once (status requests per {args.poll:g}s interval):")
            for who, gets, wall in (("jobnode, one client", ours, our_wall), ("plain pollers", theirs, their_wall)):
                print(f"  {who + ':':22} {gets / (wall / args.poll):6.1f} per interval ({gets} in {wall:.1f} s)")
    return 0


def report(args: argparse.Namespace, runs: dict[str, list[dict[str, Any]]]) -> None:
    def median(name: str, key: str) -> float:
        return float(statistics.median(r[key] for r in runs[name]))

    lines = args.lines
    print(f"\none job over {lines:,} delimited lines, median of {args.repeat}:")
    print(
        f"  jobnode (Cortex):   submit {median('jobnode', 'submit') * 1000:7.1f} ms, enqueued after "
        f"{median('jobnode', 'enqueued'):5.2f} s, succeeded after {median('jobnode', 'wall'):5.2f} s "
        f"({lines / median('jobnode', 'wall'):9,.0f} lines/s), {median('jobnode', 'gets'):.0f} status requests, "
        f"{runs['jobnode'][0]['batches']} batches"
    )
    print(
        f"  plain HTTP loop:    submit {median('plain', 'submit') * 1000:7.1f} ms, succeeded after "
        f"{median('plain', 'wall'):5.2f} s ({lines / median('plain', 'wall'):9,.0f} lines/s), "
        f"{median('plain', 'gets'):.0f} status requests"
    )
    print(
        f"  native /v1 API:     submit {median('native', 'submit') * 1000:7.1f} ms, succeeded after "
        f"{median('native', 'wall'):5.2f} s ({lines / median('native', 'wall'):9,.0f} lines/s)"
    )
    print(
        f"  ratios: jobnode / plain loop {median('jobnode', 'wall') / median('plain', 'wall'):.2f}x wall time; "
        f"Cortex emulator / native API {median('jobnode', 'wall') / median('native', 'wall'):.2f}x"
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
