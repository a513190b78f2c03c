"""DSS projects, their recipes and their flow graph."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from jobnode.platforms.dataiku.emulator.context import Dss, project
from jobnode.service.emulation import json_response

router = APIRouter(tags=["projects"])


def _dss(request: Request) -> Dss:
    dss: Dss = request.app.state.dss
    return dss


@router.get("/projects/")
@router.get("/projects")
def list_projects(request: Request) -> Response:
    """The declared projects (by key, not pattern) and every project that has jobs or data."""
    dss = _dss(request)
    keys = {*dss.flows.declared_keys(), *dss.builds.project_keys(), *dss.datasets.project_keys()}
    return json_response([{"projectKey": key, "name": key} for key in sorted(keys)])


@router.get("/projects/{project_key}/recipes/")
@router.get("/projects/{project_key}/recipes")
def list_recipes(project_key: str, request: Request) -> Response:
    """The recipes of the project's flow; each runs a processing step of the local service."""
    key = project(project_key)
    flow = _dss(request).flows.get(key)
    return json_response(
        [
            {
                "projectKey": key,
                "name": recipe,
                "type": "python",
                "params": {"step": dataset.step, "stepParams": dict(dataset.params)},
                "inputs": {"main": {"items": [{"ref": ref} for ref in dataset.inputs]}},
                "outputs": {"main": {"items": [{"ref": dataset.name}]}},
            }
            for recipe, dataset in sorted(flow.recipes.items())
        ]
    )


@router.get("/projects/{project_key}/flow/graph/")
@router.get("/projects/{project_key}/flow/graph")
def flow_graph(project_key: str, request: Request) -> Response:
    """The flow: each dataset and recipe by name, with what comes before and after it."""
    return json_response(_dss(request).flows.get(project(project_key)).graph().to_wire())
