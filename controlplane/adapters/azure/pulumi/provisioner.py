"""The Provisioner on the Pulumi Automation API: one stack per environment over the program in ``infra/``.

``ensure_environment`` runs these steps; each is safe to repeat:

1. ``create_or_select_stack`` of ``<organization>/<project>/<environment>`` over the local program in
   ``work_dir`` (``stack select``, else ``stack init`` with the secrets provider).
2. ``config set-all`` with the keys below, every time, so the stack follows the release.
3. ``preview``, the plan: the engine's change summary counts what ``up`` would change.
4. ``up`` only when the preview counts a change; ``changed`` is then what ``up`` itself recorded.

Why preview first instead of always ``up``: most releases leave the infrastructure as it is, and an ``up``
with nothing to do still takes the stack lock and writes a checkpoint and a history entry, while a preview
records nothing. Should another worker apply the same change between our preview and our ``up``, ``up``
records no changes and we report ``changed=False``. Preview compares the program with the stack's state,
not with the cloud: live drift is ``refresh_preview``'s job (the drift loop).

Stack config the environment program reads (``pulumi.Config("environment").require("kind")``), all plaintext:

| key | value | example |
|---|---|---|
| ``azure-native:location`` | the release's region (azure-native's default location) | ``westeurope`` |
| ``environment:name`` | the environment's name (also the stack's name) | ``dev`` |
| ``environment:kind`` | its compute: ``aks`` or ``containerapps`` | ``containerapps`` |
| ``environment:tier`` | ``prod`` or ``nonprod`` | ``nonprod`` |

``platform_config`` adds keys the platform decides, the same for every environment (the program in
``infra/environment_program`` reads ``environment:resourceGroup``, ``environment:logAnalyticsWorkspaceId``);
the release's keys above win over them.

Outputs come back as strings: strings as they are, any other JSON value JSON-encoded (``8080``, ``true``,
``["a","b"]``). Secret outputs are masked as ``[secret]``: environment outputs travel in events and logs,
and secrets reach workloads as Key Vault references, never through here.

Errors: the stack's lock held by another update (DIY lock file or Pulumi Cloud 409) -> ``TransientError``;
a stack created by another worker between our select and init -> ``TransientError``; no such stack ->
``NotFound``; any other CLI failure -> ``PermanentError`` with the CLI's own error line; a missing or too
old CLI -> ``PermanentError``.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pulumi import automation as auto

from controlplane.domain.manifest import Release
from controlplane.domain.manifest.release import Environment
from controlplane.domain.runtime import EnvironmentOutputs
from controlplane.errors import NotFound, PermanentError, TransientError

LOCATION_KEY = "azure-native:location"
NAME_KEY = "environment:name"
KIND_KEY = "environment:kind"
TIER_KEY = "environment:tier"
SECRET_MASK = "[secret]"
DIY_ORGANIZATION = "organization"  # the organization of every stack in a DIY backend (azblob://, file://)

# Ops that leave a resource as it is: unchanged, read from the cloud (``get``), refreshed in place.
_UNCHANGED_OPS = frozenset({"same", "read", "refresh"})


def stack_config(environment: Environment) -> dict[str, str]:
    """The stack config of an environment, by key (see the table in the module docstring)."""
    return {
        LOCATION_KEY: environment.region,
        NAME_KEY: environment.name,
        KIND_KEY: environment.compute,
        TIER_KEY: environment.tier,
    }


def count_changes(summary: Mapping[Any, int] | None) -> dict[str, int]:
    """The changes in a Pulumi change summary (op -> resources): every op that alters a resource.

    | summary                                  | changes            |
    |------------------------------------------|--------------------|
    | ``{"create": 4}`` (a new stack)          | ``{"create": 4}``  |
    | ``{"same": 4}``                          | ``{}`` (no change) |
    | ``{"same": 3, "update": 1}``             | ``{"update": 1}``  |
    | ``{"same": 2, "read": 1, "replace": 1}`` | ``{"replace": 1}`` |
    | ``{"same": 3, "delete": 0}``             | ``{}``             |
    | ``None`` (nothing recorded)              | ``{}``             |
    """
    changes: dict[str, int] = {}
    for op, count in (summary or {}).items():
        name = str(getattr(op, "value", op))  # keys are OpType members or plain strings
        if name not in _UNCHANGED_OPS and count:
            changes[name] = count
    return changes


@dataclass(frozen=True)
class StackDrift:
    """What a preview-only refresh found: the live resources that no longer match the stack's state.

    ``changes`` counts them by op (``update``: changed outside Pulumi, ``delete``: gone); ``resources``
    are their URNs in the engine's order.
    """

    environment: str
    changes: Mapping[str, int]
    resources: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "changes", MappingProxyType(dict(self.changes)))

    @property
    def drifted(self) -> bool:
        return bool(self.changes)


class PulumiProvisioner:
    """Provisions aks and containerapps environments with the ``pulumi`` CLI over one local program.

    ``work_dir``: the folder of the environment program's ``Pulumi.yaml``, whose project name must be
    ``project``; it must be writable (the CLI keeps each stack's config in ``Pulumi.<environment>.yaml``).
    ``backend_url``: the state backend, given to the CLI as ``PULUMI_BACKEND_URL``
    (``azblob://<container>?storage_account=<account>`` signs in with the worker's managed identity).
    ``secrets_provider``: encrypts the stack's secrets, e.g. ``azurekeyvault://<vault>.vault.azure.net/keys/<key>``;
    used when a stack is created. Without one a DIY backend asks for ``PULUMI_CONFIG_PASSPHRASE``.
    ``organization``: qualifies stack names; ``organization`` for DIY backends, the org on Pulumi Cloud.
    ``env_vars``: more variables for the CLI, over the worker's own environment, which it inherits.
    ``cli_root``: a Pulumi installation (runs ``<cli_root>/bin/pulumi``); None runs ``pulumi`` from PATH.
    Nothing runs until the first call.
    """

    def __init__(
        self,
        work_dir: Path,
        project: str,
        backend_url: str,
        *,
        secrets_provider: str | None = None,
        organization: str = DIY_ORGANIZATION,
        env_vars: Mapping[str, str] | None = None,
        cli_root: Path | None = None,
        platform_config: Mapping[str, str] | None = None,
    ) -> None:
        self._work_dir = work_dir
        self._platform_config = dict(platform_config or {})
        self._project = project
        self._organization = organization
        self._secrets_provider = secrets_provider
        self._env_vars = {**(env_vars or {}), "PULUMI_BACKEND_URL": backend_url, "PULUMI_SKIP_UPDATE_CHECK": "true"}
        self._cli_root = cli_root
        self._command: auto.PulumiCommand | None = None
        self._command_lock = threading.Lock()

    def stack_name(self, environment: str) -> str:
        """The environment's stack, fully qualified: ``<organization>/<project>/<environment>``."""
        return auto.fully_qualified_stack_name(self._organization, self._project, environment)

    def ensure_environment(self, release: Release) -> EnvironmentOutputs:
        """Plan and apply so the environment matches; idempotent; returns the stack outputs."""
        environment = release.spec.environment
        if environment.compute == "local":
            raise PermanentError(
                f"spec.environment.compute: Pulumi provisions aks and containerapps environments "
                f"(got 'local' for {environment.name!r}); local environments run on the local host"
            )
        name = environment.name
        message = f"control plane: release {release.metadata.name}"
        stack = self._stack(name, create=True)
        with _translated(name, "config set-all"):
            config = {**self._platform_config, **stack_config(environment)}
            stack.set_all_config({key: auto.ConfigValue(value) for key, value in config.items()})
        with _translated(name, "preview"):
            planned = count_changes(stack.preview(message=message, color="never").change_summary)
        if not planned:
            with _translated(name, "stack output"):
                return EnvironmentOutputs(name, _as_strings(stack.outputs()), changed=False)
        with _translated(name, "up"):
            result = stack.up(message=message, color="never")
        applied = result.summary.resource_changes
        changed = bool(count_changes(applied)) if applied is not None else True
        return EnvironmentOutputs(name, _as_strings(result.outputs), changed)

    def outputs(self, environment: str) -> EnvironmentOutputs:
        """The current stack outputs without changing anything; NotFound if never provisioned."""
        stack = self._stack(environment, create=False)
        with _translated(environment, "stack history"):
            never_updated = stack.info(show_secrets=False) is None
        if never_updated:
            raise NotFound(f"environment {environment!r}: stack {stack.name} was never updated (no provisioning yet)")
        with _translated(environment, "stack output"):
            return EnvironmentOutputs(environment, _as_strings(stack.outputs()), changed=False)

    def refresh_preview(self, environment: str) -> StackDrift:
        """How the live resources differ from the stack's state (``refresh --preview-only``); changes
        neither. NotFound if the environment was never provisioned."""
        stack = self._stack(environment, create=False)
        drifted: list[str] = []

        def note(event: auto.EngineEvent) -> None:
            outputs = event.res_outputs_event
            if outputs is not None and count_changes({outputs.metadata.op: 1}):
                drifted.append(outputs.metadata.urn)

        with _translated(environment, "refresh --preview-only"):
            preview = stack.preview_refresh(color="never", on_event=note)
        return StackDrift(environment, count_changes(preview.change_summary), tuple(dict.fromkeys(drifted)))

    def drift(self, environment: str) -> list[str]:
        """The URNs ``refresh_preview`` finds drifted (the Provisioner port's drift)."""
        return list(self.refresh_preview(environment).resources)

    def _stack(self, environment: str, *, create: bool) -> auto.Stack:
        """The environment's stack in a fresh workspace; ``create`` makes it when it does not exist."""
        options = auto.LocalWorkspaceOptions(
            env_vars=dict(self._env_vars), secrets_provider=self._secrets_provider, pulumi_command=self._pulumi()
        )
        open_stack = auto.create_or_select_stack if create else auto.select_stack
        with _translated(environment, "stack select/init" if create else "stack select"):
            return open_stack(self.stack_name(environment), work_dir=str(self._work_dir), opts=options)

    def _pulumi(self) -> auto.PulumiCommand:
        """The CLI, found and version-checked once (that runs ``pulumi version``)."""
        with self._command_lock:
            if self._command is None:
                root = str(self._cli_root) if self._cli_root is not None else None
                try:
                    self._command = auto.PulumiCommand(root=root)
                except FileNotFoundError as error:
                    raise PermanentError(
                        f"pulumi CLI not found ({error.filename}): install it on the worker image "
                        f"or point the provisioner's CLI root at an installation"
                    ) from error
                except (auto.InvalidVersionError, subprocess.CalledProcessError) as error:
                    raise PermanentError(f"pulumi CLI unusable: {error}") from error
            return self._command


@contextmanager
def _translated(environment: str, command: str) -> Iterator[None]:
    """Run Automation API calls, re-raising their failures as the control plane's error types."""
    where = f"environment {environment!r}: pulumi {command}"
    try:
        yield
    except auto.StackNotFoundError as error:
        raise NotFound(f"{where}: {_cli_error(error)} (the environment was never provisioned)") from error
    except auto.ConcurrentUpdateError as error:
        raise TransientError(
            f"{where}: another update holds the stack's lock ({_cli_error(error)}); retry when it ends, "
            f"or `pulumi cancel` if it crashed"
        ) from error
    except auto.StackAlreadyExistsError as error:
        raise TransientError(f"{where}: another worker created the stack meanwhile; retry to select it") from error
    except auto.CommandError as error:
        raise PermanentError(f"{where} failed: {_cli_error(error)}") from error
    except RuntimeError as error:  # the API's own, e.g. "summary event never found": the event stream broke
        raise TransientError(f"{where}: {error}") from error


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_GENERIC = re.compile(r"^(update|preview|refresh|destroy) failed$")
_EXIT_CODE = re.compile(r"code: (-?\d+)")


def _cli_error(error: auto.CommandError) -> str:
    """The CLI's own words: the first ``error:`` line of stderr, else its first line that is not a warning.

    A bare "update failed" gets the first ``error:`` line of stdout added: the engine prints the reason
    (a resource's failure) in the diagnostics there.
    """
    text = str(error)  # "\n code: N\n stdout: ...\n stderr: ..." (the CommandResult's str)
    stdout, _, stderr = text.partition("\n stdout: ")[2].partition("\n stderr: ")
    line = _error_line(stderr) or next(iter(_lines(stderr, skip="warning:")), "")
    if not line:
        code = _EXIT_CODE.search(text)
        return f"exit code {code.group(1) if code else '?'} and nothing on stderr"
    detail = _error_line(stdout) if _GENERIC.match(line) else None
    return f"{line}: {detail}" if detail else line


def _error_line(stream: str) -> str | None:
    for line in _lines(stream):
        if line.startswith("error:"):
            return line.removeprefix("error:").strip()
    return None


def _lines(stream: str, skip: str | None = None) -> list[str]:
    stripped = (_ANSI.sub("", line).strip() for line in stream.splitlines())
    return [line for line in stripped if line and not (skip and line.startswith(skip))]


def _as_strings(outputs: Mapping[str, auto.OutputValue]) -> dict[str, str]:
    """Stack outputs as strings (see the module docstring); secrets masked."""
    return {key: SECRET_MASK if output.secret else _as_text(output.value) for key, output in sorted(outputs.items())}


def _as_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))
