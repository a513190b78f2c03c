#!/usr/bin/env python3
"""Set up and run jobnode's development tasks with nothing but Python 3.11+ and git.

    python3 dev.py demo     # the demo: a local service, a job, its progress and logs, a DAG and a flow
                            #   (everything in .demo/; --dir DIR elsewhere, --verbose for Airflow's own output)
    python3 dev.py test     # ruff, mypy and the whole test suite, the demo with a fresh home among it (what CI runs;
                            #   installs Chromium for the console's browser tests if it is missing)
    python3 dev.py bench    # the benchmarks, which print figures
    python3 dev.py lint     # ruff and mypy

The first run installs uv into .tools/ and the locked environment into .venv/; later runs reuse them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TOOLS = ROOT / ".tools"
VENV = ROOT / ".venv"
BIN = "Scripts" if os.name == "nt" else "bin"


def run(*args: str | Path, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    result = subprocess.run([str(a) for a in args], cwd=ROOT, env={**os.environ, **(env or {})})
    if result.returncode:
        raise SystemExit(result.returncode)


def uv() -> Path:
    found = shutil.which("uv")
    if found:
        return Path(found)
    local = TOOLS / BIN / "uv"
    if not local.exists():
        print("installing uv into .tools/ (once)", flush=True)
        venv.create(TOOLS, with_pip=True)
        run(TOOLS / BIN / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "uv")
    return local


def sync() -> Path:
    """The project's locked environment, with every extra (airflow, prefect, dev)."""
    run(uv(), "sync", "--all-extras", "--frozen", "--quiet")
    return VENV / BIN / "python"


def browser() -> None:
    """The console's browser tests drive the system's Chromium: install Debian's package when it is missing."""
    if os.environ.get("JOBNODE_CHROMIUM") or any(shutil.which(n) for n in ("chromium", "chromium-browser")):
        return
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        run("apt-get", "update", "-qq", env={"DEBIAN_FRONTEND": "noninteractive"})
        run("apt-get", "install", "-y", "-qq", "chromium", env={"DEBIAN_FRONTEND": "noninteractive"})
    else:
        print("no Chromium: install it (Debian: apt-get install chromium) or set JOBNODE_CHROMIUM", flush=True)


def lint(python: Path) -> None:
    run(python, "-m", "ruff", "check", ".")
    run(python, "-m", "ruff", "format", "--check", ".")
    run(python, "-m", "mypy")


def main(argv: list[str]) -> int:
    task = argv[0] if argv else "help"
    rest = argv[1:]
    if task == "demo":
        run(sync(), "scripts/demo.py", *rest)
    elif task == "test":
        python = sync()
        lint(python)
        browser()
        run(python, "scripts/setup_conformance.py")
        # one process per core (at most four), each running whole files: a file's services start once per process
        parallel = ["-n", "auto", "--maxprocesses", "4", "--dist", "loadfile"]
        run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *parallel, *rest)
    elif task == "bench":
        run(sync(), "scripts/bench_all.py", *rest)
    elif task == "lint":
        lint(sync())
    else:
        print(__doc__)
        return 0 if task in ("help", "-h", "--help") else 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
