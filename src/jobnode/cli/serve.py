"""`jobnode serve`: the local job service, or one platform's emulator, on this machine.

An option is added in two places: its `add_argument` in `register`, and its keyword in `run`'s call to `serve`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from jobnode.cli._base import UsageError
from jobnode.platforms import get_platform, platforms
from jobnode.service.limits import Limits

if TYPE_CHECKING:
    from jobnode.cli._base import Commands


def register(commands: Commands) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the local job service",
        description="Run the local job service: SQLite in --data-dir, real jobs, the native /v1 API (or a "
        "platform's emulator with --platform), on 127.0.0.1 unless told otherwise.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="the port (default 8765; 0 picks a free one)")
    serve.add_argument(
        "--data-dir", type=Path, default=Path(".jobnode"), help="where the SQLite database lives (default .jobnode)"
    )
    serve.add_argument("--steps", default="", help="comma-separated modules that register processing steps")
    serve.add_argument("--token", default=os.environ.get("JOBNODE_TOKEN"), help="bearer token (or JOBNODE_TOKEN)")
    serve.add_argument("--threads", type=int, default=32, help="batches at once for thread steps (default 32)")
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
        help="the API this port speaks: local (the native /v1 API, the default) or a platform's emulator, for that "
        "platform's own SDK, mounted where the platform's SDK expects it (e.g. nexus); one platform per port",
    )
    serve.set_defaults(run=run)


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number above 0")
    return number


def step_modules(names: str) -> list[str]:
    """The `--steps` modules, imported from the current directory or the environment (as `python -m` would find
    them); one that cannot be imported is named with the reason."""
    modules = [m.strip() for m in names.split(",") if m.strip()]
    if modules and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as exc:
            raise UsageError(
                f"--steps {module}: cannot import it ({type(exc).__name__}: {exc}); give a module of the current "
                "directory or of the environment, such as my_steps for ./my_steps.py"
            ) from None
    return modules


def run(args: argparse.Namespace) -> int:
    from jobnode.service.server import EmulatorMount, serve

    steps = step_modules(args.steps)
    emulator = None
    if args.platform != "local":
        descriptor = get_platform(args.platform)
        emulator = EmulatorMount(descriptor.name, descriptor.load_emulator(), descriptor.emulator_prefix)
    serve(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        steps=steps,
        token=args.token,
        threads=args.threads,
        processes=args.processes,
        allow_roots=args.allow_roots,
        allow_protocols=args.allow_protocols,
        allow_hosts=args.allow_hosts,
        emulator=emulator,
        limits=Limits(
            max_request_bytes=args.max_request_bytes, max_items=args.max_items, max_batch_bytes=args.max_batch_bytes
        ),
        log_level=args.log_level if args.log_level != "warning" else "info",
    )
    return 0
