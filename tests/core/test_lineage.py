"""The lineage planner on hand-made graphs: each rule, the order of steps, cleanup's largest safe subset."""

from __future__ import annotations

import pytest

from jobnode.core.lineage import JobNode, LineageGraph, plan_artifact_deletion, plan_cleanup, plan_deletion
from jobnode.core.models import DeletePlan


def node(
    id: str,
    *,
    terminal: bool = True,
    inputs: tuple[str, ...] = (),
    outputs: tuple[str, ...] = (),
    parent: str | None = None,
) -> JobNode:
    return JobNode(id, terminal, frozenset(inputs), frozenset(outputs), parent)


def steps(plan: DeletePlan) -> list[tuple[str, str]]:
    return [(s.action, s.id) for s in plan.steps]


def kinds(plan: DeletePlan) -> list[tuple[str, str, str | None]]:
    return [(b.kind, b.id, b.by) for b in plan.blockers]


CHAIN = LineageGraph.of(
    node("a", outputs=("a/out",)),
    node("b", inputs=("a/out",), outputs=("b/out",)),
)


class TestPlanDeletion:
    def test_a_finished_job_without_outputs_is_deleted(self) -> None:
        plan = plan_deletion(LineageGraph.of(node("a")), ["a"])
        assert plan.allowed and steps(plan) == [("delete_job", "a")] and plan.job_id == "a"

    def test_rule_1_a_running_job_is_refused_unless_cancelled_first(self) -> None:
        graph = LineageGraph.of(node("a", terminal=False))
        assert kinds(plan_deletion(graph, ["a"])) == [("job_state", "a", None)]
        plan = plan_deletion(graph, ["a"], cancel_first=True)
        assert plan.allowed and steps(plan) == [("cancel", "a"), ("delete_job", "a")]

    def test_rule_2_outputs_go_only_when_asked(self) -> None:
        graph = LineageGraph.of(node("a", outputs=("a/x", "a/y")))
        assert kinds(plan_deletion(graph, ["a"])) == [("outputs", "a", "a/x"), ("outputs", "a", "a/y")]
        plan = plan_deletion(graph, ["a"], delete_outputs=True)
        assert steps(plan) == [("delete_artifact", "a/x"), ("delete_artifact", "a/y"), ("delete_job", "a")]

    def test_rule_3_a_consumed_output_blocks_its_producer(self) -> None:
        plan = plan_deletion(CHAIN, ["a"], delete_outputs=True)
        assert not plan.allowed and plan.steps == []
        assert kinds(plan) == [("consumer", "a/out", "b")]
        assert "job b" in plan.blockers[0].reason

    def test_consumers_go_before_producers(self) -> None:
        plan = plan_deletion(CHAIN, ["a", "b"], delete_outputs=True)
        assert steps(plan) == [
            ("delete_artifact", "b/out"),
            ("delete_job", "b"),
            ("delete_artifact", "a/out"),
            ("delete_job", "a"),
        ]
        assert plan.job_id is None and plan.targets == ["a", "b"]

    def test_rule_4_sub_jobs_go_with_their_data_or_block(self) -> None:
        graph = LineageGraph.of(
            node("p", outputs=("p/out",)),
            node("c1", parent="p", outputs=("c1/out",)),
            node("g", parent="c1"),
            node("c2", parent="p"),
        )
        refused = plan_deletion(graph, ["p"], delete_outputs=True)
        assert kinds(refused) == [("subjob", "p", "c1"), ("subjob", "p", "c2")]
        plan = plan_deletion(graph, ["p"], delete_outputs=True, delete_subjobs=True)
        assert steps(plan) == [
            ("delete_job", "c2"),
            ("delete_job", "g"),
            ("delete_artifact", "c1/out"),
            ("delete_job", "c1"),
            ("delete_artifact", "p/out"),
            ("delete_job", "p"),
        ]

    def test_a_sub_job_read_by_a_surviving_job_blocks_its_parent(self) -> None:
        graph = LineageGraph.of(node("p"), node("c", parent="p", outputs=("c/out",)), node("r", inputs=("c/out",)))
        plan = plan_deletion(graph, ["p"], delete_subjobs=True)
        assert kinds(plan) == [("consumer", "c/out", "r")]

    def test_rule_6_a_dry_run_is_the_same_plan(self) -> None:
        real = plan_deletion(CHAIN, ["a", "b"], delete_outputs=True)
        dry = plan_deletion(CHAIN, ["a", "b"], delete_outputs=True, dry_run=True)
        assert dry.dry_run and dry.model_copy(update={"dry_run": False}) == real

    def test_protected_artifacts_and_unknown_jobs_are_blockers(self) -> None:
        graph = LineageGraph(jobs=CHAIN.jobs, protected=frozenset({"b/out"}))
        plan = plan_deletion(graph, ["b", "nope"], delete_outputs=True)
        assert kinds(plan) == [("not_found", "nope", None), ("protected", "b/out", "b")]

    def test_every_blocker_is_listed_at_once(self) -> None:
        graph = LineageGraph.of(
            node("a", terminal=False, outputs=("a/out",)), node("b", inputs=("a/out",)), node("c", parent="a")
        )
        # the consumer is listed too: it would still refuse the deletion with delete_outputs=True
        assert {b.kind for b in plan_deletion(graph, ["a"]).blockers} == {"job_state", "outputs", "subjob", "consumer"}


class TestPlanArtifactDeletion:
    def test_refused_while_read(self) -> None:
        assert kinds(plan_artifact_deletion(CHAIN, ["a/out"])) == [("consumer", "a/out", "b")]
        plan = plan_artifact_deletion(CHAIN, ["b/out"], dry_run=True)
        assert plan.allowed and plan.dry_run and steps(plan) == [("delete_artifact", "b/out")]


class TestPlanCleanup:
    def test_deletes_what_it_can_and_keeps_the_rest(self) -> None:
        graph = LineageGraph.of(
            node("extract", outputs=("e/out",)),
            node("transform", inputs=("e/out",), outputs=("t/out",)),
            node("report", inputs=("t/out",), outputs=("r/out",)),
            node("running", terminal=False),
            node("reader", inputs=("r/out",)),  # not a target: it stays and keeps r/out (and so report)
        )
        plan = plan_cleanup(graph, ["extract", "transform", "report", "running", "ghost"])
        assert plan.allowed
        assert kinds(plan) == [
            ("kept", "extract", "transform"),
            ("kept", "transform", "report"),
            ("kept", "report", "reader"),
            ("job_state", "running", None),
            ("not_found", "ghost", None),
        ]
        assert plan.steps == []

    def test_protected_outputs_keep_their_producer_only(self) -> None:
        graph = LineageGraph.of(node("a", outputs=("a/out",)), node("b", inputs=("a/out",), outputs=("b/out",)))
        plan = plan_cleanup(graph, ["a", "b"], protected={"a/out"})
        assert steps(plan) == [("delete_artifact", "b/out"), ("delete_job", "b")]
        assert kinds(plan) == [("kept", "a", "a/out")]

    def test_without_delete_outputs_jobs_with_outputs_are_kept(self) -> None:
        graph = LineageGraph.of(node("a", outputs=("a/out",)), node("b"))
        plan = plan_cleanup(graph, ["a", "b"], delete_outputs=False)
        assert steps(plan) == [("delete_job", "b")] and kinds(plan) == [("outputs", "a", "a/out")]

    @pytest.mark.parametrize("targets", [["p"], ["p", "c"]])
    def test_sub_jobs_are_never_added(self, targets: list[str]) -> None:
        graph = LineageGraph.of(node("p"), node("c", parent="p"))
        plan = plan_cleanup(graph, targets)
        if targets == ["p"]:
            assert kinds(plan) == [("subjob", "p", "c")] and plan.steps == []
        else:
            assert steps(plan) == [("delete_job", "c"), ("delete_job", "p")]
