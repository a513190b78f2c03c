"""The README's first command, `python3 dev.py demo`, as a newcomer meets it: a home directory that has never seen
Prefect or Airflow. It must succeed on its first run, keep everything it makes in its own folder, and end by saying
what the user saw and what to try next.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_demo_succeeds_with_a_fresh_home_and_keeps_to_its_folder(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    demo = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "AIRFLOW_", "JOBNODE_", "XDG_"))}
    # uv keeps its cache outside the fresh home (where the caller's uv keeps it, or a folder of this test)
    env.update(HOME=str(home), UV_CACHE_DIR=os.environ.get("UV_CACHE_DIR") or str(tmp_path / "uv-cache"))
    result = subprocess.run(
        [sys.executable, "dev.py", "demo", "--dir", str(demo)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=840,
    )
    shown = result.stdout + result.stderr
    assert result.returncode == 0, shown[-6000:]
    assert "succeeded: 5000 of 5000 items processed" in result.stdout
    assert "the DAG run succeeded" in result.stdout
    assert "Flow run" in shown and "Finished in state Completed()" in shown
    assert "what you just saw" in result.stdout and "try next" in result.stdout
    assert f"serve --data-dir {demo}/service" in result.stdout
    assert sorted(p.name for p in demo.iterdir()) == ["airflow", "prefect", "service"]
    assert (demo / "prefect" / "memo_store.toml").exists()  # Prefect's own state went to the demo's folder
    left = sorted(str(p.relative_to(home)) for p in home.rglob("*"))
    assert left == [], shown[-6000:]  # and nothing to the home directory
