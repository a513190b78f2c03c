"""The command line as a person meets it: `jobnode` in a pseudo-terminal of 80 by 24 (pexpect), its output drawn on
a terminal emulator's screen (pyte), and the test reads the screen: the live bar of `submit --wait`, `logs
--follow` while the job runs, and tables that fit the width with coloured states.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pexpect
import pyte
import pytest

import jobnode
from jobnode.core.models import JobState
from jobnode.progress import STATE_STYLES
from jobnode.service.process import ServiceProcess

COLUMNS, ROWS = 80, 24
BAR = "━"  # the bar rich draws


class Terminal:
    """`python -m jobnode ARGS` on a terminal of its own; `screen` is what a person would see."""

    def __init__(self, service: ServiceProcess, *args: str, columns: int = COLUMNS, rows: int = ROWS) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR", "CI")}
        env.update(JOBNODE_URL=service.url, JOBNODE_TOKEN=service.token or "", TERM="xterm-256color")
        self.screen = pyte.Screen(columns, rows)
        self._stream = pyte.ByteStream(self.screen)
        self.child = pexpect.spawn(
            sys.executable, ["-m", "jobnode", *args], env=env, dimensions=(rows, columns), timeout=60
        )

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    def _read(self, timeout: float) -> bool:
        """Draw what the program wrote; False once it has exited and everything is drawn."""
        try:
            self._stream.feed(self.child.read_nonblocking(65536, timeout=timeout))
        except pexpect.TIMEOUT:
            pass
        except pexpect.EOF:
            return False
        return True

    def wait_for(self, text: str, timeout: float = 60) -> str:
        """The screen once it shows `text`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.text():
                return self.text()
            if not self._read(0.2):
                break
        assert text in self.text(), f"{text!r} never appeared on the screen:\n{self.text()}"
        return self.text()

    def finish(self) -> int:
        """Draw everything to the end; the exit code."""
        while self._read(1.0):
            pass
        self.child.close()
        assert self.child.exitstatus is not None, self.text()
        return int(self.child.exitstatus)

    def colour_of(self, text: str) -> str:
        """The foreground colour of the first character of `text` on the screen."""
        for y, line in enumerate(self.screen.display):
            x = line.find(text)
            if x >= 0:
                return str(self.screen.buffer[y][x].fg)
        raise AssertionError(f"{text!r} is not on the screen:\n{self.text()}")


def test_submit_wait_draws_a_live_bar(service: ServiceProcess, client: jobnode.Client, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    terminal = Terminal(
        service, "jobs", "submit", "--step", "gate", "--items", '["a", "b", "c", "d"]', "--batch-size", "1",
        "--params", f'{{"gate": "{gate}", "held": ["d"]}}', "--wait",
    )  # fmt: skip
    screen = terminal.wait_for("3/4")  # three items through, the fourth held at the gate: the bar is live
    bar_line = next(line for line in screen.splitlines() if "3/4" in line)
    assert "running" in bar_line and BAR in bar_line and "75%" in bar_line and "batches 3/4" in bar_line
    assert terminal.colour_of("running") == STATE_STYLES[JobState.RUNNING].replace("_", "")
    gate.touch()
    assert terminal.finish() == 0
    screen = terminal.text()
    final = next(line for line in screen.splitlines() if "4/4" in line)
    assert "succeeded" in final and "100%" in final
    assert terminal.colour_of("succeeded") == "green"
    assert "state  succeeded" in screen and "4 processed, 0 failed of 4" in screen


def test_logs_follow_prints_entries_as_the_job_writes_them(
    service: ServiceProcess, client: jobnode.Client, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    job = client.jobs.create(
        step="gate",
        items=["early-1", "early-2", "late-1"],
        batch_size=1,
        params={"gate": str(gate), "held": ["late-1"]},
    )
    terminal = Terminal(service, "jobs", "logs", job.id, "--follow")
    screen = terminal.wait_for("early-2")
    assert "late-1" not in screen and client.jobs.get(job.id).state is JobState.RUNNING
    header = next(line for line in screen.splitlines() if line.startswith("TIME"))
    assert header.split() == ["TIME", "LEVEL", "KIND", "ITEM", "STATUS", "DURATION", "MESSAGE"]
    gate.touch()
    terminal.wait_for("late-1")
    assert terminal.finish() == 0  # it stops by itself once the job has ended
    lines = [line for line in terminal.text().splitlines() if "ItemProcessed" in line]
    assert [line.split()[4] for line in lines] == ["early-1", "early-2", "late-1"]
    assert terminal.colour_of("Succeeded") == "green"


def test_jobs_list_fits_80_columns_without_wrapping(service: ServiceProcess, client: jobnode.Client) -> None:
    tag = "terminal-width"
    long_name = "a-rather-long-job-name-that-would-wrap-an-eighty-column-terminal"
    done = client.jobs.create(name=long_name, step="identity", items=[1], tags=[tag])
    client.jobs.wait(done.id)
    failed = client.jobs.create(name="fails", step="fail", items=[1], params={"fail_items": [1]}, tags=[tag])
    client.jobs.wait(failed.id)
    terminal = Terminal(service, "jobs", "list", "--tag", tag)
    assert terminal.finish() == 0
    lines = [line for line in terminal.text().splitlines() if line]
    assert lines[0].split() == ["ID", "NAME", "STATE", "ITEMS", "FAILED", "CREATED"]
    rows = lines[2:]
    assert len(rows) == 2  # one line per job: nothing wrapped onto a second line
    assert all(len(line) <= COLUMNS for line in lines)
    row = next(line for line in rows if done.id in line)
    assert "a-rather-l" in row and "…" in row and "succeeded" in row and "1/1" in row
    assert failed.id in rows[0] and "failed" in rows[0]  # newest first, ids never cut
    assert terminal.colour_of("failed ") == "red"


def test_a_wide_terminal_shows_the_reason(service: ServiceProcess, client: jobnode.Client) -> None:
    failed = client.jobs.create(name="why", step="fail", items=[1], params={"fail_items": [1]}, tags=["wide"])
    client.jobs.wait(failed.id)
    terminal = Terminal(service, "jobs", "list", "--tag", "wide", columns=160)
    assert terminal.finish() == 0
    assert "REASON" in terminal.text() and "1 of 1 items failed" in terminal.text()


@pytest.mark.parametrize("args", [["jobs", "get", "job_nope"], ["jobs", "list", "--state", "done"]])
def test_an_error_is_one_red_line(service: ServiceProcess, args: list[str]) -> None:
    terminal = Terminal(service, *args)
    assert terminal.finish() == 2
    shown = "".join(line for line in terminal.text().splitlines() if line)  # a long line wraps on the screen
    assert shown.startswith("jobnode: error:") and "Traceback" not in shown
    assert terminal.colour_of("jobnode: error:") == "red"
