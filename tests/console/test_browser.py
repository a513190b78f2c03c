"""The console in a real headless Chromium, against the real local service: a person's visits, clicks and keys.

A page that must update "without reloading" is marked (`window.__stayed`) when it opens; the mark is still there
only if the page was never loaded again.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

import jobnode
from jobnode.core.models import JobState
from jobnode.service.process import ServiceProcess
from tests.console.conftest import log_in

pytestmark = pytest.mark.timeout(180)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def mark(page: Page) -> None:
    page.evaluate("window.__stayed = true")


def stayed(page: Page) -> bool:
    return bool(page.evaluate("window.__stayed === true"))


def running(client: jobnode.Client, job_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while client.jobs.get(job_id).state is not JobState.RUNNING:
        assert time.monotonic() < deadline, f"job {job_id} did not start running"
        time.sleep(0.1)


def job_page(service: ServiceProcess, job_id: str) -> str:
    return f"{service.url}/ui/jobs/{job_id}"


# -- logging in and out ---------------------------------------------------------------------------------------------


def test_log_in_and_out_with_the_token(anonymous: Page, context: BrowserContext, service: ServiceProcess) -> None:
    assert service.token
    seen: list[str] = []
    anonymous.on("request", lambda request: seen.append(request.url))
    anonymous.goto(f"{service.url}/ui/jobs?tag=x")
    expect(anonymous).to_have_url(re.compile(r"/ui/login\?next=%2Fui%2Fjobs%3Ftag%3Dx$"))

    anonymous.get_by_label("Token").fill("not-the-token")
    anonymous.get_by_role("button", name="Log in").click()
    expect(anonymous.get_by_role("alert")).to_contain_text("not this service's token")

    anonymous.get_by_label("Token").fill(service.token)
    anonymous.get_by_role("button", name="Log in").click()
    expect(anonymous).to_have_url(f"{service.url}/ui/jobs?tag=x")  # back where the visit began
    expect(anonymous.get_by_role("heading", name="Jobs")).to_be_visible()
    [cookie] = [c for c in context.cookies() if c["name"].startswith("jobnode_console")]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/ui"
    assert service.token not in cookie["value"]
    assert not [url for url in seen if service.token in url]  # the token was never in an address

    anonymous.get_by_role("button", name="Log out").click()
    expect(anonymous).to_have_url(f"{service.url}/ui/login")
    anonymous.goto(f"{service.url}/ui/jobs")
    expect(anonymous).to_have_url(re.compile(r"/ui/login\?next="))


def test_the_link_from_another_site_opens_the_job_page(
    page: Page, client: jobnode.Client, service: ServiceProcess
) -> None:
    """The Airflow link and the Prefect artifacts are on another site, from which a SameSite=Strict cookie does not
    travel: the console loads the page again from its own site, with the cookie."""
    job = client.jobs.create(name=unique("linked"), step="identity", items=[1])
    assert job.url == job_page(service, job.id)
    page.route(
        "http://orchestrator.test/**",
        lambda route: route.fulfill(content_type="text/html", body=f'<a href="{job.url}">the job</a>'),
    )
    page.goto("http://orchestrator.test/dag")
    page.get_by_role("link", name="the job").click()
    expect(page).to_have_url(job.url)
    expect(page.get_by_role("heading", name=job.name or "")).to_be_visible()


# -- the jobs list ----------------------------------------------------------------------------------------------------


def test_the_jobs_list_updates_live_filters_and_pages(
    page: Page, client: jobnode.Client, service: ServiceProcess, output_dir: Path
) -> None:
    tag = unique("list")
    done = client.jobs.wait(client.jobs.create(name=unique("first"), step="identity", items=[1, 2], tags=[tag]).id)
    page.goto(f"{service.url}/ui/jobs?tag={tag}")
    expect(page.locator(f"#job-{done.id}")).to_contain_text("succeeded")
    mark(page)

    running = client.jobs.create(
        name=unique("arrives"), step="sleep", items=[1, 2, 3], params={"seconds": 0.3}, batch_size=1, tags=[tag]
    )
    row = page.locator(f"#job-{running.id}")
    expect(row).to_be_visible()  # a job created after the page opened shows up
    expect(row).to_contain_text("succeeded")  # and follows its job to the end
    failed = client.jobs.create(name=unique("fails"), step="fail", items=[1], params={"fail_items": [1]}, tags=[tag])
    expect(page.locator(f"#job-{failed.id}")).to_contain_text("failed")
    assert stayed(page)
    page.screenshot(path=output_dir / "jobs-list.png", full_page=True)

    page.get_by_label("State").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#job-rows tr")).to_have_count(1)
    expect(page.locator(f"#job-{failed.id}")).to_be_visible()

    page.get_by_label("State").select_option("")
    page.get_by_label("Name").fill(done.name or "")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#job-rows tr")).to_have_count(1)
    expect(page.locator(f"#job-{done.id}")).to_be_visible()

    page.get_by_label("Name").fill("")
    created = done.created_at or datetime.now(UTC)
    page.get_by_label("Created before (UTC)").fill((created - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#job-rows")).to_contain_text("No jobs here")
    page.get_by_label("Created before (UTC)").fill("")
    page.get_by_label("Created after (UTC)").fill((created - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#job-rows tr")).to_have_count(3)

    # paging: 50 jobs a page, newest first
    many = unique("many")
    ids = [client.jobs.create(name=f"{many}-{i}", step="identity", items=[i], tags=[many]).id for i in range(53)]
    page.goto(f"{service.url}/ui/jobs?tag={many}")
    expect(page.locator("#job-rows tr")).to_have_count(50)
    expect(page.locator("#job-rows tr").first).to_have_id(f"job-{ids[-1]}")
    page.get_by_role("link", name="Older jobs").click()
    expect(page.locator("#job-rows tr")).to_have_count(3)
    expect(page.locator("#job-rows tr").last).to_have_id(f"job-{ids[0]}")
    page.get_by_role("link", name="Newer jobs").click()
    expect(page.locator("#job-rows tr")).to_have_count(50)
    expect(page.locator("#job-rows tr").first).to_have_id(f"job-{ids[-1]}")


# -- a job's page ----------------------------------------------------------------------------------------------------


def test_a_running_job_s_progress_bar_advances_to_done_without_reloading(
    page: Page, client: jobnode.Client, service: ServiceProcess, output_dir: Path
) -> None:
    job = client.jobs.create(
        name=unique("progress"), step="sleep", items=list(range(10)), params={"seconds": 0.4}, batch_size=1
    )
    page.goto(job_page(service, job.id))
    mark(page)
    # every value the progress bar takes, as the page shows it
    page.evaluate(
        """() => {
            window.__values = [];
            const note = () => window.__values.push(Number(document.getElementById("progress-bar").value));
            note();
            new MutationObserver(note).observe(document.getElementById("summary"), {subtree: true, childList: true,
                                                                                attributes: true});
        }"""
    )
    expect(page.locator("#state")).to_have_text("succeeded")
    expect(page.locator("#progress-bar")).to_have_attribute("value", "100.0")
    expect(page.locator("#items-processed")).to_have_text("10")
    expect(page.locator("#outputs")).to_contain_text("The first 10 records of results")  # the outputs came too
    values: list[float] = page.evaluate("window.__values")
    assert values == sorted(values), values  # it only ever advanced
    assert values[0] < 100 and any(values[0] < v < 100 for v in values), values  # through values between
    assert stayed(page)
    page.screenshot(path=output_dir / "job-page.png", full_page=False)


def test_logs_filter_and_page_both_ways(page: Page, client: jobnode.Client, service: ServiceProcess) -> None:
    failing = [i for i in range(250) if i % 10 == 3]
    job = client.jobs.wait(
        client.jobs.create(
            name=unique("logs"),
            step="fail",
            items=list(range(250)),
            params={"fail_items": failing},
            batch_size=50,
            max_item_failures=250,
        ).id
    )
    page.goto(job_page(service, job.id))
    mark(page)
    logs = page.locator("#logs")
    rows = logs.locator("tbody tr")
    expect(rows).to_have_count(100)

    logs.get_by_label("Level at least").select_option("error")
    logs.get_by_role("button", name="Show entries").click()
    expect(rows).to_have_count(len(failing))
    expect(logs.locator("tbody tr.level-info")).to_have_count(0)
    logs.get_by_label("Level at least").select_option("")
    logs.get_by_label("Kind").fill("ItemProcessed")
    logs.get_by_role("button", name="Show entries").click()
    expect(rows).to_have_count(100)
    expect(logs.locator("tbody tr.level-error")).to_have_count(0)
    logs.get_by_label("Kind").fill("")
    logs.get_by_role("button", name="Show entries").click()
    expect(page).not_to_have_url(re.compile("log_kind"))  # the address follows the log part, once it is swapped
    expect(rows).to_have_count(100)

    def entry_ids() -> list[int]:
        return [int(x) for x in rows.evaluate_all("rows => rows.map(r => r.dataset.entry)")]

    newest = entry_ids()
    assert newest == sorted(newest, reverse=True)
    logs.get_by_role("link", name="Older entries").first.click()
    expect(rows.first).not_to_have_attribute("data-entry", str(newest[0]))
    second = entry_ids()
    assert len(second) == 100 and max(second) < min(newest)
    logs.get_by_role("link", name="Older entries").first.click()
    expect(rows).to_have_count(50)  # the oldest entries: the end of the log
    expect(logs.get_by_role("link", name="Older entries")).to_have_count(0)
    oldest = entry_ids()
    assert max(oldest) < min(second) and len({*newest, *second, *oldest}) == 250  # the whole log, once

    logs.get_by_role("link", name="Newer entries").first.click()
    expect(rows).to_have_count(100)
    assert entry_ids() == second
    page.go_back()  # the browser's Back pages the logs too
    expect(rows).to_have_count(50)
    page.go_back()
    expect(rows).to_have_count(100)
    assert entry_ids() == second
    assert stayed(page)


def test_cancel_a_running_job_by_keyboard(page: Page, client: jobnode.Client, service: ServiceProcess) -> None:
    job = client.jobs.create(name=unique("cancel"), step="sleep", items=[1, 2], params={"seconds": 60}, batch_size=1)
    running(client, job.id)
    page.goto(job_page(service, job.id))
    expect(page.locator("#state")).to_have_text("running")
    for _ in range(40):  # Tab through the page to the button, as a keyboard user does
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "cancel":
            break
    else:
        pytest.fail("the Cancel button cannot be reached with the Tab key")
    page.keyboard.press("Enter")
    expect(page.locator("#state")).to_have_text("cancelled")
    assert client.jobs.get(job.id).state is JobState.CANCELLED
    expect(page.locator("#cancel")).to_have_count(0)


def test_deleting_a_job_whose_output_is_read_shows_the_blockers_then_goes_with_its_reader(
    page: Page, client: jobnode.Client, service: ServiceProcess, output_dir: Path
) -> None:
    producer = client.jobs.wait(client.jobs.create(name=unique("produce"), step="identity", items=[1, 2, 3]).id)
    reader = client.jobs.wait(
        client.jobs.create(name=unique("read"), step="identity", artifacts=[producer.outputs[0].id]).id
    )
    page.goto(job_page(service, producer.id))
    lineage = page.locator("#lineage")
    expect(lineage.get_by_role("link", name=re.compile(f"read by: {reader.name}"))).to_be_visible()

    page.get_by_role("link", name="Delete…").click()
    blockers = page.get_by_role("alert")
    expect(blockers).to_contain_text("cannot be deleted")
    expect(blockers).to_contain_text(f"is an input of job {reader.id}")
    expect(blockers.get_by_role("link", name=re.compile(f"job {reader.name}"))).to_have_attribute(
        "href", f"/ui/jobs/{reader.id}"
    )
    page.screenshot(path=output_dir / "delete-refused.png", full_page=True)
    assert client.jobs.get(producer.id).state is JobState.SUCCEEDED  # the plan deleted nothing

    blockers.get_by_role("link", name=f"delete {reader.name} first").click()
    expect(page.get_by_role("heading", name=f"Delete {reader.name}")).to_be_visible()
    page.get_by_role("button", name=re.compile("for good")).click()
    # back on the producer's plan, which the reader no longer blocks
    expect(page.get_by_role("heading", name=f"Delete {producer.name}")).to_be_visible()
    expect(page.locator("ol.plan")).to_contain_text(producer.id)
    page.get_by_role("button", name=re.compile("for good")).click()
    expect(page.get_by_role("status").first).to_contain_text(f"Deleted job {producer.id}")
    for gone in (producer.id, reader.id):
        with pytest.raises(jobnode.NotFound):
            client.jobs.get(gone)
    page.goto(job_page(service, producer.id))
    expect(page.get_by_role("heading", name=f"Job {producer.id} was deleted")).to_be_visible()


def test_resubmit_the_failed_items(page: Page, client: jobnode.Client, service: ServiceProcess) -> None:
    job = client.jobs.wait(
        client.jobs.create(name=unique("resubmit"), step="fail", items=[1, 2, 3, 4], params={"fail_items": [2, 4]}).id
    )
    assert job.state is JobState.FAILED
    page.goto(job_page(service, job.id))
    expect(page.locator("#activity")).to_contain_text("failed on purpose")
    page.get_by_role("button", name="Run the 2 failed items again").click()
    expect(page).not_to_have_url(job_page(service, job.id))
    new_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("link", name=f"resubmit-of:{job.id}")).to_be_visible()
    expect(page.locator("#items-total")).to_have_text("2")
    assert client.jobs.get(new_id).progress.items_total == 2


def test_the_step_catalogue(page: Page, service: ServiceProcess) -> None:
    page.get_by_role("link", name="Steps").click()
    sleep = page.locator("#step-sleep")
    expect(sleep.get_by_role("heading", name="sleep")).to_be_visible()
    params = sleep.get_by_role("table", name="Parameters of sleep version 1")
    expect(params).to_contain_text("seconds")
    expect(params).to_contain_text("how long each batch sleeps")
    upper = page.locator("#step-upper")
    expect(upper.get_by_role("heading", name="Version 2 (newest)")).to_be_visible()
    expect(upper.get_by_role("heading", name="Version 1")).to_be_visible()


# -- accessibility ------------------------------------------------------------------------------------------------

#: roles of the things a person operates, which must each have a name
CONTROL_ROLES = {"button", "link", "textbox", "searchbox", "combobox", "checkbox", "radio", "listbox", "spinbutton"}


def unnamed_controls(page: Page) -> list[dict[str, Any]]:
    """Controls without an accessible name, from Chromium's own accessibility tree."""
    cdp = page.context.new_cdp_session(page)
    tree = cdp.send("Accessibility.getFullAXTree")
    cdp.detach()
    out = []
    for node in tree["nodes"]:
        role = (node.get("role") or {}).get("value")
        if node.get("ignored") or role not in CONTROL_ROLES:
            continue
        if not str((node.get("name") or {}).get("value", "")).strip():
            out.append({"role": role, "node": node.get("backendDOMNodeId")})
    return out


def test_every_control_has_a_name_and_the_pages_work_by_keyboard(
    anonymous: Page, client: jobnode.Client, service: ServiceProcess
) -> None:
    producer = client.jobs.wait(
        client.jobs.create(name=unique("a11y"), step="fail", items=[1, 2, 3], params={"fail_items": [2]}).id
    )
    client.jobs.wait(
        client.jobs.create(name=unique("a11y-reader"), step="identity", artifacts=[producer.outputs[0].id]).id
    )
    page = anonymous
    page.goto(f"{service.url}/ui/login")
    assert unnamed_controls(page) == []
    log_in(page, service)
    for path in ("/ui/jobs", f"/ui/jobs/{producer.id}", f"/ui/jobs/{producer.id}/delete", "/ui/steps"):
        page.goto(service.url + path)
        assert unnamed_controls(page) == [], path
        page.keyboard.press("Tab")  # the first stop is the skip link, which takes the focus to the content
        assert page.evaluate("document.activeElement.textContent") == "Skip to content", path
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main", path

    # the log filters, by keyboard alone
    page.goto(job_page(service, producer.id))
    page.get_by_label("Level at least").focus()
    page.keyboard.press("ArrowDown")  # any -> debug
    page.keyboard.press("End")  # -> error
    page.get_by_role("button", name="Show entries").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#logs tbody tr")).to_have_count(1)
    expect(page.locator("#logs tbody tr")).to_contain_text("ItemFailed")


# -- an emulator's port -------------------------------------------------------------------------------------------


def test_the_console_on_an_emulator_s_port_shows_its_jobs_with_the_platform(
    anonymous: Page, nexus_service: ServiceProcess
) -> None:
    project = f"proj_{uuid.uuid4().hex}"
    with jobnode.Client(nexus_service.url, nexus_service.token, platform="nexus", project_id=project) as nexus:
        job = nexus.jobs.create(name=unique("cells"), step="nx_predict", items=[{"url": "https://cells.test/1.jpg"}])
        nexus.jobs.wait(job.id, timeout=60, poll_interval=0.2)
    log_in(anonymous, nexus_service)
    anonymous.goto(f"{nexus_service.url}/ui/jobs?tag={project}")
    [row] = anonymous.locator("#job-rows tr").all()
    expect(row.locator(".platform")).to_have_text("nexus")
    expect(row).to_contain_text(job.name or "")
    row.get_by_role("link", name=job.name or "").click()
    expect(anonymous.locator("#state")).to_have_text("succeeded")
