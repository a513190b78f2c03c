"""`jobnode jobs ...`: everything a user does with jobs, on any platform (`--platform`).

submit, list, get, wait, cancel, delete, result, errors, events, dead-letters, resubmit-failed, cleanup; `logs` is
in `jobnode.cli.logs`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text

from jobnode.cli import _render as render
from jobnode.cli import logs
from jobnode.cli._base import (
    UsageError,
    add_command,
    add_common_options,
    option,
    parse_assignment,
    parse_json_array,
    parse_json_object,
    parse_time,
    positive_int,
    seconds,
)
from jobnode.cli._connect import connect
from jobnode.cli.artifacts import write_records
from jobnode.client import CleanupReport, Client
from jobnode.core.models import Job, JobPlan, JobResult, JobSpec, JobState
from jobnode.progress import ProgressBar, state_markup

if TYPE_CHECKING:
    from jobnode.cli._base import Commands


def register(commands: Commands) -> None:
    jobs = commands.add_parser(
        "jobs",
        help="work with jobs on a platform: submit, list, logs, results, cleanup ...",
        description="Work with jobs on a platform (the local service by default; --platform picks another).",
    )
    add_common_options(jobs)
    verbs = jobs.add_subparsers(dest="verb", required=True, metavar="COMMAND")
    _submit_parser(verbs)
    _list_parser(verbs)
    add_command(verbs, "get", "show a job", get).add_argument("job_id", metavar="JOB_ID")
    _wait_parser(verbs)
    logs.register(verbs)
    add_command(verbs, "cancel", "cancel a job (cancelling a finished job changes nothing)", cancel).add_argument(
        "job_id", metavar="JOB_ID"
    )
    _delete_parser(verbs)
    _result_parser(verbs)
    errors = add_command(verbs, "errors", "a job's most recent errors, newest first", job_errors)
    errors.add_argument("job_id", metavar="JOB_ID")
    errors.add_argument("--limit", type=positive_int, default=100, help="how many (default 100)")
    add_command(verbs, "events", "a job's lifecycle events (readable after deletion too)", events).add_argument(
        "job_id", metavar="JOB_ID"
    )
    add_command(
        verbs, "dead-letters", "a job's dead-lettered batches: their items and last error", dead_letters
    ).add_argument("job_id", metavar="JOB_ID")
    _resubmit_parser(verbs)
    _cleanup_parser(verbs)


def as_json(args: argparse.Namespace) -> bool:
    return bool(option(args, "output") == "json")


def show_job(job: Job, args: argparse.Namespace) -> None:
    if as_json(args):
        render.emit_json(job)
    else:
        render.out.print(render.job_panel(job), soft_wrap=True)


def wait_for(client: Client, job_id: str, args: argparse.Namespace, *, timeout: float | None, progress: bool) -> int:
    """Follow a job to its end with a live bar on stderr; 0 when it succeeded, 1 otherwise."""
    bar = ProgressBar(sys.stderr) if progress else None
    try:
        job = client.jobs.wait(job_id, timeout=timeout, on_progress=bar.update if bar else None)
    except KeyboardInterrupt:
        render.hint(f"stopped waiting; job {job_id} goes on (jobnode jobs cancel {job_id} stops it)")
        raise
    if bar:
        bar.close(job)
    show_job(job, args)
    return 0 if job.state is JobState.SUCCEEDED else 1


# -- submit ---------------------------------------------------------------------------------------------------------


def _default(field: str) -> str:
    return f"default {JobSpec.model_fields[field].default}"


def _submit_parser(verbs: Commands) -> None:
    p = add_command(verbs, "submit", "create a job; with --wait, follow it with a live progress bar", submit)
    p.add_argument("--step", required=True, help="the processing step ('jobnode steps list' shows them)")
    p.add_argument("--step-version", help="a version of the step (default: the latest)")
    p.add_argument("--name", help=f"the job's name ({_default('name')})")
    source = p.add_argument_group("input (exactly one)").add_mutually_exclusive_group(required=True)
    source.add_argument("--items", type=parse_json_array, help='the items as a JSON array, e.g. \'["good", "bad"]\'')
    source.add_argument(
        "--items-file", metavar="FILE", help="a file of items: a JSON array, or one JSON value per line ('-': stdin)"
    )
    source.add_argument(
        "--files", nargs="+", metavar="PATH", help="paths or prefixes (local, s3://...); each file is an item"
    )
    source.add_argument(
        "--delimited", nargs="+", metavar="PATH", help="newline-delimited JSON files; each line is an item"
    )
    source.add_argument(
        "--artifacts", nargs="+", metavar="ID", help="artifact ids or JOB_ID/OUTPUT_NAME of earlier jobs"
    )
    p.add_argument("--include", action="append", default=[], metavar="GLOB", help="keep only files matching (repeat)")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="drop files matching (repeat)")
    run = p.add_argument_group("how it runs")
    run.add_argument("--params", type=parse_json_object, help="the step's parameters as a JSON object")
    run.add_argument(
        "--param",
        action="append",
        type=parse_assignment,
        default=[],
        metavar="NAME=VALUE",
        help="one parameter (VALUE is read as JSON when it is JSON, else as text; repeat)",
    )
    run.add_argument("--batch-size", type=positive_int, help=f"items per batch ({_default('batch_size')})")
    run.add_argument("--workers", type=positive_int, help=f"batches at once ({_default('workers')})")
    run.add_argument("--max-attempts", type=positive_int, help=f"tries per batch ({_default('max_attempts')})")
    run.add_argument(
        "--max-item-failures",
        type=int,
        help=f"item failures tolerated before the job fails ({_default('max_item_failures')})",
    )
    run.add_argument("--timeout", type=seconds, help="seconds the job may run, from its start")
    run.add_argument("--start-at", type=parse_time, metavar="TIME", help="do not start before (ISO 8601)")
    run.add_argument("--stop-at", type=parse_time, metavar="TIME", help="stop unfinished at (ISO 8601)")
    run.add_argument("--tag", action="append", default=[], help="a tag (repeat)")
    run.add_argument("--parent-id", metavar="JOB_ID", help="the job this one is a sub-job of")
    run.add_argument("--idempotency-key", metavar="KEY", help="the same key always returns the same job")
    hook = p.add_argument_group("webhook (results POSTed per batch, signed with HMAC-SHA256)")
    hook.add_argument("--webhook-url", metavar="URL", help="where each batch's results are POSTed")
    hook.add_argument(
        "--webhook-secret",
        metavar="SECRET",
        help="the signing secret (or JOBNODE_WEBHOOK_SECRET, which keeps it out of the shell's history)",
    )
    hook.add_argument("--webhook-max-attempts", type=positive_int, help="deliveries tried per batch (default 5)")
    after = p.add_argument_group("then")
    after.add_argument("--dry-run", action="store_true", help="show the items and batches; create nothing")
    after.add_argument("--wait", action="store_true", help="follow the job with a live progress bar to its end")
    after.add_argument("--wait-timeout", type=seconds, metavar="SECONDS", help="stop waiting after (the job goes on)")
    after.add_argument("--no-progress", action="store_true", help="no progress bar while waiting")


def read_items(name: str) -> list[Any]:
    """The items of a file: a JSON array, or one JSON value per line; an error names the file and the line."""
    shown = "<stdin>" if name == "-" else name
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--items-file {shown}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"--items-file {shown}: not UTF-8 text; give JSON lines or a JSON array") from None
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"--items-file {shown}:{exc.lineno}: not valid JSON ({exc.msg} at column {exc.colno}); "
                "give a JSON array, or one JSON value per line"
            ) from None
        if not isinstance(items, list):
            raise UsageError(f"--items-file {shown}: not a JSON array")
    else:
        items = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise UsageError(
                    f"--items-file {shown}:{number}: not JSON ({exc.msg} at column {exc.colno}); give one JSON value "
                    'per line (a text is written "in quotes"), or a JSON array'
                ) from None
    if not items:
        raise UsageError(f"--items-file {shown}: no items in it; give one JSON value per line, or a JSON array")
    return items


def _param_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def spec_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The job's fields from the command line, leaving out what was not given (the platform's defaults apply)."""
    params = dict(args.params or {})
    params.update({name: _param_value(raw) for name, raw in args.param})
    if args.webhook_url is None and (args.webhook_max_attempts is not None or args.webhook_secret is not None):
        raise UsageError("--webhook-secret and --webhook-max-attempts need --webhook-url: say where results go")
    webhook = None
    if args.webhook_url is not None:
        secret = args.webhook_secret or os.environ.get("JOBNODE_WEBHOOK_SECRET")
        webhook = {"url": args.webhook_url, "secret": secret, "max_attempts": args.webhook_max_attempts}
        webhook = {k: v for k, v in webhook.items() if v is not None}
    fields: dict[str, Any] = {
        "name": args.name,
        "step": args.step,
        "step_version": args.step_version,
        "params": params or None,
        "batch_size": args.batch_size,
        "workers": args.workers,
        "max_attempts": args.max_attempts,
        "max_item_failures": args.max_item_failures,
        "timeout": args.timeout,
        "start_at": args.start_at,
        "stop_at": args.stop_at,
        "tags": args.tag or None,
        "parent_id": args.parent_id,
        "webhook": webhook,
    }
    fields = {k: v for k, v in fields.items() if v is not None}
    if args.items is not None:
        fields["items"] = args.items
    elif args.items_file is not None:
        fields["items"] = read_items(args.items_file)
    else:
        for kind in ("files", "delimited", "artifacts"):
            if getattr(args, kind):
                fields[kind] = getattr(args, kind)
        fields["includes"], fields["excludes"] = args.include, args.exclude
    return fields


def submit(args: argparse.Namespace) -> int:
    fields = spec_fields(args)
    with connect(args) as client:
        if args.dry_run:
            show_plan(client.jobs.plan(**fields), args)
            return 0
        job = client.jobs.create(idempotency_key=args.idempotency_key, **fields)
        if not args.wait:
            show_job(job, args)
            return 0
        render.hint(f"created {job.id}")
        return wait_for(client, job.id, args, timeout=args.wait_timeout, progress=not args.no_progress)


def show_plan(plan: JobPlan, args: argparse.Namespace) -> None:
    if as_json(args):
        render.emit_json(plan)
        return
    size = f" of up to {plan.batch_size}" if plan.batch_size else ""
    render.out.print(f"{plan.items_total} items in {plan.batches_total} batches{size}; nothing was created")
    if plan.files_total:
        render.out.print(f"{plan.files_total} files, such as {', '.join(plan.files[:3])}")
    for rejected in plan.rejected[:10]:
        render.out.print(Text(f"  would fail: {rejected.item}: {rejected.reason}", style="red"))
    for item in plan.sample:
        render.out.print(Text(f"  {json.dumps(item, ensure_ascii=False)[:120]}"))
    if plan.request:
        render.out.print(Text(f"request: {json.dumps(plan.request)[:400]}", style="dim"))


# -- list, get, wait, cancel, delete -------------------------------------------------------------------------------


def _list_parser(verbs: Commands) -> None:
    p = add_command(verbs, "list", "list jobs, newest first", list_jobs)
    p.add_argument(
        "--state",
        action="append",
        default=[],
        metavar="STATE",
        help=f"only jobs in these states (repeat, or comma-separated): {', '.join(s.value for s in JobState)}",
    )
    p.add_argument("--tag", help="only jobs with this tag")
    p.add_argument("--name", help="only jobs with this name")
    p.add_argument("--limit", type=positive_int, default=50, help="jobs per page (default 50, at most 1000)")
    p.add_argument("--cursor", help="the page after the one that printed this cursor")
    p.add_argument("--all", action="store_true", help="every page")


def _states(values: list[str]) -> list[JobState]:
    states = []
    for value in (v.strip() for given in values for v in given.split(",")):
        try:
            states.append(JobState(value))
        except ValueError:
            raise UsageError(
                f"--state {value!r}: not a job state; use {', '.join(s.value for s in JobState)}"
            ) from None
    return states


def list_jobs(args: argparse.Namespace) -> int:
    states = _states(args.state)
    if args.limit > 1000:
        raise UsageError(f"--limit {args.limit}: at most 1000 jobs a page; use --all for more")
    found: list[Job] = []
    cursor = args.cursor
    with connect(args) as client:
        while True:
            page = client.jobs.list(state=states or None, tag=args.tag, name=args.name, limit=args.limit, cursor=cursor)
            if as_json(args):
                render.emit_json_lines(page.data)
            else:
                found.extend(page.data)
            cursor = page.next_cursor
            if not args.all or not cursor:
                break
    if not as_json(args):
        if found:
            render.show(render.job_table(found))
        else:
            render.hint("no jobs" + (" match" if states or args.tag or args.name else " yet: 'jobnode jobs submit'"))
    if cursor and not args.all:
        render.hint(f"more jobs: add --cursor {cursor} (or --all)")
    return 0


def get(args: argparse.Namespace) -> int:
    with connect(args) as client:
        show_job(client.jobs.get(args.job_id), args)
    return 0


def _wait_parser(verbs: Commands) -> None:
    p = add_command(verbs, "wait", "wait for a job to end, with a live progress bar; exit 0 when it succeeded", wait)
    p.add_argument("job_id", metavar="JOB_ID")
    p.add_argument("--timeout", type=seconds, metavar="SECONDS", help="stop waiting after (the job goes on)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def wait(args: argparse.Namespace) -> int:
    with connect(args) as client:
        return wait_for(client, args.job_id, args, timeout=args.timeout, progress=not args.no_progress)


def cancel(args: argparse.Namespace) -> int:
    with connect(args) as client:
        show_job(client.jobs.cancel(args.job_id), args)
    return 0


def _delete_parser(verbs: Commands) -> None:
    p = add_command(verbs, "delete", "delete a finished job under the lineage rules", delete)
    p.add_argument("job_id", metavar="JOB_ID")
    p.add_argument("--delete-outputs", action="store_true", help="delete its output artifacts too")
    p.add_argument("--delete-subjobs", action="store_true", help="delete its sub-jobs (with their data) too")
    p.add_argument("--dry-run", action="store_true", help="show what would be deleted; delete nothing")


def delete(args: argparse.Namespace) -> int:
    with connect(args) as client:
        plan = client.jobs.delete(
            args.job_id, delete_outputs=args.delete_outputs, delete_subjobs=args.delete_subjobs, dry_run=args.dry_run
        )
    render.deletion(plan, as_json=as_json(args))
    return 0 if plan.allowed else 1


# -- what a job left: result, errors, events, dead letters ---------------------------------------------------------


def _result_parser(verbs: Commands) -> None:
    p = add_command(
        verbs, "result", "a job's result: counts, output artifacts, a sample; --records for every record", result
    )
    p.add_argument("job_id", metavar="JOB_ID")
    p.add_argument("--records", action="store_true", help="every record of its outputs, as JSON lines")
    p.add_argument("--to", type=Path, metavar="FILE", help="with --records: write them to FILE (whole or not at all)")


def result(args: argparse.Namespace) -> int:
    if args.to is not None and not args.records:
        raise UsageError("--to writes records: add --records")
    with connect(args) as client:
        found = client.jobs.result(args.job_id)
        if args.records:
            write_records(client, [a.id for a in found.outputs], to=args.to)
            return 0
    show_result(found, args)
    return 0


def show_result(found: JobResult, args: argparse.Namespace) -> None:
    if as_json(args):
        render.emit_json(found)
        return
    p = found.progress
    render.out.print(
        Text.from_markup(
            f"{found.job_id} {state_markup(found.state)}: {p.items_processed} processed, {p.items_failed} failed "
            f"of {p.items_total if p.items_total is not None else '?'}"
        )
    )
    if found.outputs:
        outputs = render.table("OUTPUT", "NAME", "RECORDS", "BYTES", "READ BY")
        for a in found.outputs:
            outputs.add_row(a.id, a.name or "", _count(a.records), _count(a.size_bytes), ", ".join(a.consumers))
        render.fixed(outputs, 0)
        render.show(outputs)
    for record in found.sample:
        render.out.print(Text(json.dumps(record, ensure_ascii=False)[: render.out.width], style="dim"))
    if found.outputs:
        render.hint(f"every record: jobnode jobs result {found.job_id} --records [--to FILE]")


def _count(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


def job_errors(args: argparse.Namespace) -> int:
    with connect(args) as client:
        found = client.jobs.errors(args.job_id, limit=args.limit)
    if as_json(args):
        render.emit_json_lines(found)
        return 0
    grid = render.table("TIME", "ITEM", "BATCH", "TRY", "MESSAGE")
    for e in found:
        grid.add_row(render.when(e.time, seconds=True), e.item or "", _count(e.batch), _count(e.attempt), e.message)
    grid.columns[-1].overflow = "fold"
    grid.columns[-1].no_wrap = False
    render.show(grid) if found else render.hint("no errors")
    return 0


def events(args: argparse.Namespace) -> int:
    with connect(args) as client:
        found = client.jobs.events(args.job_id)
    if as_json(args):
        render.emit_json_lines(found)
        return 0
    grid = render.table("TIME", "EVENT", "STATE", "MESSAGE")
    for e in found:
        state = Text.from_markup(state_markup(e.state)) if e.state else ""
        grid.add_row(render.when(e.time, seconds=True), e.type, state, e.message or "")
    render.show(grid)
    return 0


def dead_letters(args: argparse.Namespace) -> int:
    with connect(args) as client:
        found = client.jobs.dead_letters(args.job_id)
    if as_json(args):
        render.emit_json_lines(found)
        return 0
    grid = render.table("BATCH", "TIME", "TRIES", "ITEMS", "ERROR")
    for d in found:
        grid.add_row(str(d.batch), render.when(d.time, seconds=True), str(d.attempts), str(len(d.items)), d.error)
    if found:
        render.show(grid)
        render.hint(f"run them again: jobnode jobs resubmit-failed {args.job_id}")
    else:
        render.hint("no dead letters")
    return 0


# -- resubmit, cleanup ---------------------------------------------------------------------------------------------


def _resubmit_parser(verbs: Commands) -> None:
    p = add_command(
        verbs,
        "resubmit-failed",
        "run a finished job's failed items again as a new job (same step and parameters unless told otherwise)",
        resubmit_failed,
    )
    p.add_argument("job_id", metavar="JOB_ID")
    p.add_argument("--params", type=parse_json_object, help="new parameters as a JSON object")
    p.add_argument("--batch-size", type=positive_int, help="items per batch")
    p.add_argument("--workers", type=positive_int, help="batches at once")
    p.add_argument("--max-attempts", type=positive_int, help="tries per batch")
    p.add_argument("--name", help="the new job's name")
    p.add_argument("--idempotency-key", metavar="KEY", help="the same key always returns the same new job")
    p.add_argument("--wait", action="store_true", help="follow the new job with a live progress bar")
    p.add_argument("--no-progress", action="store_true", help="no progress bar while waiting")


def resubmit_failed(args: argparse.Namespace) -> int:
    overrides = {
        k: v
        for k, v in {
            "params": args.params,
            "batch_size": args.batch_size,
            "workers": args.workers,
            "max_attempts": args.max_attempts,
            "name": args.name,
        }.items()
        if v is not None
    }
    with connect(args) as client:
        job = client.jobs.resubmit_failed(args.job_id, idempotency_key=args.idempotency_key, **overrides)
        if not args.wait:
            show_job(job, args)
            return 0
        render.hint(f"created {job.id}")
        return wait_for(client, job.id, args, timeout=None, progress=not args.no_progress)


def _cleanup_parser(verbs: Commands) -> None:
    p = add_command(
        verbs,
        "cleanup",
        "delete finished jobs and their outputs where the lineage rules allow, consumers first; say what stays",
        cleanup,
    )
    p.add_argument("job_ids", nargs="+", metavar="JOB_ID")
    p.add_argument("--keep-outputs", action="store_true", help="keep the jobs' outputs (a job with outputs stays)")
    p.add_argument("--protect", action="append", default=[], metavar="ARTIFACT", help="an artifact that must stay")
    p.add_argument("--dry-run", action="store_true", help="show the plan; delete nothing")


def cleanup(args: argparse.Namespace) -> int:
    with connect(args) as client:
        report = client.jobs.cleanup(
            args.job_ids, delete_outputs=not args.keep_outputs, protect=args.protect, dry_run=args.dry_run
        )
    show_cleanup(report, args)
    return 0


def show_cleanup(report: CleanupReport, args: argparse.Namespace) -> None:
    if as_json(args):
        render.emit_json(report)
        return
    verb = "would delete" if args.dry_run else "deleted"
    if args.dry_run and report.plan.steps:
        render.out.print("the plan, in order:")
        for number, step in enumerate(report.plan.steps, start=1):
            render.out.print(f"  {number}. {step.action.replace('_', ' ')} {step.id}")
    render.out.print(f"{verb} {len(report.deleted_jobs)} job(s) and {len(report.deleted_artifacts)} artifact(s)")
    for blocker in report.kept:
        render.out.print(Text(f"not deleted: {blocker.reason}", style="yellow"))
