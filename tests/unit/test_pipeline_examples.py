"""The pipeline examples install cpctl on its own and deploy with it, with flags cpctl really has."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml
from controlplane_client.cli import parser

PIPELINES = Path(__file__).resolve().parents[2] / "examples" / "pipelines"


def _scripts(node: object) -> list[str]:
    """Every shell script of a workflow (GitHub ``run``) or a pipeline (Azure DevOps ``script``)."""
    if isinstance(node, dict):
        found = [value for key, value in node.items() if key in ("run", "script") and isinstance(value, str)]
        return found + [script for value in node.values() for script in _scripts(value)]
    if isinstance(node, list):
        return [script for item in node for script in _scripts(item)]
    return []


@pytest.mark.parametrize("name", ["github-actions.yml", "azure-pipelines.yml"])
def test_a_pipeline_example_installs_the_client_alone_and_deploys_with_cpctl_wait(name: str) -> None:
    text = (PIPELINES / name).read_text()
    scripts = _scripts(yaml.safe_load(text))
    assert "pip install ./client" in scripts  # the client distribution only: not the app's requirements
    assert "curl" not in text and "requirements.txt" not in text
    (deploy,) = [line for script in scripts for line in script.splitlines() if line.startswith("cpctl ")]
    args = parser({}).parse_args(shlex.split(deploy)[1:])
    assert args.command.__name__ == "deploy_release" and args.release == "release.yaml" and args.wait
    for variable in ("CONTROLPLANE_URL", "CONTROLPLANE_KEY"):
        assert f"{variable}:" in text, f"{name} does not pass {variable} to cpctl"
