"""The Pulumi provisioner through the real Automation API, against the stand-in CLI of tests/stubs/pulumi_cli.py."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from controlplane.adapters.azure.pulumi.provisioner import PulumiProvisioner, count_changes
from controlplane.domain.manifest import Release, parse_release
from controlplane.errors import NotFound, PermanentError, TransientError
from tests.builders import release_document
from tests.stubs import pulumi_cli

PROJECT = "runtime-environment"
STACK = f"organization/{PROJECT}/dev"
BACKEND = "azblob://pulumi-state?storage_account=cpstate"
VAULT_KEY = "azurekeyvault://cp-vault.vault.azure.net/keys/pulumi-secrets"
PROGRAM = {
    "outputs": {"resourceGroup": "rg-dev", "port": 8080, "kubeconfig": "apiVersion: v1"},
    "secret_outputs": ["kubeconfig"],
    "resources": 3,
}
OUTPUTS = {"kubeconfig": "[secret]", "port": "8080", "resourceGroup": "rg-dev"}
DIY_LOCK = (
    "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete "
    "the lock file with `pulumi cancel`.\n"
    f"  azblob://pulumi-state/.pulumi/locks/{STACK}/0b9c4f0e-3c1a-4a55-9d0e-5c1f7a1e2b3d.json: "
    "created by worker@cp-func-1 (pid 4711) at 2026-11-26T11:59:30Z"
)
CLOUD_CONFLICT = (
    "error: [409] Conflict: Another update is currently in progress.\n"
    "To learn more about possible reasons and resolution, visit https://www.pulumi.com/docs/common-errors/#conflict"
)


class Cli:
    """The stand-in CLI's installation and what it recorded."""

    def __init__(self, root: Path, world: dict[str, Any]) -> None:
        self.root = root
        self.state = root / "state.json"
        pulumi_cli.install(root, self.state, world)

    def world(self) -> dict[str, Any]:
        return json.loads(self.state.read_text())

    def calls(self) -> list[list[str]]:
        return [call["argv"] for call in self.world()["calls"]]

    def commands(self) -> list[str]:
        """Each call as its command words, e.g. ``stack select`` or ``up``."""
        words = []
        for argv in self.calls():
            args = [arg for arg in argv if arg != "--non-interactive"]
            words.append(" ".join(args[:2]) if args[0] in ("stack", "config") else args[0])
        return words


@pytest.fixture
def infra(tmp_path: Path) -> Path:
    """A program folder as infra/ provides it: Pulumi.yaml naming the project."""
    folder = tmp_path / "infra" / "environment"
    folder.mkdir(parents=True)
    (folder / "Pulumi.yaml").write_text(f"name: {PROJECT}\nruntime:\n  name: python\n")
    return folder


def make(
    tmp_path: Path, infra: Path, world: dict[str, Any] | None = None, **options: Any
) -> tuple[Cli, PulumiProvisioner]:
    """The stand-in CLI scripted with ``world`` (the PROGRAM by default) and a provisioner that runs it."""
    cli = Cli(tmp_path / "pulumi", {"program": PROGRAM, **(world or {})})
    options.setdefault("secrets_provider", VAULT_KEY)
    return cli, PulumiProvisioner(infra, PROJECT, BACKEND, cli_root=cli.root, **options)


def cloud_release(environment: str = "dev", compute: str = "containerapps") -> Release:
    document = release_document(environment)
    declared = {"name": environment, "tier": "nonprod", "compute": compute}
    document["spec"]["environment"] = declared if compute == "local" else {**declared, "region": "westeurope"}
    return parse_release(document)


def provisioned(cli: Cli, **stack: Any) -> None:
    """Seed the CLI's backend with the stack one update of the program left (``stack`` overrides)."""
    pulumi_cli.seed(cli.state, STACK, **stack)


def test_first_ensure_creates_the_stack_sets_its_config_previews_and_applies(tmp_path: Path, infra: Path) -> None:
    cli, provisioner = make(tmp_path, infra)

    outputs = provisioner.ensure_environment(cloud_release())

    assert (outputs.environment, dict(outputs.outputs), outputs.changed) == ("dev", OUTPUTS, True)
    assert cli.commands() == [
        "version", "stack select", "stack init", "config set-all", "preview", "up", "stack output", "stack output",
        "stack history",
    ]  # fmt: skip
    calls = [shlex.join(argv).removeprefix("--non-interactive ") for argv in cli.calls()]
    message = "--message 'control plane: release dev-1-0-0' --color never --exec-kind auto.local"
    assert calls[1:4] == [
        f"stack select --stack {STACK}",
        f"stack init {STACK} --secrets-provider {VAULT_KEY}",
        f"config set-all --stack {STACK} --plaintext azure-native:location=westeurope --plaintext environment:name=dev"
        " --plaintext environment:kind=containerapps --plaintext environment:tier=nonprod",
    ]
    assert re.fullmatch(rf"preview {message} --event-log tcp://127\.0\.0\.1:\d+ --stack {STACK}", calls[4])
    assert calls[5:] == [
        f"up --yes --skip-preview {message} --stack {STACK}",
        f"stack output --json --stack {STACK}",
        f"stack output --json --show-secrets --stack {STACK}",
        f"stack history --json --show-secrets --page-size 1 --page 1 --stack {STACK}",
    ]


def test_the_cli_runs_in_the_program_folder_with_the_backend_and_keeps_config_there(
    tmp_path: Path, infra: Path
) -> None:
    cli, provisioner = make(tmp_path, infra, env_vars={"AZURE_CLIENT_ID": "mi-client"})

    provisioner.ensure_environment(cloud_release())

    stack_calls = cli.world()["calls"][1:]
    assert {call["cwd"] for call in stack_calls} == {str(infra)}
    assert {call["env"]["PULUMI_BACKEND_URL"] for call in stack_calls} == {BACKEND}
    assert all(call["env"]["PULUMI_SKIP_UPDATE_CHECK"] == "true" for call in stack_calls)
    assert 'environment:kind: "containerapps"' in (infra / "Pulumi.dev.yaml").read_text()


def test_a_second_ensure_without_changes_previews_only_and_reports_unchanged(tmp_path: Path, infra: Path) -> None:
    cli, provisioner = make(tmp_path, infra)
    provisioner.ensure_environment(cloud_release())
    first = len(cli.calls())

    again = provisioner.ensure_environment(cloud_release())

    assert (dict(again.outputs), again.changed) == (OUTPUTS, False)
    assert cli.commands()[first:] == ["stack select", "config set-all", "preview", "stack output", "stack output"]
    assert len(cli.world()["stacks"][STACK]["history"]) == 1


def test_pending_changes_on_an_existing_stack_are_applied(tmp_path: Path, infra: Path) -> None:
    cli, provisioner = make(tmp_path, infra)
    provisioned(cli, pending={"same": 2, "update": 1})

    outputs = provisioner.ensure_environment(cloud_release())

    assert outputs.changed is True
    assert "up" in cli.commands() and "stack init" not in cli.commands()
    assert cli.world()["stacks"][STACK]["history"][-1]["resourceChanges"] == {"same": 2, "update": 1}


@pytest.mark.parametrize(("command", "stderr"), [("preview", DIY_LOCK), ("up", CLOUD_CONFLICT)])
def test_a_stack_locked_by_another_update_is_transient(tmp_path: Path, infra: Path, command: str, stderr: str) -> None:
    _, provisioner = make(tmp_path, infra, {"fail": {command: {"stderr": stderr}}})

    with pytest.raises(TransientError, match="another update holds the stack's lock") as raised:
        provisioner.ensure_environment(cloud_release())

    assert f"pulumi {command}:" in str(raised.value)
    assert stderr.splitlines()[0].removeprefix("error: ") in str(raised.value)


def test_outputs_of_an_environment_never_provisioned_is_not_found_and_creates_nothing(
    tmp_path: Path, infra: Path
) -> None:
    cli, provisioner = make(tmp_path, infra)

    with pytest.raises(NotFound, match=f"no stack named '{STACK}' found"):
        provisioner.outputs("dev")

    assert cli.commands() == ["version", "stack select"]
    assert cli.world()["stacks"] == {}


def test_outputs_of_a_stack_that_was_never_updated_is_not_found(tmp_path: Path, infra: Path) -> None:
    cli, provisioner = make(tmp_path, infra)
    provisioned(cli, history=[], outputs={})

    with pytest.raises(NotFound, match="never updated"):
        provisioner.outputs("dev")


def test_outputs_of_a_provisioned_environment_change_nothing(tmp_path: Path, infra: Path) -> None:
    cli, provisioner = make(tmp_path, infra)
    provisioned(cli)

    outputs = provisioner.outputs("dev")

    assert (outputs.environment, dict(outputs.outputs), outputs.changed) == ("dev", OUTPUTS, False)
    assert cli.commands() == ["version", "stack select", "stack history", "stack output", "stack output"]


def test_a_cli_failure_is_permanent_and_quotes_the_cli(tmp_path: Path, infra: Path) -> None:
    cli, provisioner = make(tmp_path, infra, secrets_provider=None)

    with pytest.raises(
        PermanentError, match="pulumi stack select/init failed: passphrase must be set with PULUMI_CONFIG_"
    ):
        provisioner.ensure_environment(cloud_release())

    assert cli.commands()[-1] == "stack init"


def test_a_failed_update_names_the_resource_error_from_the_diagnostics(tmp_path: Path, infra: Path) -> None:
    diagnostics = (
        "Updating (dev):\n\nDiagnostics:\n  azure-native:resources:ResourceGroup (rg):\n"
        "    error: AuthorizationFailed: the client 'mi-client' has no write access to resource groups\n"
    )
    fail = {"up": {"stdout": diagnostics, "stderr": "error: update failed"}}
    cli, provisioner = make(tmp_path, infra, {"fail": fail})

    with pytest.raises(PermanentError, match="pulumi up failed: update failed: AuthorizationFailed: the client"):
        provisioner.ensure_environment(cloud_release())

    assert cli.commands()[-1] == "up"


def test_a_project_other_than_the_programs_is_refused_by_the_cli(tmp_path: Path, infra: Path) -> None:
    cli = Cli(tmp_path / "pulumi", {})
    provisioner = PulumiProvisioner(infra, "platform", BACKEND, secrets_provider=VAULT_KEY, cli_root=cli.root)

    with pytest.raises(PermanentError, match=re.escape('provided project name "platform" doesn\'t match Pulumi.yaml')):
        provisioner.ensure_environment(cloud_release())


def test_refresh_preview_reports_the_drifted_resources_without_changing_the_stack(tmp_path: Path, infra: Path) -> None:
    vault = f"urn:pulumi:dev::{PROJECT}::azure-native:keyvault:Vault::kv"
    logs = f"urn:pulumi:dev::{PROJECT}::azure-native:operationalinsights:Workspace::logs"
    cli, provisioner = make(tmp_path, infra, {"drift": {vault: "update", logs: "delete"}})
    provisioned(cli, resources=5)

    drift = provisioner.refresh_preview("dev")

    assert (drift.environment, dict(drift.changes), drift.resources) == (
        "dev",
        {"update": 1, "delete": 1},
        (vault, logs),
    )
    assert drift.drifted
    refresh = shlex.join(cli.calls()[-1])
    assert re.fullmatch(
        rf"--non-interactive refresh --preview-only --color never --exec-kind auto.local "
        rf"--event-log tcp://127\.0\.0\.1:\d+ --stack {STACK}",
        refresh,
    )
    assert len(cli.world()["stacks"][STACK]["history"]) == 1
    assert provisioner.drift("dev") == [vault, logs]  # the Provisioner port's view of the same


def test_refresh_preview_of_a_missing_stack_is_not_found(tmp_path: Path, infra: Path) -> None:
    _, provisioner = make(tmp_path, infra)

    with pytest.raises(NotFound):
        provisioner.refresh_preview("dev")


def test_an_older_cli_reports_engine_events_through_a_log_file(tmp_path: Path, infra: Path) -> None:
    cli, provisioner = make(tmp_path, infra, {"version": "3.200.0"})

    assert provisioner.ensure_environment(cloud_release()).changed is True

    preview = next(argv for argv in cli.calls() if "preview" in argv)
    assert preview[preview.index("--event-log") + 1].endswith("eventlog.txt")


def test_a_local_environment_is_refused_before_the_cli_runs(tmp_path: Path, infra: Path) -> None:
    cli, provisioner = make(tmp_path, infra)

    with pytest.raises(PermanentError, match=r"spec\.environment\.compute: Pulumi provisions aks and containerapps"):
        provisioner.ensure_environment(cloud_release(compute="local"))

    assert cli.calls() == []


def test_a_missing_cli_is_permanent(tmp_path: Path, infra: Path) -> None:
    provisioner = PulumiProvisioner(infra, PROJECT, BACKEND, cli_root=tmp_path / "nowhere")

    with pytest.raises(PermanentError, match="pulumi CLI not found"):
        provisioner.outputs("dev")


@pytest.mark.parametrize(
    ("summary", "changes"),
    [
        ({"create": 4}, {"create": 4}),
        ({"same": 4}, {}),
        ({"same": 3, "update": 1}, {"update": 1}),
        ({"same": 2, "read": 1, "replace": 1}, {"replace": 1}),
        ({"same": 3, "delete": 0}, {}),
        (None, {}),
    ],
)
def test_count_changes_keeps_only_ops_that_alter_a_resource(summary: Any, changes: dict[str, int]) -> None:
    assert count_changes(summary) == changes
