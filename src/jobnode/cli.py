"""The `jobnode` command: `serve`, and `jobs submit | list | get | wait | logs | cancel | delete`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from jobnode.core.errors import JobnodeError
from jobnode.core.models import Job, JobState
from jobnode.platforms import get_platform, platforms
from jobnode.progress import ProgressBar
from jobnode.service.limits import Limits


def _parse_time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not an ISO 8601 time (e.g. 2026-01-31T08:00:00Z)") from None


def _parse_json(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from None


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number above 0")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jobnode", description="Run batch jobs as nodes of data pipelines.")
    parser.add_argument(
        "--log-level",
        default="warning",
        type=str.lower,
        choices=["debug", "info", "warning", "error", "critical"],
        help="log level of jobnode itself (default warning)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the local job service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    serve.add_argument("--data-dir", type=Path, default=Path(".jobnode"), help="where the SQLite database lives")
    serve.add_argument("--steps", default="", help="comma-separated modules that register processing steps")
    serve.add_argument("--token", default=os.environ.get("JOBNODE_TOKEN"), help="bearer token (or JOBNODE_TOKEN)")
    serve.add_argument("--threads", type=int, default=32, help="batches at once for thread steps")
    serve.add_argument("--processes", type=int, default=None, help="worker processes for process steps")
    serve.add_argument(
        "--allow-root",
        action="append",
        type=Path,
        default=[],
        dest="allow_roots",
        metavar="DIR",
        help="a directory local file inputs may come from (repeat for more; default: the data dir and the current dir)",
    )
    serve.add_argument(
        "--allow-protocol",
        action="append",
        default=[],
        dest="allow_protocols",
        metavar="PROTOCOL",
        help="an fsspec protocol inputs may read besides local files, e.g. s3 (repeat for more; default: none)",
    )
    serve.add_argument(
        "--allow-host",
        action="append",
        default=[],
        dest="allow_hosts",
        metavar="HOST",
        help="a host name or network (127.0.0.1, 10.0.0.0/8) that URL inputs may reach although it is loopback, "
        "link-local or private (repeat for more; default: none)",
    )
    limits = Limits()
    serve.add_argument(
        "--max-request-bytes",
        type=_positive,
        default=limits.max_request_bytes,
        help=f"the largest request body (default {limits.max_request_bytes:,})",
    )
    serve.add_argument(
        "--max-items",
        type=_positive,
        default=limits.max_items,
        help=f"most items per job (default {limits.max_items:,})",
    )
    serve.add_argument(
        "--max-batch-bytes",
        type=_positive,
        default=limits.max_batch_bytes,
        help=f"the largest batch, as the JSON of its items (default {limits.max_batch_bytes:,})",
    )
    serve.add_argument(
        "--platform",
        default="local",
        choices=[name for name, p in platforms().items() if name == "local" or p.emulator],
        help="the API this port speaks: local (native /v1, the default) or a platform's emulator at the root of the "
        "port, for that platform's own SDK (e.g. nexus); one platform per port",
    )

    jobs = sub.add_parser("jobs", help="work with jobs on a running service")
    jobs.add_argument("--url", default=None, help="service URL (or JOBNODE_URL)")
    jobs.add_argument("--token", default=None, help="bearer token (or JOBNODE_TOKEN)")
    jobs.add_argument("--json", action="store_true", help="print JSON instead of tables")
    verbs = jobs.add_subparsers(dest="verb", required=True)

    submit = verbs.add_parser("submit", help="create a job")
    submit.add_argument("--step", required=True)
    submit.add_argument("--step-version")
    submit.add_argument("--name", default="job")
    src = submit.add_mutually_exclusive_group(required=True)
    src.add_argument("--items", type=_parse_json, help="a JSON array of items")
    src.add_argument("--items-file", type=Path, help="a file of items: a JSON array, or one JSON value per line")
    src.add_argument("--files", nargs="+", help="paths or prefixes; each file is an item")
    src.add_argument("--delimited", nargs="+", help="newline-delimited JSON files; each line is an item")
    src.add_argument("--artifacts", nargs="+", help="artifact ids or JOB_ID/OUTPUT_NAME")
    submit.add_argument("--include", action="append", default=[], help="glob of files to keep")
    submit.add_argument("--exclude", action="append", default=[], help="glob of files to drop")
    submit.add_argument("--params", type=_parse_json, default={}, help="step parameters as a JSON object")
    submit.add_argument("--batch-size", type=int, default=100)
    submit.add_argument("--workers", type=int, default=1)
    submit.add_argument("--max-attempts", type=int, default=3)
    submit.add_argument("--timeout", type=float)
    submit.add_argument("--start-at", type=_parse_time)
    submit.add_argument("--stop-at", type=_parse_time)
    submit.add_argument("--tag", action="append", default=[])
    submit.add_argument("--idempotency-key")
    submit.add_argument("--dry-run", action="store_true", help="show the items and batches; create nothing")
    submit.add_argument("--wait", action="store_true", help="wait for the job, with a progress bar")

    lst = verbs.add_parser("list", help="list jobs")
    lst.add_argument("--state", action="append", default=[], choices=[s.value for s in JobState])
    lst.add_argument("--tag")
    lst.add_argument("--name")
    lst.add_argument("--limit", type=int, default=50)

    for verb, text in (("get", "show a job"), ("cancel", "cancel a job")):
        p = verbs.add_parser(verb, help=text)
        p.add_argument("job_id")

    wait = verbs.add_parser("wait", help="wait for a job, with a live progress bar")
    wait.add_argument("job_id")
    wait.add_argument("--timeout", type=float)
    wait.add_argument("--no-progress", action="store_true")

    logs = verbs.add_parser("logs", help="print a job's log entries")
    logs.add_argument("job_id")
    logs.add_argument("--min-level", choices=["debug", "info", "warning", "error"])
    logs.add_argument("--kind")
    logs.add_argument("--after", type=_parse_time)
    logs.add_argument("--before", type=_parse_time)
    logs.add_argument("--order", choices=["asc", "desc"], default="asc")
    logs.add_argument("--max", type=int, default=None, help="stop after this many entries")

    delete = verbs.add_parser("delete", help="delete a finished job under the lineage rules")
    delete.add_argument("job_id")
    delete.add_argument("--delete-outputs", action="store_true")
    delete.add_argument("--delete-subjobs", action="store_true")
    delete.add_argument("--dry-run", action="store_true")
    return parser


def _table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells)


def _job_rows(jobs: Sequence[Job]) -> str:
    rows = [
        (
            j.id,
            j.name,
            j.state.value,
            f"{j.progress.items_done}/{j.progress.items_total if j.progress.items_total is not None else '?'}",
            j.progress.items_failed,
            j.created_at.strftime("%Y-%m-%d %H:%M:%S") if j.created_at else "",
            j.reason or "",
        )
        for j in jobs
    ]
    return _table(rows, ["ID", "NAME", "STATE", "DONE", "FAILED", "CREATED", "REASON"])


def _print_job(job: Job, as_json: bool) -> None:
    if as_json:
        print(job.model_dump_json(indent=2))
        return
    p = job.progress
    fields = [
        ("id", job.id),
        ("name", job.name),
        ("state", job.state.value),
        ("message", job.message),
        ("reason", job.reason),
        ("step", f"{job.step}@{job.step_version}" if job.step else None),
        ("items", f"{p.items_processed} processed, {p.items_failed} failed of {p.items_total}"),
        (
            "batches",
            f"{p.batches_succeeded} succeeded, {p.batches_failed} failed, {p.batches_running} running "
            f"of {p.batches_total}",
        ),
        ("created", job.created_at),
        ("started", job.started_at),
        ("ended", job.ended_at),
        ("url", job.url),
        ("outputs", ", ".join(a.id for a in job.outputs)),
        ("tags", ", ".join(job.tags)),
    ]
    for key, value in fields:
        if value not in (None, ""):
            print(f"{key:>8}  {value}")


def _jobs_command(args: argparse.Namespace) -> int:
    from jobnode.client import Client

    with Client(args.url, args.token) as client:
        if args.verb == "submit":
            return _submit(client, args)
        if args.verb == "list":
            page = client.jobs.list(state=args.state or None, tag=args.tag, name=args.name, limit=args.limit)
            if args.json:
                print(json.dumps([j.model_dump(mode="json") for j in page.data], indent=2))
            else:
                print(_job_rows(page.data))
            return 0
        if args.verb == "get":
            _print_job(client.jobs.get(args.job_id), args.json)
            return 0
        if args.verb == "cancel":
            _print_job(client.jobs.cancel(args.job_id), args.json)
            return 0
        if args.verb == "wait":
            return _wait(client, args.job_id, args.timeout, args.json, not args.no_progress)
        if args.verb == "logs":
            return _logs(client, args)
        if args.verb == "delete":
            plan = client.jobs.delete(
                args.job_id,
                delete_outputs=args.delete_outputs,
                delete_subjobs=args.delete_subjobs,
                dry_run=args.dry_run,
            )
            if args.json:
                print(plan.model_dump_json(indent=2))
            else:
                verb = "would delete" if plan.dry_run else "deleted"
                for step in plan.steps:
                    print(f"{verb} {step.action.replace('delete_', '')} {step.id}")
                for blocker in plan.blockers:  # a refused dry run (a refused deletion raises Conflict)
                    print(f"would not delete: {blocker.reason}")
            return 0 if plan.allowed else 1
    raise AssertionError(args.verb)


def _submit(client: Any, args: argparse.Namespace) -> int:
    items = args.items
    if args.items_file is not None:
        text = args.items_file.read_text(encoding="utf-8")
        items = json.loads(text) if text.lstrip().startswith("[") else [json.loads(x) for x in text.splitlines() if x]
    spec_fields: dict[str, Any] = dict(
        name=args.name,
        step=args.step,
        step_version=args.step_version,
        params=args.params,
        batch_size=args.batch_size,
        workers=args.workers,
        max_attempts=args.max_attempts,
        timeout=args.timeout,
        start_at=args.start_at,
        stop_at=args.stop_at,
        tags=args.tag,
        includes=args.include,
        excludes=args.exclude,
    )
    if items is not None:
        spec_fields["items"] = items
    else:
        for kind in ("files", "delimited", "artifacts"):
            if getattr(args, kind):
                spec_fields[kind] = getattr(args, kind)
    if args.dry_run:
        plan = client.jobs.plan(**spec_fields)
        if args.json:
            print(plan.model_dump_json(indent=2))
        else:
            print(f"{plan.items_total} items in {plan.batches_total} batches of up to {plan.batch_size}")
            for item in plan.sample:
                print(f"  {json.dumps(item)[:120]}")
        return 0
    job = client.jobs.create(idempotency_key=args.idempotency_key, **spec_fields)
    if not args.wait:
        _print_job(job, args.json)
        return 0
    print(f"created {job.id}", file=sys.stderr)
    return _wait(client, job.id, args.timeout, args.json, True)


def _wait(client: Any, job_id: str, timeout: float | None, as_json: bool, progress: bool) -> int:
    bar = ProgressBar(sys.stderr) if progress else None
    job = client.jobs.wait(job_id, timeout=timeout, on_progress=bar.update if bar else None)
    if bar:
        bar.close(job)
    _print_job(job, as_json)
    return 0 if job.state is JobState.SUCCEEDED else 1


def _logs(client: Any, args: argparse.Namespace) -> int:
    entries = client.jobs.iter_logs(
        args.job_id,
        min_level=args.min_level,
        kind=args.kind,
        after_time=args.after,
        before_time=args.before,
        order=args.order,
    )
    for shown, entry in enumerate(entries, start=1):
        if args.json:
            print(entry.model_dump_json())
        else:
            duration = f"{entry.duration_ms:.1f}ms" if entry.duration_ms is not None else ""
            print(
                f"{entry.time:%Y-%m-%d %H:%M:%S.%f}"[:-3],
                f"{entry.level.value.upper():7}",
                f"{entry.kind:14}",
                entry.item or "-",
                entry.status or "",
                duration,
                entry.message or "",
            )
        if args.max is not None and shown >= args.max:
            break
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "serve":
            from jobnode.service.server import EmulatorMount, serve

            emulator = None
            if args.platform != "local":
                descriptor = get_platform(args.platform)
                emulator = EmulatorMount(descriptor.name, descriptor.load_emulator(), descriptor.emulator_prefix)
            serve(
                host=args.host,
                port=args.port,
                data_dir=args.data_dir,
                steps=[m.strip() for m in args.steps.split(",") if m.strip()],
                token=args.token,
                threads=args.threads,
                processes=args.processes,
                allow_roots=args.allow_roots,
                allow_protocols=args.allow_protocols,
                allow_hosts=args.allow_hosts,
                emulator=emulator,
                limits=Limits(
                    max_request_bytes=args.max_request_bytes,
                    max_items=args.max_items,
                    max_batch_bytes=args.max_batch_bytes,
                ),
                log_level=args.log_level if args.log_level != "warning" else "info",
            )
            return 0
        return _jobs_command(args)
    except (JobnodeError, ValidationError, ValueError, OSError) as exc:
        print(f"jobnode: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
