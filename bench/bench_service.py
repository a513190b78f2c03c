"""Figures for the local job service (issue 2). Prints; asserts nothing.

    .venv/bin/python bench/bench_service.py [--items 100000] [--log-entries 1000000]

1. items/s through the identity step, with item logs on, end to end over HTTP (create -> succeeded);
2. the same rows (batch results and one log row per item) written straight into SQLite: the limit, and the ratio;
3. create latency (median and p95 of small jobs);
4. bulk status of 1,000 jobs in one request;
5. `iter_logs` over a job with 1,000,000 entries: entries/s and the client's peak memory (in a child process).
"""

from __future__ import annotations

import argparse
import json
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

import jobnode
from jobnode.service.process import ServiceProcess
from jobnode.service.store import SCHEMA
from jobnode.service.store.logs import LogTable

ITER_LOGS_CHILD = """
import sys, time, jobnode
url, token, job_id = sys.argv[1:4]
with jobnode.Client(url, token=token) as client:
    start = time.perf_counter()
    n = sum(1 for _ in client.jobs.iter_logs(job_id))
    elapsed = time.perf_counter() - start
# VmHWM is this process's own peak (ru_maxrss would carry the forking parent's peak across exec)
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(n, elapsed, peak_kb)
"""


def run_identity(client: jobnode.Client, n: int, batch_size: int, workers: int) -> tuple[str, float]:
    start = time.perf_counter()
    job = client.jobs.create(
        name="bench-identity", step="identity", items=list(range(n)), batch_size=batch_size, workers=workers
    )
    done = client.jobs.wait(job.id, timeout=3600)
    elapsed = time.perf_counter() - start
    assert done.state is jobnode.JobState.SUCCEEDED and done.progress.items_processed == n
    return job.id, elapsed


def raw_sqlite(n: int, batch_size: int) -> float:
    """The same rows with nothing around them: the engine's own statements, one transaction per batch as the
    engine commits them, no HTTP, no scheduling, no step."""
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "raw.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(SCHEMA)
        now = int(time.time() * 1e6)
        start = time.perf_counter()
        for b, first in enumerate(range(0, n, batch_size)):
            items = list(range(first, min(n, first + batch_size)))
            conn.execute("BEGIN")
            conn.execute(
                "INSERT INTO batches (job_id, idx, first_item, size, items, state, results) "
                "VALUES ('j', ?, ?, ?, ?, 'succeeded', ?)",
                (b, first, len(items), json.dumps(items), json.dumps(items)),
            )
            LogTable.add(conn, [("j", now, 20, "ItemProcessed", str(i), "Succeeded", 0.001, None) for i in items])
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - start
        conn.close()
        return elapsed


def create_latency(client: jobnode.Client, count: int = 200) -> tuple[float, float]:
    times = []
    for i in range(count):
        start = time.perf_counter()
        client.jobs.create(name=f"latency-{i}", step="identity", items=list(range(10)))
        times.append(time.perf_counter() - start)
    times.sort()
    return statistics.median(times) * 1000, times[int(len(times) * 0.95)] * 1000


def bulk_status(service: ServiceProcess, client: jobnode.Client, count: int = 1000) -> tuple[float, int]:
    ids = [client.jobs.create(name="bulk", step="identity", items=[i]).id for i in range(count)]
    headers = {"Authorization": f"Bearer {service.token}"}
    with httpx.Client(base_url=service.url, headers=headers) as http:
        times = []
        for _ in range(10):
            start = time.perf_counter()
            response = http.get("/v1/jobs", params={"ids": ",".join(ids), "limit": 1000})
            times.append(time.perf_counter() - start)
            assert len(response.json()["data"]) == count
    return statistics.median(times) * 1000, len(response.content)


def iter_logs(service: ServiceProcess, job_id: str) -> tuple[int, float, float]:
    out = subprocess.run(
        [sys.executable, "-c", ITER_LOGS_CHILD, service.url, service.token or "", job_id],
        capture_output=True,
        text=True,
        check=True,
    )
    n, elapsed, peak_kb = out.stdout.split()
    return int(n), float(elapsed), int(peak_kb) / 1024


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--log-entries", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ServiceProcess(Path(tmp), token=secrets.token_hex(8)) as service:
        with jobnode.Client(service.url, token=service.token) as client:
            _, elapsed = run_identity(client, args.items, args.batch_size, args.workers)
            rate = args.items / elapsed
            raw = raw_sqlite(args.items, args.batch_size)
            print(f"identity, {args.items:,} items with item logs: {elapsed:.2f}s = {rate:,.0f} items/s (goal 20,000)")
            print(
                f"same rows straight into SQLite: {raw:.2f}s = {args.items / raw:,.0f} items/s; "
                f"engine/raw time ratio {elapsed / raw:.2f}x (goal within 3x)"
            )
            median, p95 = create_latency(client)
            print(f"create latency (10 items): median {median:.1f} ms, p95 {p95:.1f} ms")
            bulk_ms, size = bulk_status(service, client)
            print(f"bulk status of 1,000 jobs in one request: median {bulk_ms:.1f} ms ({size / 1024:.0f} KiB)")
            big_id, big_elapsed = run_identity(client, args.log_entries, 5000, args.workers)
            print(f"(made a job with {args.log_entries:,} log entries in {big_elapsed:.1f}s)")
        n, elapsed, peak_mb = iter_logs(service, big_id)
        print(
            f"iter_logs over {n:,} entries: {elapsed:.2f}s = {n / elapsed:,.0f} entries/s, "
            f"client peak RSS {peak_mb:.0f} MB (goal 100,000 entries/s under 150 MB)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
