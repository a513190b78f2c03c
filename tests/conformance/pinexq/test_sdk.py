"""PinexQ's official SDK (`pinexq-client`, unmodified, in its own environment) against `jobnode serve --platform
pinexq`: every example of the seed, verbatim where the seed gives code (with the SDK's real spelling where it
differs: `select_processing(function_version=...)`, not `version=`; the fluent chain in parentheses).

The processing steps are those of `tests/platforms/pinexq/steps.py`: `my_function` in versions 1.0.0 and 2.0.0,
`px_scale` (maps records) and `px_required` (a parameter without a default).
"""

from __future__ import annotations

import uuid

import pytest

from tests.conformance.pinexq.conftest import Sdk
from tests.conformance.sdk_runner import SdkError

#: code that gives a job over input WorkData (`px_scale` of two records): its results are output WorkData
JOB_WITH_OUTPUT = """
wd = WorkData(client).create(filename="values.json", json=[{"value": 1}, {"value": 2}], tags=[tag])
job = Job(client).create(name=tag).select_processing(function_name="px_scale", function_version="1")
job.assign_collection_input_dataslot(0, work_data_instances=[wd])
job.start().wait_for_completion(timeout_s=60.0)
[output] = job.get_output_data_slots()[0].assigned_workdatas
"""


@pytest.fixture
def tag() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


class TestStartingAJob:
    def test_the_walkthrough_of_the_seed(self, sdk: Sdk) -> None:
        result = sdk.run(
            """
from pinexq.client.job_management import Job
# httpx client is already configured with host and credentials
job = Job(client).create(name="MyJob")

# job from previous snippet
# by function name and version
job.select_processing(function_name="my_function", function_version="1.0.0")

job.set_tags(["test", "my_function"])

job_parameters = {"x": 5}
job.configure_parameters(**job_parameters) # or just job.configure_parameters(x=5)
ready = job.get_state()

# start the job
job.start()

job.wait_for_completion(timeout_s=60.0)

# wait for completion first!
result = job.get_result()
result = {"ready": ready, "result": result, "state": job.get_state(), "tags": job.job_hco.tags,
          "processing": job.get_processing_info(), "parameters": job.job_hco._entity.properties.configured_parameters}
"""
        )
        assert result["ready"] == "ReadyForProcessing"
        assert result["result"] == {"x": 5, "square": 25}
        assert result["state"] == "Completed"
        assert result["tags"] == ["test", "my_function"]
        assert (result["processing"]["FunctionName"], result["processing"]["Version"]) == ("my_function", "1.0.0")
        assert result["parameters"] == '{"x": 5}'

    def test_select_processing_by_instance_and_by_link(self, sdk: Sdk) -> None:
        result = sdk.run(
            """
ps_instance = ProcessingStep.from_name(client=client, step_name="my_function", version="2.0.0")
ps_url = ps_instance.self_link()
job = Job(client).create(name="by-instance")
# by instance obtained either by a ProcessingStep query or by creating a ProcessingStep object
job.select_processing(processing_step_instance=ps_instance)
other = Job(client).create(name="by-link")
# by link
other.select_processing(processing_step_link=ps_url)
result = [j.job_hco.processing.version for j in (job, other)] + [job.configure_parameters(x=2).start()
          .wait_for_completion(timeout_s=60.0).get_result()]
"""
        )
        assert result == ["2.0.0", "2.0.0", {"x": 2, "cube": 8}]

    def test_omitting_the_version_when_several_exist_is_an_error_that_lists_them(self, sdk: Sdk) -> None:
        with pytest.raises(SdkError) as refused:
            sdk.run('Job(client).create(name="no-version").select_processing(function_name="my_function")')
        assert refused.value.type == "ApiException"
        assert "status: 400" in refused.value.message
        assert "several versions (2.0.0, 1.0.0)" in refused.value.message
        # a function with one version needs none
        assert (
            sdk.run(
                'result = Job(client).create(name="one-version").select_processing(function_name="px_scale")'
                ".job_hco.processing.version"
            )
            == "1"
        )

    def test_a_version_that_does_not_exist_names_the_ones_that_do(self, sdk: Sdk) -> None:
        with pytest.raises(SdkError) as refused:
            sdk.run('ProcessingStep.from_name(client=client, step_name="my_function", version="9.9.9")')
        assert refused.value.type == "NameError"
        assert "Available versions: ['my_function:2.0.0', 'my_function:1.0.0']" in refused.value.message

    def test_from_name_picks_the_highest_version_by_default(self, sdk: Sdk) -> None:
        version = sdk.run(
            'result = ProcessingStep.from_name(client=client, step_name="my_function").processing_step_hco.version'
        )
        assert version == "2.0.0"

    def test_a_job_is_ready_only_once_its_parameters_are_configured(self, sdk: Sdk) -> None:
        result = sdk.run(
            """
job = Job(client).create(name="needs-n").select_processing(function_name="px_required")
before = (job.get_state(), bool(job.job_hco.start_processing_action))
job.configure_parameters(n=3)
result = [before, job.get_state(), bool(job.job_hco.start_processing_action)]
"""
        )
        assert result == [["Created", False], "ReadyForProcessing", True]

    def test_wrong_parameters_are_refused_naming_the_field(self, sdk: Sdk) -> None:
        with pytest.raises(SdkError) as refused:
            sdk.run(
                'Job(client).create(name="bad-x").select_processing(function_name="px_required").configure_parameters(n="many")'
            )
        assert "status: 400" in refused.value.message
        assert "Parameters.n" in refused.value.message

    def test_a_job_offers_only_the_actions_its_state_allows(self, sdk: Sdk) -> None:
        with pytest.raises(SdkError) as early:
            sdk.run('Job(client).create(name="not-ready").start()')
        assert early.value.type == "NotAvailableException"
        with pytest.raises(SdkError) as late:
            sdk.run(
                """
job = Job(client).create(name="done").select_processing(function_name="my_function", function_version="1.0.0")
job.start().wait_for_completion(timeout_s=60.0)
job.configure_parameters(x=7)
"""
            )
        assert late.value.type == "NotAvailableException"

    def test_an_error_of_the_step_is_the_jobs_error_description(self, sdk: Sdk) -> None:
        with pytest.raises(SdkError) as failed:
            sdk.run(
                """
job = Job(client).create(name="fails").select_processing(function_name="my_function", function_version="1.0.0")
job.configure_parameters(x=4, fail=True).start().wait_for_completion(timeout_s=60.0)
"""
            )
        assert failed.value.type == "PollingException"
        assert "my_function refuses x=4" in failed.value.message

    def test_waits_are_woken_by_the_event_stream_which_keeps_the_sdk_listening(self, sdk: Sdk) -> None:
        """A wait returns once the job completes (the stream's event wakes it), and the SDK's event thread outlives
        six quiet seconds: the keep-alives come more often than its 5-second read timeout."""
        result = sdk.run(
            """
import time
from pinexq.client.core.api_event_manager import ApiEventManagerSingleton
job = Job(client).create(name="sleeps").select_processing(function_name="my_function", function_version="1.0.0")
job.configure_parameters(x=3, sleep=1.0).start()
pending = job.job_hco.state
job.wait_for_completion(timeout_s=60.0)
time.sleep(6)
worker = ApiEventManagerSingleton().workers[client].worker
result = [pending, job.get_state(), worker.is_alive()]
"""
        )
        assert result[0] in ("Pending", "Processing")  # it sleeps a second: the wait had to wait
        assert result[1:] == ["Completed", True]


class TestDeletion:
    def test_a_job_is_not_deleted_while_its_output_workdata_exists_and_is_after(self, sdk: Sdk, tag: str) -> None:
        with pytest.raises(SdkError) as refused:
            sdk.run(JOB_WITH_OUTPUT + "job.delete()", tag=tag)
        assert refused.value.type == "ApiException"
        assert "status: 409" in refused.value.message
        assert "still has output WorkData" in refused.value.message
        result = sdk.run(
            """
job = JobQuery.create(client, name=tag).one()
[output] = job.get_output_data_slots()[0].assigned_workdatas
WorkData.from_hco(output).delete()
job.delete()
result = JobQuery.create(client, name=tag).count()
""",
            tag=tag,
        )
        assert result == 0

    def test_workdata_is_not_deleted_while_a_job_uses_it_as_input(self, sdk: Sdk, tag: str) -> None:
        with pytest.raises(SdkError) as unstarted:
            sdk.run(
                """
wd = WorkData(client).create(filename="in.json", json=[1, 2], tags=[tag])
job = Job(client).create(name=tag).select_processing(function_name="px_scale")
job.assign_input_dataslot(0, work_data_instance=wd)
wd.delete()
""",
                tag=tag,
            )
        assert "is selected as input of job" in unstarted.value.message
        with pytest.raises(SdkError) as started:
            sdk.run(
                """
job = JobQuery.create(client, name=tag).one()
job.start().wait_for_completion(timeout_s=60.0)
[wd] = job.get_input_data_slots()[0].selected_workdatas
WorkData.from_hco(wd).delete()
""",
                tag=tag,
            )
        assert "is an input of job" in started.value.message
        result = sdk.run(
            """
job = JobQuery.create(client, name=tag).one()
wd = WorkData.from_hco(job.get_input_data_slots()[0].selected_workdatas[0])
job.delete_with_associated()
result = [wd.refresh().work_data_hco.is_used_as_job_input, wd.delete().work_data_hco is None]
""",
            tag=tag,
        )
        assert result == [False, True]

    def test_a_job_with_sub_jobs_is_not_deleted(self, sdk: Sdk, tag: str) -> None:
        with pytest.raises(SdkError) as refused:
            sdk.run(
                """
parent = Job(client).create(name=tag)
child = parent.create_sub_job(tag + "-child")
parent.delete()
""",
                tag=tag,
            )
        assert "has sub-job" in refused.value.message

    def test_delete_with_associated_removes_outputs_and_sub_jobs_and_keeps_the_input(self, sdk: Sdk, tag: str) -> None:
        result = sdk.run(
            JOB_WITH_OUTPUT
            + """
child = job.create_sub_job(tag + "-child").select_processing(function_name="px_scale")
child.assign_input_dataslot(0, work_data_link=output.self_link)
child.start().wait_for_completion(timeout_s=60.0)
grandchild = child.create_sub_job(tag + "-grandchild")

job.delete_with_associated(
delete_output_workdata=True,
delete_input_workdata=False,
delete_subjobs_with_data=True)

result = [JobQuery.create(client, name=n).count() for n in (tag, tag + "-child", tag + "-grandchild")]
result.append(wd.refresh().work_data_hco.is_used_as_job_input)
result.append(output.self_link.exists())
""",
            tag=tag,
        )
        assert result == [0, 0, 0, False, False]


class TestExamples:
    def test_the_fluent_chain(self, sdk: Sdk) -> None:
        result = sdk.run(
            """
from pinexq.client.job_management import Job
job = (Job(client).create("my_job")
.select_processing(function_name="my_function", function_version="1.0.0")
.set_tags(["test", "my_function"])
.configure_parameters(x=5)
.start()
.wait_for_completion(timeout_s=60.0))
result = job.get_result()
url = job.self_link().get_url()
job.delete()
result = [result, client.get(str(url)).status_code, job.job_hco]
"""
        )
        assert result == [{"x": 5, "square": 25}, 404, None]

    def test_from_name_and_create_and_configure_rapidly(self, sdk: Sdk) -> None:
        result = sdk.run(
            """
from pinexq.client.job_management import Job, ProcessingStep
processing_step = ProcessingStep.from_name(
client=client,
step_name="my_function",
version="1.0.0")
job = Job(client=client).create_and_configure_rapidly(
name="my_job",
processing_step_instance=processing_step, # or processing_step_url="..."
tags=["test", "my_function"],
start=True
)
started = job.job_hco.state
result = [started, job.wait_for_completion(timeout_s=60.0).get_result(), job.job_hco.tags]
"""
        )
        assert result[0] in ("Pending", "Processing", "Completed")
        assert result[1:] == [{"x": 1, "square": 1}, ["test", "my_function"]]

    def test_rapid_setup_with_input_workdata_and_parameters(self, sdk: Sdk, tag: str) -> None:
        result = sdk.run(
            """
from pinexq.client.job_management.tool.job import InputDataSlotParameterFlexible
wd = WorkData(client).create(
    filename="v.jsonl", binary=b'{"value": 5}\\n{"value": 6}\\n', mediatype="application/x-ndjson")
job = Job(client).create_and_configure_rapidly(
    name=tag, processing_step_url=ProcessingStep.from_name(client, "px_scale").self_link(), parameters='{"factor": 10}',
    input_data_slots=[InputDataSlotParameterFlexible.create(index=0, work_data_instances=[wd])], start=True)
job.wait_for_completion(timeout_s=60.0)
[output] = job.get_output_data_slots()[0].assigned_workdatas
result = [job.get_result(), WorkData.from_hco(output).download().decode()]
""",
            tag=tag,
        )
        assert result[0] == {"items": 2, "processed": 2, "failed": 0}
        assert result[1] == '{"value":5,"scaled":50.0}\n{"value":6,"scaled":60.0}\n'


class TestWorkDataAndQueries:
    def test_an_upload_downloads_as_it_was_sent(self, sdk: Sdk, tag: str) -> None:
        result = sdk.run(
            """
wd = WorkData(client).create(filename="blob.bin", binary=bytes(range(256)), tags=[tag])
hco = wd.work_data_hco
result = [hco.name, hco.kind, hco.size_in_bytes, hco.tags, list(wd.download()) == list(range(256))]
""",
            tag=tag,
        )
        assert result == ["blob.bin", "ClientUpload", 256, [tag], True]

    def test_job_queries_filter_by_state_and_tags(self, sdk: Sdk, tag: str) -> None:
        result = sdk.run(
            """
for x in (1, 2, 3):
    Job(client).create(name=f"q{x}").select_processing(function_name="my_function", function_version="1.0.0") \\
        .set_tags([tag]).configure_parameters(x=x).start().wait_for_completion(timeout_s=60.0)
Job(client).create(name="q-idle").set_tags([tag])
result = [JobQuery.create(client, tags_by_and=[tag]).count(),
          JobQuery.create(client, tags_by_and=[tag], state=JobStates.completed).count(),
          len(JobQuery.create(client, tags_by_and=[tag], page_size=2).to_list())]
""",
            tag=tag,
        )
        assert result == [4, 3, 4]

    def test_logs_and_metrics_of_a_job(self, sdk: Sdk) -> None:
        result = sdk.run(
            """
job = Job(client).create(name="logged").select_processing(function_name="my_function", function_version="1.0.0")
job.start().wait_for_completion(timeout_s=60.0)
logs = job.get_logs()
result = [len(logs.logs) > 0, {e["Level"] for e in logs.logs} <= {"Information", "Warning", "Error", "Debug"},
          job.get_metrics().metrics["ItemsProcessed"]]
"""
        )
        assert result == [True, True, 1]

    def test_a_wrong_api_key_is_refused(self, sdk: Sdk, pinexq_url: str) -> None:
        with pytest.raises(SdkError) as refused:
            sdk.run(
                "from pinexq.client.job_management.enterjma import create_pinexq_client\n"
                "Job(create_pinexq_client(url, 'not-the-key'))",
                url=pinexq_url,
            )
        assert refused.value.type == "ApiException"
        assert "status: 401" in refused.value.message
        assert "not-the-key" not in refused.value.message
