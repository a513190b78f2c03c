"""Pure translations between DSS's wire and jobnode: states, jobs, log lines, dataset references, job definitions,
rows as tab-separated text."""

from __future__ import annotations

import io
import itertools
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from jobnode.core.models import ArtifactsInput, DelimitedInput, FilesInput, ItemsInput, JobSpec, JobState, LogLevel
from jobnode.platforms.dataiku import mapping, table, wire
from jobnode.platforms.dataiku.backend import parse_dss_error
from jobnode.platforms.dataiku.mapping import DatasetPartition

T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z


def job_def(**extra: Any) -> dict[str, Any]:
    return {
        "id": "build_sales_NP_2024-01-01T00-00-00.000",
        "projectKey": "SHOP",
        "type": "RECURSIVE_BUILD",
        "name": "build_sales_NP",
        "initiationTimestamp": T0,
        "outputs": [
            {"targetDataset": "sales", "targetDatasetProjectKey": "SHOP", "targetPartition": "NP", "type": "DATASET"}
        ],
        **extra,
    }


def activity(activity_id: str, state: str, target: str, sources: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "activityId": activity_id,
        "recipeName": activity_id.removesuffix("_NP"),
        "state": state,
        "targets": [{"projectKey": "SHOP", "datasetName": target, "partition": "NP"}],
        "sources": [{"projectKey": "SHOP", "datasetName": s, "partition": "NP"} for s in sources],
        **extra,
    }


class TestStates:
    @pytest.mark.parametrize(
        ("state", "expected"),
        [
            ("NOT_STARTED", JobState.QUEUED),
            ("RUNNING", JobState.RUNNING),
            ("DONE", JobState.SUCCEEDED),
            ("FAILED", JobState.FAILED),
            ("ABORTED", JobState.CANCELLED),
            ("", JobState.RUNNING),  # the API client's waiter keeps polling on anything else
            ("WAITING", JobState.RUNNING),
        ],
    )
    def test_the_state_table(self, state: str, expected: JobState) -> None:
        assert mapping.job_state(state) is expected

    def test_the_terminal_states_are_the_waiters(self) -> None:
        assert {"DONE", "FAILED", "ABORTED"} == wire.TERMINAL_STATES
        assert all(mapping.job_state(s).is_terminal for s in wire.TERMINAL_STATES)


class TestJobs:
    def test_a_recursive_job_with_its_activities(self) -> None:
        body = {
            "baseStatus": {
                "def": job_def(),
                "state": "DONE",
                "stableState": True,
                "startTime": T0 + 1000,
                "endTime": T0 + 5000,
                "warningsCount": 2,
                "activities": {
                    "compute_orders_NP": activity("compute_orders_NP", "DONE", "orders", ["raw"]),
                    "compute_sales_NP": activity("compute_sales_NP", "DONE", "sales", ["orders", "prices"]),
                },
            },
            "globalState": {"done": 2, "failed": 0, "running": 0, "notStarted": 0, "aborted": 0, "total": 2},
        }
        job = mapping.to_job(wire.JobStatus.model_validate(body), url="https://dss/projects/SHOP/jobs/x/")
        assert (job.id, job.name, job.platform) == (
            "build_sales_NP_2024-01-01T00-00-00.000",
            "build_sales_NP",
            "dataiku",
        )
        assert (job.state, job.raw_state) == (JobState.SUCCEEDED, "DONE")
        assert job.message == "DONE, 2 of 2 activities done, 2 warnings"
        assert job.reason is None
        assert job.progress.items_total == 2 and job.progress.items_processed == 2 and job.progress.fraction == 1.0
        assert job.created_at == datetime(2024, 1, 1, tzinfo=UTC)
        assert job.started_at == datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC)
        assert job.ended_at == job.updated_at == datetime(2024, 1, 1, 0, 0, 5, tzinfo=UTC)
        assert [a.id for a in job.outputs] == ["SHOP.orders", "SHOP.sales"]
        assert [a.id for a in job.inputs] == ["SHOP.raw", "SHOP.prices"]  # what it read and did not build
        assert job.step == "compute_sales"
        assert job.raw is not None and job.raw["baseStatus"]["warningsCount"] == 2

    def test_a_failed_job_says_which_activity_failed_and_why(self) -> None:
        body = {
            "baseStatus": {
                "def": job_def(),
                "state": "FAILED",
                "activities": {
                    "compute_orders_NP": activity("compute_orders_NP", "DONE", "orders", ["raw"]),
                    "compute_sales_NP": activity(
                        "compute_sales_NP", "FAILED", "sales", ["orders"], errorMessage="3 of 10 items failed"
                    ),
                },
            },
            "globalState": {"done": 1, "failed": 1, "total": 2},
        }
        job = mapping.to_job(wire.JobStatus.model_validate(body), url="u")
        assert job.state is JobState.FAILED
        assert job.reason == "compute_sales_NP: 3 of 10 items failed"
        assert job.progress.items_failed == 1 and job.progress.items_processed == 1
        assert [a.id for a in job.outputs] == ["SHOP.orders"]  # what it did build is its output
        assert job.ended_at is None  # endTime 0 is "not yet"

    def test_an_aborted_job_without_activities(self) -> None:
        body = {"baseStatus": {"def": job_def(), "state": "ABORTED"}}
        job = mapping.to_job(wire.JobStatus.model_validate(body), url="u")
        assert (job.state, job.reason, job.outputs) == (JobState.CANCELLED, "the job was aborted", [])

    def test_a_status_without_a_state_keeps_waiting(self) -> None:
        job = mapping.to_job(wire.JobStatus.model_validate({"baseStatus": {"def": job_def()}}), url="u")
        assert job.state is JobState.RUNNING and not job.is_terminal

    def test_a_listing_item_as_in_the_seed(self) -> None:
        item = {
            "def": {
                "id": "build_cat_train_hdfs_NP_2015-09-28T09-17-37.455",
                "initiationTimestamp": 1443431857455,
                "initiator": "API (aa)",
                "mailNotification": False,
                "name": "build_cat_train_hdfs_NP",
                "outputs": [
                    {
                        "targetDataset": "cat_train_hdfs",
                        "targetDatasetProjectKey": "IMPALA",
                        "targetPartition": "NP",
                        "type": "DATASET",
                    }
                ],
                "projectKey": "IMPALA",
                "refreshHiveMetastore": False,
                "refreshIntermediateMirrors": True,
                "refreshTargetMirrors": True,
                "triggeredFrom": "API",
                "type": "NON_RECURSIVE_FORCED_BUILD",
            },
            "endTime": 0,
            "stableState": True,
            "startTime": 0,
            "state": "ABORTED",
            "warningsCount": 0,
        }
        job = mapping.summary_to_job(wire.JobSummary.model_validate(item), url="u")
        assert (job.id, job.state, job.started_at, job.ended_at) == (
            "build_cat_train_hdfs_NP_2015-09-28T09-17-37.455",
            JobState.CANCELLED,
            None,
            None,
        )
        assert job.raw == wire.JobSummary.model_validate(item).to_wire()

    def test_a_done_listing_item_reports_its_definitions_outputs(self) -> None:
        item = {"def": job_def(), "state": "DONE", "stableState": True}
        job = mapping.summary_to_job(wire.JobSummary.model_validate(item), url="u")
        assert [a.id for a in job.outputs] == ["SHOP.sales"]


class TestLogs:
    def test_a_whole_line(self) -> None:
        [entry] = mapping.parse_log(
            "[2024/01/31-08:00:00.123] [FRT-12-FlowRunnable] [WARN] [dku.flow.activity] act.compute_x_NP - slow disk\n"
        )
        assert entry.id == "1"
        assert entry.time == datetime(2024, 1, 31, 8, 0, 0, 123000, tzinfo=UTC)
        assert (entry.level, entry.kind, entry.item, entry.message) == (
            LogLevel.WARNING,
            "dku.flow.activity",
            "compute_x_NP",
            "slow disk",
        )

    def test_short_lines_continuations_and_blank_lines(self) -> None:
        text = (
            "[2024/01/01-00:00:00.000] [INFO] job started\n"
            "\n"
            "[2024/01/01-00:00:01.5] [t] [ERROR] [dku.recipe] act.compute_y_NP - boom\n"
            "  at com.dataiku.Foo(Foo.java:1)\n"
            "[2024/01/01-00:00:02.000] no level here\n"
        )
        entries = mapping.parse_log(text)
        assert [e.id for e in entries] == ["1", "3", "4", "5"]  # line numbers, blank lines left out
        assert (entries[0].level, entries[0].kind, entries[0].item, entries[0].message) == (
            LogLevel.INFO,
            "message",
            None,
            "job started",
        )
        # a stack trace line keeps the time, level and activity of the line before it
        assert entries[2].time == datetime(2024, 1, 1, 0, 0, 1, 500000, tzinfo=UTC)
        assert (entries[2].level, entries[2].item, entries[2].message) == (
            LogLevel.ERROR,
            "compute_y_NP",
            "  at com.dataiku.Foo(Foo.java:1)",  # kept as written
        )
        assert entries[3].level is LogLevel.INFO and entries[3].message == "no level here"

    @pytest.mark.parametrize(
        ("word", "level"),
        [
            ("TRACE", LogLevel.DEBUG),
            ("DEBUG", LogLevel.DEBUG),
            ("WARNING", LogLevel.WARNING),
            ("FATAL", LogLevel.ERROR),
        ],
    )
    def test_level_words(self, word: str, level: LogLevel) -> None:
        assert mapping.parse_log(f"[2024/01/01-00:00:00.000] [{word}] x")[0].level is level

    def test_a_written_line_reads_back(self) -> None:
        when = datetime(2024, 5, 6, 7, 8, 9, 10_000, tzinfo=UTC)
        line = mapping.log_line(
            when, LogLevel.ERROR, "two\nlines", logger="dku.flow.jobs", thread="jobnode", activity="compute_z_P1"
        )
        assert line == "[2024/05/06-07:08:09.010] [jobnode] [ERROR] [dku.flow.jobs] act.compute_z_P1 - two lines"
        [entry] = mapping.parse_log(line)
        assert (entry.time, entry.level, entry.kind, entry.item, entry.message) == (
            when,
            LogLevel.ERROR,
            "dku.flow.jobs",
            "compute_z_P1",
            "two lines",
        )


class TestDatasetPartitions:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("SHOP.sales", DatasetPartition("SHOP", "sales")),
            ("SHOP.sales@2024-01-01", DatasetPartition("SHOP", "sales", "2024-01-01")),
            ("sales", DatasetPartition("HOME", "sales")),
            ("sales@2024|FR", DatasetPartition("HOME", "sales", "2024|FR")),
        ],
    )
    def test_parse_and_back(self, text: str, expected: DatasetPartition) -> None:
        assert DatasetPartition.parse(text, "HOME") == expected
        if "." in text:
            assert expected.artifact_id == text

    @pytest.mark.parametrize("text", ["", "SHOP.", "a/b.c", "SHOP.sales@"])
    def test_a_bad_reference_names_the_field(self, text: str) -> None:
        with pytest.raises(ValueError, match=r"^input\.artifacts\.0: .* is not a DSS dataset"):
            DatasetPartition.parse(text, "HOME", field="input.artifacts.0")


def spec(**fields: Any) -> JobSpec:
    fields.setdefault("input", ArtifactsInput(artifacts=["SHOP.orders"]))
    return JobSpec(step="compute_sales", **fields)


GRAPH = wire.FlowGraph.model_validate(
    {
        "nodes": {
            "raw": {"ref": "raw", "type": "COMPUTABLE_DATASET", "successors": ["compute_orders"]},
            "prices": {"ref": "prices", "type": "COMPUTABLE_DATASET", "successors": ["compute_sales"]},
            "orders": {
                "ref": "orders",
                "type": "COMPUTABLE_DATASET",
                "predecessors": ["compute_orders"],
                "successors": ["compute_sales"],
            },
            "sales": {
                "ref": "sales",
                "type": "COMPUTABLE_DATASET",
                "predecessors": ["compute_sales"],
                "successors": ["compute_report"],
            },
            "report": {"ref": "report", "type": "COMPUTABLE_DATASET", "predecessors": ["compute_report"]},
            "compute_report": {
                "ref": "compute_report",
                "type": "RUNNABLE_RECIPE",
                "predecessors": ["sales"],
                "successors": ["report"],
            },
            "compute_orders": {
                "ref": "compute_orders",
                "type": "RUNNABLE_RECIPE",
                "predecessors": ["raw"],
                "successors": ["orders"],
            },
            "compute_sales": {
                "ref": "compute_sales",
                "type": "RUNNABLE_RECIPE",
                "predecessors": ["orders", "prices"],
                "successors": ["sales"],
            },
        }
    }
)


class TestJobSpecs:
    def test_params_are_the_build_options(self) -> None:
        options = mapping.build_options(spec(params={"type": "RECURSIVE_BUILD", "partition": "2024-01-01"}))
        definition = mapping.definition_for(options, ["sales"])
        assert definition.to_wire() == {
            "type": "RECURSIVE_BUILD",
            "outputs": [{"id": "sales", "type": "DATASET", "projectKey": None, "partition": "2024-01-01"}],
            "refreshHiveMetastore": False,
            "autoUpdateSchemaBeforeEachRecipeRun": False,
        }

    def test_engine_tuning_fields_are_accepted_and_not_sent(self) -> None:
        options = mapping.build_options(spec(batch_size=4, workers=2, max_attempts=5, max_item_failures=3, tags=["t"]))
        assert mapping.definition_for(options, ["sales"]).to_wire()["type"] == "NON_RECURSIVE_FORCED_BUILD"

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"step_version": "2"}, "step_version: a DSS recipe has no versions"),
            ({"timeout": 60}, "timeout: DSS jobs have no time limit"),
            ({"start_at": datetime(2030, 1, 1, tzinfo=UTC)}, "start_at: DSS starts a job at once"),
            ({"stop_at": datetime(2030, 1, 1, tzinfo=UTC)}, "stop_at: DSS jobs have no stop time"),
            ({"webhook": {"url": "https://example.com/hook"}}, "webhook: DSS delivers no results to webhooks"),
            ({"parent_id": "build_x"}, "parent_id: DSS jobs have no sub-jobs"),
            ({"params": {"type": "FAST_BUILD"}}, r"params\.type: Input should be"),
            ({"params": {"threshold": 1}}, r"params\.threshold: Extra inputs are not permitted"),
        ],
    )
    def test_what_cannot_map_is_refused_naming_the_field(self, fields: dict[str, Any], message: str) -> None:
        with pytest.raises(ValueError, match=message):
            mapping.build_options(spec(**fields))

    def test_the_recipe_and_its_datasets(self) -> None:
        options = mapping.build_options(spec())
        job = mapping.recipe_job(spec(), options, GRAPH, "SHOP", "compute_sales")
        assert (job.recipe, job.outputs, job.inputs, job.upload_to) == (
            "compute_sales",
            ["sales"],
            ["orders", "prices"],
            None,
        )

    def test_items_go_into_the_one_uploaded_input(self) -> None:
        items = spec(input=ItemsInput(items=[{"id": 1}]))
        assert (
            mapping.recipe_job(items, mapping.build_options(items), GRAPH, "SHOP", "compute_orders").upload_to == "raw"
        )
        files = spec(input=DelimitedInput(paths=["a.jsonl"]))
        assert (
            mapping.recipe_job(files, mapping.build_options(files), GRAPH, "SHOP", "compute_sales").upload_to
            == "prices"
        )

    @pytest.mark.parametrize(
        ("recipe", "fields", "message"),
        [
            (
                "compute_nothing",
                {},
                "step: project SHOP has no recipe 'compute_nothing'; its recipes: compute_orders, compute_report",
            ),
            ("compute_sales", {"input": ArtifactsInput(artifacts=["SHOP.raw"])}, r"input\.artifacts\.0: recipe"),
            ("compute_sales", {"input": ArtifactsInput(artifacts=["OTHER.orders"])}, r"input\.artifacts\.0: recipe"),
            ("compute_sales", {"input": ArtifactsInput(artifacts=["x/y"])}, "is not a DSS dataset"),
            ("compute_report", {"input": ItemsInput(items=[1])}, "input: recipe compute_report reads 0 uploaded"),
            ("compute_orders", {"input": FilesInput(paths=["/data"])}, "input: a DSS job reads the datasets"),
            ("compute_sales", {"params": {"outputs": ["orders"]}}, r"params\.outputs: recipe compute_sales builds"),
            ("compute_sales", {"params": {"outputs": []}}, r"params\.outputs"),
        ],
    )
    def test_a_spec_the_flow_cannot_run_names_the_field(
        self, recipe: str, fields: dict[str, Any], message: str
    ) -> None:
        job_spec = spec(**fields)
        with pytest.raises(ValueError, match=message):
            mapping.recipe_job(job_spec, mapping.build_options(job_spec), GRAPH, "SHOP", recipe)

    def test_a_step_maps_to_a_recipe(self) -> None:
        assert mapping.recipe_for("sentiment", {"sentiment": "compute_scored"}) == "compute_scored"
        assert mapping.recipe_for("compute_sales", {"sentiment": "compute_scored"}) == "compute_sales"


class TestDefinitions:
    def test_the_builder_sends_what_the_api_clients_builder_sends(self) -> None:
        definition = (
            wire.JobDefinitionBuilder("RECURSIVE_BUILD").with_output("ds2", partition="2024-01-01").definition()
        )
        # the body the API client's `new_job("RECURSIVE_BUILD").with_output(...)` sends (protocol, 5.1)
        assert definition.to_wire() == {
            "type": "RECURSIVE_BUILD",
            "refreshHiveMetastore": False,
            "outputs": [{"type": None, "id": "ds2", "projectKey": None, "partition": "2024-01-01"}],
            "autoUpdateSchemaBeforeEachRecipeRun": False,
        }

    def test_a_builder_without_outputs_says_what_to_do(self) -> None:
        with pytest.raises(ValueError, match=r"outputs: .* call with_output"):
            wire.JobDefinitionBuilder().definition()

    def test_the_waiters_pauses(self) -> None:
        delays = list(itertools.islice(mapping.waiter_delays(), 60))
        assert delays[:3] == pytest.approx([0.2, 0.22, 0.242])
        assert max(delays) == 15.0 and delays[-1] == 15.0
        assert sum(1 for _ in itertools.takewhile(lambda t: t < 20, itertools.accumulate(delays))) == 25


class TestErrors:
    def test_the_detailed_message_and_the_error_type(self) -> None:
        body = {
            "errorType": "com.dataiku.dip.exceptions.UnknownObjectException",
            "message": "Job nope not found",
            "detailedMessage": "Job nope not found in project MYPROJ",
        }
        message, code, details = parse_dss_error(httpx.Response(404, json=body))
        assert (message, code, details) == (
            "Job nope not found in project MYPROJ",
            "com.dataiku.dip.exceptions.UnknownObjectException",
            body,
        )

    def test_a_body_that_is_not_dss_s(self) -> None:
        assert parse_dss_error(httpx.Response(502, text="Bad gateway"))[0] == "Bad gateway"


class TestTables:
    RECORDS: list[Any] = [
        {"id": 1, "text": 'a "quoted"\ttab\nand newline', "score": 0.5, "ok": True, "tags": ["x"], "meta": {"k": 1}},
        {"id": 2, "text": "", "score": 2, "ok": False, "tags": [], "meta": None},
        "a bare value",
    ]

    def test_the_schema_of_records(self) -> None:
        columns = {c.name: c.type for c in table.schema_of(self.RECORDS)}
        assert columns == {
            "id": "bigint",
            "text": "string",
            "score": "double",  # an int and a float
            "ok": "boolean",
            "tags": "array",
            "meta": "object",
            "value": "string",
        }

    def test_rows_read_back_typed(self) -> None:
        columns = table.schema_of(self.RECORDS)
        text = "".join(table.tsv_lines(self.RECORDS, columns))
        rows = list(table.read_tsv(io.StringIO(text), columns))
        assert rows[0] == {**self.RECORDS[0], "value": ""}
        assert rows[1] == {"id": 2, "text": "", "score": 2.0, "ok": False, "tags": [], "meta": None, "value": ""}
        assert rows[2]["value"] == "a bare value" and rows[2]["id"] is None

    def test_a_header_row(self) -> None:
        columns = table.schema_of([{"a": 1, "b": "x"}])
        assert list(table.tsv_lines([{"a": 1, "b": "x"}], columns, header=True)) == ["a\tb\n", "1\tx\n"]

    def test_whole_rows_end_outside_quotes(self) -> None:
        assert table.complete_rows('a\t"b\nc"\td\ne') == len('a\t"b\nc"\td\n')
        assert table.complete_rows('a\t"b\nc') == 0
        assert table.complete_rows('"x""y"\n') == 7

    def test_schemas_merge(self) -> None:
        merged = table.merge_schemas(
            [
                [wire.SchemaColumn(name="a", type="bigint")],
                [wire.SchemaColumn(name="a", type="double"), wire.SchemaColumn(name="b", type="boolean")],
            ]
        )
        assert [(c.name, c.type) for c in merged] == [("a", "double"), ("b", "boolean")]
