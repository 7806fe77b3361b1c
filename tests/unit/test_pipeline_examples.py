"""The pipeline examples install cpctl on its own and deploy with it, with flags cpctl really has, as an Entra ID
identity (a token, or the audience DefaultAzureCredential gets one for), never a function key."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml
from controlplane_client.cli import parser

PIPELINES = Path(__file__).resolve().parents[2] / "examples" / "pipelines"


def _scripts(node: object) -> list[str]:
    """Every shell script of a workflow (GitHub ``run``) or a pipeline (Azure DevOps ``script``, a task's
    ``inlineScript``)."""
    if isinstance(node, dict):
        keys = ("run", "script", "inlineScript")
        found = [value for key, value in node.items() if key in keys and isinstance(value, str)]
        return found + [script for value in node.values() for script in _scripts(value)]
    if isinstance(node, list):
        return [script for item in node for script in _scripts(item)]
    return []


@pytest.mark.parametrize("name", ["github-actions.yml", "azure-pipelines.yml"])
def test_a_pipeline_example_installs_the_client_alone_and_deploys_with_cpctl_wait_as_an_entra_identity(
    name: str,
) -> None:
    text = (PIPELINES / name).read_text()
    scripts = _scripts(yaml.safe_load(text))
    # The client distribution only (with the entra extra where DefaultAzureCredential gets the token): not the app's
    # requirements.
    (install,) = [script for script in scripts if script.startswith("pip install")]
    assert install in ("pip install ./client", "pip install './client[entra]'")
    assert "curl" not in text and "requirements.txt" not in text
    (deploy,) = [line for script in scripts for line in script.splitlines() if line.startswith("cpctl ")]
    args = parser({}).parse_args(shlex.split(deploy)[1:])
    assert args.command.__name__ == "deploy_release" and args.release == "release.yaml" and args.wait
    assert "CONTROLPLANE_URL:" in text
    assert "CONTROLPLANE_KEY" not in text and "x-functions-key" not in text.lower()
    if "CONTROLPLANE_AUDIENCE:" in text:
        assert install.endswith("[entra]'") and "api://" in text
    else:
        assert "export CONTROLPLANE_TOKEN" in "\n".join(scripts) and "get-access-token" in text
