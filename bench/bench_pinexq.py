"""Waiting for many PinexQ jobs at once (issue 14). Prints; asserts nothing about speed.

    .venv/bin/python bench/bench_pinexq.py [--jobs 1000] [--seconds 0.1]

A real `jobnode serve --platform pinexq` on 127.0.0.1. In one run, against that same emulator, `--jobs` jobs of the
built-in `sleep` step (each one call, sleeping `--seconds`) are created and then waited for:

1. through jobnode: `AsyncClient(platform="pinexq").jobs.watch(ids)`, which follows the platform's event stream
   (one stream for all of them) and reads a job when an event names it;
2. through PinexQ's SDK, unmodified, in its own environment: one `Job.wait_for_completion()` per job, each in a
   thread of its own, all sharing one client (and so the SDK's one event stream); skipped, with a note, until
   `python tests/conformance/pinexq/setup_env.py` has made that environment.

Each client runs in a process of its own (the SDK's in its environment), so that neither shares a CPU with the
measuring. For each: how long creating the jobs took; the wall time of the wait (from the first wait to the last job
seen ended: what was not done while the jobs were being created); the lag (from the moment the last job ended, by
its `CompletedAt`, to the moment the client saw it); the requests the client made while waiting (httpx's event
hooks), per job and per second; the client's CPU time while waiting; the connections to the service (Linux: sampled
from /proc/net/tcp every 50 ms by this process: the peak open at once, and the distinct ones seen, creation
included); and the errors a client met and tried again (PinexQ's SDK, one httpx client shared by a thousand
threads, sometimes loses a connection).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import runpy
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import jobnode  # noqa: E402  (after the path: the bench runs from a checkout)
from jobnode.platforms.pinexq import wire  # noqa: E402
from jobnode.platforms.pinexq.backend import PinexqBackend  # noqa: E402
from jobnode.service.process import ServiceProcess  # noqa: E402

SDK_PYTHON: Path = runpy.run_path(str(ROOT / "tests" / "conformance" / "pinexq" / "setup_env.py"))["env_python"]()

# The SDK's side, run by the SDK environment's Python: create the jobs, then wait for each in a thread of its own.
SDK_SIDE = """
import json, os, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
from pinexq.client.job_management import Job, ProcessingStep
from pinexq.client.job_management.enterjma import create_pinexq_client

url, key, count, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
client = create_pinexq_client(url, key)
requests = []

errors = []

def again(call):
    # one httpx client shared by many threads (as the SDK's tools share it) sometimes loses a connection under
    # load (httpx.ReadError); a user's script would try again, and so does this one (the errors are counted)
    for attempt in range(5):
        try:
            return call()
        except Exception as exc:
            errors.append(type(exc).__name__)
    return call()

step = ProcessingStep.from_name(client, "sleep", "1")
created = time.perf_counter()
with ThreadPoolExecutor(32) as pool:
    jobs = list(pool.map(lambda i: again(lambda: Job(client).create_and_configure_rapidly(
        name=f"sdk-{i}", processing_step_instance=step, parameters=json.dumps({"seconds": seconds}),
        start=True)), range(count)))
client.event_hooks["request"] = [lambda request: requests.append(1)]
cpu, start = time.process_time(), time.perf_counter()
create = start - created
with ThreadPoolExecutor(count) as pool:
    list(pool.map(lambda job: again(lambda: job.wait_for_completion(timeout_s=600)), jobs))
wall, noticed = time.perf_counter() - start, time.time()
lag = noticed - max(job.job_hco.completed_at.timestamp() for job in jobs)
print(json.dumps({"requests": len(requests), "wall": wall, "lag": lag, "cpu": time.process_time() - cpu,
                  "errors": len(errors), "create": create}))
os._exit(0)  # the SDK's event thread is no daemon and lingers 30 seconds
"""


class Sockets:
    """The TCP connections open to the service: the peak at once and the distinct ones seen (Linux: sampled from
    /proc/net/tcp)."""

    def __init__(self, port: int, every: float = 0.05) -> None:
        self.port = port
        self.every = every
        self.peak = 0
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def open_now(self) -> set[str]:
        found = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                lines = Path(table).read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                # a client's end: the remote end is the service's port; 01 is ESTABLISHED
                if fields[3] == "01" and int(fields[2].rpartition(":")[2], 16) == self.port:
                    found.add(fields[1])
        return found

    def _sample(self) -> None:
        while not self._stop.wait(self.every):
            now = self.open_now()
            self.peak = max(self.peak, len(now))
            self.seen |= now

    def __enter__(self) -> Sockets:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def create_calls(backend: PinexqBackend, count: int, seconds: float) -> list[str]:
    """`count` jobs of the `sleep` step, each one call, started (the rapid setup PinexQ's SDK also uses)."""
    siren = backend.siren
    entry = await siren.entry_point()
    jobs_root = await siren.follow(entry, "JobsRoot")
    steps = await siren.follow(entry, "ProcessingStepsRoot")
    query = wire.ProcessingStepQueryParameters(
        filter=wire.ProcessingStepFilter(function_name="sleep", function_name_match_type="MatchExact", version="1")
    )
    step = (await siren.get(await siren.act(steps, "CreateProcessingStepQuery", query) or "")).embedded("item")[0]
    limit = asyncio.Semaphore(32)

    async def one(i: int) -> str:
        body = wire.RapidJobSetupParameters(
            name=f"jobnode-{i}",
            processing_step_url=step.self_href,
            parameters=json.dumps({"seconds": seconds}),
            start=True,
        )
        async with limit:
            location = await siren.act(jobs_root, "RapidSetupJob", body)
        return (location or "").rpartition("/")[2]

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def jobnode_side(url: str, token: str, count: int, seconds: float) -> dict[str, float]:
    """jobnode's side, in a process of its own: create the jobs, then watch them all through one event stream."""
    async with jobnode.AsyncClient(url, token, platform="pinexq") as client:
        backend = client.backend
        assert isinstance(backend, PinexqBackend)
        created = time.perf_counter()
        ids = await create_calls(backend, count, seconds)
        requests = 0

        async def hook(request: httpx.Request) -> None:
            nonlocal requests
            requests += 1

        backend.transport.http.event_hooks["request"] = [hook]
        cpu, start = time.process_time(), time.perf_counter()
        create = start - created
        ended = {job.id: job async for job in client.jobs.watch(ids) if job.is_terminal}
        wall, noticed = time.perf_counter() - start, time.time()
        assert len(ended) == count, f"{len(ended)} of {count} jobs seen ended"
        last = max(job.ended_at.timestamp() for job in ended.values() if job.ended_at)
        return {
            "requests": requests,
            "wall": wall,
            "lag": noticed - last,
            "cpu": time.process_time() - cpu,
            "errors": 0,
            "create": create,
        }


def measure(command: list[str], port: int) -> dict[str, Any]:
    with Sockets(port) as sockets:
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed: {done.stderr[-2000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return {**figures, "peak": sockets.peak, "seen": len(sockets.seen)}


def row(name: str, count: int, f: dict[str, Any]) -> str:
    wall = f["wall"]
    return (
        f"| {name} | {count} | {f['create']:.1f} | {wall:.1f} | {f['lag']:.2f} | {f['requests']} | "
        f"{f['requests'] / count:.2f} | "
        f"{f['requests'] / wall:.0f} | {f['cpu']:.2f} | {f['peak']} | {f['seen']} | {f['errors']} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000, help="jobs waited for at once")
    parser.add_argument("--seconds", type=float, default=0.1, help="how long each job sleeps")
    parser.add_argument("--side", nargs=2, metavar=("URL", "TOKEN"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        url, token = args.side
        print(json.dumps(asyncio.run(jobnode_side(url, token, args.jobs, args.seconds))))
        return
    with (
        tempfile.TemporaryDirectory() as data,
        ServiceProcess(Path(data), token=secrets.token_hex(16), extra_args=["--platform", "pinexq"]) as service,
    ):
        port = urlsplit(service.url).port or 80
        options = ["--jobs", str(args.jobs), "--seconds", str(args.seconds)]
        ours = measure([sys.executable, __file__, *options, "--side", service.url, service.token or ""], port)
        sdk = [str(SDK_PYTHON), "-c", SDK_SIDE, service.url, service.token or "", str(args.jobs), str(args.seconds)]
        theirs = measure(sdk, port) if SDK_PYTHON.exists() else None
    print(f"waiting for {args.jobs} PinexQ jobs at once (each sleeps {args.seconds:g}s on the emulator's engine)")
    print(
        "| way | jobs | creating s | waiting s | lag s | requests | per job | per s | client CPU s "
        "| peak connections | connections seen | errors retried |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    print(row("jobnode: one event stream (`jobs.watch`)", args.jobs, ours))
    if theirs is None:
        print("PinexQ's SDK: skipped (make its environment with `python tests/conformance/pinexq/setup_env.py`)")
        return
    print(row("SDK: `wait_for_completion` per job", args.jobs, theirs))
    print(
        f"jobnode / SDK: requests {ours['requests'] / theirs['requests']:.2f}x, "
        f"creating and waiting {(ours['create'] + ours['wall']) / (theirs['create'] + theirs['wall']):.2f}x, "
        f"client CPU {ours['cpu'] / max(theirs['cpu'], 1e-9):.2f}x, peak connections "
        f"{ours['peak'] / max(1, theirs['peak']):.2f}x"
    )


if __name__ == "__main__":
    main()
