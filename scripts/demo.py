"""The jobnode demo: a local job service, a real job with live progress and logs, then a DAG and a flow.

Run it with `python3 dev.py demo` (or `.venv/bin/python scripts/demo.py [--dir DIR] [--verbose]`). Everything it
makes lives in `.demo/` (or DIR): the service's database and artifacts, Airflow's home and Prefect's home, so it
works the same on a fresh machine and never touches `~/.prefect` or `~/airflow`. The service is stopped at the end,
and the last lines say what ran and what to try next.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

import jobnode
from jobnode.platforms import platforms
from jobnode.progress import ProgressBar
from jobnode.testing import ServiceProcess

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

#: Prefect's temporary server migrates its database and registers its blocks on a first start, which takes longer
#: than Prefect's 20 s default on a busy machine; the demo waits this long instead
PREFECT_STARTUP_SECONDS = 300

OPENERS = ["The delivery was", "Support was", "This product is", "Honestly the app is", "The hotel room was"]
VERDICTS = [
    "great and fast",
    "terrible, I want a refund",
    "not bad at all",
    "slow and broken",
    "lovely, I would recommend it",
    "okay I guess",
    "awful and rude",
    "perfect, the best",
    "not good",
    "fine",
]

console = Console(highlight=False, soft_wrap=True)  # commands stay whole, to copy


@dataclass
class Seen:
    """What the demo showed, for the summary at the end."""

    job_id: str = ""
    items: int = 0
    batches: int = 0
    seconds: float = 0.0
    log_entries: int = 0
    labels: dict[str, int] = field(default_factory=dict)
    dag_tasks: list[str] = field(default_factory=list)


def reviews(n: int, seed: int = 7) -> list[dict[str, str]]:
    rng = random.Random(seed)
    return [{"id": f"review-{i:05d}", "text": f"{rng.choice(OPENERS)} {rng.choice(VERDICTS)}."} for i in range(n)]


def heading(text: str) -> None:
    console.print()
    console.rule(f"[bold]{text}", align="left")


def shown(path: Path) -> str:
    """A path as the user would type it from the repository's root."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without the user's Prefect, Airflow and jobnode settings (the demo makes its own,
    under its directory), plus `extra`."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AIRFLOW_", "JOBNODE_"))}
    return {**kept, **extra}


def run_job(service: ServiceProcess, seen: Seen) -> None:
    heading(f"1. a job on the local job service ({service.url})")
    with jobnode.Client(service.url, token=service.token) as client:
        job = client.jobs.create(
            name="demo-sentiment", step="sentiment", items=reviews(5000), batch_size=250, workers=2, tags=["demo"]
        )
        seen.job_id, seen.items, seen.batches = job.id, job.progress.items_total or 0, job.progress.batches_total or 0
        console.print(f"created {job.id}: {seen.items} reviews in {seen.batches} batches of 250, 2 at a time")
        started = time.monotonic()
        bar = ProgressBar(sys.stdout)
        job = client.jobs.wait(job.id, timeout=300, on_progress=bar.update)
        bar.close(job)
        seen.seconds = time.monotonic() - started
        console.print(f"{job.state.value}: {job.message}")

        heading("its first log entries (jobnode jobs logs)")
        for entry in client.jobs.logs(job.id, limit=5).data:
            duration = f"{entry.duration_ms:.3f}ms" if entry.duration_ms is not None else ""
            console.print(f"  {entry.time:%H:%M:%S.%f} {entry.level.value:5} {entry.kind} {entry.item} {duration}")
        levels = Counter(e.level.value for e in client.jobs.iter_logs(job.id))
        seen.log_entries = sum(levels.values())
        console.print(f"  ... {seen.log_entries} entries in all: {dict(levels)}")

        heading("its results (jobnode artifacts read)")
        seen.labels = dict(Counter(r["label"] for r in client.artifacts.read(job.outputs[0].id)))
        console.print(f"  output artifact {job.outputs[0].id}: {seen.labels}")


def run_dag(service: ServiceProcess, demo: Path, seen: Seen, *, verbose: bool) -> None:
    heading("2. Airflow: airflow dags test jobnode_example")
    home = demo / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    log_file = home / "dags-test.log"
    env = clean_env(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW_CONN_JOBNODE_DEFAULT=f'{{"conn_type": "jobnode", "host": "{service.url}", '
        f'"password": "{service.token}"}}',
    )
    console.print(f"Airflow's home is {shown(home)}; the run's own log goes to {shown(log_file)}")
    with log_file.open("w", encoding="utf-8") as log:
        out = None if verbose else log
        subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, check=True, stdout=log, stderr=out)
        done = subprocess.run(
            [str(BIN / "airflow"), "dags", "test", "jobnode_example"], env=env, stdout=out, stderr=out
        )
    if done.returncode:
        if not verbose:
            console.print("\n".join(log_file.read_text(encoding="utf-8").splitlines()[-40:]))
        raise SystemExit(f"the DAG failed; its log is {shown(log_file)}")
    text = log_file.read_text(encoding="utf-8") if not verbose else ""
    seen.dag_tasks = list(dict.fromkeys(re.findall(r"\[DAG TEST\] end task task_id=(\S+)", text)))
    if seen.dag_tasks:
        console.print(f"the DAG run succeeded: {', '.join(seen.dag_tasks)}")
    else:
        console.print("the DAG run succeeded")


def run_flow(service: ServiceProcess, demo: Path) -> None:
    heading("3. Prefect: python flows/example_flow.py")
    home = demo / "prefect"
    console.print(
        f"Prefect's home is {shown(home)}; its temporary server sets up its database on a first start "
        "(up to a minute), then the flow runs"
    )
    env = clean_env(
        PREFECT_HOME=str(home),
        # Prefect 3.7 reads these from ~/.prefect whatever PREFECT_HOME says
        PREFECT_SERVER_MEMO_STORE_PATH=str(home / "memo_store.toml"),
        PREFECT_RESULTS_LOCAL_STORAGE_PATH=str(home / "storage"),
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=str(PREFECT_STARTUP_SECONDS),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",  # the temporary server would report usage on start
        JOBNODE_URL=service.url,
        JOBNODE_TOKEN=service.token or "",
    )
    home.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(ROOT / "flows" / "example_flow.py")], env=env, check=True)


def summary(demo: Path, seen: Seen) -> None:
    where = shown(demo)
    jobnode_bin = shown(BIN / "jobnode")
    heading("what you just saw")
    console.print(
        f"1. [bold]jobnode serve[/], the local job service, ran {seen.items} reviews through the [bold]sentiment[/] "
        f"step in {seen.batches} batches ({seen.seconds:.1f} s), with a live progress bar, {seen.log_entries} log "
        f"entries (one per item) and an output artifact of results: {seen.labels}.\n"
        f"2. [bold]Airflow[/] ran dags/jobnode_example.py: two jobs (stage, then score what the first produced), "
        "their logs copied into the task log, and a lineage-aware clean-up that deleted both.\n"
        "3. [bold]Prefect[/] ran flows/example_flow.py: the same two jobs as tasks, with progress and log artifacts.\n"
        f"Everything is in {where}/ (service/, airflow/, prefect/); delete it when you are done."
    )
    heading("try next")
    steps = [
        (f"{jobnode_bin} serve --data-dir {where}/service", "the demo's service again, on port 8765, with its jobs"),
        (f"{jobnode_bin} jobs list", "in another terminal: its jobs"),
        (f"{jobnode_bin} jobs get {seen.job_id}", "one job"),
        (f"{jobnode_bin} jobs logs {seen.job_id} --tail 20", "its last log entries (--follow for a running job)"),
        (f'{jobnode_bin} jobs submit --step sentiment --items \'["great", "awful"]\' --wait', "a job of yours"),
        (f"{jobnode_bin} steps list", "the steps it runs, with their parameters"),
        (f"{jobnode_bin} doctor", "what is installed, and what answers"),
        (f"PREFECT_HOME={where}/prefect {shown(BIN / 'prefect')} server start", "the flow run in Prefect's UI"),
    ]
    width = max(len(command) for command, _ in steps)
    for command, why in steps:
        console.print(f"  {command.ljust(width)}  [dim]# {why}[/]")
    console.print("  then docs/first-hour.md: your own step, your own DAG and flow, another platform")
    heading("other platforms, each emulated by the same service")
    for platform in platforms().values():
        if platform.emulator is None:
            continue
        examples = (f"dags/jobnode_{platform.name}_example.py", f"flows/{platform.name}_flow.py")
        shown_examples = ", ".join(e for e in examples if (ROOT / e).exists())
        console.print(
            f"  {jobnode_bin} serve --platform {platform.name} --port 8766  [dim]# {platform.title}: "
            f"{shown_examples or 'the example DAG and flow'} run on it; {platform.docs}[/]"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=ROOT / ".demo", help="where the demo keeps everything it makes")
    parser.add_argument("--verbose", action="store_true", help="show Airflow's own output as it runs")
    args = parser.parse_args(argv)
    demo: Path = args.dir.resolve()
    shutil.rmtree(demo, ignore_errors=True)
    seen = Seen()
    with ServiceProcess(demo / "service", token=secrets.token_hex(16)) as service:
        run_job(service, seen)
        run_dag(service, demo, seen, verbose=args.verbose)
        run_flow(service, demo)
    summary(demo, seen)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
