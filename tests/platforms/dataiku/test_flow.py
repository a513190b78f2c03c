"""Declared flows, the default flow, and the build plans of the build types (pure, no service)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jobnode.core.errors import ConfigurationError
from jobnode.platforms.dataiku.emulator.flow import (
    ALL_PARTITIONS,
    Flow,
    FlowDeclaration,
    Flows,
    ProjectDeclaration,
    plan_build,
)
from tests.platforms.dataiku.steps import DATAIKU_FLOW

CHAIN = {
    "datasets": {
        "raw": {},
        "clean": {"step": "dk_clean", "inputs": ["raw"]},
        "scored": {"recipe": "score", "step": "sentiment", "params": {"top_k": 1}, "inputs": ["clean"]},
        "report": {"inputs": ["scored", "raw"]},
    }
}


def chain() -> Flow:
    return Flow.declared("SHOP", ProjectDeclaration.model_validate(CHAIN))


def plan(flow: Flow, targets: list[tuple[str, str]], build_type: str, built: dict[tuple[str, str], int]) -> list[str]:
    return [a.activity_id for a in plan_build(flow, targets, build_type, lambda d, p: built.get((d, p)))]


class TestDeclarations:
    def test_defaults_of_a_declared_dataset(self) -> None:
        flow = chain()
        assert flow.datasets["raw"].recipe is None
        clean = flow.datasets["clean"]
        assert (clean.recipe, clean.step, clean.inputs, clean.partitioned) == (
            "compute_clean",
            "dk_clean",
            ("raw",),
            False,
        )
        scored = flow.datasets["scored"]
        assert (scored.recipe, scored.step, dict(scored.params)) == ("score", "sentiment", {"top_k": 1})
        assert flow.datasets["report"].step == "compute_report"  # the recipe's name, by default
        assert set(flow.recipes) == {"compute_clean", "score", "compute_report"}

    def test_the_graph(self) -> None:
        graph = chain().graph()
        assert graph.recipe_inputs("compute_report") == ["scored", "raw"]
        assert graph.recipe_outputs("score") == ["scored"]
        assert graph.is_source("raw") and not graph.is_source("clean")
        assert graph.downstream("raw") == ["clean", "report"]
        assert graph.nodes["clean"].predecessors == ["compute_clean"]
        assert graph.nodes["clean"].successors == ["score"]

    @pytest.mark.parametrize(
        ("datasets", "message"),
        [
            ({"a": {"inputs": ["b"]}}, r"datasets\.a\.inputs\.0: 'b' is not a dataset of this project"),
            ({"a": {"inputs": ["b"]}, "b": {"inputs": ["a"]}}, "goes round in a circle"),
            ({"a": {"recipe": "r"}, "b": {"recipe": "r"}}, r"datasets\.b\.recipe: recipe r already builds a"),
            ({"a": {}, "b": {"recipe": "a"}}, r"datasets\.b\.recipe: a is also a dataset's name"),
            ({"bad-name": {}}, r"datasets\.bad-name: a dataset name is letters"),
            ({"a": {"recipe": "no spaces"}}, "String should match pattern"),
            ({"a": {"stpe": "x"}}, "Extra inputs are not permitted"),
        ],
    )
    def test_a_bad_declaration_names_the_field(self, datasets: dict[str, Any], message: str) -> None:
        with pytest.raises(ValueError, match=message):
            ProjectDeclaration.model_validate({"datasets": datasets})

    def test_project_keys_and_patterns(self) -> None:
        declaration = FlowDeclaration.model_validate({"projects": {"SHOP": CHAIN, "SHOP_*": {"datasets": {"x": {}}}}})
        assert declaration.project("SHOP") is declaration.projects["SHOP"]
        assert declaration.project("SHOP_7") is declaration.projects["SHOP_*"]
        assert declaration.project("OTHER") is None

    def test_the_test_flows_load_from_toml(self) -> None:
        declaration = FlowDeclaration.load(DATAIKU_FLOW)
        assert set(declaration.projects) == {"CHAIN_*", "PART_*", "REVIEWS_*"}
        assert declaration.projects["REVIEWS_*"].datasets["reviews_scored"].recipe == "sentiment"

    def test_json_files_and_bad_files(self, tmp_path: Path) -> None:
        good = tmp_path / "flow.json"
        good.write_text(json.dumps({"projects": {"SHOP": CHAIN}}))
        assert FlowDeclaration.load(good).project("SHOP") is not None
        bad = tmp_path / "bad.toml"
        bad.write_text('[projects.SHOP.datasets.a]\ninputs = ["nope"]\n')
        with pytest.raises(
            ConfigurationError, match=r"projects\.SHOP: datasets\.a\.inputs\.0: 'nope' is not a dataset"
        ):
            FlowDeclaration.load(bad)
        with pytest.raises(ConfigurationError, match="cannot read the flow declaration"):
            FlowDeclaration.load(tmp_path / "missing.toml")

    def test_the_environment_names_the_file(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("JOBNODE_DATAIKU_FLOW", raising=False)
        assert FlowDeclaration.from_env().projects == {}
        monkeypatch.setenv("JOBNODE_DATAIKU_FLOW", str(DATAIKU_FLOW))
        assert "CHAIN_*" in FlowDeclaration.from_env().projects


class TestDefaultFlow:
    def test_compute_steps_build_their_datasets(self) -> None:
        flows = Flows(
            FlowDeclaration(),
            steps=lambda: ["identity", "compute_sales", "compute_sales", "compute_bad-name"],
            uploaded=lambda key: ["prices", "sales"],
        )
        flow = flows.get("ANY_PROJECT")
        assert set(flow.datasets) == {"sales", "prices"}
        sales = flow.datasets["sales"]
        assert (sales.recipe, sales.step, sales.inputs, sales.partitioned) == (
            "compute_sales",
            "compute_sales",
            (),
            None,
        )
        assert flow.datasets["prices"].recipe is None
        assert not flows.is_declared("ANY_PROJECT")

    def test_a_dataset_of_the_default_flow_takes_any_partition(self) -> None:
        sales = Flow.default("P", ["compute_sales"], []).datasets["sales"]
        assert sales.partition(None, field="f") == "NP"
        assert sales.partition("2024-01-01", field="f") == "2024-01-01"


class TestPlans:
    def test_a_non_recursive_build_runs_the_targets_only(self) -> None:
        assert plan(chain(), [("report", "NP")], "NON_RECURSIVE_FORCED_BUILD", {}) == ["compute_report_NP"]

    def test_a_forced_recursive_build_runs_everything_upstream_in_order(self) -> None:
        built = {(d, "NP"): 1 for d in ("raw", "clean", "scored", "report")}
        assert plan(chain(), [("report", "NP")], "RECURSIVE_FORCED_BUILD", built) == [
            "compute_clean_NP",
            "score_NP",
            "compute_report_NP",
        ]

    def test_missing_only_builds_what_has_no_data(self) -> None:
        built = {("raw", "NP"): 1, ("clean", "NP"): 5}
        assert plan(chain(), [("report", "NP")], "RECURSIVE_MISSING_ONLY_BUILD", built) == [
            "score_NP",
            "compute_report_NP",
        ]

    def test_a_smart_build_runs_what_is_out_of_date(self) -> None:
        fresh = {("raw", "NP"): 1, ("clean", "NP"): 2, ("scored", "NP"): 3, ("report", "NP"): 4}
        assert plan(chain(), [("report", "NP")], "RECURSIVE_BUILD", fresh) == ["compute_report_NP"]
        stale = {**fresh, ("raw", "NP"): 10}  # new data was uploaded
        assert plan(chain(), [("report", "NP")], "RECURSIVE_BUILD", stale) == [
            "compute_clean_NP",
            "score_NP",
            "compute_report_NP",
        ]
        older_clean = {**fresh, ("clean", "NP"): 0}  # clean is older than raw: it and what follows
        assert plan(chain(), [("report", "NP")], "RECURSIVE_BUILD", older_clean) == [
            "compute_clean_NP",
            "score_NP",
            "compute_report_NP",
        ]

    def test_each_partition_once_for_several_targets(self) -> None:
        activities = plan(chain(), [("scored", "NP"), ("report", "NP")], "RECURSIVE_FORCED_BUILD", {})
        assert activities == ["compute_clean_NP", "score_NP", "compute_report_NP"]

    def test_partitions_follow_the_inputs(self) -> None:
        declaration = ProjectDeclaration.model_validate(
            {
                "datasets": {
                    "events": {"partitioned": True},
                    "daily": {"step": "s", "inputs": ["events"], "partitioned": True},
                    "summary": {"step": "s", "inputs": ["daily"]},
                    "lookup": {},
                    "enriched": {"step": "s", "inputs": ["daily", "lookup"], "partitioned": True},
                }
            }
        )
        flow = Flow.declared("P", declaration)
        [enriched] = plan_build(flow, [("enriched", "2024-01-02")], "NON_RECURSIVE_FORCED_BUILD", lambda d, p: None)
        assert enriched.sources == (("daily", "2024-01-02"), ("lookup", "NP"))
        [summary] = plan_build(flow, [("summary", "NP")], "RECURSIVE_FORCED_BUILD", lambda d, p: None)
        assert summary.sources == (("daily", ALL_PARTITIONS),)  # all partitions: none of them is rebuilt
        daily = flow.datasets["daily"]
        with pytest.raises(ValueError, match=r"outputs\.0\.partition: dataset daily is partitioned"):
            daily.partition("NP", field="outputs.0.partition")
        with pytest.raises(ValueError, match="dataset summary is not partitioned"):
            flow.datasets["summary"].partition("2024", field="outputs.0.partition")
