from __future__ import annotations

import jobnode


def test_identity_job_runs_to_success(client: jobnode.Client) -> None:
    job = client.jobs.create(name="smoke", step="identity", items=list(range(25)), batch_size=10)
    done = client.jobs.wait(job.id, timeout=30)
    assert done.state is jobnode.JobState.SUCCEEDED
    assert done.progress.items_processed == 25
    assert [r for r in client.artifacts.read(done.outputs[0].id)] == list(range(25))
