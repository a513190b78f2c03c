"""Waiting at scale (issue 17). Prints; asserts nothing about speed.

    .venv/bin/python bench/bench_waiting.py [--sizes 1000,10000] [--interval 5] [--rate 10] [--spread 60]

A Nexus emulator (the local service with `--platform nexus`, limited to `--rate` requests per second per key, as a
real platform limits its callers; jobnode's clients are given the same limit, `requests_per_second`, as a user sets
the limit of their plan on the connection) holds N one-item jobs whose start
times are staggered, so that they end one after another over `--spread` seconds once the waiting has settled. Each
way of waiting runs in a process of its own:

- jobnode: one client, N `client.jobs.wait` (its shared watcher sweeps the job list: a few pages per interval);
- per-job polling: the same client with sweeps turned off (one `GET` per job per look, as other providers do);
- the SDK's own waiter: Datature's `wait_until_done`, one thread per job (N = 1,000 only: 10,000 threads would
  measure the threads), in the SDK's own environment.

Counted by the service: requests per interval while every job is still waiting, the peak requests in one second,
and the 429s it answered. Measured in the waiting process: CPU (cores, while waiting) and peak memory; for jobnode,
the delay from each job's end to its wait's return, p50 and p99. Per-job polling and the SDK are measured over three
intervals only (at the default rate, one round of theirs takes longer than an interval).

Then the idle cost of a push channel: 10,000 waits on the local service's watch stream for jobs that have not
started, the waiting process's CPU over 30 seconds (the goal is under 0.05 of a core).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import runpy
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "proj_bench"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the service: the Nexus emulator with N jobs, and request counts per second ----------------------------------


def serve(data_dir: Path, token: str, rate: float, n: int, first_start: float, spread: float, info: Path) -> None:
    import uvicorn

    from jobnode.platforms.nexus import wire
    from jobnode.platforms.nexus.checksum import crc32c_base64
    from jobnode.platforms.nexus.emulator import create_app
    from jobnode.platforms.nexus.emulator.context import Nexus
    from jobnode.service.engine import Engine
    from jobnode.service.jobs import JobService

    engine = Engine(data_dir, threads=64)
    engine.start()
    service = JobService(engine)
    app = create_app(service, token=token, rate_limit=rate)
    nexus = Nexus(service)  # the jobs are made here, without HTTP, and served by the app
    content = b'{"n": 1}\n'
    dataset = nexus.create_dataset(
        PROJECT,
        wire.CreateDatasetRequest(
            name="bench",
            spec=wire.DatasetSpec(
                source=wire.DatasetSourceSpec(size_bytes=len(content), crc32c=crc32c_base64(content))
            ),
        ),
    )
    uploaded = nexus.records.get("dataset", dataset.id)
    assert uploaded is not None
    nexus.receive_upload(uploaded, content)
    ids = []
    for i in range(n):
        start = int((first_start + spread * i / n) * 1000)
        body = {
            "name": f"bench-{i}",
            "spec": {
                "datasetId": dataset.id,
                "deployment": {"kind": "ExistingDeployment", "deploymentId": "deploy_identity"},
                "startAtTime": start,
                "stopAtTime": start + 3_600_000,
            },
        }
        ids.append(nexus.create_job(PROJECT, wire.CreateJobRequest.model_validate(body)).id)
    per_second: Counter[int] = Counter()
    refused: Counter[int] = Counter()

    async def counted(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/projects/"):
            if scope["type"] == "http" and scope["path"] == "/bench/stats":
                body = json.dumps({"per_second": per_second, "refused": refused}).encode()
                await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"json")]})
                await send({"type": "http.response.body", "body": body})
                return
            await app(scope, receive, send)
            return
        second = int(time.time())
        per_second[second] += 1

        async def watched(message: Any) -> None:
            if message["type"] == "http.response.start" and message["status"] == 429:
                refused[second] += 1
            await send(message)

        await app(scope, receive, watched)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    info.write_text(json.dumps({"url": f"http://127.0.0.1:{sock.getsockname()[1]}", "ids": ids}))
    try:
        uvicorn.Server(uvicorn.Config(counted, log_level="warning", access_log=False)).run(sockets=[sock])
    finally:
        engine.stop()


# -- the waiting processes --------------------------------------------------------------------------------------


def wait_jobnode(
    url: str, token: str, ids: list[str], interval: float, rate: float, sweep: bool, window: float | None
) -> dict[str, Any]:
    import dataclasses

    import jobnode
    from jobnode.platforms.nexus import PLATFORM
    from jobnode.platforms.nexus.backend import NexusBackend

    if not sweep:
        NexusBackend.capabilities = dataclasses.replace(PLATFORM.capabilities, sweep=None)
    latencies: list[float] = []

    async def main() -> None:
        async with jobnode.AsyncClient(
            url, token, platform="nexus", project_id=PROJECT, poll_interval=interval, requests_per_second=rate
        ) as c:

            async def one(job_id: str) -> None:
                job = await c.jobs.wait(job_id)
                if job.ended_at is not None:
                    latencies.append(time.time() - job.ended_at.timestamp())

            waits = asyncio.gather(*(one(j) for j in ids))
            if window is None:
                await waits
            else:
                await asyncio.sleep(window)
                waits.cancel()

    cpu, wall = time.process_time(), time.monotonic()
    asyncio.run(main())
    return {
        "cpu": time.process_time() - cpu,
        "wall": time.monotonic() - wall,
        "peak_mb": peak_mb(),
        "latency": latencies,
    }


def wait_sdk(url: str, token: str, ids: list[str], interval: float, window: float) -> dict[str, Any]:
    import threading

    sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (the SDK prints)
    from datature.nexus import Client

    project = Client(token, endpoint=url).get_project(PROJECT)
    errors: Counter[str] = Counter()

    def one(job_id: str) -> None:
        try:
            project.batch.jobs.wait_until_done(job_id, interval=max(1, int(interval)), timeout=int(window + 60))
        except Exception as exc:
            errors[type(exc).__name__] += 1

    cpu, wall = time.process_time(), time.monotonic()
    for job_id in ids:
        threading.Thread(target=one, args=(job_id,), daemon=True).start()
    time.sleep(window)
    return {
        "cpu": time.process_time() - cpu,
        "wall": time.monotonic() - wall,
        "peak_mb": peak_mb(),
        "errors": dict(errors),
    }


def wait_idle(url: str, token: str, ids: list[str], seconds: float) -> dict[str, Any]:
    import jobnode

    async def main() -> float:
        async with jobnode.AsyncClient(url, token) as client:
            waits = [asyncio.create_task(client.jobs.wait(j)) for j in ids]
            await asyncio.sleep(15)  # every wait has subscribed and its stream's first events are in
            start = time.process_time()
            await asyncio.sleep(seconds)
            used = time.process_time() - start
            for task in waits:
                task.cancel()
            return used

    return {"cores": asyncio.run(main()) / seconds, "peak_mb": peak_mb()}


def child(argv: list[str]) -> None:
    kind, params = argv[0], json.loads(argv[1])
    ids = json.loads(Path(params.pop("ids_file")).read_text())
    if kind == "sdk":
        result = wait_sdk(ids=ids, **params)
    elif kind == "idle":
        result = wait_idle(ids=ids, **params)
    else:
        result = wait_jobnode(ids=ids, sweep=kind == "jobnode", **params)
    print(json.dumps(result), file=sys.__stdout__)


def run_child(python: str, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run([python, __file__, "--child", kind, json.dumps(params)], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{kind} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- the orchestration ------------------------------------------------------------------------------------------


def counts(url: str, since: float, until: float) -> tuple[list[int], int]:
    import httpx

    stats = httpx.get(f"{url}/bench/stats").json()
    seconds = [int(s) for s in stats["per_second"]]
    per_second = [stats["per_second"].get(str(s), 0) for s in range(int(since), int(until))]
    refused = sum(v for s, v in stats["refused"].items() if since <= int(s) < until)
    return per_second if seconds else [], refused


def scenario(n: int, args: argparse.Namespace, sdk_python: str, work: Path) -> None:
    interval, window = args.interval, 3 * args.interval
    runs = ["jobnode", "per-job"] + (["sdk"] if n <= 1000 and Path(sdk_python).exists() else [])
    lead = n / 200 + 30 + len(runs) * (window + 20)
    first_start = time.time() + lead
    token, info = secrets.token_hex(16), work / f"service-{n}.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            json.dumps(
                {
                    "data_dir": str(work / f"svc-{n}"),
                    "token": token,
                    "rate": args.rate,
                    "n": n,
                    "first_start": first_start,
                    "spread": args.spread,
                    "info": str(info),
                }
            ),
        ]
    )
    try:
        while not info.exists():
            time.sleep(0.2)
        service = json.loads(info.read_text())
        ids_file = work / f"ids-{n}.json"
        ids_file.write_text(json.dumps(service["ids"]))
        print(
            f"\nN = {n:,}: jobs end over {args.spread:g}s from {first_start - time.time():.0f}s from now; "
            f"interval {interval:g}s; service limit {args.rate:g} requests/s per key"
        )
        print(
            f"{'way of waiting':28} {'req/interval':>12} {'peak req/s':>10} {'429s':>6} {'cores':>6} "
            f"{'peak MB':>8} {'p50 s':>6} {'p99 s':>6}"
        )
        common = {"url": service["url"], "token": token, "ids_file": str(ids_file), "interval": interval}
        for kind in reversed(runs):  # the full jobnode run last: it waits for every job to end
            time.sleep(3)  # the service's rate limit for the key refills after the run before
            start = time.time()
            if kind == "sdk":
                result = run_child(sdk_python, "sdk", {**common, "window": window})
            elif kind == "per-job":
                result = run_child(sys.executable, "per-job", {**common, "rate": args.rate, "window": window})
            else:
                result = run_child(sys.executable, "jobnode", {**common, "rate": args.rate, "window": None})
            # requests while every job was still waiting: the first `window` seconds after settling in
            quiet_end = min(time.time(), first_start, start + window + 10)
            per_second, _ = counts(service["url"], start + 5, quiet_end)
            per_interval = statistics.mean(per_second) * interval if per_second else 0.0
            _, refused_all = counts(service["url"], start, time.time())
            cores = result["cpu"] / result["wall"]
            latency = sorted(result.get("latency", []))
            p50 = f"{statistics.median(latency):6.2f}" if latency else "     -"
            p99 = f"{latency[int(len(latency) * 0.99) - 1]:6.2f}" if latency else "     -"
            label = {"jobnode": "jobnode (sweeps)", "per-job": "per-job polling", "sdk": "SDK wait_until_done"}[kind]
            print(
                f"{label:28} {per_interval:12.1f} {max(per_second, default=0):10d} {refused_all:6d} "
                f"{cores:6.2f} {result['peak_mb']:8.1f} {p50} {p99}"
            )
            if result.get("errors"):
                print(f"{'':28} errors in the SDK's waiters: {result['errors']}")
    finally:
        proc.terminate()
        proc.wait()


def idle(n: int, work: Path) -> None:
    from datetime import UTC, datetime, timedelta

    import jobnode
    from jobnode.service.process import ServiceProcess

    token = secrets.token_hex(16)
    with ServiceProcess(work / "idle", token=token) as service, jobnode.Client(service.url, token) as client:
        later = datetime.now(UTC) + timedelta(hours=1)
        ids = [client.jobs.create(step="identity", items=[i], start_at=later).id for i in range(n)]
        ids_file = work / "idle-ids.json"
        ids_file.write_text(json.dumps(ids))
        result = run_child(
            sys.executable, "idle", {"url": service.url, "token": token, "ids_file": str(ids_file), "seconds": 30.0}
        )
        print(
            f"\n{n:,} waits on the local service's watch stream, idle: {result['cores']:.3f} cores, "
            f"peak {result['peak_mb']:.0f} MB"
        )
        for job_id in ids:
            client.jobs.cancel(job_id)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        params = json.loads(sys.argv[2])
        serve(Path(params.pop("data_dir")), info=Path(params.pop("info")), **params)
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--spread", type=float, default=60.0)
    parser.add_argument("--idle", type=int, default=10_000, help="waits of the idle push-channel run (0: none)")
    args = parser.parse_args()
    sdk_python = str(runpy.run_path(str(ROOT / "tests" / "conformance" / "nexus" / "setup_env.py"))["env_python"]())
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in args.sizes.split(",") if x.strip()):
            scenario(n, args, sdk_python, Path(tmp))
        if args.idle:
            idle(args.idle, Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
