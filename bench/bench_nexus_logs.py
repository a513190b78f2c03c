"""Iterating a big Nexus log (issues 6 and 17). Prints; asserts nothing about speed.

    .venv/bin/python bench/bench_nexus_logs.py [--entries 100000] [--repeat 3] [--latency-ms 0,50]

A real `jobnode serve --platform nexus` on 127.0.0.1 runs one batch job over `--entries` dataset items (the
`identity` step, no webhook: one log entry per item). Then, against that same emulator, in one run, each in a
process of its own so that their memory is their own:

1. jobnode, newest first: `AsyncClient(platform="nexus").jobs.iter_logs(job, order="desc")`: pages of 1,000,
   `beforeTime` paging, de-duplication at the boundary millisecond (the algorithm of Datature's SDK);
2. jobnode, oldest first (`order="asc"`, the default): time windows sized to hold fewer than 1,000 entries;
3. Datature's SDK, unmodified: `project.batch.jobs.get_all_log_entries(job)`, in its own environment (skipped,
   with a note, until `python tests/conformance/nexus/setup_env.py` has made it).

For each: entries (and how many were unique), entries/s, the growth of the process's peak RSS during the iteration
(after one warm-up page), and its peak RSS; `--repeat` runs of each, interleaved. Each `--latency-ms` above 0 runs
all of them again through a proxy on 127.0.0.1 that holds every request that long before passing it on, as a
platform across a network would: jobnode reads several time windows of the log at once (its read-ahead), the SDK
one page after another.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import runpy
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent


def rss_mb() -> float:
    """The process's resident memory now (Linux), else its peak so far."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 1024 / 1024


class Seen:
    """Which entry ids came, and how often, in a bitmap: the emulator's ids are small integers, and a set of 100,000
    strings would weigh more than what is being measured."""

    def __init__(self) -> None:
        self.count = self.repeats = 0
        self._bits = bytearray()

    def add(self, entry_id: str) -> None:
        i = int(entry_id)
        if i >= len(self._bits):
            self._bits.extend(bytes(i - len(self._bits) + (1 << 16)))
        self.count += 1
        self.repeats += self._bits[i]
        self._bits[i] = 1


def measure(iterate: Any) -> dict[str, Any]:
    """Run `iterate()`, which returns the ids it saw and the most entries it saw in one millisecond."""
    before, cpu = rss_mb(), time.process_time()
    start = time.perf_counter()
    seen, widest = iterate()
    return figures(seen, widest, time.perf_counter() - start, time.process_time() - cpu, before)


async def measure_async(iterate: Any) -> dict[str, Any]:
    before, cpu = rss_mb(), time.process_time()
    start = time.perf_counter()
    seen, widest = await iterate()
    return figures(seen, widest, time.perf_counter() - start, time.process_time() - cpu, before)


def figures(seen: Seen, widest: int, seconds: float, cpu: float, rss_before: float) -> dict[str, Any]:
    return {
        "entries": seen.count,
        "unique": seen.count - seen.repeats,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "widest_ms": widest,
        "rss_growth_mb": max(0.0, peak_rss_mb() - rss_before),
        "peak_rss_mb": peak_rss_mb(),
    }


# -- the children (the SDK's needs only the standard library and datature) ------------------------------------------


def child_jobnode(args: argparse.Namespace, order: Literal["asc", "desc"]) -> dict[str, Any]:
    import asyncio

    import jobnode

    async def run() -> dict[str, Any]:
        async with jobnode.AsyncClient(args.url, args.token, platform="nexus", project_id=args.project) as client:
            # imports, the connection and one page of parsing are warm before the clock starts
            await client.jobs.logs(args.job, order=order)

            async def iterate() -> tuple[Seen, int]:
                seen = Seen()
                widest = run_length = 0
                last = None
                async for entry in client.jobs.iter_logs(args.job, order=order):
                    seen.add(entry.id)
                    run_length = run_length + 1 if entry.time == last else 1
                    widest, last = max(widest, run_length), entry.time
                return seen, widest

            return await measure_async(iterate)

    return asyncio.run(run())


def child_sdk(args: argparse.Namespace) -> dict[str, Any]:
    sys.stdout = open(os.devnull, "w")  # the SDK draws a progress bar  # noqa: SIM115
    from datature.nexus import Client

    project = Client(args.token, endpoint=args.url).get_project(args.project)
    project.batch.jobs.get_logs(args.job)  # imports, the connection and one page are warm before the clock starts

    def iterate() -> tuple[Seen, int]:
        seen = Seen()
        for entry in project.batch.jobs.get_all_log_entries(args.job):
            seen.add(entry.id)
        return seen, 0

    return measure(iterate)


def run_child(python: str, kind: str, common: list[str]) -> dict[str, Any]:
    done = subprocess.run([python, __file__, "--child", kind, *common], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{kind} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- a delaying proxy ------------------------------------------------------------------------------------------------


def run_proxy(target: str, latency: float, port_file: Path) -> None:
    """Pass every request on to `target` after holding it `latency` seconds (a network's round trip)."""
    import asyncio
    import socket

    import httpx
    import uvicorn
    from starlette.requests import Request
    from starlette.responses import Response

    upstream = httpx.AsyncClient(base_url=target, timeout=120.0, limits=httpx.Limits(max_connections=200))
    hop = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "host"}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        await asyncio.sleep(latency)
        answer = await upstream.request(
            request.method,
            request.url.path,
            params=request.query_params,
            headers={k: v for k, v in request.headers.items() if k.lower() not in hop},
            content=await request.body(),
        )
        headers = {k: v for k, v in answer.headers.items() if k.lower() not in hop}
        await Response(answer.content, status_code=answer.status_code, headers=headers)(scope, receive, send)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port_file.write_text(str(sock.getsockname()[1]))
    uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False)).run(sockets=[sock])


class Proxy:
    """`run_proxy` in a child process, for the length of a `with`."""

    def __init__(self, target: str, latency: float, work: Path) -> None:
        self.target, self.latency, self.port_file = target, latency, work / f"proxy-{latency}.port"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> str:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--proxy",
                self.target,
                "--latency",
                str(self.latency),
                "--port-file",
                str(self.port_file),
            ]
        )
        while not self.port_file.exists() or not self.port_file.read_text():
            time.sleep(0.05)
        url = f"http://127.0.0.1:{self.port_file.read_text()}"
        import httpx

        for _ in range(200):
            try:
                httpx.get(f"{url}/healthz", timeout=5)
                return url
            except httpx.HTTPError:
                time.sleep(0.05)
        raise SystemExit("the delaying proxy did not start")

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait()


# -- the parent -----------------------------------------------------------------------------------------------------


def make_job(url: str, token: str, project: str, entries: int) -> str:
    import asyncio

    from jobnode.core.models import ArtifactsInput, JobSpec
    from jobnode.platforms.nexus.backend import NexusBackend

    async def run() -> str:
        backend = NexusBackend(url, token=token, project_id=project)
        content = "".join(json.dumps({"url": f"https://bench.test/cells/{i}.jpg"}) + "\n" for i in range(entries))
        start = time.perf_counter()
        dataset = await backend.upload_dataset("bench", content.encode())
        job = await backend.create_job(
            JobSpec(name="bench-logs", step="deploy_identity", input=ArtifactsInput(artifacts=[dataset.id]))
        )
        import jobnode

        done = await jobnode.AsyncClient(backend=backend).jobs.wait(job.id, timeout=3600, poll_interval=0.5)
        print(f"made job {job.id}: {entries} items, {done.state.value}, in {time.perf_counter() - start:.1f}s")
        await backend.aclose()
        return job.id

    return asyncio.run(run())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each iteration (the machine may be busy)")
    parser.add_argument("--latency-ms", default="0,50", help="comma-separated delays each request is held (0: none)")
    parser.add_argument("--child", choices=["jobnode-desc", "jobnode-asc", "sdk"], help=argparse.SUPPRESS)
    for name in ("--url", "--token", "--project", "--job", "--proxy", "--latency", "--port-file"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.proxy:
        run_proxy(args.proxy, float(args.latency), Path(args.port_file))
        return 0
    if args.child == "sdk":
        print(json.dumps(child_sdk(args)), file=sys.__stdout__)
        return 0
    if args.child:
        print(json.dumps(child_jobnode(args, "desc" if args.child == "jobnode-desc" else "asc")))
        return 0

    import secrets

    from jobnode.service.process import ServiceProcess

    sdk_python = runpy.run_path(str(ROOT / "tests" / "conformance" / "nexus" / "setup_env.py"))["env_python"]()
    token, project = secrets.token_hex(16), "proj_bench"
    with (
        tempfile.TemporaryDirectory() as tmp,
        ServiceProcess(Path(tmp), token=token, extra_args=["--platform", "nexus"]) as service,
    ):
        job_id = make_job(service.url, token, project, args.entries)
        latencies = [float(x) / 1000 for x in args.latency_ms.split(",") if x.strip()]
        for latency in latencies:
            if latency:
                with Proxy(service.url, latency, Path(tmp)) as url:
                    report(url, token, project, job_id, sdk_python, args.repeat, latency)
            else:
                report(service.url, token, project, job_id, sdk_python, args.repeat, latency)
    return 0


def report(url: str, token: str, project: str, job_id: str, sdk_python: str, repeat: int, latency: float) -> None:
    common = ["--url", url, "--token", token, "--project", project, "--job", job_id]
    kinds = [
        ("jobnode, newest first", sys.executable, "jobnode-desc"),
        ("jobnode, oldest first", sys.executable, "jobnode-asc"),
    ]
    if Path(sdk_python).exists():
        kinds.append(("datature SDK get_all_log_entries", str(sdk_python), "sdk"))
    else:
        print(f"(no SDK run: {sdk_python} is missing; run python tests/conformance/nexus/setup_env.py)")
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in kinds}
    for _ in range(repeat):  # interleaved, so that each sees the same machine
        for name, python, kind in kinds:
            runs[name].append(run_child(python, kind, common))
    where = f"through a proxy that holds each request {latency * 1000:.0f} ms" if latency else "directly"
    print(f"\n{where}: {repeat} run(s) each; entries/s median (best); the reader's CPU seconds and memory, median")
    print(
        f"{'iteration':34} {'entries':>8} {'unique':>8} {'entries/s':>18} {'CPU s':>6} "
        f"{'RSS growth MB':>14} {'peak RSS MB':>12}"
    )
    medians: dict[str, float] = {}
    for name, results in runs.items():
        rates = [r["entries"] / r["seconds"] for r in results]
        medians[name] = statistics.median(rates)
        last = results[-1]
        print(
            f"{name:34} {last['entries']:>8} {last['unique']:>8} "
            f"{medians[name]:>9.0f} ({max(rates):>6.0f}) "
            f"{statistics.median(r['cpu_seconds'] for r in results):>6.2f} "
            f"{statistics.median(r['rss_growth_mb'] for r in results):>14.1f} "
            f"{statistics.median(r['peak_rss_mb'] for r in results):>12.1f}"
        )
    sdk = medians.get("datature SDK get_all_log_entries")
    if sdk:
        for name in ("jobnode, newest first", "jobnode, oldest first"):
            print(f"{name}: {medians[name] / sdk:.1f}x the SDK's entries/s")
    widest = runs["jobnode, newest first"][-1]["widest_ms"]
    print(f"at most {widest} entries share one millisecond (a page holds 1000)")


if __name__ == "__main__":
    raise SystemExit(main())
