"""A stand-in ``pulumi`` CLI for Automation API tests: answers what the API runs, in the real CLI's formats.

``install(root, state)`` writes ``<root>/bin/pulumi`` (what ``PulumiCommand(root=...)`` runs). Each call
appends its argv, working directory and environment to the JSON state file and reads its scripted world there:

- ``stacks``: name -> ``{"config", "outputs", "secret_outputs", "history", "pending", "resources"}``
- ``program``: what an ``up`` leaves behind: ``outputs``, ``secret_outputs``, ``resources``
- ``changes``: the changes a new stack starts with pending (default ``{"create": 3}``)
- ``drift``: URN -> op that a ``refresh --preview-only`` reports
- ``fail``: command (``"up"``, ``"stack init"``, ...) -> ``{"stderr", "stdout", "code"}`` to answer instead

Formats follow the CLI as the Automation API reads them: errors on stderr with exit code 255, engine events
as JSON over the ``--event-log`` gRPC stream (CLI > 3.205) or as lines of a file, ``stack output --json``
masking secrets as ``[secret]``, ``stack history --json`` newest first.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
import time
from pathlib import Path
from typing import Any

VERSION = "3.272.0"
STAMP = "2026-11-26T12:00:00.000Z"


def install(root: Path, state: Path, world: dict[str, Any] | None = None) -> None:
    """Make ``root/bin/pulumi`` run this stub against ``state`` (seeded with ``world``)."""
    executable = root / "bin" / "pulumi"
    executable.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps({"calls": [], "stacks": {}, **(world or {})}))
    executable.write_text(
        "#!/bin/sh\n"
        f"PULUMI_STUB_STATE={shlex.quote(str(state))} "
        f'exec {shlex.quote(sys.executable)} {shlex.quote(str(Path(__file__).resolve()))} "$@"\n'
    )
    executable.chmod(0o755)


def seed(state: Path, name: str, **fields: Any) -> None:
    """Put stack ``name`` into the backend as one ``up`` of the scripted program leaves it; ``fields`` override."""
    world = json.loads(state.read_text())
    stack = {"config": {}, "outputs": {}, "secret_outputs": [], "history": [], "pending": {"create": 3}, "resources": 0}
    world["stacks"][name] = stack
    up(world, stack, ["--stack", name])
    stack.update(fields)
    state.write_text(json.dumps(world))


class Failed(Exception):
    def __init__(self, stderr: str, stdout: str = "", code: int = 255) -> None:
        super().__init__(stderr)
        self.stderr, self.stdout, self.code = stderr, stdout, code


def main(argv: list[str]) -> int:
    state_path = Path(os.environ["PULUMI_STUB_STATE"])
    world = json.loads(state_path.read_text())
    world["calls"].append(
        {"argv": argv, "cwd": os.getcwd(), "env": {k: v for k, v in os.environ.items() if k.startswith("PULUMI_")}}
    )
    args = [arg for arg in argv if arg != "--non-interactive"]
    command = " ".join(args[:2]) if args and args[0] in ("stack", "config") else (args[:1] or [""])[0]
    try:
        scripted = world.get("fail", {}).get(command)
        if scripted:
            raise Failed(scripted.get("stderr", ""), scripted.get("stdout", ""), scripted.get("code", 255))
        print(answer(world, command, args), end="")
        return 0
    except Failed as failure:
        print(failure.stdout, end="")
        print(failure.stderr, file=sys.stderr)
        return failure.code
    finally:
        state_path.write_text(json.dumps(world, indent=2))


def answer(world: dict[str, Any], command: str, args: list[str]) -> str:
    if command == "version":
        return f"v{world.get('version', VERSION)}\n"
    if command == "stack init":
        return stack_init(world, args[2], option(args, "--secrets-provider"))
    stack = existing(world, option(args, "--stack"))
    if command == "stack select":
        return ""
    if command == "config set-all":
        pairs = [args[i + 1] for i, arg in enumerate(args) if arg in ("--plaintext", "--secret")]
        stack["config"].update(dict(pair.split("=", 1) for pair in pairs))
        lines = "".join(f"  {key}: {json.dumps(value)}\n" for key, value in sorted(stack["config"].items()))
        Path(f"Pulumi.{option(args, '--stack').split('/')[-1]}.yaml").write_text(f"config:\n{lines}")
        return ""
    if command == "preview":
        changes = stack["pending"] or {"same": stack["resources"]}
        emit(option(args, "--event-log"), stack, [], changes)
        return f"Previewing update ({option(args, '--stack')}):\n\nResources:\n    {describe(changes)}\n"
    if command == "refresh" and "--preview-only" in args:
        drift = world.get("drift", {})
        unchanged = {"same": stack["resources"] - len(drift)} if stack["resources"] > len(drift) else {}
        emit(option(args, "--event-log"), stack, list(drift.items()), {**count(drift.values()), **unchanged})
        return f"Previewing refresh ({option(args, '--stack')}):\n"
    if command == "up":
        return up(world, stack, args)
    if command == "stack output":
        masked = "--show-secrets" not in args
        outputs = {k: "[secret]" if masked and k in stack["secret_outputs"] else v for k, v in stack["outputs"].items()}
        return json.dumps(outputs, indent=2) + "\n"
    if command == "stack history":
        history = stack["history"][::-1]
        return json.dumps(history[: int(option(args, "--page-size") or len(history))], indent=4) + "\n"
    raise Failed(f"error: stub pulumi cannot answer {args!r}", code=2)


def stack_init(world: dict[str, Any], name: str, secrets_provider: str | None) -> str:
    check_project(name)
    if name in world["stacks"]:
        raise Failed(f"error: stack '{name}' already exists")
    passphrase = {"PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE"} & set(os.environ)
    if secrets_provider is None and not passphrase:
        raise Failed(
            "error: passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE "
            "environment variables"
        )
    world["stacks"][name] = {
        "config": {},
        "outputs": {},
        "secret_outputs": [],
        "history": [],
        "pending": world.get("changes", {"create": 3}),
        "resources": 0,
        "secrets_provider": secrets_provider or "passphrase",
    }
    return f"Created stack '{name}'\n"


def existing(world: dict[str, Any], name: str | None) -> dict[str, Any]:
    if name is None:
        raise Failed("error: no stack selected; please use `pulumi stack select` to choose one")
    check_project(name)
    if name not in world["stacks"]:
        raise Failed(f"error: no stack named '{name}' found")
    return world["stacks"][name]


def check_project(stack: str) -> None:
    """A qualified stack's project must be the one in the working directory's Pulumi.yaml, as in the CLI."""
    project_file = Path("Pulumi.yaml")
    if not project_file.exists():
        raise Failed(f"error: no Pulumi.yaml project file found (searching upwards from {os.getcwd()})")
    declared = re.search(r"^name:\s*(\S+)", project_file.read_text(), re.MULTILINE)
    parts = stack.split("/")
    if len(parts) == 3 and declared and parts[1] != declared.group(1):
        raise Failed(f'error: provided project name "{parts[1]}" doesn\'t match Pulumi.yaml')


def up(world: dict[str, Any], stack: dict[str, Any], args: list[str]) -> str:
    program = world.get("program", {})
    changes = stack["pending"] or {"same": stack["resources"]}
    stack["history"].append(
        {
            "version": len(stack["history"]) + 1,
            "kind": "update",
            "startTime": STAMP,
            "message": option(args, "--message") or "",
            "environment": {"exec.kind": option(args, "--exec-kind") or "cli"},
            "config": {key: {"value": value, "secret": False} for key, value in stack["config"].items()},
            "result": "succeeded",
            "endTime": STAMP,
            "resourceChanges": changes,
        }
    )
    stack.update(
        pending={},
        outputs=program.get("outputs", {}),
        secret_outputs=program.get("secret_outputs", []),
        resources=program.get("resources", 3),
    )
    return f"Updating ({option(args, '--stack')}):\n\nResources:\n    {describe(changes)}\n"


def emit(target: str | None, stack: dict[str, Any], steps: list[tuple[str, str]], changes: dict[str, int]) -> None:
    """Send the engine events of one operation to the ``--event-log`` target, as the CLI does."""
    events: list[dict[str, Any]] = [{"preludeEvent": {"config": dict(stack["config"])}}]
    for urn, op in steps:
        events.append({"resourcePreEvent": {"metadata": {"op": "refresh", "urn": urn, "type": urn.split("::")[-2]}}})
        events.append({"resOutputsEvent": {"metadata": {"op": op, "urn": urn, "type": urn.split("::")[-2]}}})
    summary = {"maybeCorrupt": False, "durationSeconds": 1, "resourceChanges": changes, "PolicyPacks": {}}
    events += [{"summaryEvent": summary}, {"cancelEvent": {}}]
    lines = [json.dumps({"sequence": i, "timestamp": int(time.time()), **e}) for i, e in enumerate(events)]
    if target is None:
        return
    if target.startswith("tcp://"):
        import grpc
        from pulumi.runtime.proto import events_pb2, events_pb2_grpc

        with grpc.insecure_channel(target.removeprefix("tcp://")) as channel:
            events_pb2_grpc.EventsStub(channel).StreamEvents(events_pb2.EventRequest(event=line) for line in lines)
    else:
        with open(target, "a", encoding="utf-8") as log:
            log.writelines(line + "\n" for line in lines)


def option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args and args.index(name) + 1 < len(args) else None


def count(ops: Any) -> dict[str, int]:
    counted: dict[str, int] = {}
    for op in ops:
        counted[op] = counted.get(op, 0) + 1
    return counted


def describe(changes: dict[str, int]) -> str:
    return ", ".join(f"{number} {op}" for op, number in changes.items())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
