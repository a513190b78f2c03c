"""How fast the console opens a job whose log holds a million entries (issue 18). Prints; asserts nothing.

    .venv/bin/python bench/bench_console.py [--entries 1000000] [--repeat 7]

A real `jobnode serve` on 127.0.0.1 (with a token) runs one identity job over `--entries` inline items (one log
entry per item) and one over 10 items. Then, in one run, medians of `--repeat` requests each:

1. baselines, the native API: `GET /v1/jobs/{id}` and the first page of its log (`/v1/jobs/{id}/logs`, 100 entries,
   newest first), with the bearer token;
2. the console over HTTP, logged in: the job's whole page (`/ui/jobs/{id}`: state, counters, errors, events,
   outputs with a preview, lineage, the first 100 log entries, the spec), for the big and the small job; the log
   part alone, newest first, oldest first and 20 pages deep; and the ratios against the baselines;
3. the console in headless Chromium (Debian's `chromium`, driven by Playwright): from navigation to the `load`
   event of the big job's page, and to DOMContentLoaded; skipped, with a note, without Chromium.
"""

from __future__ import annotations

import argparse
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

import jobnode
from jobnode.service.process import ServiceProcess

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def median_ms(call: Callable[[], object], repeat: int) -> float:
    call()  # warm: imports, the connection, SQLite's page cache
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def ok(response: httpx.Response) -> httpx.Response:
    if response.status_code != 200:
        raise SystemExit(f"{response.request.url}: {response.status_code} {response.text[:300]}")
    return response


def deep_cursor(http: httpx.Client, job_id: str, pages: int) -> str:
    """The log cursor `pages` pages into the log, newest first, found by following the page's own links."""
    cursor = ""
    for _ in range(pages):
        html = ok(http.get(f"/ui/jobs/{job_id}/logs", params={"log_cursor": cursor} if cursor else None)).text
        found = re.search(r'class="log-next"[^>]*href="[^"]*log_cursor=([^"&#]+)', html)
        if not found:
            break
        cursor = httpx.QueryParams(f"c={found.group(1)}")["c"]
    return cursor


def browser_figures(url: str, token: str, job_id: str, repeat: int) -> tuple[float, float, int] | None:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        return None
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{url}/ui/login")
        page.get_by_label("Token").fill(token)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{url}/ui/jobs")
        loads, ready = [], []
        rows = 0
        for i in range(repeat + 1):
            page.goto(f"{url}/ui/jobs/{job_id}", wait_until="load")
            timing = page.evaluate(
                "() => { const t = performance.getEntriesByType('navigation')[0];"
                " return [t.loadEventEnd - t.startTime, t.domContentLoadedEventEnd - t.startTime]; }"
            )
            rows = page.locator("#logs tbody tr").count()
            if i:  # the first navigation warms the browser's cache of the script and the styles
                loads.append(timing[0])
                ready.append(timing[1])
        browser.close()
    return statistics.median(loads), statistics.median(ready), rows


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    token = secrets.token_hex(8)
    with tempfile.TemporaryDirectory() as tmp, ServiceProcess(Path(tmp), token=token) as service:
        with jobnode.Client(service.url, token=token) as client:
            start = time.perf_counter()
            big = client.jobs.create(
                name="bench-console", step="identity", items=list(range(args.entries)), batch_size=5000, workers=4
            )
            big = client.jobs.wait(big.id, timeout=3600)
            print(f"(made a job with {args.entries:,} log entries in {time.perf_counter() - start:.1f}s)")
            small = client.jobs.wait(client.jobs.create(name="bench-small", step="identity", items=list(range(10))).id)
        api = httpx.Client(base_url=service.url, headers={"authorization": f"Bearer {token}"}, timeout=120)
        ui = httpx.Client(base_url=service.url, headers={"accept": "text/html"}, timeout=120)
        ok_login = ui.post("/ui/login", data={"token": token})
        assert ok_login.status_code == 303, ok_login.text
        r = args.repeat

        api_job = median_ms(lambda: ok(api.get(f"/v1/jobs/{big.id}")), r)
        api_logs = median_ms(lambda: ok(api.get(f"/v1/jobs/{big.id}/logs", params={"limit": 100, "order": "desc"})), r)
        page_big = median_ms(lambda: ok(ui.get(f"/ui/jobs/{big.id}")), r)
        page_small = median_ms(lambda: ok(ui.get(f"/ui/jobs/{small.id}")), r)
        size = len(ok(ui.get(f"/ui/jobs/{big.id}")).content)
        logs_desc = median_ms(lambda: ok(ui.get(f"/ui/jobs/{big.id}/logs")), r)
        logs_asc = median_ms(lambda: ok(ui.get(f"/ui/jobs/{big.id}/logs", params={"log_order": "asc"})), r)
        cursor = deep_cursor(ui, big.id, 20)
        logs_deep = median_ms(lambda: ok(ui.get(f"/ui/jobs/{big.id}/logs", params={"log_cursor": cursor})), r)

        print(
            f"API baseline: GET /v1/jobs/{{id}} {api_job:.1f} ms; first log page (100, newest first) {api_logs:.1f} ms"
        )
        print(
            f"console, job page with {args.entries:,} log entries: {page_big:.1f} ms over HTTP "
            f"({size / 1024:.0f} KiB); "
            f"x{page_big / (api_job + api_logs):.1f} the two API calls it replaces (goal: under 1 s in the browser)"
        )
        print(f"console, job page with 10 log entries: {page_small:.1f} ms (big/small x{page_big / page_small:.2f})")
        print(
            f"console, log part alone: newest first {logs_desc:.1f} ms, oldest first {logs_asc:.1f} ms, "
            f"20 pages deep {logs_deep:.1f} ms (x{logs_desc / api_logs:.1f} the API's page)"
        )
        figures = browser_figures(service.url, token, big.id, r)
        if figures is None:
            print("headless Chromium: skipped (no chromium on PATH; apt-get install chromium)")
        else:
            load, ready, rows = figures
            print(
                f"headless Chromium, job page with {args.entries:,} log entries: load event after {load:.0f} ms, "
                f"DOMContentLoaded after {ready:.0f} ms ({rows} log rows shown)"
            )
        api.close()
        ui.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
