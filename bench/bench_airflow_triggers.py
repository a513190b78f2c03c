"""Figures for the Airflow provider's trigger (issue 4). Prints; asserts nothing about speed.

    .venv/bin/python bench/bench_airflow_triggers.py [--sizes 1000,10000] [--http-sizes 1000] [--interval 5]

N waits run in one process, as in one triggerer: N `JobnodeJobTrigger`s (sharing one client and one poller: the
watch stream, then, with `watch=false` on the connection, bulk status) and N of apache-airflow-providers-http's
`HttpSensorTrigger`, each polling the same local service for its own job (a route that answers 404 until the job
has ended, beside the native API, in the same service process). For each run:

- requests per poll interval while every job is still waiting (counted by the service);
- CPU seconds of the waiting process, in total and per interval while waiting (cores), and its peak memory;
- the delay from each job's end (`ended_at`, on the same machine's clock) to its trigger event.

The jobs are created first with staggered start times, so they end one after another over `--spread` seconds once
the waiting has settled. Logging is at WARNING in the waiting process, for both kinds of trigger. Then the import
cost of `jobnode.airflow.operators` over `import airflow` (the goal is under 150 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

import jobnode

CONN_ID = "jobnode_bench"
HTTP_CONN_ID = "http_bench"

# -- the service: the local service's app, plus a readiness route for the HTTP sensor and request counts ----------


def serve(data_dir: Path, token: str, ready_file: Path) -> None:
    """A local job service whose app also counts requests and answers `/bench/ready/{id}` (404 until the job has
    ended), which is what `HttpSensorTrigger` waits for."""
    import uvicorn
    from fastapi import FastAPI, Request, Response

    from jobnode.service.api import create_app
    from jobnode.service.engine import Engine
    from jobnode.service.jobs import JobService

    engine = Engine(data_dir)
    engine.start()
    service = JobService(engine)
    app = FastAPI()
    counts: Counter[str] = Counter()

    @app.middleware("http")
    async def count(request: Request, call_next: Any) -> Response:
        path = request.url.path
        if path.startswith("/bench/ready/"):
            counts["ready"] += 1
        elif path == "/v1/watch":
            counts["watch"] += 1
        elif path == "/v1/jobs" and request.method == "GET":
            counts["bulk"] += 1
        elif path.startswith("/v1/jobs/") and request.method == "GET":
            counts["job"] += 1
        elif not path.startswith("/bench/"):
            counts["other"] += 1
        response: Response = await call_next(request)
        return response

    @app.get("/bench/ready/{job_id}")
    def ready(job_id: str) -> Response:
        record = service.find(job_id)
        if record is None or not record.is_terminal:
            return Response(status_code=404)
        return Response(json.dumps({"state": record.state.value}), media_type="application/json")

    @app.get("/bench/stats")
    def stats() -> dict[str, int]:
        return dict(counts)

    app.mount("/", create_app(service, token=token))  # the native API, after the bench's own routes

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    ready_file.write_text(f"http://127.0.0.1:{sock.getsockname()[1]}")
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        engine.stop()


# -- the waiting process: N triggers in one event loop ----------------------------------------------------------


def rss_mb() -> float:
    return float(psutil.Process().memory_info().rss) / 2**20


def wait(
    kind: str, ids_file: Path, started_file: Path, result_file: Path, url: str, token: str, interval: float, watch: bool
) -> None:
    """Run one trigger per job until every one has fired; write the event times and the process's figures."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(
        {
            "conn_type": "jobnode",
            "host": host,
            "port": int(port),
            "password": token,
            "extra": {"poll_interval": interval, "watch": watch},
        }
    )
    os.environ[f"AIRFLOW_CONN_{HTTP_CONN_ID.upper()}"] = json.dumps(
        {"conn_type": "http", "host": host, "port": int(port), "schema": "http"}
    )
    from airflow.providers.http.triggers.http import HttpSensorTrigger

    from jobnode.airflow.triggers import JobnodeJobTrigger

    ids: list[str] = json.loads(ids_file.read_text())
    baseline = rss_mb()
    events: dict[str, float] = {}

    def trigger(job_id: str) -> Any:
        if kind == "jobnode":
            return JobnodeJobTrigger(job_id, CONN_ID, progress_every=3600)
        return HttpSensorTrigger(
            endpoint=f"bench/ready/{job_id}",
            http_conn_id=HTTP_CONN_ID,
            poke_interval=interval,
            headers={"Authorization": f"Bearer {token}"},
        )

    async def one(job_id: str) -> None:
        async for _ in trigger(job_id).run():
            events[job_id] = time.time()
            return

    async def main() -> None:
        tasks = [asyncio.create_task(one(j)) for j in ids]
        await asyncio.sleep(1.0)
        started_file.touch()  # noqa: ASYNC240 (once, a tiny file: the orchestrator's signal)
        await asyncio.gather(*tasks)

    cpu = time.process_time()
    wall = time.monotonic()
    asyncio.run(main())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result_file.write_text(
        json.dumps(
            {
                "cpu": time.process_time() - cpu,
                "wall": time.monotonic() - wall,
                "baseline_mb": baseline,
                "peak_mb": usage.ru_maxrss / 1024,
                "events": events,
            }
        )
    )


# -- the orchestration ------------------------------------------------------------------------------------------


async def create_jobs(client: jobnode.AsyncClient, n: int, first_start: float, spread: float) -> list[str]:
    """N one-item jobs that start (and end at once) one after another from `first_start`, over `spread` seconds."""
    gate = asyncio.Semaphore(16)

    async def one(i: int) -> str:
        start = datetime.fromtimestamp(first_start + spread * i / n, UTC)
        async with gate:
            job = await client.jobs.create(name="bench", step="identity", items=[i], start_at=start)
        return job.id

    return list(await asyncio.gather(*(one(i) for i in range(n))))


def stats(http: httpx.Client) -> Counter[str]:
    return Counter(http.get("/bench/stats").json())


def run_scenario(
    label: str, kind: str, n: int, *, url: str, token: str, interval: float, watch: bool, spread: float, work: Path
) -> dict[str, Any]:
    window = 3 * interval
    # creation (~300 jobs/s or better), the waiting process's start, then a quiet window to count requests in
    lead = n / 300 + 15 + window
    first_start = time.time() + lead

    async def make() -> list[str]:
        async with jobnode.AsyncClient(url, token=token) as client:
            return await create_jobs(client, n, first_start, spread)

    ids = asyncio.run(make())
    ids_file, started, result_file = (work / f"{label}.{ext}" for ext in ("ids.json", "started", "result.json"))
    ids_file.write_text(json.dumps(ids))
    env = {**os.environ, "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING"}
    waiter = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "wait",
            kind,
            str(ids_file),
            str(started),
            str(result_file),
            url,
            token,
            str(interval),
            "1" if watch else "0",
        ],
        stdout=subprocess.DEVNULL,
        env=env,
    )
    proc = psutil.Process(waiter.pid)
    http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    while not started.exists():
        if waiter.poll() is not None:
            raise SystemExit(f"{label}: the waiting process exited with {waiter.returncode}")
        time.sleep(0.1)
    time.sleep(min(interval, 2.0))
    t0, s0, c0 = time.monotonic(), stats(http), sum(proc.cpu_times()[:2])
    quiet = first_start - 1 - time.time()
    if quiet < interval:
        print(f"  ({label}: only {quiet:.1f}s of quiet window; raise the lead)")
    time.sleep(max(0.0, quiet))
    t1, s1, c1 = time.monotonic(), stats(http), sum(proc.cpu_times()[:2])
    if waiter.wait(timeout=spread + 600) != 0:
        raise SystemExit(f"{label}: the waiting process exited with {waiter.returncode}")
    http.close()
    result = json.loads(result_file.read_text())

    async def ends() -> dict[str, float]:
        async with jobnode.AsyncClient(url, token=token) as client:
            jobs = await client.jobs.bulk_status(ids)
        return {j.id: j.ended_at.timestamp() for j in jobs if j.ended_at}

    ended = asyncio.run(ends())
    early = sum(1 for j in ids if ended[j] < first_start - 0.5)
    delays = sorted(result["events"][j] - ended[j] for j in ids if j in result["events"])
    intervals = (t1 - t0) / interval
    requests = sum((s1 - s0).values())
    return {
        "label": label,
        "n": n,
        "requests_per_interval": requests / intervals,
        "requests_by_kind": dict(s1 - s0),
        "idle_cores": (c1 - c0) / (t1 - t0),
        "cpu_s": result["cpu"],
        "wall_s": result["wall"],
        "peak_mb": result["peak_mb"],
        "baseline_mb": result["baseline_mb"],
        "delay_p50": statistics.median(delays),
        "delay_p95": delays[int(0.95 * (len(delays) - 1))],
        "delay_max": delays[-1],
        "early": early,
    }


def import_cost(repeat: int) -> tuple[float, float, float]:
    """Median milliseconds, in fresh processes, of `import airflow`, of `jobnode.airflow.operators` after it, and
    of the jobnode modules that `import airflow` itself loads (its provider discovery reads jobnode's provider
    info, which imports the `jobnode` package), from `python -X importtime`."""
    code = (
        "import time; t = time.perf_counter(); import airflow; t1 = time.perf_counter(); "
        "import jobnode.airflow.operators; t2 = time.perf_counter(); print(t1 - t, t2 - t1)"
    )
    runs = []
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True)
        before_airflow, jobnode_us = done.stderr.split("| airflow\n")[0], 0
        for line in before_airflow.splitlines():
            fields = line.split("|")
            if len(fields) == 3 and fields[2].strip().startswith("jobnode"):
                jobnode_us += int(fields[0].split(":")[1])
        base, extra = (float(x) for x in done.stdout.split()[-2:])
        runs.append((base * 1000, extra * 1000, jobnode_us / 1000))
    return tuple(statistics.median(r[i] for r in runs) for i in range(3))  # type: ignore[return-value]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "wait":
        kind, ids_file, started, result_file, url, token, interval, watch = sys.argv[2:10]
        wait(kind, Path(ids_file), Path(started), Path(result_file), url, token, float(interval), watch == "1")
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="N for jobnode's trigger (comma-separated)")
    parser.add_argument("--http-sizes", default="1000", help="N for HttpSensorTrigger (comma-separated)")
    parser.add_argument("--interval", type=float, default=5.0, help="poll interval of both triggers, seconds")
    parser.add_argument("--spread", type=float, default=20.0, help="seconds over which the jobs end")
    parser.add_argument("--modes", default="watch,poll", help="jobnode trigger modes: watch (SSE), poll (bulk)")
    parser.add_argument("--import-repeat", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work, token = Path(tmp), secrets.token_hex(16)
        ready = work / "url"
        service = subprocess.Popen([sys.executable, __file__, "serve", str(work / "data"), token, str(ready)])
        try:
            while not ready.exists():
                time.sleep(0.1)
            url = ready.read_text()
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            scenarios = [
                (f"jobnode {mode} N={n}", "jobnode", n, mode == "watch")
                for n in map(int, args.sizes.split(","))
                for mode in args.modes.split(",")
            ] + [(f"HttpSensorTrigger N={n}", "http", n, False) for n in map(int, args.http_sizes.split(","))]
            rows = []
            for label, kind, n, watch in scenarios:
                print(f"running {label} ...", flush=True)
                rows.append(
                    run_scenario(
                        label,
                        kind,
                        n,
                        url=url,
                        token=token,
                        interval=args.interval,
                        watch=watch,
                        spread=args.spread,
                        work=work,
                    )
                )
        finally:
            service.terminate()
            service.wait(timeout=30)

    print(f"\nwaits in one process; poll interval {args.interval:g}s; jobs end over {args.spread:g}s")
    header = (
        f"{'':<28} {'req/interval':>12} {'idle cores':>10} {'CPU s':>7} {'wall s':>7} {'peak MB':>8} "
        f"{'(+MB)':>7} {'delay p50':>9} {'p95':>6} {'max':>6}"
    )
    print(header)
    for r in rows:
        print(
            f"{r['label']:<28} {r['requests_per_interval']:>12.1f} {r['idle_cores']:>10.3f} {r['cpu_s']:>7.1f} "
            f"{r['wall_s']:>7.1f} {r['peak_mb']:>8.0f} {r['peak_mb'] - r['baseline_mb']:>7.0f} "
            f"{r['delay_p50']:>8.2f}s {r['delay_p95']:>5.2f}s {r['delay_max']:>5.2f}s"
            + (f"  ({r['early']} jobs ended before the waits began)" if r["early"] else "")
        )
    by_label = {r["label"]: r for r in rows}
    for n in map(int, args.http_sizes.split(",")):
        http = by_label.get(f"HttpSensorTrigger N={n}")
        for mode in args.modes.split(","):
            ours = by_label.get(f"jobnode {mode} N={n}")
            if http and ours:
                requests = (
                    f"{http['requests_per_interval'] / ours['requests_per_interval']:,.0f}x fewer requests per interval"
                    if ours["requests_per_interval"]
                    else "no requests while waiting (push channel)"
                )
                print(
                    f"N={n}, jobnode {mode} vs HttpSensorTrigger: {requests}, {http['cpu_s'] / ours['cpu_s']:.1f}x "
                    f"less CPU in total, {http['idle_cores'] / max(ours['idle_cores'], 1e-3):.0f}x less while waiting"
                )
    base, extra, inside = import_cost(args.import_repeat)
    print(
        f"import airflow: {base:.0f} ms, of which {inside:.0f} ms is jobnode's package (loaded by Airflow's provider "
        f"discovery); then import jobnode.airflow.operators: {extra:.0f} ms; together {inside + extra:.0f} ms "
        f"(medians of {args.import_repeat} fresh processes, -X importtime; goal < 150 ms)"
    )


if __name__ == "__main__":
    main()
