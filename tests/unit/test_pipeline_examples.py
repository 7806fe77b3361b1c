"""The pipeline examples in the README parse and call the API the way the README describes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

PIPELINES = Path(__file__).resolve().parents[2] / "examples" / "pipelines"


@pytest.mark.parametrize("name", ["github-actions.yml", "azure-pipelines.yml"])
def test_a_pipeline_example_posts_with_an_idempotency_key_and_polls_the_status_uri(name: str) -> None:
    text = (PIPELINES / name).read_text()
    assert isinstance(yaml.safe_load(text), dict)
    for needed in ("/api/deployments", "Idempotency-Key", "statusQueryGetUri", "controlplane validate"):
        assert needed in text, f"{name} does not use {needed}"
    # The status URL carries no key (least privilege): the pipeline polls it with its own, for the state.
    assert 'curl -sS -H "x-functions-key: $CONTROLPLANE_KEY" "$status_url" | jq -r .state' in text
    assert "runtimeStatus" not in text
