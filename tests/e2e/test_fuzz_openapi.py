"""The API fuzz of issue 11, driven by the service's own OpenAPI document (schemathesis): every operation gets
generated requests, valid and invalid, and every answer must be no 5xx and what the document says (status code,
content type, body schema, headers; 405 with `Allow`; 401 without the token).

Bounded for CI: `EXAMPLES` cases per operation against a service of its own (the fuzz creates and cancels jobs).
It prints how many cases ran and how many answers were 5xx.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from jobnode.service.process import ServiceProcess

EXAMPLES = 25
TOKEN = "fuzz-token"
TALLY: Counter[str] = Counter()


@pytest.fixture(scope="module")
def fuzzed_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    with ServiceProcess(tmp_path_factory.mktemp("fuzz"), token=TOKEN) as svc:
        yield svc


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def call(case: schemathesis.Case, session: requests.Session) -> None:
    if case.path == "/v1/jobs" and case.method == "POST" and isinstance(case.body, dict):
        case.body.pop("start_at", None)  # a fuzzed job must not wait for a far start time: the run stays bounded
    response = case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN}"},
        session=session,
        timeout=30,
        # a request that fits the schema may still be refused for what the schema cannot know (a step that is not
        # registered, a parent job or input file that does not exist): that refusal is a documented 4xx
        excluded_checks=[positive_data_acceptance],
    )
    TALLY["cases"] += 1
    TALLY["5xx"] += response.status_code >= 500
    if case.path == "/v1/jobs" and case.method == "POST" and response.status_code == 201:
        session.post(
            f"{case.operation.base_url}/v1/jobs/{response.json()['id']}/cancel",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
        )


def test_every_answer_is_documented_and_none_is_a_5xx(
    fuzzed_service: ServiceProcess, session: requests.Session
) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzzed_service.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
        def fuzz(case: schemathesis.Case) -> None:
            call(case, session)

        fuzz()
    print(f"\nOpenAPI fuzz: {TALLY['cases']} cases over {len(operations)} operations, {TALLY['5xx']} answers 5xx")
    assert TALLY["cases"] >= len(operations) and TALLY["5xx"] == 0
