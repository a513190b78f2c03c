"""The isolated environment of a conformance suite: a platform's official SDK, pinned and unmodified, in a virtualenv
of its own at `.venv-conformance/<name>/` in the repository root.

An SDK is never a dependency of jobnode (some are large: opencv, scipy, matplotlib), so each lives outside the
project's environment and its dependencies, and the conformance tests run it in a subprocess with that environment's
Python. Each `tests/conformance/<name>/setup_env.py` declares its `SdkEnv` and runs its `main`;
`scripts/setup_conformance.py` runs them all. Building is idempotent: a run that finds the pinned version importable
does nothing. Only the standard library here: this runs before any environment but the project's exists.

Example:

    NEXUS = SdkEnv("nexus", "datature", "1.12.2", size="about 630 MB")
    NEXUS.python()                  # .venv-conformance/nexus/bin/python (it may not exist yet)
    NEXUS.installed_version()       # "1.12.2", or None until it is built
    raise SystemExit(NEXUS.main())  # create or check it; with --force, rebuild it from scratch
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = "Scripts" if os.name == "nt" else "bin"
EXE = ".exe" if os.name == "nt" else ""


@dataclass(frozen=True)
class SdkEnv:
    """Where one platform's SDK is installed, which version, and how to build that environment."""

    #: the platform, and so the environment's folder under `home` and the suite's under tests/conformance/
    name: str
    #: the SDK's distribution name and pinned version
    sdk: str
    version: str
    #: what installing it costs, said before a build ("about 630 MB")
    size: str
    #: what the SDK imports without declaring it, installed beside it
    undeclared: tuple[str, ...] = ()
    #: modules the probe imports as well as reading the version: an SDK installed is not always an SDK importable
    imports: tuple[str, ...] = ()
    #: the folder of all the environments (another one builds elsewhere, for a try from scratch)
    home: Path = ROOT / ".venv-conformance"

    @property
    def requirement(self) -> str:
        return f"{self.sdk}=={self.version}"

    @property
    def env_dir(self) -> Path:
        return self.home / self.name

    def python(self) -> Path:
        """The environment's interpreter (it may not exist yet)."""
        return self.env_dir / BIN / f"python{EXE}"

    def installed_version(self, python: Path | None = None) -> str | None:
        """The SDK version importable by `python` (the environment's by default), or None."""
        python = python or self.python()
        if not python.exists():
            return None
        imports = ", ".join(["importlib.metadata as m", *self.imports])
        probe = subprocess.run(
            [str(python), "-c", f"import {imports}; print(m.version({self.sdk!r}))"], capture_output=True, text=True
        )
        return probe.stdout.strip() if probe.returncode == 0 else None

    def create(self) -> None:
        """A fresh environment with the pinned SDK; uv when there is one (on PATH, or the one `dev.py` installs in
        `.tools/`), much faster; pip otherwise."""
        requirements = [self.requirement, *self.undeclared]
        tools_uv = ROOT / ".tools" / BIN / f"uv{EXE}"
        uv = shutil.which("uv") or (str(tools_uv) if tools_uv.exists() else None)
        python = str(self.python())
        if uv:
            subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(self.env_dir)], check=True)
            subprocess.run([uv, "pip", "install", "--quiet", "--python", python, *requirements], check=True)
            return
        venv.create(self.env_dir, with_pip=True)
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements], check=True
        )

    def main(self, argv: list[str] | None = None) -> int:
        """The command line of a `setup_env.py`: create or check the environment; `--force` rebuilds it."""
        parser = argparse.ArgumentParser(
            description=f"Create the isolated environment of the {self.name} conformance suite: {self.sdk}, unmodified."
        )
        parser.add_argument("--force", action="store_true", help="delete and rebuild the environment")
        args = parser.parse_args(argv)
        where = self.env_dir.relative_to(ROOT) if self.env_dir.is_relative_to(ROOT) else self.env_dir
        if args.force and self.env_dir.exists():
            shutil.rmtree(self.env_dir)
        if self.installed_version() == self.version:
            print(f"{self.sdk} {self.version} already installed in {where}")
            return 0
        if self.env_dir.exists():
            # a half-built or outdated environment: start again rather than patch it
            shutil.rmtree(self.env_dir)
        print(f"installing {self.requirement} into {where} ({self.size}, once)", flush=True)
        self.create()
        found = self.installed_version()
        if found != self.version:
            print(f"error: {self.requirement} is not importable in {where} after installing (found {found})")
            return 1
        return 0
