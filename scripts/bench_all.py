"""Run every benchmark in bench/ in turn; each prints its own figures (`python3 dev.py bench`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    wanted = set(argv)
    failed = []
    for script in sorted((ROOT / "bench").glob("bench_*.py")):
        if wanted and script.stem not in wanted:
            continue
        print(f"\n=== {script.name} ===", flush=True)
        if subprocess.run([sys.executable, str(script)], cwd=ROOT).returncode:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
