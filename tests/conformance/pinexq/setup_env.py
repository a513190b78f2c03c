"""Create the isolated environment of the PinexQ conformance suite: the official `pinexq-client` SDK, unmodified.

The SDK lives in its own virtualenv at `.venv-conformance/pinexq/` in the repository root (about 76 MB), outside
the project's environment and its dependencies. The conformance tests run it in a subprocess with that
environment's Python. Idempotent: a second run that finds the pinned version installed does nothing.

    python tests/conformance/pinexq/setup_env.py          # create or check the environment
    python tests/conformance/pinexq/setup_env.py --force  # rebuild it from scratch
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SDK = "pinexq-client"
SDK_VERSION = "2.7.0"
ENV_DIR = ROOT / ".venv-conformance" / "pinexq"
BIN = "Scripts" if os.name == "nt" else "bin"


def env_python(env_dir: Path = ENV_DIR) -> Path:
    """The interpreter of the conformance environment (it may not exist yet)."""
    return env_dir / BIN / ("python.exe" if os.name == "nt" else "python")


def installed_version(python: Path) -> str | None:
    """The SDK version importable by `python`, or None."""
    if not python.exists():
        return None
    probe = subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({SDK!r}))"],
        capture_output=True,
        text=True,
    )
    return probe.stdout.strip() if probe.returncode == 0 else None


def create(env_dir: Path) -> None:
    """A fresh environment with the pinned SDK; uv when there is one (on PATH, or the one `dev.py` installs in
    `.tools/`), much faster; pip otherwise."""
    requirement = f"{SDK}=={SDK_VERSION}"
    tools_uv = ROOT / ".tools" / BIN / ("uv.exe" if os.name == "nt" else "uv")
    uv = shutil.which("uv") or (str(tools_uv) if tools_uv.exists() else None)
    if uv:
        subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(env_dir)], check=True)
        subprocess.run([uv, "pip", "install", "--quiet", "--python", str(env_python(env_dir)), requirement], check=True)
        return
    venv.create(env_dir, with_pip=True)
    subprocess.run(
        [str(env_python(env_dir)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement],
        check=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="delete and rebuild the environment")
    args = parser.parse_args(argv)
    python = env_python()
    if args.force and ENV_DIR.exists():
        shutil.rmtree(ENV_DIR)
    found = installed_version(python)
    if found == SDK_VERSION:
        print(f"{SDK} {SDK_VERSION} already installed in {ENV_DIR.relative_to(ROOT)}")
        return 0
    if ENV_DIR.exists():
        # a half-built or outdated environment: start again rather than patch it
        shutil.rmtree(ENV_DIR)
    print(f"installing {SDK}=={SDK_VERSION} into {ENV_DIR.relative_to(ROOT)} (about 76 MB, once)", flush=True)
    create(ENV_DIR)
    found = installed_version(python)
    if found != SDK_VERSION:
        print(f"error: {SDK} {SDK_VERSION} is not importable in {ENV_DIR} after installing (found {found})")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
