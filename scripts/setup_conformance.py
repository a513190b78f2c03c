"""Create the isolated environments of the platform conformance suites (each official SDK in its own venv).

Each `tests/conformance/<platform>/setup_env.py` builds its environment; this runs them all (they are idempotent).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    for script in sorted((ROOT / "tests" / "conformance").glob("*/setup_env.py")):
        print(f"conformance environment: {script.parent.name}", flush=True)
        subprocess.run([sys.executable, str(script)], cwd=ROOT, check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
