"""Figures for inputs from storage (issue 3). Prints; asserts nothing about speed.

    .venv/bin/python bench/bench_inputs.py [--files 100000] [--lines 1000000] [--repeat 3]

Through a real `jobnode serve` on 127.0.0.1, over HTTP:

1. file listing: a dry run over a prefix holding `--files` small files (100 directories), files/s;
2. delimited ingestion: `--lines` JSON lines in 10 files, lines/s for a dry run (list, read, parse) and for
   creating the job (the same, plus storing every batch durably); the goal is at least 100,000 lines/s.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import jobnode
from jobnode.service.process import ServiceProcess


def make_files(root: Path, count: int, per_dir: int = 1000) -> None:
    for d in range(0, count, per_dir):
        folder = root / f"d{d // per_dir:04d}"
        folder.mkdir(parents=True)
        for i in range(d, min(count, d + per_dir)):
            (folder / f"f{i:07d}.txt").write_bytes(b"x")


def make_lines(root: Path, count: int, files: int = 10) -> None:
    root.mkdir(parents=True)
    per_file = -(-count // files)
    for f in range(files):
        first = f * per_file
        with (root / f"part-{f:02d}.jsonl").open("w") as out:
            out.writelines(
                json.dumps({"id": f"r{i}", "text": "a short review of a product", "stars": i % 5}) + "\n"
                for i in range(first, min(count, first + per_file))
            )


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def report(label: str, count: int, unit: str, times: list[float]) -> None:
    best, median = min(times), statistics.median(times)
    print(
        f"{label:<44} {count:>9,} {unit} in {median:6.2f}s (median of {len(times)}): "
        f"{count / median:>10,.0f} {unit}/s median, {count / best:>10,.0f} {unit}/s best"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "service"
        files_root, lines_root = data_dir / "bench-files", data_dir / "bench-lines"
        start = time.perf_counter()
        make_files(files_root, args.files)
        make_lines(lines_root, args.lines)
        print(f"wrote {args.files:,} files and {args.lines:,} lines in {time.perf_counter() - start:.1f}s")

        with (
            ServiceProcess(data_dir, token=secrets.token_hex(8)) as service,
            jobnode.Client(service.url, token=service.token, timeout=600) as client,
        ):
            listed = client.jobs.plan(step="identity", files=[f"{files_root}/"]).items_total
            assert listed == args.files, listed
            times = timed(lambda: client.jobs.plan(step="identity", files=[f"{files_root}/"]), args.repeat)
            report("file listing (dry run, one prefix)", args.files, "files", times)
            times = timed(
                lambda: client.jobs.plan(step="identity", files=[f"{files_root}/d"], includes=["**/f*[02468].txt"]),
                args.repeat,
            )
            report("file listing with an include glob (dry run)", args.files, "files", times)

            times = timed(lambda: client.jobs.plan(step="identity", delimited=[f"{lines_root}/"]), args.repeat)
            report("delimited ingestion (dry run)", args.lines, "lines", times)
            created: list[str] = []

            def create() -> None:
                job = client.jobs.create(
                    step="sleep", params={"seconds": 3600}, delimited=[f"{lines_root}/"], batch_size=1000
                )
                created.append(job.id)
                client.jobs.cancel(job.id)  # only the ingestion is measured: the job itself need not run

            times = timed(create, args.repeat)
            report("delimited ingestion (create, batches stored)", args.lines, "lines", times)
            job = client.jobs.get(created[-1])
            assert job.progress.items_total == args.lines, job.progress


if __name__ == "__main__":
    main()
