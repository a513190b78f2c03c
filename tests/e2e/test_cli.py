"""The `jobnode` command against a running service: every command, both outputs, options wherever they are put, and
every error as one line with exit code 2.

Most tests call `jobnode.cli.main` in this process (fast; stdout and stderr captured); the ones about the process
itself (exit codes, no traceback) run `python -m jobnode`. `test_cli_terminal.py` drives it through a terminal.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest

import jobnode
from jobnode.cli import main
from jobnode.core.models import JobState
from jobnode.service.process import ServiceProcess
from tests.platforms.nexus.receiver import Receiver


@dataclass
class Run:
    code: int
    out: str
    err: str

    def lines(self) -> list[str]:
        return self.out.splitlines()

    def json(self) -> list[dict]:  # type: ignore[type-arg]
        return [json.loads(line) for line in self.out.splitlines()]


Cli = Callable[..., Run]


@pytest.fixture
def cli(service: ServiceProcess, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """`jobnode ARGS...` in this process, against the session's service (through JOBNODE_URL and JOBNODE_TOKEN)."""
    monkeypatch.setenv("JOBNODE_URL", service.url)
    monkeypatch.setenv("JOBNODE_TOKEN", service.token or "")
    monkeypatch.delenv("JOBNODE_PLATFORM", raising=False)

    def run(*args: str, code: int | None = 0) -> Run:
        capsys.readouterr()
        result = main(list(args))
        captured = capsys.readouterr()
        done = Run(result, captured.out, captured.err)
        if code is not None:
            assert result == code, (args, done)
        return done

    return run


def process(service: ServiceProcess, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m jobnode ARGS...` in a process of its own."""
    environ = {**os.environ, "JOBNODE_URL": service.url, "JOBNODE_TOKEN": service.token or "", **env}
    return subprocess.run(
        [sys.executable, "-m", "jobnode", *args], capture_output=True, text=True, env=environ, timeout=120
    )


def submitted(cli: Cli, *args: str) -> str:
    return str(cli("jobs", "submit", *args, "-o", "json").json()[0]["id"])


# -- jobs: submit, wait, get, list ---------------------------------------------------------------------------------


def test_submit_wait_get_and_list(cli: Cli) -> None:
    job_id = submitted(cli, "--step", "upper", "--items", '["a", "b", "c"]', "--name", "cli-job", "--tag", "cli")
    waited = cli("jobs", "wait", job_id)
    assert "3/3 items" in waited.err  # the throttled progress lines of a non-terminal
    assert "succeeded" in waited.out and job_id in waited.out
    shown = cli("jobs", "get", job_id).out
    for expected in ("cli-job", "succeeded", "upper@2", "3 processed, 0 failed of 3", f"/ui/jobs/{job_id}", "cli"):
        assert expected in shown
    table = cli("jobs", "list", "--tag", "cli").lines()
    assert table[0].split() == ["ID", "NAME", "STATE", "ITEMS", "CREATED"]
    row = next(line for line in table if job_id in line)
    assert row.split()[1:4] == ["cli-job", "succeeded", "3/3"]


def test_options_work_wherever_they_are_put(cli: Cli) -> None:
    job_id = submitted(cli, "--step", "identity", "--items", "[1]", "--tag", "anywhere")
    after = cli("jobs", "list", "--tag", "anywhere", "--json").json()
    before = cli("jobs", "--json", "list", "--tag", "anywhere").json()
    short = cli("jobs", "list", "-o", "json", "--tag", "anywhere").json()
    assert [j["id"] for j in after] == [j["id"] for j in before] == [j["id"] for j in short] == [job_id]
    assert cli("jobs", "get", job_id, "--output", "json").json()[0]["id"] == job_id


def test_submit_with_wait_exits_1_when_the_job_fails(cli: Cli) -> None:
    failed = cli(
        "jobs", "submit", "--step", "fail", "--params", '{"fail_items": [1]}', "--items", "[1, 2]", "--wait", code=1
    )
    assert "failed" in failed.out and "1 of 2 items failed" in failed.out


def test_submit_takes_parameters_one_by_one_and_every_job_field(cli: Cli, tmp_path: Path) -> None:
    job = cli(
        "jobs", "submit", "--step", "sleep", "--param", "seconds=0", "--items", "[1, 2, 3]",
        "--batch-size", "2", "--workers", "2", "--max-attempts", "1", "--max-item-failures", "1", "--timeout", "60",
        "--start-at", "2026-01-01T00:00:00Z", "--tag", "a", "--tag", "b", "--name", "fields", "--wait", "-o", "json",
    ).json()[0]  # fmt: skip
    assert job["state"] == "succeeded" and job["tags"] == ["a", "b"] and job["progress"]["batches_total"] == 2


def test_items_from_a_file_of_json_lines_or_an_array_or_stdin(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = tmp_path / "reviews.jsonl"
    lines.write_text('{"id": "r1", "text": "great"}\n\n{"id": "r2", "text": "awful"}\n')
    array = tmp_path / "reviews.json"
    array.write_text('[\n  "good",\n  "bad"\n]\n')
    assert (
        "2 items in 1 batches"
        in cli("jobs", "submit", "--step", "sentiment", "--items-file", str(lines), "--dry-run").out
    )
    assert (
        "2 items in 2 batches"
        in cli("jobs", "submit", "--step", "identity", "--items-file", str(array), "--batch-size", "1", "--dry-run").out
    )
    monkeypatch.setattr(sys, "stdin", io.StringIO(lines.read_text()))
    job_id = submitted(cli, "--step", "identity", "--items-file", "-")
    logs = cli("jobs", "logs", job_id, "--json").json()
    assert {e["item"] for e in logs} == {"r1", "r2"}


def test_a_bad_items_file_names_the_file_and_the_line(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\n{"id": 2}\nthis is not json\n')
    failed = cli("jobs", "submit", "--step", "identity", "--items-file", str(bad), code=2)
    assert f"--items-file {bad}:3: not JSON" in failed.err and "one JSON value per line" in failed.err
    broken = tmp_path / "broken.json"
    broken.write_text('[\n  "a",\n  "b"\n  "c"\n]')
    failed = cli("jobs", "submit", "--step", "identity", "--items-file", str(broken), code=2)
    assert f"--items-file {broken}:4: not valid JSON" in failed.err
    missing = cli("jobs", "submit", "--step", "identity", "--items-file", str(tmp_path / "nope.jsonl"), code=2)
    assert "nope.jsonl: No such file or directory" in missing.err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    assert "no items in it" in cli("jobs", "submit", "--step", "identity", "--items-file", str(empty), code=2).err


def test_list_pages_with_a_cursor_or_all_at_once(cli: Cli) -> None:
    ids = [submitted(cli, "--step", "identity", "--items", "[1]", "--tag", "paging") for _ in range(3)]
    first = cli("jobs", "list", "--tag", "paging", "--limit", "2")
    assert "more jobs: add --cursor" in first.err
    cursor = first.err.split("--cursor ")[1].split()[0]
    second = cli("jobs", "list", "--tag", "paging", "--limit", "2", "--cursor", cursor, "-o", "json").json()
    every = cli("jobs", "list", "--tag", "paging", "--limit", "1", "--all", "-o", "json").json()
    shown_first = [line.split()[0] for line in first.lines()[2:]]
    assert shown_first + [j["id"] for j in second] == [j["id"] for j in every] == ids[::-1]
    states = cli("jobs", "list", "--tag", "paging", "--state", "succeeded,failed", "--state", "running", "-o", "json")
    assert {j["state"] for j in states.json()} <= {"succeeded", "failed", "running"}


def test_cancel_and_dry_run(cli: Cli) -> None:
    plan = cli("jobs", "submit", "--step", "identity", "--items", "[1, 2, 3]", "--batch-size", "2", "--dry-run")
    assert "3 items in 2 batches of up to 2; nothing was created" in plan.out
    job_id = submitted(cli, "--step", "sleep", "--params", '{"seconds": 30}', "--items", "[1]")
    assert "cancelled" in cli("jobs", "cancel", job_id).out


def test_delete_follows_the_lineage_rules(cli: Cli) -> None:
    job_id = submitted(cli, "--step", "identity", "--items", "[1]")
    cli("jobs", "wait", job_id, "--no-progress")
    refused = cli("jobs", "delete", job_id, "--dry-run", code=1)
    assert "would not delete" in refused.out and "delete_outputs=true" in refused.out
    assert "would delete" in cli("jobs", "delete", job_id, "--dry-run", "--delete-outputs").out
    assert f"deleted job {job_id}" in cli("jobs", "delete", job_id, "--delete-outputs").out
    events = cli("jobs", "events", job_id, "-o", "json").json()  # still readable after deletion
    assert events[0]["type"] == "created" and events[-1]["type"] == "deleted"


# -- what a job left -------------------------------------------------------------------------------------------


def test_result_and_its_records_to_stdout_or_a_file(cli: Cli, tmp_path: Path) -> None:
    job_id = submitted(cli, "--step", "upper", "--step-version", "1", "--items", '["a", "b", "c"]', "--wait")
    shown = cli("jobs", "result", job_id)
    assert f"{job_id} succeeded: 3 processed, 0 failed of 3" in shown.out and "results" in shown.out
    assert '"A"' in shown.out  # the sample
    assert cli("jobs", "result", job_id, "--records").json() == ["A", "B", "C"]
    target = tmp_path / "results.jsonl"
    written = cli("jobs", "result", job_id, "--records", "--to", str(target))
    assert written.out == "" and "wrote 3 records" in written.err
    assert target.read_text().splitlines() == ['"A"', '"B"', '"C"']
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left beside it
    result = cli("jobs", "result", job_id, "-o", "json").json()[0]
    artifact = result["outputs"][0]["id"]
    assert cli("artifacts", "read", artifact, "--skip", "1", "--max", "1").json() == ["B"]
    got = cli("artifacts", "get", artifact)
    assert artifact in got.out and "records  3" in got.out
    assert cli("artifacts", "get", artifact, "--json").json()[0]["records"] == 3
    assert "would delete artifact" in cli("artifacts", "delete", artifact, "--dry-run").out
    nowhere = cli("artifacts", "read", artifact, "--to", str(tmp_path / "no" / "such" / "dir.jsonl"), code=2)
    assert "does not exist" in nowhere.err


def test_errors_dead_letters_and_resubmit_failed(cli: Cli) -> None:
    job_id = cli(
        "jobs", "submit", "--step", "fail", "--params", '{"raise_on": [2]}', "--items", "[1, 2, 3]",
        "--batch-size", "1", "--max-attempts", "1", "--wait", "-o", "json", code=1,
    ).json()[0]["id"]  # fmt: skip
    errors = cli("jobs", "errors", job_id)
    assert (
        errors.lines()[0].split() == ["TIME", "ITEM", "BATCH", "TRY", "MESSAGE"] and "failed on purpose" in errors.out
    )
    letters = cli("jobs", "dead-letters", job_id, "-o", "json").json()
    assert [d["items"] for d in letters] == [[2]]
    assert "resubmit-failed" in cli("jobs", "dead-letters", job_id).err
    retry = cli("jobs", "resubmit-failed", job_id, "--params", "{}", "--wait", "-o", "json").json()[0]
    assert retry["state"] == "succeeded" and retry["progress"]["items_total"] == 1
    assert f"resubmit-of:{job_id}" in retry["tags"]


def test_cleanup_shows_its_plan_then_deletes_consumers_first(cli: Cli) -> None:
    first = submitted(cli, "--step", "identity", "--items", "[1, 2]", "--wait")
    output = cli("jobs", "get", first, "-o", "json").json()[0]["outputs"][0]["id"]
    second = submitted(cli, "--step", "identity", "--artifacts", output, "--wait")
    plan = cli("jobs", "cleanup", first, "--dry-run")
    assert "would delete 0 job(s)" in plan.out and f"not deleted: job {first} is kept" in plan.out
    plan = cli("jobs", "cleanup", first, second, "--dry-run")
    steps = [line.split(". ", 1)[1] for line in plan.lines() if line.startswith("  ")]
    assert steps.index(f"delete job {second}") < steps.index(f"delete job {first}")
    done = cli("jobs", "cleanup", first, second, "-o", "json").json()[0]
    assert done["deleted_jobs"] == [second, first] and done["kept"] == []


def test_webhook_options_deliver_results(cli: Cli, nexus_receiver: Receiver) -> None:
    url = nexus_receiver.endpoint("cli-webhook")
    job = cli(
        "jobs", "submit", "--step", "upper", "--items", '["x", "y"]', "--webhook-url", url, "--webhook-secret", "s3",
        "--webhook-max-attempts", "2", "--wait", "-o", "json",
    ).json()[0]  # fmt: skip
    assert job["state"] == "succeeded" and job["progress"]["items_delivered"] == 2
    assert nexus_receiver.items("cli-webhook") == ["x", "y"]
    refused = cli("jobs", "submit", "--step", "upper", "--items", "[1]", "--webhook-secret", "s3", code=2)
    assert "need --webhook-url" in refused.err


# -- logs ----------------------------------------------------------------------------------------------------------


def test_logs_show_each_entrys_item_id_and_page_through_any_size(cli: Cli) -> None:
    items = [{"id": f"review-{i:04d}", "text": "fine"} for i in range(2500)]
    job_id = submitted(cli, "--step", "identity", "--items", json.dumps(items), "--batch-size", "500", "--wait")
    lines = cli("jobs", "logs", job_id).lines()
    assert lines[0].split() == ["TIME", "LEVEL", "KIND", "ITEM", "STATUS", "DURATION", "MESSAGE"]
    assert [line.split()[4] for line in lines[1:]] == [i["id"] for i in items]  # more than two pages of 1,000
    assert [e["item"] for e in cli("jobs", "logs", job_id, "--tail", "3", "-o", "json").json()] == [
        "review-2497",
        "review-2498",
        "review-2499",
    ]
    newest = cli("jobs", "logs", job_id, "--order", "desc", "--max", "2", "--json").json()
    assert [e["item"] for e in newest] == ["review-2499", "review-2498"]
    assert cli("jobs", "logs", job_id, "--min-level", "error").err.startswith("no log entries match")


def test_logs_follow_a_running_job_to_its_end(cli: Cli, client: jobnode.Client, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    job = client.jobs.create(
        step="gate", items=["first", "second"], batch_size=1, params={"gate": str(gate), "held": ["second"]}
    )
    result: dict[str, Run] = {}
    follower = threading.Thread(target=lambda: result.update(run=cli("jobs", "logs", job.id, "--follow", "--json")))
    follower.start()
    for _ in client.jobs.watch([job.id]):
        if client.jobs.logs(job.id).data:
            break
    assert client.jobs.get(job.id).state is JobState.RUNNING  # the follower is following a running job
    gate.touch()
    follower.join(timeout=60)
    assert [e["item"] for e in result["run"].json()] == ["first", "second"]  # each entry once, in order


def test_follow_refuses_options_that_make_no_sense(cli: Cli) -> None:
    refused = cli("jobs", "logs", "job_x", "--follow", "--order", "desc", code=2)
    assert "--follow prints new entries as they come" in refused.err


# -- steps, doctor, version, completion, platforms -----------------------------------------------------------------


def test_steps_list_shows_each_steps_parameters(cli: Cli) -> None:
    shown = cli("steps", "list")
    assert shown.lines()[0].split()[:3] == ["STEP", "VERSION", "RUNS"]
    assert "seconds: number = 1.0" in shown.out  # the built-in sleep step's parameter
    steps = {(s["name"], s["version"]): s for s in cli("steps", "list", "-o", "json").json()}
    assert ("upper", "2") in steps and "threshold" not in steps[("identity", "1")]["params_schema"].get(
        "properties", {}
    )


def test_doctor_says_what_is_installed_and_what_answers(cli: Cli) -> None:
    shown = cli("doctor")
    assert "airflow: apache-airflow" in shown.out and "prefect: prefect" in shown.out
    assert "nexus" in shown.out and "project_id*" in shown.out
    assert "answers" in shown.out and "sentiment@1" in shown.out
    report = cli("doctor", "-o", "json").json()[0]
    assert report["service"]["answers"] is True and "nexus" in report["platforms"]
    down = cli("doctor", "--url", "http://127.0.0.1:1", code=1)
    assert "does not answer" in down.out and "could not reach" in down.out


def test_version_and_completion(service: ServiceProcess, tmp_path: Path) -> None:
    version = process(service, "--version")
    assert version.returncode == 0 and version.stdout.strip() == f"jobnode {metadata.version('jobnode')}"
    for shell in ("bash", "zsh", "fish"):
        code = process(service, "completion", shell)
        assert code.returncode == 0 and "jobnode" in code.stdout
    answer = tmp_path / "completions"
    for line, expected in (("jobnode jobs dead", "dead-letters"), ("jobnode jobs logs --fo", "--follow")):
        completion = {"_ARGCOMPLETE": "1", "COMP_LINE": line, "COMP_POINT": str(len(line)), "_ARGCOMPLETE_IFS": "\n"}
        process(service, **completion, _ARGCOMPLETE_STDOUT_FILENAME=str(answer))
        assert expected in answer.read_text().split()


def test_the_platform_and_its_settings_come_from_options_or_the_environment(
    cli: Cli, nexus_service: ServiceProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = ("--platform", "nexus", "--url", nexus_service.url, "--token", nexus_service.token or "")
    assert cli("jobs", "list", *base, "--set", "project_id=proj_cli", "-o", "json").out == ""
    missing = cli("jobs", "list", *base, code=2)
    assert "the nexus platform needs project_id" in missing.err and "JOBNODE_PROJECT_ID" in missing.err
    unknown = cli("jobs", "list", *base, "--set", "project=1", code=2)
    assert "no such setting" in unknown.err and "project_id" in unknown.err
    monkeypatch.setenv("JOBNODE_PLATFORM", "nexus")
    monkeypatch.setenv("JOBNODE_URL", nexus_service.url)
    monkeypatch.setenv("JOBNODE_TOKEN", nexus_service.token or "")
    monkeypatch.setenv("JOBNODE_PROJECT_ID", "proj_cli")
    monkeypatch.setenv("JOBNODE_DEPLOYMENTS", '{"identity": "deploy_identity"}')
    assert cli("jobs", "list").err.startswith("no jobs")
    unsupported = cli("steps", "list", code=2)
    assert "the nexus platform does not support 'steps'" in unsupported.err
    monkeypatch.setenv("JOBNODE_DEPLOYMENTS", "{not json")
    assert "JOBNODE_DEPLOYMENTS: deployments takes JSON" in cli("jobs", "list", code=2).err


# -- errors ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["jobs", "submit", "--step", "nope", "--items", "[1]"], "step: unknown step 'nope'; registered steps:"),
        (["jobs", "submit", "--step", "identity", "--items", "[1"], "argument --items: not valid JSON"),
        (["jobs", "submit", "--step", "identity", "--items", '{"a": 1}'], "is not a JSON array"),
        (["jobs", "submit", "--items", "[1]"], "the following arguments are required: --step"),
        (["jobs", "submit", "--step", "identity"], "one of the arguments --items --items-file"),
        (["jobs", "submit", "--step", "identity", "--items", "[1]", "--batch-size", "0"], "--batch-size: 0 is not at"),
        (["jobs", "submit", "--step", "identity", "--items", "[1]", "--start-at", "soon"], "is not an ISO 8601 time"),
        (["jobs", "submit", "--step", "sleep", "--items", "[1]", "--params", '{"secs": 1}'], "params.secs:"),
        (["jobs", "submit", "--step", "identity", "--files", "/etc/passwd"], "is outside the directories"),
        (["jobs", "get", "job_nope"], "HTTP 404: no job 'job_nope'"),
        (["jobs", "lst"], "invalid choice: 'lst'"),
        (["jobs", "list", "--state", "done"], "--state 'done': not a job state; use created"),
        (["jobs", "list", "--limit", "5000"], "--limit 5000: at most 1000"),
        (["jobs", "list", "--token", "wrong"], "HTTP 401"),
        (["jobs", "list", "--platform", "acme"], "argument --platform: invalid choice: 'acme'"),
        (["jobs", "result", "job_x", "--to", "x.jsonl"], "--to writes records: add --records"),
        (["jobs", "list", "--url", "http://127.0.0.1:1"], "could not reach the local service at http://127.0.0.1:1"),
        (["--log-level", "loud", "jobs", "list"], "argument --log-level: invalid choice: 'loud'"),
    ],
)
def test_every_error_is_one_line_with_exit_code_2(cli: Cli, args: list[str], says: str) -> None:
    failed = cli(*args, code=2)
    assert failed.err.startswith("jobnode: error: ") and says in failed.err, failed.err
    assert failed.err.count("\n") == 1 and failed.out == ""


def test_a_wrong_token_says_how_to_give_the_right_one_without_showing_it(cli: Cli) -> None:
    failed = cli("jobs", "list", "--token", "not-the-token", code=2)
    assert "--token or JOBNODE_TOKEN" in failed.err and "not-the-token" not in failed.err


def test_a_missing_input_kind_from_the_api_lists_the_kinds(service: ServiceProcess) -> None:
    import httpx

    response = httpx.post(
        f"{service.url}/v1/jobs",
        json={"step": "identity", "input": {"items": [1]}},
        headers={"Authorization": f"Bearer {service.token}"},
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["details"][0]["field"] == "input.kind"
    assert "one of 'items', 'files', 'delimited', 'artifacts'" in error["message"]


def test_errors_in_a_process_of_their_own_have_no_traceback(service: ServiceProcess) -> None:
    for args in (["jobs", "submit", "--step", "nope", "--items", "[1]"], ["jobs", "list", "--json", "--bogus"]):
        result = process(service, *args)
        assert result.returncode == 2 and result.stdout == ""
        assert result.stderr.startswith("jobnode: error:") and "Traceback" not in result.stderr
        assert result.stderr.count("\n") == 1


def test_wait_timeout_says_the_job_goes_on(cli: Cli) -> None:
    job_id = submitted(cli, "--step", "sleep", "--params", '{"seconds": 30}', "--items", "[1]")
    timed_out = cli("jobs", "wait", job_id, "--timeout", "0.5", "--no-progress", code=2)
    assert f"job {job_id} was not finished after 0.5s; cancel it or wait longer" in timed_out.err
    cli("jobs", "cancel", job_id)
