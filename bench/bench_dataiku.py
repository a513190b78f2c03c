"""Waiting for many Dataiku DSS jobs at once (issue 15). Prints; asserts nothing.

    .venv/bin/python bench/bench_dataiku.py [--jobs 1000] [--seconds 1] [--poll 2]

A real `jobnode serve --platform dataiku` on 127.0.0.1 serves a project whose dataset `nap` is built by the
built-in `sleep` step (`--seconds` per build). In one run, `--jobs` builds of it are started (all at once, before
the clock starts) and waited for, twice, each way in a process of its own:

1. jobnode: one `AsyncClient(platform="dataiku").jobs.watch(ids, poll_interval=--poll)`, what Airflow's shared
   poller and Prefect's waits do: each poll reads the project's running-jobs listing once, and each job that has
   left it is read once more;
2. the API client's own waiter, unmodified: one `DSSJobWaiter(job).wait()` per job, each in a thread of its own
   (the waiter blocks), sharing one `DSSClient`; it polls each job's status after 0.2 s, then 10% later each time.

For each: the wall time from the first request until every job has ended, the requests sent, requests per poll
interval, and the CPU time of the waiting process. The API client's run needs its environment
(`python tests/conformance/dataiku/setup_env.py`); without it, it is skipped with a note.
"""

from __future__ import annotations

import argparse
import json
import resource
import runpy
import secrets
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FLOW = """
[projects."BENCH_*".datasets.nap]
step = "sleep"
params = {{seconds = {seconds}}}
"""

#: the API client's side, run by the Python of its own environment
SDK_WAITER = """
import itertools, json, resource, sys, threading, time
import dataikuapi
from dataikuapi.dss.job import DSSJobWaiter

url, key, project, ids = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.stdin.read())
client = dataikuapi.DSSClient(url, key)
sent = itertools.count()
def counted(response, *args, **kwargs):  # a hook that returns something replaces the response: return nothing
    next(sent)
client._session.hooks["response"].append(counted)
handle = client.get_project(project)
states = {}
def wait(job_id):
    states[job_id] = DSSJobWaiter(handle.get_job(job_id)).wait(no_fail=True)
threads = [threading.Thread(target=wait, args=(i,)) for i in ids]
cpu, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
for t in threads:
    t.start()
for t in threads:
    t.join()
wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
used = after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime
ended = sorted(set(states.values()))
print(json.dumps({"wall": wall, "requests": next(sent), "cpu": used, "states": ended, "ended": len(states)}))
"""


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child_jobnode(args: argparse.Namespace) -> dict[str, Any]:
    """Wait for the jobs with one jobnode watch; count its requests."""
    import asyncio

    import httpx

    import jobnode

    ids: list[str] = json.loads(sys.stdin.read())

    async def run() -> dict[str, Any]:
        sent = 0

        async def count(_: httpx.Request) -> None:
            nonlocal sent
            sent += 1

        async with jobnode.AsyncClient(args.url, args.token, platform="dataiku", project_key=args.project) as client:
            client.backend.transport.http.event_hooks["request"].append(count)  # type: ignore[attr-defined]
            ended: dict[str, str] = {}
            cpu, start = cpu_seconds(), time.perf_counter()
            async for job in client.jobs.watch(ids, poll_interval=args.poll):
                if job.is_terminal:
                    ended[job.id] = job.raw_state or ""
            wall = time.perf_counter() - start
            return {
                "wall": wall,
                "requests": sent,
                "cpu": cpu_seconds() - cpu,
                "states": sorted(set(ended.values())),
                "ended": len(ended),
            }

    return asyncio.run(run())


def start_jobs(url: str, token: str, project: str, count: int) -> list[str]:
    """Start `count` builds of `nap` at once (16 requests in flight)."""
    import httpx

    body = {"type": "NON_RECURSIVE_FORCED_BUILD", "outputs": [{"id": "nap"}]}
    with httpx.Client(base_url=f"{url}/dip/publicapi", auth=(token, ""), timeout=60) as http:

        def one(_: int) -> str:
            response = http.post(f"/projects/{project}/jobs/", json=body)
            response.raise_for_status()
            return str(response.json()["id"])

        with ThreadPoolExecutor(16) as pool:
            return list(pool.map(one, range(count)))


def run_way(command: list[str], ids: list[str]) -> dict[str, Any]:
    done = subprocess.run(command, input=json.dumps(ids), capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{command[1]} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=1.0, help="how long one build runs")
    parser.add_argument("--poll", type=float, default=2.0, help="jobnode's poll interval")
    parser.add_argument("--threads", type=int, default=64, help="builds the service runs at once")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    for name in ("--url", "--token", "--project"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child_jobnode(args)))
        return 0

    from jobnode.service.process import ServiceProcess

    sdk_python = runpy.run_path(str(ROOT / "tests" / "conformance" / "dataiku" / "setup_env.py"))["env_python"]()
    token = secrets.token_hex(16)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        flow = Path(tmp) / "flow.toml"
        flow.write_text(FLOW.format(seconds=args.seconds))
        with ServiceProcess(
            Path(tmp) / "service",
            token=token,
            extra_args=["--platform", "dataiku", "--threads", str(args.threads)],
            env={"JOBNODE_DATAIKU_FLOW": str(flow)},
        ) as service:
            ways = [("jobnode watch (bulk status)", [sys.executable, __file__, "--child"], "BENCH_JOBNODE")]
            if Path(sdk_python).exists():
                ways.append(("API client, one DSSJobWaiter per job", [str(sdk_python), "-c", SDK_WAITER], "BENCH_SDK"))
            else:
                print(
                    f"(no API client run: {sdk_python} is missing; run python tests/conformance/dataiku/setup_env.py)"
                )
            for name, command, project in ways:
                started = time.perf_counter()
                ids = start_jobs(service.url, token, project, args.jobs)
                print(f"{name}: started {len(ids)} builds in {time.perf_counter() - started:.1f}s", flush=True)
                if "--child" in command:
                    command = [*command, "--url", service.url, "--token", token, "--project", project]
                    command += ["--poll", str(args.poll)]
                else:
                    command = [*command, service.url, token, project]
                results[name] = run_way(command, ids)
    ideal = args.jobs * args.seconds / args.threads
    print(f"\n{args.jobs} builds of {args.seconds:g}s, {args.threads} at once (all done in {ideal:.1f}s at best)")
    print(f"{'way':38} {'wall s':>7} {'requests':>9} {'per job':>8} {'per 2s':>8} {'CPU s':>7}  states")
    for name, r in results.items():
        print(
            f"{name:38} {r['wall']:>7.1f} {r['requests']:>9} {r['requests'] / args.jobs:>8.1f} "
            f"{r['requests'] / r['wall'] * 2:>8.1f} {r['cpu']:>7.2f}  {r['ended']} ended: {', '.join(r['states'])}"
        )
    if len(results) == 2:
        jobnode_run, sdk_run = results.values()
        print(
            f"\nthe API client's waiters sent {sdk_run['requests'] / jobnode_run['requests']:.1f}x the requests "
            f"and used {sdk_run['cpu'] / max(jobnode_run['cpu'], 1e-6):.1f}x the CPU; wall time "
            f"{sdk_run['wall'] / jobnode_run['wall']:.2f}x jobnode's"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
