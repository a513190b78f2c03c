"""`jobnode artifacts get | read | delete`: what jobs produced, and its records as JSON lines (stdout or a file)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from jobnode.cli import _render as render
from jobnode.cli._base import Command, UsageError, add_command, add_common_options, option, positive_int
from jobnode.cli._connect import connect
from jobnode.client import Client

if TYPE_CHECKING:
    from jobnode.cli._base import Commands


def register(commands: Commands) -> None:
    artifacts = commands.add_parser(
        "artifacts",
        help="what jobs produced: an artifact, its records, its deletion",
        description="The artifacts jobs produce (their results, as JSON lines) and read.",
    )
    add_common_options(artifacts)
    verbs = artifacts.add_subparsers(dest="verb", required=True, metavar="COMMAND")

    def command(name: str, text: str, run: Command) -> argparse.ArgumentParser:
        parser = add_command(verbs, name, text, run)
        parser.add_argument("artifact_id", metavar="ARTIFACT_ID")
        return parser

    command("get", "an artifact: its job, size, records and the jobs that read it", get)
    read = command("read", "an artifact's records as JSON lines, to stdout or a file", read_records)
    read.add_argument("--to", type=Path, metavar="FILE", help="write them to FILE (whole or not at all)")
    read.add_argument("--skip", type=int, default=0, metavar="N", help="leave out the first N records")
    read.add_argument("--max", type=positive_int, metavar="N", help="stop after N records")
    delete = command("delete", "delete an artifact unless a job still reads it", delete_artifact)
    delete.add_argument("--dry-run", action="store_true", help="say what would happen; delete nothing")


def get(args: argparse.Namespace) -> int:
    with connect(args) as client:
        artifact = client.artifacts.get(args.artifact_id)
    if option(args, "output") == "json":
        render.emit_json(artifact)
        return 0
    rows = [
        ("id", artifact.id),
        ("name", artifact.name),
        ("job", artifact.job_id),
        ("records", None if artifact.records is None else f"{artifact.records:,}"),
        ("bytes", None if artifact.size_bytes is None else f"{artifact.size_bytes:,}"),
        ("type", artifact.media_type),
        ("created", render.when(artifact.created_at, seconds=True)),
        ("read by", ", ".join(artifact.consumers)),
        ("uri", artifact.uri),
    ]
    render.out.print(render.fields(rows), soft_wrap=True)
    return 0


def read_records(args: argparse.Namespace) -> int:
    with connect(args) as client:
        write_records(client, [args.artifact_id], to=args.to, skip=args.skip, limit=args.max)
    return 0


def write_records(
    client: Client, artifact_ids: Sequence[str], *, to: Path | None, skip: int = 0, limit: int | None = None
) -> int:
    """Every record of the artifacts, in order, as JSON lines on stdout or in `to`; a file is written whole or not
    at all (a temporary file beside it, renamed at the end). Returns how many were written."""
    if to is None:
        return _copy(client, artifact_ids, sys.stdout, skip, limit)
    to = to.expanduser()
    if not to.parent.is_dir():
        raise UsageError(f"--to {to}: the folder {to.parent} does not exist; create it or name another file")
    fd, temporary = tempfile.mkstemp(prefix=f".{to.name}.", suffix=".part", dir=to.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            count = _copy(client, artifact_ids, file, skip, limit)
        os.replace(temporary, to)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    render.hint(f"wrote {count:,} records to {to}")
    return count


def _copy(client: Client, artifact_ids: Sequence[str], out: TextIO, skip: int, limit: int | None) -> int:
    write = out.write
    count = 0
    for artifact_id in artifact_ids:
        with closing(client.artifacts.read(artifact_id, skip=skip)) as records:
            for record in records:
                if limit is not None and count >= limit:
                    return count
                write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
    return count


def delete_artifact(args: argparse.Namespace) -> int:
    with connect(args) as client:
        plan = client.artifacts.delete(args.artifact_id, dry_run=args.dry_run)
    render.deletion(plan, as_json=option(args, "output") == "json")
    return 0 if plan.allowed else 1
