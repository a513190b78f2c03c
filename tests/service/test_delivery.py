"""Webhook signatures (checked by receivers with `verify_signature`)."""

from __future__ import annotations

import pytest

from jobnode.service.delivery import WEBHOOK_RETRY, sign, verify_signature

BODY = b'{"job_id": "job_1"}'


def test_a_signature_made_with_the_secret_verifies() -> None:
    signature = sign("s3cret", "1000", BODY)
    assert verify_signature("s3cret", BODY, timestamp="1000", signature=signature, now=1010)
    assert not verify_signature("other", BODY, timestamp="1000", signature=signature, now=1010)
    assert not verify_signature("s3cret", BODY, timestamp="1000", signature=signature, now=5000)  # too old


@pytest.mark.parametrize("signature", ["sha256=é", "sha256=\ud800", "", "sha256=" + "0" * 64])
def test_a_forged_signature_is_refused_not_raised(signature: str) -> None:
    """Issue 11, defect 2: a non-ASCII signature made `compare_digest` raise TypeError."""
    assert verify_signature("s3cret", BODY, timestamp="1000", signature=signature, now=1000) is False


def test_delivery_retries_the_statuses_worth_retrying() -> None:
    assert {408, 425, 429, 500, 503, 599} <= WEBHOOK_RETRY.statuses
    assert not {400, 401, 404, 410} & WEBHOOK_RETRY.statuses
